"""The agent's one TOML config file, as typed models that refuse unknown keys.

``load_config(path)`` parses and validates it and raises :class:`ConfigError` with one line per
problem, each naming where it is (``sensors[0]: unknown key 'bauddrate'``). docs/edge.md is the
reference for every key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from agrifleet.contract import DEFAULT_PREFIX, MAX_PAYLOAD_BYTES, DeviceId
from agrifleet.edge.inference.camera_types import CAMERA_TYPES
from agrifleet.edge.inference.config import CameraConfig
from agrifleet.edge.registry import tagged_union
from agrifleet.edge.sensor_types import SENSOR_TYPES
from agrifleet.edge.sensor_types.base import SensorType
from agrifleet.mqtt import mask_url, parse_mqtt_url


def _readable_ca(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise ValueError(f"no CA certificate file at {path}")
    return path


#: A CA certificate file that must exist when given.
CaFile = Annotated[Path | None, AfterValidator(_readable_ca)]


class ConfigError(ValueError):
    """The config file cannot be used; the message lists every problem and where it is."""


class _Section(BaseModel):
    # The [mqtt] section holds passwords: a ValidationError's text must not echo inputs
    # (ConfigError's lines come from _describe, which masks them).
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class MqttConfig(_Section):
    """How the node reaches the broker."""

    url: str = Field(title="mqtt://[user[:password]@]host[:port] or mqtts:// for TLS")
    username: str | None = Field(default=None, title="User name (default: the device id)")
    password: SecretStr | None = Field(default=None, title="Password (or use password_file)")
    password_file: Path | None = Field(default=None, title="File holding the password")
    prefix: str = Field(
        default=DEFAULT_PREFIX, min_length=1, pattern=r"^[^/#+]+$", title="Topic prefix"
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600, title="MQTT keepalive in seconds")
    ca_file: CaFile = Field(default=None, title="CA certificate file; implies TLS")
    reconnect_min_s: float = Field(default=1.0, gt=0, title="First reconnect delay")
    reconnect_max_s: float = Field(default=120.0, gt=0, title="Longest reconnect delay")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parse_mqtt_url(value)  # a ValueError whose message masks the password
        return value

    @model_validator(mode="after")
    def _one_password(self) -> MqttConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s is below reconnect_min_s")
        return self


class OutboxConfig(_Section):
    """The durable store items wait in until the fleet acknowledges them."""

    path: Path | None = Field(default=None, title="SQLite file (default: data_dir/outbox.sqlite)")
    max_bytes: int = Field(
        default=256 * 1024 * 1024, ge=64 * 1024, title="Disk budget for stored items"
    )
    batch_items: int = Field(default=500, ge=1, le=5000, title="Most items in one batch")
    batch_bytes: int = Field(
        default=128 * 1024, ge=4096, le=MAX_PAYLOAD_BYTES, title="Largest batch payload in bytes"
    )
    drain_order: Literal["oldest-first", "newest-first"] = Field(
        default="oldest-first", title="Within a priority, which items leave a backlog first"
    )
    max_inflight: int = Field(default=4, ge=1, le=100, title="Unacknowledged batches at once")
    ack_timeout_s: float = Field(default=30.0, gt=0, title="Resend a batch not acked by then")
    memory_bytes: int = Field(
        default=8 * 1024 * 1024, ge=64 * 1024,
        title="While the file cannot be written: bytes of newest items held in memory",
    )
    retry_s: float = Field(default=10.0, gt=0, title="Seconds between tries of an unwritable file")
    seq_mark_dir: Path | None = Field(
        default=Path("/dev/shm"),  # noqa: S108 - a RAM file system is the point
        title="RAM folder (cleared at boot) keeping the next seq outside the file; none: off",
    )
    on_corrupt: Literal["stop", "move-aside"] = Field(
        default="stop",
        title="A damaged file: stop with exit code 3, or keep it as <name>.broken-<time> "
        "and start a fresh one with what could be read",
    )


class SimulatedClock(_Section):
    """Tests only (``[clock.simulate]``): the wall clock reads ``start`` at ``real_start`` and
    runs ``scale`` times faster, so an end-to-end test gets a week of weather in seconds."""

    start: AwareDatetime = Field(title="What the clock reads at real_start")
    real_start: AwareDatetime = Field(title="The real moment the simulated clock starts at")
    scale: float = Field(gt=0, le=1e6, allow_inf_nan=False,
                         title="Simulated seconds per real second")


class ClockConfig(_Section):
    """How the agent decides the wall clock can be trusted."""

    synced: Literal["auto", "always", "never"] = Field(
        default="auto",
        title="auto: ask the kernel (adjtimex) and check a sanity floor; always/never: override",
    )
    check_interval_s: float = Field(default=10.0, gt=0, title="Seconds between sync checks")
    simulate: SimulatedClock | None = Field(
        default=None, title="Tests only: a fast clock that takes days of readings in seconds"
    )


class PollingConfig(_Section):
    """How a sensor that stops answering is retried."""

    fail_threshold: int = Field(
        default=3, ge=1, title="Consecutive failures before a sensor is reported down"
    )
    retry_min_s: float = Field(default=1.0, gt=0, title="First retry delay after a failure")
    retry_max_s: float = Field(default=300.0, gt=0, title="Longest retry delay")


class UpdatesConfig(_Section):
    """Over-the-air model updates: with this section the node takes the fleet's model offers."""

    trusted_keys: list[Path] = Field(
        min_length=1, title="Public key files (signing.pub) whose signatures the node accepts"
    )
    max_kbps: float | None = Field(
        default=None, gt=0, title="Download bandwidth cap in kilobits per second (default: none)"
    )
    shadow_images: int | None = Field(
        default=None, ge=0, title="Photos to classify in shadow (default: what the offer says)"
    )
    shadow_max_s: float | None = Field(
        default=None, ge=0, title="Longest shadow period (default: what the offer says)"
    )
    confirm_after_s: float = Field(
        default=600.0, gt=0,
        title="A switched model is confirmed by its first classification or this uptime",
    )
    max_trial_starts: int = Field(
        default=3, ge=1,
        title="Starts in trial without confirmation before the node goes back to its old model",
    )
    ca_file: CaFile = Field(
        default=None, title="CA certificate of an https fleet with a private CA (default: system)"
    )
    retry_min_s: float = Field(default=2.0, gt=0, title="First retry delay of a failed download")
    retry_max_s: float = Field(default=300.0, gt=0, title="Longest retry delay of a download")

    @field_validator("trusted_keys")
    @classmethod
    def _keys_exist(cls, paths: list[Path]) -> list[Path]:
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ValueError(f"no public key file at {', '.join(missing)}")
        return paths


if TYPE_CHECKING:
    SensorConfig = SensorType
else:  # pydantic picks the model by `type`, from every module of edge/sensor_types/
    SensorConfig = tagged_union(SENSOR_TYPES)


class AgentConfig(_Section):
    """Everything one field node needs to run."""

    device_id: DeviceId
    data_dir: Path = Field(default=Path("/var/lib/agrifleet"), title="Where the agent keeps state")
    status_interval_s: float = Field(default=60.0, gt=0, title="Seconds between status messages")
    mqtt: MqttConfig
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    clock: ClockConfig = Field(default_factory=ClockConfig)
    polling: PollingConfig = Field(default_factory=PollingConfig)
    sensors: list[SensorConfig] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)
    updates: UpdatesConfig | None = Field(default=None, title="Take model offers from the fleet")

    @model_validator(mode="after")
    def _names(self) -> AgentConfig:
        taken = [s.name for s in self.sensors if s.name is not None]
        for sensor in self.sensors:
            if sensor.name is None:
                base, n = sensor.type, 1
                while (candidate := base if n == 1 else f"{base}-{n}") in taken:
                    n += 1
                sensor.name = candidate
                taken.append(candidate)
        names = [s.name for s in self.sensors] + [c.name for c in self.cameras]
        dupes = sorted({n for n in names if names.count(n) > 1 and n is not None})
        if dupes:
            raise ValueError(f"sensor/camera names must be unique: {', '.join(dupes)}")
        return self

    @property
    def outbox_path(self) -> Path:
        return self.outbox.path or self.data_dir / "outbox.sqlite"

    def mqtt_password(self) -> str | None:
        """The MQTT password from the config, its file or the URL (read when needed)."""
        if self.mqtt.password is not None:
            return self.mqtt.password.get_secret_value()
        if self.mqtt.password_file is not None:
            return self.mqtt.password_file.read_text().strip()
        return parse_mqtt_url(self.mqtt.url).password

    def mqtt_username(self) -> str:
        return self.mqtt.username or parse_mqtt_url(self.mqtt.url).username or self.device_id


#: Discriminator values that pydantic puts into error locations; not part of a key path.
_UNION_TAGS = set(SENSOR_TYPES) | set(CAMERA_TYPES)


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS and i > 0 and isinstance(loc[i - 1], int):
            continue
        else:
            out += f".{part}" if out else part
    return out or "top level"


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{_where(loc[:-1])}: unknown key '{loc[-1]}'"
    if error["type"] == "missing":
        return f"{_where(loc[:-1])}: missing key '{loc[-1]}'"
    message = error["msg"].removeprefix("Value error, ")
    return f"{_where(loc)}: {message}{_shown(loc, error.get('input'))}"


#: Keys whose values are never shown in an error, whatever is wrong with them.
_SECRET_KEYS = ("password", "secret", "token", "key")


def _shown(loc: tuple[int | str, ...], value: object) -> str:
    """`` (got …)`` for the offending value, unless it is or may hold a secret."""
    if isinstance(value, dict | list) or value is None:
        return ""
    if any(isinstance(p, str) and any(k in p.lower() for k in _SECRET_KEYS) for p in loc):
        return ""
    if loc == ("mqtt", "url"):
        return ""  # parse_mqtt_url quotes it itself, masked
    if isinstance(value, str):
        masked = mask_url(value)
        if masked != value:
            return f" (got {masked!r})"
    return f" (got {value!r})"


def parse_config(data: dict[str, Any], source: str = "config") -> AgentConfig:
    """Validate already-parsed TOML data; raises ConfigError naming each problem."""
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(dict(e)) for e in exc.errors()]
        raise ConfigError(f"{source}: " + f"\n{source}: ".join(lines)) from None


def load_config(path: Path | str) -> AgentConfig:
    """Read and validate a TOML config file; raises ConfigError with a clear message."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc.reason}") from None
    return parse_config(data, str(path))
