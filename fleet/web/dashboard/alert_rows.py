"""Alerts as the pages list them: what is wrong in words, its figure, and the node and field by
name ("Tomato · Late blight, 93 %, North 1 (North)"), for the farm in view.

The alert's machine ``code`` and ``params`` (fleet/alerts/evaluate.py) are put into words here
in the reader's language; the English text of the API is never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from agrifleet.fleet.alerts.tables import Alert
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.texts import ALERT_KINDS, N_
from agrifleet.fleet.web.dashboard import quantities
from agrifleet.fleet.web.dashboard.i18n import Formats
from agrifleet.fleet.web.dashboard.session import Principal

Gettext = Callable[[str], str]

SHOULD_BE = N_("should be %(range)s")
LAST_SEEN = N_("last seen %(when)s")
ITEMS = N_("%(count)s items")


@dataclass
class AlertRow:
    alert: Alert
    node: str  # the device's name (its id if it has none)
    field: str | None  # the field's name, None when in no field


def rows(session: Session, who: Principal, *, states: tuple[str, ...] | None = None,
         limit: int = 100) -> list[AlertRow]:
    """The alerts of the farm in view's devices (in ``states``, or all), newest first, with
    their node's and field's names."""
    if not who.farm_id:
        return []
    query = (select(Alert, Device.name, Field_.name)
             .join(Device, col(Device.id) == col(Alert.device_id))
             .join(Field_, col(Field_.id) == col(Device.field_id), isouter=True)
             .where(col(Device.farm_id) == who.farm_id))
    if states is not None:
        query = query.where(col(Alert.state).in_(states))
    query = query.order_by(col(Alert.last_seen).desc(), col(Alert.id).desc()).limit(limit)
    return [AlertRow(alert, name or alert.device_id, field)
            for alert, name, field in session.exec(query).all()]


def describe(alert: Alert, gettext: Gettext, fmt: Formats, label_text: Callable[[str], str],
             now: datetime | None = None) -> tuple[str, str]:
    """(what, its figure) in words: ("Tomato · Late blight", "93 %"),
    ("Soil moisture", "12 % (should be 20–40 %)"), ("Node offline", "last seen 2 hours ago")."""
    params: dict[str, Any] = alert.params or {}
    kind = ALERT_KINDS.get(alert.code)
    what = gettext(kind) if kind else alert.code
    try:
        if alert.code == "disease_detected" and params.get("label"):
            return label_text(str(params["label"])), fmt.percent(float(params["confidence"]))
        if alert.code == "reading_out_of_range" and params.get("quantity"):
            return _reading(params, gettext, fmt)
        if alert.code == "node_offline" and params.get("last_seen"):
            seen = datetime.fromisoformat(str(params["last_seen"]))
            return what, gettext(LAST_SEEN) % {"when": fmt.ago(seen, now or datetime.now(UTC))}
        if alert.code == "outbox_backlog" and params.get("depth") is not None:
            return what, gettext(ITEMS) % {"count": fmt.number(float(params["depth"]), 0)}
    except (KeyError, TypeError, ValueError):  # params of an older fleet: the kind alone
        pass
    return what, ""


def _reading(params: dict[str, Any], gettext: Gettext, fmt: Formats) -> tuple[str, str]:
    quantity, unit = str(params["quantity"]), str(params.get("unit") or "")
    places = quantities.digits(quantity, unit)
    symbol = quantities.unit_symbol(gettext, unit)

    def text(value: float) -> str:
        number = fmt.number(value, places)
        return f"{number} {symbol}" if symbol else number

    low, high = params.get("min"), params.get("max")
    if low is not None and high is not None:
        allowed = f"{fmt.number(low, places)}–{text(high)}"
    elif low is not None:
        allowed = f"≥ {text(low)}"
    elif high is not None:
        allowed = f"≤ {text(high)}"
    else:
        allowed = ""
    figure = text(float(params["value"]))
    if allowed:
        figure += f" ({gettext(SHOULD_BE) % {'range': allowed}})"
    return quantities.quantity_name(gettext, quantity), figure
