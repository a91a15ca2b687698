"""Farms, their fields, people and their roles per farm, sessions, personal tokens, audit log.

Named like the rest of the API: ``FarmBase / FarmCreate / FarmUpdate / Farm / FarmPublic``.
Secrets (passwords, session cookies, personal tokens) are stored only as hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, StringConstraints, WithJsonSchema
from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from agrifleet.fleet.columns import BigId, UtcDateTime, utcnow

#: The name of the farm (id fleet.devices.tables.DEFAULT_FARM_ID) a fresh install and an upgrade
#: have.
DEFAULT_FARM_NAME = "Default farm"

FarmRole = Literal["viewer", "technician", "admin"]
#: Each role may do what the ones before it may.
FARM_ROLES: tuple[FarmRole, ...] = ("viewer", "technician", "admin")
Language = Literal["vi", "zh", "en"]

#: Text people type: no NUL (PostgreSQL refuses it).
Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00]*$")]
Email = Annotated[str, StringConstraints(
    min_length=3, max_length=254, to_lower=True,
    pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=1024,
                                            pattern=r"^[^\x00]*$")]
#: Positions of a GeoJSON outline are [longitude, latitude] in degrees.
MAX_RING_POSITIONS = 10_000
#: An outline and its holes: at most this many rings, each of MAX_RING_POSITIONS / MAX_RINGS.
MAX_RINGS = 10


def _check_polygon(value: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Polygon (RFC 7946 §3.1.6): closed rings of 4+ [lon, lat] positions."""
    if set(value) - {"type", "coordinates"} or value.get("type") != "Polygon":
        raise ValueError('an outline is a GeoJSON Polygon: {"type": "Polygon", "coordinates": '
                         "[[[lon, lat], …]]} and nothing else")
    rings = value.get("coordinates")
    if not isinstance(rings, list) or not rings or len(rings) > MAX_RINGS:
        raise ValueError(f"a Polygon has 1 to {MAX_RINGS} linear rings")
    total = 0
    for ring in rings:
        if not isinstance(ring, list) or not 4 <= len(ring) <= MAX_RING_POSITIONS // MAX_RINGS:
            raise ValueError("each ring of a Polygon has 4 to "
                             f"{MAX_RING_POSITIONS // MAX_RINGS} positions")
        total += len(ring)
        for position in ring:
            if (not isinstance(position, list) or len(position) not in (2, 3)
                    or not all(isinstance(x, int | float) and not isinstance(x, bool)
                               for x in position)):
                raise ValueError("a position is [longitude, latitude] in degrees")
            lon, lat = position[0], position[1]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(f"position {position} is outside longitude -180..180, "
                                 "latitude -90..90")
    if total > MAX_RING_POSITIONS:
        raise ValueError(f"an outline has at most {MAX_RING_POSITIONS} positions")
    # A ring ends where it starts (RFC 7946); one sent open is closed here, since a JSON
    # Schema cannot say "the last item equals the first".
    return {"type": "Polygon",
            "coordinates": [ring if ring[0] == ring[-1] else [*ring, ring[0]] for ring in rings]}


#: What the OpenAPI document says of an outline: every rule above but the closing position.
OUTLINE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["type", "coordinates"],
    "properties": {
        "type": {"const": "Polygon"},
        "coordinates": {
            "type": "array", "minItems": 1, "maxItems": MAX_RINGS,
            "description": "Linear rings of [longitude, latitude] positions (an open ring "
            "is closed by the fleet)",
            "items": {"type": "array", "minItems": 4,
                      "maxItems": MAX_RING_POSITIONS // MAX_RINGS,
                      "items": {"type": "array", "minItems": 2, "maxItems": 3,
                                "prefixItems": [
                                    {"type": "number", "minimum": -180, "maximum": 180},
                                    {"type": "number", "minimum": -90, "maximum": 90}],
                                "items": {"type": "number"}}}},
    },
}
Outline = Annotated[dict[str, Any], AfterValidator(_check_polygon),
                    WithJsonSchema(OUTLINE_SCHEMA)]


# --- farms -----------------------------------------------------------------------------------


class FarmBase(SQLModel):
    name: str = Field(max_length=128, description="A name people recognise")


class FarmCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: Name


class FarmUpdate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: Name | None = None


class Farm(FarmBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class FarmPublic(FarmBase):
    id: int
    created_at: datetime


# --- fields ----------------------------------------------------------------------------------


class FieldBase(SQLModel):
    name: str = Field(max_length=128)
    crop: str = Field(default="", max_length=64, description="What grows there, e.g. coffee")


class FieldCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: Name
    crop: str = Field(default="", max_length=64, schema_extra={"pattern": r"^[^\x00]*$"})
    outline: Outline | None = Field(default=None, description="A GeoJSON Polygon")


class FieldUpdate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: Name | None = None
    crop: str | None = Field(default=None, max_length=64, schema_extra={"pattern": r"^[^\x00]*$"})
    outline: Outline | None = None


class Field_(FieldBase, table=True):
    __tablename__ = "field"
    __table_args__ = (UniqueConstraint("farm_id", "name", name="uq_field_name"),)

    id: int | None = Field(default=None, primary_key=True)
    farm_id: int = Field(foreign_key="farm.id", index=True)
    outline: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class FieldPublic(FieldBase):
    id: int
    farm_id: int
    outline: dict[str, Any] | None = None
    created_at: datetime


# --- users and memberships -------------------------------------------------------------------


class UserBase(SQLModel):
    email: str = Field(max_length=254, unique=True, description="Stored lower-case: unique "
                       "whatever the case it is typed in")
    language: str | None = Field(default=None, max_length=8,
                                 description="vi, zh or en for the dashboard; none: the browser's")


class UserCreate(SQLModel):
    """A new person; a farm admin names a farm of theirs and the role the person has there."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    email: Email
    password: Password
    language: Language | None = None
    farm_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                description="Make them a member of this farm")
    role: FarmRole = "viewer"


class UserUpdate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    email: Email | None = None
    password: Password | None = None
    language: Language | None = None
    active: bool | None = Field(default=None, description="An inactive user cannot sign in")
    keep_personal_tokens: bool = Field(
        default=False, description="With a new password: keep the user's personal tokens "
        "(scripts that use one keep working). Without it a password change revokes them all; "
        "it always ends every session. Service tokens (agf_) belong to no user and are never "
        "touched")


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=256, description="argon2id")
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class MembershipBase(SQLModel):
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    farm_id: int = Field(foreign_key="farm.id", primary_key=True, index=True)
    role: str = Field(max_length=16, description="viewer, technician or admin")


class MembershipCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    user_id: int = Field(ge=1, le=2**31 - 1)
    farm_id: int = Field(ge=1, le=2**31 - 1)
    role: FarmRole


class MembershipUpdate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    role: FarmRole


class Membership(MembershipBase, table=True):
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class MembershipPublic(MembershipBase):
    created_at: datetime


class UserPublic(UserBase):
    id: int
    active: bool
    created_at: datetime
    memberships: list[MembershipPublic] = Field(default_factory=list)


# --- sessions and personal tokens ------------------------------------------------------------


class UserSession(SQLModel, table=True):
    """A dashboard sign-in: the cookie's SHA-256, whose it is, until when."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    address: str | None = Field(default=None, max_length=64)


class UserTokenBase(SQLModel):
    name: str = Field(max_length=128)
    expires_at: datetime = Field(sa_type=UtcDateTime)


class UserTokenCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: Name
    expires_days: int | None = Field(
        default=None, ge=1, le=3660,
        description="Days it stays valid; at most the longest the owner's highest role allows "
        "(AGRIFLEET_TOKEN_MAX_DAYS_<ROLE>), else 422; unset: that longest. A token made with a "
        "token never outlives it: its expiry is the earlier of the two")


class UserToken(UserTokenBase, table=True):
    """A personal API token; it has its owner's roles. Only its SHA-256 is stored. A token
    made with another token names it as ``parent_id`` and dies with it."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="usertoken.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class UserTokenPublic(UserTokenBase):
    id: int
    user_id: int
    parent_id: int | None = Field(default=None, description="The token this one was made "
                                  "with; revoking that one revokes this one")
    created_at: datetime
    revoked_at: datetime | None


class UserTokenCreated(UserTokenPublic):
    token: str = Field(description="The secret, shown this once: send it as "
                       "'Authorization: Bearer <token>'")


# --- login throttling ------------------------------------------------------------------------


class LoginFailure(SQLModel, table=True):
    """One failed sign-in, by account (``email:…``) and by address (``addr:…``)."""

    __table_args__ = (Index("ix_loginfailure_key_ts", "key", "ts"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    key: str = Field(max_length=300)
    ts: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


# --- audit log -------------------------------------------------------------------------------


class AuditEntryBase(SQLModel):
    ts: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    actor: str = Field(max_length=300, description="A user's e-mail, or 'token NAME (role)'")
    action: str = Field(max_length=64, description="e.g. login, login_failed, user.create")
    target: str = Field(default="", max_length=300, description="What it was done to")
    address: str | None = Field(default=None, max_length=64, description="The client's IP")
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class AuditEntry(AuditEntryBase, table=True):
    __table_args__ = (Index("ix_auditentry_ts", "ts"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)


class AuditEntryPublic(AuditEntryBase):
    id: int


# --- who am I --------------------------------------------------------------------------------


class Me(SQLModel):
    kind: Literal["user", "service"] = Field(description="A person, or a service token")
    name: str = Field(description="The e-mail, or the service token's name and role")
    user: UserPublic | None = None
    language: str | None = None
    role: str | None = Field(default=None, description="A service token's role (all farms)")
    csrf_token: str | None = Field(
        default=None, description="Send it as X-CSRF-Token with every unsafe request made "
        "with the session cookie (it is also in the agrifleet_csrf cookie)")


Role = Literal["admin", "technician", "viewer"]


#: technician: read everything, publish models and steer rollouts; admin: also devices.
ROLES: tuple[Role, ...] = ("admin", "technician", "viewer")


class ApiToken(SQLModel, table=True):
    """An API token; only the SHA-256 of the secret is stored."""

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=16)
    name: str = Field(default="", max_length=128)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class InvitationBase(SQLModel):
    farm_id: int = Field(foreign_key="farm.id")
    email: str = Field(max_length=254, description="Only the account with this e-mail may "
                       "accept it")
    role: str = Field(max_length=16, description="viewer, technician or admin")
    expires_at: datetime = Field(sa_type=UtcDateTime)


class InvitationCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    email: Email
    role: FarmRole = "viewer"
    expires_days: int = Field(default=7, ge=1, le=30, description="Days it may be accepted")


class Invitation(InvitationBase, table=True):
    """An invitation to a farm; only its secret's SHA-256 is stored."""

    __table_args__ = (Index("ix_invitation_farm_id", "farm_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    token_hash: str = Field(max_length=64, unique=True)
    invited_by: str = Field(max_length=300, description="Who invited: an e-mail or a token's "
                            "label")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    accepted_by: int | None = Field(default=None, description="The user id who accepted")


class InvitationPublic(InvitationBase):
    id: int
    invited_by: str
    created_at: datetime
    accepted_at: datetime | None


class InvitationCreated(InvitationPublic):
    token: str = Field(description="The secret, shown this once: give it to the person, who "
                       "accepts with POST /api/v1/invitations/{token}/accept while signed in")


class KnownDevice(SQLModel, table=True):
    """A browser that signed in as a person: its device cookie's SHA-256."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
