"""Fleet settings, read from ``AGRIFLEET_*`` environment variables and refused when invalid."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from agrifleet.contract import DEFAULT_PREFIX, FLEET_CLIENT_ID, is_device_client_id
from agrifleet.images import CONCURRENT_DECODES, DECODE_MEMORY_MB, MAX_PIXELS, ImageLimits
from agrifleet.mqtt import mask_url, parse_mqtt_url

__all__ = ["FleetSettings", "SettingsError", "load_settings", "mask_url"]

#: The data directory of a fleet run as a system service.
SYSTEM_DATA_DIR = Path("/var/lib/agrifleet")


def default_data_dir(
    environ: Mapping[str, str] | None = None,
    *,
    is_root: bool | None = None,
    system: Path = SYSTEM_DATA_DIR,
) -> Path:
    """Where the fleet keeps its files when AGRIFLEET_DATA_DIR is unset, whatever the cwd.

    /var/lib/agrifleet as root, or when it exists and this user may write there (a service
    user's); otherwise $XDG_DATA_HOME/agrifleet, or ~/.local/share/agrifleet.
    """
    env = os.environ if environ is None else environ
    root = os.geteuid() == 0 if is_root is None else is_root
    if root or (system.is_dir() and os.access(system, os.W_OK | os.X_OK)):
        return system
    base = env.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative (or empty) value is ignored
        base = os.path.join(env.get("HOME") or str(Path.home()), ".local", "share")
    return Path(base) / "agrifleet"


def default_database_url(data_dir: Path) -> str:
    """The SQLite file in the data directory."""
    return f"sqlite:///{data_dir / 'fleet.db'}"


class FleetSettings(BaseSettings):
    """Everything the fleet service can be told; unknown ``AGRIFLEET_*`` names are refused."""

    model_config = SettingsConfigDict(
        env_prefix="AGRIFLEET_", extra="forbid", validate_default=True, frozen=True,
        hide_input_in_errors=True,  # URLs hold passwords: errors name the setting, not its value
    )

    database_url: str = Field(
        default_factory=lambda: default_database_url(default_data_dir()),
        repr=False,
        title="SQLAlchemy database URL: sqlite:///path or postgresql://user:pw@host/db; "
        "default: sqlite:///<data_dir>/fleet.db",
    )
    mqtt_url: str | None = Field(
        default=None,
        repr=False,
        title="mqtt://user:password@host:port of the broker, with the fleet's credentials; "
        "unset disables ingestion",
    )
    mqtt_ca_file: Path | None = Field(
        default=None,
        title="CA certificate of a broker with a private certificate (provisioning/tls.py); "
        "implies TLS",
    )
    mqtt_prefix: str = Field(default=DEFAULT_PREFIX, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    mqtt_client_id: str = Field(
        default=FLEET_CLIENT_ID,
        min_length=1,
        max_length=128,
        title="MQTT client id; the broker keeps this session's queue while the fleet is away; "
        "the fleet's other connections add -api, -ingest-<worker>, -accounts-<random>. It "
        "may not have the form of a device's (agrifleet-<device id>)",
    )
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=3600)
    offline_after_s: int = Field(
        default=300,
        ge=10,
        title="a device heard from (status or message) longer ago than this is shown offline, "
        "whatever its last status said; keep it at least 3x the nodes' status_interval_s",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        title="folder for the fleet's files: the default SQLite database (fleet.db), model "
        "packages under models/; default /var/lib/agrifleet as root (or when it is writable), "
        "else $XDG_DATA_HOME/agrifleet or ~/.local/share/agrifleet",
    )
    model_keys: Annotated[tuple[Path, ...], NoDecode] = Field(  # comma-separated, not JSON
        default=(),
        title="comma-separated paths of the public keys whose model packages the fleet accepts",
    )
    public_url: str | None = Field(
        default=None,
        title="the fleet's address as nodes reach it (http(s)://host:port); model offers build "
        "their download URLs from it",
    )
    rollout_timeout_s: float = Field(
        default=3600, gt=0,
        title="a device downloading, verifying or in self-test longer than this fails its "
        "rollout step (shadow: this plus the rollout's shadow_max_s)",
    )
    rollout_offer_timeout_s: float = Field(
        default=86400, gt=0,
        title="an offer not taken up after this long while the device is online fails; an "
        "offline device keeps its offer until it returns",
    )
    rollout_tick_s: float = Field(default=2.0, gt=0, le=60,
                                  title="how often the rollout engine reads nodes' reports")
    auto_migrate: bool = Field(default=True, title="apply database migrations at start-up")
    queue_max_messages: int = Field(
        default=20_000, ge=10, title="messages waiting for the writer before MQTT is slowed"
    )
    writer_max_messages: int = Field(
        default=2_000, ge=1, title="at most this many MQTT messages per database transaction"
    )
    future_tolerance_s: float = Field(
        default=300, ge=0, title="items dated more than this ahead of the fleet's clock are "
        "stored flagged future: never the latest reading, never in the latency metric"
    )
    max_seq_jump: int = Field(
        default=1_000_000_000, ge=1, title="an item whose seq is more than this beyond its boot's "
        "highest received seq is refused, so the gap report stays a count a node could lose"
    )
    dashboard_timezone: str = Field(
        default="UTC", min_length=1, max_length=64,
        title="the IANA time zone the dashboard shows times in, e.g. Asia/Ho_Chi_Minh",
    )
    map_tile_url: str | None = Field(
        default=None,
        title="a map tile URL template (https://…/{z}/{x}/{y}.png) for the dashboard's field "
        "maps; unset: maps are drawn from the field outline and node positions only",
    )
    session_hours: float = Field(default=12, gt=0, le=24 * 90,
                                 title="a dashboard sign-in lasts this many hours")
    token_max_days_viewer: int = Field(
        default=90, ge=1, le=3660, title="the longest a personal token of a user whose highest "
        "role is viewer may live (days); POST /api/v1/tokens asking for more is refused (422)")
    token_max_days_technician: int = Field(
        default=60, ge=1, le=3660, title="the longest a personal token of a technician may live "
        "(days)")
    token_max_days_admin: int = Field(
        default=30, ge=1, le=3660, title="the longest a personal token of an admin may live "
        "(days)")
    cookie_secure: bool = Field(
        default=False, title="mark the session cookie Secure even when the request reached the "
        "fleet over plain HTTP (a TLS-terminating proxy in front); it is always Secure over https"
    )
    login_max_failures: int = Field(
        default=5, ge=1, title="failed sign-ins of one account (from browsers that are not a "
        "known device of it) within login_window_s that cost no wait; each further one doubles "
        "the wait (429 with Retry-After) from login_delay_s up to login_max_delay_s; a known "
        "device's own failures are counted alike")
    login_max_failures_per_address: int = Field(
        default=20, ge=1, title="failed sign-ins from one address within login_window_s that "
        "cost no wait (a farm's NAT shares one address); then the wait doubles as for an "
        "account; known devices are not held by it")
    login_window_s: float = Field(default=3600, gt=0, title="failed sign-ins older than this "
                                  "are forgotten by the throttle")
    login_delay_s: float = Field(default=5.0, gt=0, le=3600,
                                 title="the first wait after the free failures (seconds)")
    login_max_delay_s: float = Field(default=900, gt=0, le=86400,
                                     title="the longest wait between two sign-in attempts")
    device_cookie_days: float = Field(
        default=180, gt=0, le=3660, title="a browser that signed in as a person stays their "
        "known device (its sign-ins are not held by the account's or the address's failures) "
        "this many days after its last sign-in")
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), title="comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the client (audit log, login throttling); empty: none")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list | tuple):
            import ipaddress

            for net in value:
                try:
                    ipaddress.ip_network(str(net), strict=False)
                except ValueError:
                    raise ValueError(f"{net!r} is not an address or network") from None
        return value
    enrolment_code_ttl_s: int = Field(
        default=86400, ge=60, le=30 * 86400,
        title="how long an enrolment code from POST /api/v1/devices/{id}/enrolment-code stays "
        "valid (default 24 h)",
    )
    enrolment_attempts_per_minute: int = Field(
        default=10, ge=1, le=10_000,
        title="POST /api/v1/enrol attempts one address may make per minute (codes are guessed "
        "nowhere near that fast: 100 random bits)",
    )
    node_mqtt_url: str | None = Field(
        default=None,
        title="the broker as enrolled nodes reach it (mqtts://host:port, no credentials); "
        "default: AGRIFLEET_MQTT_URL without its user and password",
    )
    broker_timeout_s: float = Field(
        default=5.0, gt=0, le=60,
        title="how long the fleet waits for the broker's dynamic security plugin to answer",
    )
    alert_tick_s: float = Field(default=30.0, gt=0, le=3600,
                                title="how often the alert evaluator checks the alert rules")
    delivery_tick_s: float = Field(default=5.0, gt=0, le=3600,
                                   title="how often alert deliveries (webhook, e-mail) are sent")
    delivery_max_attempts: int = Field(default=10, ge=1, le=100,
                                       title="attempts before a delivery is marked failed")
    delivery_retry_min_s: float = Field(default=30.0, gt=0, le=86400,
                                        title="first retry delay of a failed delivery")
    delivery_retry_max_s: float = Field(default=3600.0, gt=0, le=7 * 86400,
                                        title="longest retry delay of a failed delivery")
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120,
                                     title="how long a webhook receiver may take to answer")
    webhook_allow_local: bool = Field(
        default=False,
        title="webhooks may go to this machine and private networks (loopback, 10/8, "
        "192.168/16, link-local…); off: only public addresses, so a farm's technician cannot "
        "reach the fleet's own network through one",
    )
    smtp_host: str | None = Field(default=None, min_length=1,
                                  title="SMTP server for alert e-mail (none: no e-mail)")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = Field(default="agrifleet@localhost", min_length=3, max_length=254,
                           title="the From address of alert e-mail")
    smtp_username: str | None = Field(default=None, title="SMTP login (none: no login)")
    smtp_password: SecretStr | None = Field(default=None, title="SMTP password")
    smtp_starttls: bool = Field(default=False, title="STARTTLS before logging in")
    observation_max_bytes: int = Field(
        default=15 * 1024 * 1024, ge=1024, le=32 * 1024 * 1024,
        title="a scouting photo larger than this many bytes is refused (413)",
    )
    photo_max_pixels: int = Field(
        default=MAX_PIXELS, ge=32 * 32, le=500_000_000,
        title="a photo with more pixels (width × height, read from its header before "
        "decoding) is refused (413); the default takes a 50-megapixel phone camera",
    )
    photo_decode_memory_mb: int = Field(
        default=DECODE_MEMORY_MB, ge=16, le=65536,
        title="megabytes the photos being decoded at once may take (scouting, self-tests of "
        "published models); a photo that alone needs more is refused (413), others wait",
    )
    photo_concurrent_decodes: int = Field(
        default=CONCURRENT_DECODES, ge=1, le=64,
        title="photos decoded at once; more wait their turn",
    )

    def photo_limits(self) -> ImageLimits:
        """The limits of every photo this fleet decodes (agrifleet.images)."""
        return ImageLimits(max_pixels=self.photo_max_pixels,
                           decode_memory_mb=self.photo_decode_memory_mb,
                           concurrent_decodes=self.photo_concurrent_decodes)

    mqtt_share_group: str = Field(
        default="agrifleet-ingest", pattern=r"^[A-Za-z0-9_-]{1,64}$",
        title="the MQTT shared-subscription group of `agrifleet fleet ingest` workers "
        "($share/<group>/...): the broker spreads device messages over the group's members",
    )
    retention_days: int | None = Field(
        default=None, ge=1, title="raw readings dated more than this many days ago are deleted "
        "(hourly and daily rollups are kept); unset keeps everything"
    )
    photo_retention_days: int | None = Field(
        default=None, ge=1, title="detections' thumbnails and scouting photos older than this "
        "many days are removed (the rows stay); unset keeps them; a farm may set its own"
    )
    alert_retention_days: int | None = Field(
        default=None, ge=1, title="cleared alerts last seen more than this many days ago are "
        "deleted; unset keeps them; a farm may set its own"
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_data_dir(cls, data: Any, info: ValidationInfo) -> Any:
        """The data directory (from the caller's environment), and the database inside it."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if not data.get("data_dir"):
            environ = (info.context or {}).get("environ")
            data["data_dir"] = default_data_dir(environ)
        if "database_url" not in data:
            data["database_url"] = default_database_url(cls._absolute(data["data_dir"]))
        return data

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, path: Path | str) -> Path:
        """~ expanded and made absolute once, so a later chdir does not move the files."""
        return Path(path).expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        scheme = url.split(":", 1)[0]
        if not scheme.startswith(("sqlite", "postgresql", "postgres")) or "://" not in url:
            raise ValueError(
                f"unsupported database URL {mask_url(url)!r}: use sqlite:///path/to/file.db "
                "or postgresql://user:password@host:port/database"
            )
        if scheme in ("postgresql", "postgres"):  # psycopg 3 is the driver we install
            url = "postgresql+psycopg" + url[len(scheme) :]
        try:
            make_url(url)
        except (ArgumentError, ValueError):
            raise ValueError(
                f"database URL {mask_url(url)!r} cannot be parsed: expected "
                "postgresql://user:password@host:port/database (a port is a number; special "
                "characters in a password are %-encoded)"
            ) from None
        return url

    @field_validator("model_keys", mode="before")
    @classmethod
    def _key_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(Path(p.strip()) for p in value.split(",") if p.strip())
        return value

    @field_validator("model_keys")
    @classmethod
    def _readable_keys(cls, paths: tuple[Path, ...]) -> tuple[Path, ...]:
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ValueError(f"no public key file at {', '.join(missing)}")
        return paths

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"invalid public URL {mask_url(url)!r}: expected http(s)://host[:port]"
            )
        return url.rstrip("/")

    @field_validator("mqtt_client_id")
    @classmethod
    def _not_a_device_client_id(cls, value: str) -> str:
        if is_device_client_id(value):
            raise ValueError(f"{value!r} is the form of a device's client id (agrifleet-<device "
                             f"id>): a device could take it; use {FLEET_CLIENT_ID!r} or a name "
                             "not starting with 'agrifleet-'")
        return value

    @field_validator("mqtt_ca_file")
    @classmethod
    def _readable_ca(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"no CA certificate file at {path}")
        return path

    @field_validator("node_mqtt_url")
    @classmethod
    def _node_mqtt_url(cls, url: str | None) -> str | None:
        if not url:
            return None
        address = parse_mqtt_url(url)
        if address.username or address.password:
            raise ValueError("node_mqtt_url carries no user or password: each node has its own")
        return url
    @field_validator("dashboard_timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}: use an IANA name such as "
                             "Asia/Ho_Chi_Minh, Asia/Shanghai or UTC") from None
        return name

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, url: str | None) -> str | None:
        if url is None or url == "":
            return None
        parse_mqtt_url(url)  # a ValueError that masks the password
        return url


class SettingsError(ValueError):
    """The environment holds an unknown or invalid ``AGRIFLEET_*`` setting."""


def token_max_days(settings: FleetSettings, role: str | None) -> int:
    """The longest lifetime (days) of a personal token of a user whose highest role is
    ``role`` (no role: a viewer's)."""
    if role == "admin":
        return settings.token_max_days_admin
    if role == "technician":
        return settings.token_max_days_technician
    return settings.token_max_days_viewer


def load_settings(environ: dict[str, str] | None = None) -> FleetSettings:
    """Settings from the environment, or a :class:`SettingsError` naming each bad variable."""
    import difflib
    import os

    from pydantic import ValidationError

    env = dict(os.environ if environ is None else environ)
    known = {f"AGRIFLEET_{name.upper()}" for name in FleetSettings.model_fields}
    # Other parts have AGRIFLEET_* variables of their own (AGRIFLEET_TFLITE_RUNTIME on a node);
    # an unknown name that is close to one of ours is a typo and is refused.
    typos = {
        name: close[0]
        for name in sorted(env)
        if name.startswith("AGRIFLEET_") and name not in known
        for close in [difflib.get_close_matches(name, known, n=1, cutoff=0.8)]
        if close
    }
    if typos:
        raise SettingsError(
            "unknown setting(s) "
            + ", ".join(f"{name} (did you mean {match}?)" for name, match in typos.items())
        )
    values = {
        name: env[f"AGRIFLEET_{name.upper()}"]
        for name in FleetSettings.model_fields
        if f"AGRIFLEET_{name.upper()}" in env
    }
    try:
        # Pass the values explicitly so a test's environ is honoured, not the process's.
        return FleetSettings.model_validate(values, context={"environ": env})
    except ValidationError as exc:
        lines = [
            f"AGRIFLEET_{str(err['loc'][0]).upper() if err['loc'] else '?'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise SettingsError("invalid fleet settings:\n  " + "\n  ".join(lines)) from None
