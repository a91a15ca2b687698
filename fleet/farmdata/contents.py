"""What a farm's export holds: each table's file name, what it is, its columns (with what each
means, for the README inside the ZIP) and the query that reads the farm's rows of it.

Every query is SQLAlchemy Core that selects the columns in the listed order, bounded to one farm
and, for tables of things that happen in time, to ``[since, until)``. Reference tables (devices,
fields, members) are exported whole. A password hash or a token is never among the columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, String, and_, cast, literal, or_, select
from sqlalchemy import Table as SaTable
from sqlmodel import SQLModel

from agrifleet.fleet.alerts.tables import Alert
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.modelops.rollouts.tables import Rollout, RolloutDevice
from agrifleet.fleet.modelops.tables import DetectionVerdict, Observation, ObservationVerdict
from agrifleet.fleet.people.tables import AuditEntry, Farm, Field_, Membership, User
from agrifleet.fleet.telemetry.tables import Detection, Event, Reading, ReadingDaily, ReadingHourly


def table_of(model: type[SQLModel]) -> SaTable:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, SaTable)
    return table


ALERT = table_of(Alert)
DETECTION = table_of(Detection)
DEVICE = table_of(Device)
EVENT = table_of(Event)
READING = table_of(Reading)
OBSERVATION = table_of(Observation)
AUDIT = table_of(AuditEntry)
FIELD = table_of(Field_)
MEMBERSHIP = table_of(Membership)
USER = table_of(User)
ROLLOUT = table_of(Rollout)
ROLLOUT_DEVICE = table_of(RolloutDevice)
DAILY = table_of(ReadingDaily)
HOURLY = table_of(ReadingHourly)
VERDICT = table_of(DetectionVerdict)
OBSERVATION_VERDICT = table_of(ObservationVerdict)
FARM = table_of(Farm)

Kind = Literal["text", "int", "float", "bool", "time", "json"]


@dataclass(frozen=True)
class Scope:
    """One farm's rows, between ``since`` (inclusive) and ``until`` (exclusive) when given."""

    farm_id: int
    since: datetime | None = None
    until: datetime | None = None

    def devices(self) -> Select[Any]:
        """The ids of the farm's devices."""
        return select(DEVICE.c.id).where(DEVICE.c.farm_id == self.farm_id)

    def window(self, column: Any) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.since is not None:
            out.append(column >= self.since)
        if self.until is not None:
            out.append(column < self.until)
        return out


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    about: str


@dataclass(frozen=True)
class Table:
    name: str
    about: str
    columns: tuple[Column, ...]
    query: Callable[[Scope], Select[Any]]
    #: The column ``?since=&until=`` bound, or None for a reference table exported whole.
    time_column: str | None = None


def _c(name: str, kind: Kind, about: str) -> Column:
    return Column(name, kind, about)


_ITEM = (
    _c("device_id", "text", "the device that sent it"),
    _c("boot_id", "text", "the device's boot it was sent in"),
    _c("seq", "int", "its sequence number in that boot"),
    _c("ts", "time", "when the device took it (device clock, UTC)"),
    _c("uptime_s", "float", "seconds since the device booted"),
    _c("clock_synced", "bool", "whether the device's clock was synchronised"),
    _c("future", "bool", "ts was ahead of the fleet's clock when stored"),
)


def _cols(table: SaTable, columns: tuple[Column, ...]) -> list[Any]:
    return [table.c[c.name] for c in columns]


# --- devices, fields, members ---------------------------------------------------------------

_DEVICE = (
    _c("id", "text", "the device id (its MQTT user name)"),
    _c("name", "text", "a name people recognise"),
    _c("field_id", "int", "the field it stands in (fields.csv), empty when none"),
    _c("tags", "json", "tags for choosing rollout targets, a JSON list"),
    _c("created_at", "time", "when it was registered"),
    _c("last_seen", "time", "last status or message from it"),
    _c("boot_id", "text", "the boot it reported last"),
    _c("health", "json", "health from its last status message, JSON"),
    _c("revoked_at", "time", "when it was revoked, empty when it was not"),
)

_FIELD = (
    _c("id", "int", "the field id"),
    _c("name", "text", "its name"),
    _c("crop", "text", "what grows there"),
    _c("outline", "json", "its outline, a GeoJSON Polygon ([longitude, latitude])"),
    _c("created_at", "time", "when it was created"),
)

_MEMBER = (
    _c("user_id", "int", "the person's user id"),
    _c("email", "text", "their e-mail (their sign-in name)"),
    _c("role", "text", "their role in this farm: viewer, technician or admin"),
    _c("language", "text", "their dashboard language (vi, zh, en), empty: the browser's"),
    _c("active", "bool", "false when they can no longer sign in"),
    _c("member_since", "time", "when they were made a member of the farm"),
)


def _members(scope: Scope) -> Select[Any]:
    return (select(USER.c.id.label("user_id"), USER.c.email, MEMBERSHIP.c.role,
                   USER.c.language, USER.c.active, MEMBERSHIP.c.created_at.label("member_since"))
            .join(Membership, MEMBERSHIP.c.user_id == USER.c.id)
            .where(MEMBERSHIP.c.farm_id == scope.farm_id).order_by(USER.c.id))


# --- readings and rollups -------------------------------------------------------------------

_READING = (
    _c("id", "int", "the reading's id in the fleet"),
    *_ITEM,
    _c("sensor", "text", "the sensor's name in the device's config"),
    _c("quantity", "text", "what was measured, e.g. moisture, temperature"),
    _c("value", "float", "the value measured"),
    _c("unit", "text", "its unit, e.g. %, degC"),
    _c("stored_at", "time", "when the fleet stored it"),
)

_ROLLUP = (
    _c("device_id", "text", "the device"),
    _c("sensor", "text", "the sensor"),
    _c("quantity", "text", "what was measured"),
    _c("bucket", "time", "the start of the hour or day (UTC)"),
    _c("count", "int", "how many readings fell in it"),
    _c("sum", "float", "their sum (empty when not a number)"),
    _c("min", "float", "the smallest"),
    _c("max", "float", "the largest"),
)


def _by_device(table: SaTable, columns: tuple[Column, ...], time: str,
               order: tuple[str, ...]) -> Callable[[Scope], Select[Any]]:
    def query(scope: Scope) -> Select[Any]:
        return (select(*_cols(table, columns))
                .where(table.c.device_id.in_(scope.devices()), *scope.window(table.c[time]))
                .order_by(*(table.c[name] for name in order)))
    return query


# --- detections, observations, verdicts -----------------------------------------------------

_DETECTION = (
    _c("id", "int", "the detection's id in the fleet"),
    *_ITEM,
    _c("camera", "text", "the camera that took the photo"),
    _c("label", "text", 'the class the model answered, or "uncertain"'),
    _c("confidence", "float", "the model's confidence in it (0..1)"),
    _c("uncertain", "bool", "the model was not sure enough to answer"),
    _c("top3", "json", "the three likeliest classes, JSON [{label, confidence}]"),
    _c("crop", "text", "the crop on its own (empty from older nodes)"),
    _c("disease", "text", "the disease on its own, healthy included"),
    _c("model_name", "text", "the model that answered"),
    _c("model_version", "text", "its version"),
    _c("model_sha256", "text", "the SHA-256 of its file"),
    _c("inference_ms", "float", "how long it took on the node"),
    _c("image_sha256", "text", "the SHA-256 of the photo the node classified"),
    _c("stored_at", "time", "when the fleet stored it"),
)

_OBSERVATION = (
    _c("id", "int", "the observation's id in the fleet"),
    _c("client_id", "text", "the phone's UUID for it"),
    _c("field_id", "int", "the field it was taken in (fields.csv), empty when none"),
    _c("latitude", "float", "where it was taken (degrees)"),
    _c("longitude", "float", "where it was taken (degrees)"),
    _c("taken_at", "time", "when the photo was taken"),
    _c("received_at", "time", "when the fleet received it"),
    _c("taken_by", "text", "who sent it"),
    _c("label", "text", 'the class the model answered, or "uncertain"'),
    _c("confidence", "float", "the model's confidence (0..1)"),
    _c("uncertain", "bool", "the model was not sure enough to answer"),
    _c("best", "text", "the likeliest class even when uncertain"),
    _c("top3", "json", "the three likeliest classes, JSON"),
    _c("crop", "json", "the crop's answer, JSON {name, confidence, uncertain, best}"),
    _c("disease", "json", "the disease's answer, JSON {name, confidence, uncertain, best}"),
    _c("model_name", "text", "the model that answered"),
    _c("model_version", "text", "its version"),
    _c("width", "int", "the stored photo's width (pixels)"),
    _c("height", "int", "its height"),
)

_VERDICT = (
    _c("detection_id", "int", "the detection (detections.csv)"),
    _c("verdict", "text", "confirmed or rejected"),
    _c("label", "text", "the right class the person named, empty when they named none"),
    _c("model_name", "text", "the detection's model"),
    _c("model_version", "text", "its version"),
    _c("given_by", "text", "who gave the verdict"),
    _c("given_at", "time", "when"),
)


def _verdicts(scope: Scope) -> Select[Any]:
    return (select(*_cols(VERDICT, _VERDICT))
            .join(Detection, DETECTION.c.id == VERDICT.c.detection_id)
            .where(DETECTION.c.device_id.in_(scope.devices()),
                   *scope.window(VERDICT.c.given_at))
            .order_by(VERDICT.c.detection_id))


_OBSERVATION_VERDICT = (
    _c("observation_id", "int", "the observation (observations.csv)"),
    _c("verdict", "text", "confirmed or rejected"),
    _c("label", "text", "the right class the person named, empty when they named none"),
    _c("model_name", "text", "the observation's model"),
    _c("model_version", "text", "its version"),
    _c("given_by", "text", "who gave the verdict"),
    _c("given_at", "time", "when"),
)


def _observation_verdicts(scope: Scope) -> Select[Any]:
    return (select(*_cols(OBSERVATION_VERDICT, _OBSERVATION_VERDICT))
            .join(OBSERVATION, OBSERVATION.c.id == OBSERVATION_VERDICT.c.observation_id)
            .where(OBSERVATION.c.farm_id == scope.farm_id,
                   *scope.window(OBSERVATION_VERDICT.c.given_at))
            .order_by(OBSERVATION_VERDICT.c.observation_id))


def _observations(scope: Scope) -> Select[Any]:
    return (select(*_cols(OBSERVATION, _OBSERVATION))
            .where(OBSERVATION.c.farm_id == scope.farm_id,
                   *scope.window(OBSERVATION.c.taken_at))
            .order_by(OBSERVATION.c.id))


_EVENT = (
    _c("id", "int", "the event's id"),
    *_ITEM,
    _c("severity", "text", "info, warning or alert"),
    _c("code", "text", "a machine code"),
    _c("message", "text", "what happened"),
    _c("sensor", "text", "the sensor, when about one"),
)

# --- alerts, rollouts, audit ----------------------------------------------------------------

_ALERT = (
    _c("id", "int", "the alert's id"),
    _c("rule_id", "int", "the rule that raised it"),
    _c("kind", "text", "disease, reading_range, offline or backlog"),
    _c("code", "text", "a machine code the dashboard translates"),
    _c("params", "json", "the figures of the alert, JSON"),
    _c("device_id", "text", "the device"),
    _c("field_id", "int", "its field when raised"),
    _c("condition", "text", "what was wrong"),
    _c("state", "text", "active, acknowledged or cleared"),
    _c("count", "int", "how many times it was seen"),
    _c("first_seen", "time", "first seen"),
    _c("last_seen", "time", "last seen"),
    _c("acknowledged_by", "text", "who acknowledged it"),
    _c("acknowledged_at", "time", "when"),
    _c("cleared_by", "text", "who cleared it (empty: the fleet)"),
    _c("cleared_at", "time", "when"),
    _c("cleared_reason", "text", "condition_gone, quiet_period, by_hand or rule_changed"),
)


def _alerts_of(scope: Scope) -> ColumnElement[bool]:
    """The farm's alerts: raised in it, or (from before alerts named their farm) on its devices."""
    return or_(ALERT.c.farm_id == scope.farm_id,
               and_(ALERT.c.farm_id.is_(None),
                    ALERT.c.device_id.in_(scope.devices())))


def _alerts(scope: Scope) -> Select[Any]:
    return (select(*_cols(ALERT, _ALERT))
            .where(_alerts_of(scope), *scope.window(ALERT.c.first_seen)).order_by(ALERT.c.id))


_ROLLOUT = (
    _c("id", "int", "the rollout's id"),
    _c("model", "text", "the model rolled out"),
    _c("version", "text", "its version"),
    _c("state", "text", "running, paused, halted, completed or aborted"),
    _c("reason", "text", "why it halted or was aborted"),
    _c("created_by", "text", "who started it"),
    _c("created_at", "time", "when"),
    _c("updated_at", "time", "its last change"),
)

_ROLLOUT_DEVICE = (
    _c("rollout_id", "int", "the rollout (rollouts.csv)"),
    _c("device_id", "text", "one of the farm's devices in it"),
    _c("phase", "int", "the phase it was offered in"),
    _c("state", "text", "pending, offered … active, failed, rolled_back"),
    _c("reason", "text", "why it failed or rolled back"),
    _c("previous", "json", "the model it ran before, JSON"),
    _c("active", "json", "the model it runs after, JSON"),
    _c("updated_at", "time", "its last change"),
)


def _rollouts(scope: Scope) -> Select[Any]:
    touched = select(ROLLOUT_DEVICE.c.rollout_id).where(
        ROLLOUT_DEVICE.c.device_id.in_(scope.devices()))
    return (select(*_cols(ROLLOUT, _ROLLOUT))
            .where(ROLLOUT.c.id.in_(touched), *scope.window(ROLLOUT.c.created_at))
            .order_by(ROLLOUT.c.id))


def _rollout_devices(scope: Scope) -> Select[Any]:
    return (select(*_cols(ROLLOUT_DEVICE, _ROLLOUT_DEVICE))
            .join(Rollout, ROLLOUT.c.id == ROLLOUT_DEVICE.c.rollout_id)
            .where(ROLLOUT_DEVICE.c.device_id.in_(scope.devices()),
                   *scope.window(ROLLOUT.c.created_at))
            .order_by(ROLLOUT_DEVICE.c.rollout_id, ROLLOUT_DEVICE.c.device_id))


_AUDIT = (
    _c("id", "int", "the entry's id"),
    _c("ts", "time", "when"),
    _c("actor", "text", "who: a person's e-mail or a token's name and role"),
    _c("action", "text", "what, e.g. device.create, farm.erase"),
    _c("target", "text", "what it was done to"),
    _c("address", "text", "the client's IP address"),
    _c("details", "json", "details, JSON (never a secret)"),
)


def audit_of(farm_id: int, devices: Any, fields: Any) -> ColumnElement[bool]:
    """The farm's audit entries: about the farm, a membership in it, its devices or fields."""
    target = AUDIT.c.target
    return or_(
        target == f"farm {farm_id}",
        target.like(f"% in farm {farm_id}"),
        and_(AUDIT.c.action.like("device.%"), target.in_(devices)),
        and_(AUDIT.c.action.like("field.%"), target.in_(fields)),
    )


def _audit(scope: Scope) -> Select[Any]:
    fields = (select(literal("field ") + cast(FIELD.c.id, String))
              .where(FIELD.c.farm_id == scope.farm_id))
    return (select(*_cols(AUDIT, _AUDIT))
            .where(audit_of(scope.farm_id, scope.devices(), fields),
                   *scope.window(AUDIT.c.ts))
            .order_by(AUDIT.c.id))


def _plain(table: SaTable, columns: tuple[Column, ...], farm: Any,
           order: Any) -> Callable[[Scope], Select[Any]]:
    def query(scope: Scope) -> Select[Any]:
        return select(*_cols(table, columns)).where(farm == scope.farm_id).order_by(order)
    return query


TABLES: tuple[Table, ...] = (
    Table("devices", "the farm's devices", _DEVICE,
          _plain(DEVICE, _DEVICE, DEVICE.c.farm_id, DEVICE.c.id)),
    Table("fields", "the farm's fields", _FIELD,
          _plain(FIELD, _FIELD, FIELD.c.farm_id, FIELD.c.id)),
    Table("members", "the people of the farm and their roles (no password, no token)", _MEMBER,
          _members),
    Table("readings", "raw sensor readings of the farm's devices", _READING,
          _by_device(READING, _READING, "ts", ("device_id", "ts", "id")), "ts"),
    Table("readings_hourly", "readings per device, sensor, quantity and UTC hour", _ROLLUP,
          _by_device(HOURLY, _ROLLUP, "bucket",
                     ("device_id", "sensor", "quantity", "bucket")), "bucket"),
    Table("readings_daily", "readings per device, sensor, quantity and UTC day", _ROLLUP,
          _by_device(DAILY, _ROLLUP, "bucket",
                     ("device_id", "sensor", "quantity", "bucket")), "bucket"),
    Table("detections", "crop-disease detections of the farm's cameras; the thumbnail of "
          "detection N is detections/thumbnails/N.jpg", _DETECTION,
          _by_device(DETECTION, _DETECTION, "ts", ("id",)), "ts"),
    Table("verdicts", "people's verdicts on detections", _VERDICT, _verdicts, "given_at"),
    Table("observations", "scouting photos sent from phones and the model's answer; the photo "
          "of observation N is observations/photos/N.jpg", _OBSERVATION, _observations,
          "taken_at"),
    Table("observation_verdicts", "people's verdicts on scouting observations",
          _OBSERVATION_VERDICT, _observation_verdicts, "given_at"),
    Table("events", "events the farm's devices reported", _EVENT,
          _by_device(EVENT, _EVENT, "ts", ("id",)), "ts"),
    Table("alerts", "alerts raised on the farm's devices", _ALERT, _alerts, "first_seen"),
    Table("rollouts", "model rollouts that touched the farm's devices", _ROLLOUT, _rollouts,
          "created_at"),
    Table("rollout_devices", "each of the farm's devices in those rollouts", _ROLLOUT_DEVICE,
          _rollout_devices, "created_at (of the rollout)"),
    Table("audit_log", "who did what to the farm, its members, devices and fields", _AUDIT,
          _audit, "ts"),
)
