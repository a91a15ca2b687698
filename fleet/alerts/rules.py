"""Alert rules and alerts as the API shows them; what each kind of rule needs.

``disease``: a detection (not uncertain, not healthy) at or above ``min_confidence`` (default
0.8), of ``label`` if given; the alert clears once acknowledged and ``quiet_s`` (default an
hour) passed without a new one, or by hand. ``reading_range``: the device's ``quantity`` (of
``sensor`` if given) below ``min_value`` or above ``max_value`` for at least ``for_s``; clears
when a reading is back in range. ``offline``: the device is offline (AGRIFLEET_OFFLINE_AFTER_S);
clears when it is back. ``backlog``: the outbox of the device's last status holds more than
``max_backlog`` items; clears when it holds fewer. ``risk``: a disease risk model
(:mod:`fleet.risk`; ``model``, else any model of the field's crop) at ``min_risk`` (default
high) or above for a field (``field_id``, else every field of the rule's farm) yesterday or
today; clears when yesterday, the last whole day, is below it (an unknown day keeps it open).
``disease_spread``: the same disease (``label`` if given) detected at ``min_confidence`` or
above on ``min_nodes`` (default 2) nodes or scouting photos of one field within ``window_s``
(default 7 days; a detection people rejected does not count); clears when fewer remain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from pydantic import ConfigDict, model_validator
from sqlmodel import Field, SQLModel

from agrifleet.contract import DeviceId
from agrifleet.fleet.alerts.tables import AlertKind, AlertState

DEFAULT_MIN_CONFIDENCE = 0.8
DEFAULT_QUIET_S = 3600.0
#: Which optional fields each kind takes; the others must be left out.
KIND_FIELDS: dict[str, frozenset[str]] = {
    "disease": frozenset({"label", "min_confidence", "quiet_s"}),
    "reading_range": frozenset({"sensor", "quantity", "min_value", "max_value", "for_s"}),
    "offline": frozenset(),
    "backlog": frozenset({"max_backlog"}),
    "risk": frozenset({"field_id", "model", "min_risk"}),
    "disease_spread": frozenset({"field_id", "label", "min_confidence", "min_nodes", "window_s"}),
}
DEFAULT_MIN_RISK = "high"
DEFAULT_MIN_NODES = 2
DEFAULT_WINDOW_S = 7 * 86400.0
MinRisk = Literal["moderate", "high"]
PARAMETERS = frozenset().union(*KIND_FIELDS.values())

_TEXT = r"^[^\x00]*$"
#: The largest backlog a rule names: every integer up to it is exact as a JSON number (a
#: client reading the schema in floating point sees the same bound the fleet checks).
MAX_BACKLOG = 2**53 - 1
_NAME = r"^[A-Za-z0-9_.:-]{1,64}$"


class AlertRuleBase(SQLModel):
    name: str = Field(default="", max_length=128, schema_extra={"pattern": _TEXT},
                      description="A name people recognise")
    enabled: bool = Field(default=True)
    critical: bool = Field(default=False, description="Its alerts are e-mailed even in a "
                           "person's quiet hours")
    farm_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                description="Only this farm's devices; without it every farm "
                                "(made with a service token); the device's farm when device_id "
                                "is given")
    device_id: DeviceId | None = Field(default=None, description="Only this device (else all)")
    label: str | None = Field(default=None, max_length=128, schema_extra={"pattern": _TEXT},
                              description="disease: only this class label (else any disease)")
    min_confidence: float | None = Field(default=None, ge=0, le=1,
                                         description="disease: at least this confidence (0.8)")
    quiet_s: float | None = Field(default=None, ge=0, le=366 * 86400,
                                  description="disease: an acknowledged alert clears after "
                                  "this long with no new detection (3600)")
    sensor: str | None = Field(default=None, schema_extra={"pattern": _NAME}, max_length=64,
                               description="reading_range: only this sensor (else any)")
    quantity: str | None = Field(default=None, schema_extra={"pattern": _NAME}, max_length=64,
                                 description="reading_range: the quantity (required)")
    min_value: float | None = Field(default=None, ge=-1e12, le=1e12,
                                    description="reading_range: lowest value in range")
    max_value: float | None = Field(default=None, ge=-1e12, le=1e12,
                                    description="reading_range: highest value in range")
    for_s: float | None = Field(default=None, ge=0, le=366 * 86400,
                                description="reading_range: out of range at least this long (0)")
    max_backlog: int | None = Field(default=None, ge=0, le=MAX_BACKLOG,
                                    description="backlog: more than this many items (required)")
    field_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                 description="risk, disease_spread: only this field (else every "
                                 "field of the farm); sets farm_id to its farm")
    model: str | None = Field(default=None, schema_extra={"pattern": r"^[a-z_]{1,32}$"},
                              max_length=32,
                              description="risk: only this model, e.g. hutton (else any model "
                              "of the field's crop)")
    min_risk: MinRisk | None = Field(default=None,
                                     description="risk: at this risk or above (high)")
    min_nodes: int | None = Field(default=None, ge=1, le=10000,
                                  description="disease_spread: nodes or scouting photos (2)")
    window_s: float | None = Field(default=None, gt=0, le=366 * 86400,
                                   description="disease_spread: within this many seconds "
                                   "(604800, a week)")


def check_kind(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """The values with the kind's defaults; ValueError naming a missing or foreign field."""
    allowed = KIND_FIELDS[kind]
    foreign = sorted(k for k in PARAMETERS - allowed if values.get(k) is not None)
    if foreign:
        raise ValueError(f"a {kind} rule does not take {', '.join(foreign)}")
    out = dict(values)
    if kind == "disease":
        if out.get("min_confidence") is None:
            out["min_confidence"] = DEFAULT_MIN_CONFIDENCE
        if out.get("quiet_s") is None:
            out["quiet_s"] = DEFAULT_QUIET_S
    elif kind == "reading_range":
        if not out.get("quantity"):
            raise ValueError("a reading_range rule needs quantity")
        low, high = out.get("min_value"), out.get("max_value")
        if low is None and high is None:
            raise ValueError("a reading_range rule needs min_value, max_value or both")
        # min_value above max_value is allowed (no schema can order two fields): every
        # reading is then below one or above the other, so the rule fires on any reading.
        if out.get("for_s") is None:
            out["for_s"] = 0.0
    elif kind == "backlog" and out.get("max_backlog") is None:
        raise ValueError("a backlog rule needs max_backlog")
    elif kind == "risk":
        from agrifleet.fleet.risk.registry import MODELS

        if out.get("model") is not None and out["model"] not in MODELS:
            raise ValueError(f"unknown risk model {out['model']!r}: {', '.join(MODELS)}")
        if out.get("min_risk") is None:
            out["min_risk"] = DEFAULT_MIN_RISK
    elif kind == "disease_spread":
        if out.get("min_confidence") is None:
            out["min_confidence"] = DEFAULT_MIN_CONFIDENCE
        if out.get("min_nodes") is None:
            out["min_nodes"] = DEFAULT_MIN_NODES
        if out.get("window_s") is None:
            out["window_s"] = DEFAULT_WINDOW_S
    return out


def kinds_schema() -> list[dict[str, Any]]:
    """One schema per kind: its required fields, and every other kind's field absent or null
    (what :func:`check_kind` enforces, said in the OpenAPI document)."""
    required = {"reading_range": ["quantity"], "backlog": ["max_backlog"]}
    out = []
    for kind, allowed in KIND_FIELDS.items():
        properties: dict[str, Any] = {"kind": {"const": kind}}
        properties |= {f: {"type": "null"} for f in sorted(PARAMETERS - allowed)}
        properties |= {f: {"not": {"type": "null"}} for f in required.get(kind, [])}
        one: dict[str, Any] = {"properties": properties,
                               "required": ["kind", *required.get(kind, [])]}
        if kind == "reading_range":
            one["anyOf"] = [{"required": [f], "properties": {f: {"type": "number"}}}
                            for f in ("min_value", "max_value")]
        out.append(one)
    return out


class AlertRuleCreate(AlertRuleBase):
    """A new rule; fields that do not belong to its kind are refused."""

    model_config = ConfigDict(extra="forbid",  # type: ignore[assignment]
                              json_schema_extra={"oneOf": cast(Any, kinds_schema())})

    kind: AlertKind

    @model_validator(mode="after")
    def _fields_of_kind(self) -> AlertRuleCreate:
        checked = check_kind(self.kind, self.model_dump())
        for key in PARAMETERS:
            object.__setattr__(self, key, checked.get(key))
        return self


class AlertRuleUpdate(SQLModel):
    """Change a rule (what is left out stays); its kind cannot change. Open alerts of a rule
    whose condition changed are cleared (reason rule_changed) and reopen if still true."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: str | None = Field(default=None, max_length=128, schema_extra={"pattern": _TEXT})
    enabled: bool | None = None
    critical: bool | None = None
    device_id: DeviceId | None = None
    label: str | None = Field(default=None, max_length=128, schema_extra={"pattern": _TEXT})
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    quiet_s: float | None = Field(default=None, ge=0, le=366 * 86400)
    sensor: str | None = Field(default=None, schema_extra={"pattern": _NAME}, max_length=64)
    quantity: str | None = Field(default=None, schema_extra={"pattern": _NAME}, max_length=64)
    min_value: float | None = Field(default=None, ge=-1e12, le=1e12)
    max_value: float | None = Field(default=None, ge=-1e12, le=1e12)
    for_s: float | None = Field(default=None, ge=0, le=366 * 86400)
    max_backlog: int | None = Field(default=None, ge=0, le=MAX_BACKLOG)
    field_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    model: str | None = Field(default=None, schema_extra={"pattern": r"^[a-z_]{1,32}$"},
                              max_length=32)
    min_risk: MinRisk | None = None
    min_nodes: int | None = Field(default=None, ge=1, le=10000)
    window_s: float | None = Field(default=None, gt=0, le=366 * 86400)


class AlertRulePublic(AlertRuleBase):
    id: int
    kind: str
    created_by: str
    created_at: datetime
    updated_at: datetime


class AlertPublic(SQLModel):
    """An alert: translate it from ``code`` and ``params``, not from any text."""

    id: int
    rule_id: int
    kind: str
    code: str = Field(description="disease_detected, reading_out_of_range, node_offline, "
                      "outbox_backlog, disease_risk or disease_spreading")
    params: dict[str, Any] = Field(description="The figures of the code (see docs/alerts.md)")
    device_id: str = Field(description='The device; "" for a field\'s alert (risk, '
                           "disease_spread)")
    field_id: int | None
    condition: str
    state: AlertState
    count: int = Field(description="How many times the condition was seen while open")
    first_seen: datetime
    last_seen: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    cleared_by: str | None
    cleared_at: datetime | None
    cleared_reason: str | None = Field(description="condition_gone, quiet_period, by_hand or "
                                       "rule_changed")
