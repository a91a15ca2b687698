"""``/api/v1/webhooks``: URLs that get a farm's alerts as JSON signed with HMAC-SHA256.

A technician of the farm adds one; its secret is shown once, in the answer that made it (a
fleet-wide hook, without farm_id, needs a service token). Members list their farms' hooks
without secrets. A URL to this machine or a private network is refused (422 ``local_address``)
unless the operator allows it; names are checked again on every send (:mod:`…delivery.send`).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import ConfigDict
from sqlmodel import Field, Session, SQLModel, col, select

from agrifleet.fleet.alerts.delivery.send import DeliveryError, local_address, split_url
from agrifleet.fleet.alerts.delivery.tables import Webhook
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth.principal import Principal
from agrifleet.fleet.people.tables import Language as Lang
from agrifleet.fleet.web.api.deps import (
    AddressDep,
    CallerDep,
    SessionDep,
    SettingsDep,
    TechnicianToken,
)
from agrifleet.fleet.web.api.errors import Message
from agrifleet.fleet.web.api.params import MAX_ID
from agrifleet.fleet.web.api.routes.registry import refusal
from agrifleet.fleet.web.api.routes.rollouts import actor

router = APIRouter(prefix="/webhooks", tags=["alerts"])

WebhookId = Annotated[int, Path(ge=1, le=MAX_ID, description="Webhook id")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "No such webhook (in the caller's farms)"}}


class WebhookCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    farm_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                description="The farm whose alerts it gets (none: every farm, "
                                "service token only)")
    name: str = Field(default="", max_length=128, schema_extra={"pattern": r"^[^\x00]*$"})
    url: str = Field(max_length=2000, schema_extra={"pattern": r"^https?://[^\s]+$"},
                     description="http(s) URL the JSON is POSTed to")
    language: Lang = Field(default="en", description="Language of the message text")
    secret: str | None = Field(default=None, min_length=16, max_length=128,
                               description="HMAC key (default: a random one, shown once)")


class WebhookPublic(SQLModel):
    id: int
    farm_id: int | None
    name: str
    url: str
    language: str
    enabled: bool
    created_by: str
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="Shown this once: check X-Agrifleet-Signature with it")


def _hook(session: Session, caller: Principal, hook_id: int) -> Webhook:
    hook = session.get(Webhook, hook_id)
    if hook is None or (caller.farm_ids is not None and hook.farm_id not in caller.farm_ids):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no webhook {hook_id}")
    return hook


def _may_change(caller: Principal, farm_id: int | None) -> None:
    if farm_id is None and caller.farm_ids is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "a webhook for every farm needs a service token; name your farm_id")
    if farm_id is not None and not caller.may("technician", farm_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"needs the technician role in farm {farm_id}")


@router.get("", summary="Webhooks of the caller's farms (without their secrets)")
def list_webhooks(session: SessionDep, caller: CallerDep) -> list[WebhookPublic]:
    query = select(Webhook)
    if caller.farm_ids is not None:
        query = query.where(col(Webhook.farm_id).in_(caller.farm_ids))
    return [WebhookPublic.model_validate(h)
            for h in session.exec(query.order_by(col(Webhook.id))).all()]


@router.post("", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND,
             summary="Add a webhook (technician of the farm); its secret is shown once")
def create_webhook(body: WebhookCreate, session: SessionDep, caller: TechnicianToken,
                   settings: SettingsDep, address: AddressDep) -> WebhookCreated:
    if body.farm_id is not None and caller.farm_ids is not None \
            and body.farm_id not in caller.farm_ids:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no farm {body.farm_id}")
    _may_change(caller, body.farm_id)
    try:
        _, host, _, _ = split_url(body.url)
    except DeliveryError:
        raise refusal("bad_url", "the URL has no host name (or a port that is not a number)",
                      ("body", "url")) from None
    if not settings.webhook_allow_local and (why := local_address(host)):
        raise refusal("local_address", f"{why}; the operator can allow it with "
                      "AGRIFLEET_WEBHOOK_ALLOW_LOCAL", ("body", "url"))
    hook = Webhook(farm_id=body.farm_id, name=body.name, url=body.url, language=body.language,
                   secret=body.secret or secrets.token_urlsafe(32), created_by=actor(caller))
    session.add(hook)
    session.flush()
    audit.record(session, caller, "webhook.create", f"webhook {hook.id}", address,
                 farm_id=body.farm_id, url=body.url.split("?")[0])
    session.commit()
    session.refresh(hook)
    return WebhookCreated.model_validate(hook)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=NOT_FOUND, summary="Delete a webhook (technician of the farm)")
def delete_webhook(webhook_id: WebhookId, session: SessionDep, caller: CallerDep,
                   address: AddressDep) -> Response:
    hook = _hook(session, caller, webhook_id)
    _may_change(caller, hook.farm_id)
    session.delete(hook)
    audit.record(session, caller, "webhook.delete", f"webhook {webhook_id}", address,
                 farm_id=hook.farm_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
