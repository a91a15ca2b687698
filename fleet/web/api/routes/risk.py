"""``/api/v1/fields/{field_id}/risk``: a field's disease risk per day and model, and the
field's own model parameters. Farm-scoped like the farm's field routes: members read, a
technician of the farm changes parameters; a field of another farm is a 404."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, status
from pydantic import BaseModel

from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth.principal import Principal
from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.risk import registry
from agrifleet.fleet.risk.assess import field_overrides, field_risk
from agrifleet.fleet.risk.tables import FieldRiskParameters
from agrifleet.fleet.web.api.deps import AddressDep, CallerDep, SessionDep, TechnicianToken
from agrifleet.fleet.web.api.errors import Message, validation_error
from agrifleet.fleet.web.api.routes.farms import require_role, visible_farm
from agrifleet.fleet.web.api.routes.rollouts import actor

router = APIRouter(prefix="/fields/{field_id}/risk", tags=["risk"])

FieldId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Field id")]
ModelName = Annotated[str, Path(pattern=r"^[a-z_]{1,32}$", max_length=32,
                                 description="Model, e.g. tomcast")]
MAX_DAYS = 366
#: What a day parameter looks like, said in the OpenAPI document.
DAY: dict[str, Any] = {"maxLength": 10, "pattern": r"^\d{4}-\d{2}-\d{2}$"}
#: The days a field's risk can be asked for (room for the look-back before ``since``).
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)
DEFAULT_DAYS = 14
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "No such field (in the caller's farms) or model"}}


class RiskDay(BaseModel):
    date: str
    model: str
    risk: str
    reason: dict[str, Any]


class FieldRisk(BaseModel):
    field_id: int
    days: list[RiskDay]


def _field(session: SessionDep, caller: Principal, field_id: int) -> Field_:
    field = session.get(Field_, field_id)
    if field is None or caller.role_in(field.farm_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no field {field_id}")
    visible_farm(session, caller, field.farm_id)
    return field


@router.get("", responses=NOT_FOUND,
            summary="Risk per day and model of the field's crop (default: the last 14 days)")
def get_risk(
    field_id: FieldId,
    session: SessionDep,
    caller: CallerDep,
    since: Annotated[date | None, Query(description="First day, YYYY-MM-DD (UTC)",
                                        json_schema_extra=DAY)] = None,
    until: Annotated[date | None, Query(description="Last day, YYYY-MM-DD (default today)",
                                        json_schema_extra=DAY)] = None,
) -> FieldRisk:
    field = _field(session, caller, field_id)
    until = until or datetime.now(UTC).date()
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since < EARLIEST or until > LATEST:
        raise validation_error(("query", "since"), f"days from {EARLIEST} to {LATEST} only",
                               str(since))
    if since > until:
        raise validation_error(("query", "since"), f"since ({since}) is after until ({until})",
                               str(since))
    if (until - since).days >= MAX_DAYS:
        raise validation_error(("query", "since"), f"at most {MAX_DAYS} days at a time",
                               str(since))
    results = field_risk(session, field, since, until)
    return FieldRisk(field_id=field_id, days=[RiskDay(**r.as_json()) for r in results])


@router.get("/parameters", responses=NOT_FOUND,
            summary="The parameters each model of the field's crop uses (shipped + the field's)")
def get_parameters(field_id: FieldId, session: SessionDep,
                   caller: CallerDep) -> dict[str, dict[str, Any]]:
    field = _field(session, caller, field_id)
    overrides = field_overrides(session, field_id)
    return {m: registry.parameters(m, overrides.get(m, {})).model_dump(mode="json")
            for m in registry.models_for(field.crop)}


@router.put("/parameters/{model}", responses=NOT_FOUND,
            summary="Set the field's own parameters of a model (technician of the farm)")
def put_parameters(field_id: FieldId, model: ModelName, session: SessionDep,
                   caller: TechnicianToken, address: AddressDep,
                   body: Annotated[dict[str, Any], Body(examples=[{"spray_interval": 15}])],
                   ) -> dict[str, Any]:
    field = _field(session, caller, field_id)
    require_role(caller, "technician", field.farm_id)
    if model not in registry.MODELS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no risk model {model!r}: "
                            f"{', '.join(registry.MODELS)}")
    try:
        checked = registry.parameters(model, body)
    except registry.ParameterError as exc:
        raise validation_error(("body",), str(exc), body) from None
    row = session.get(FieldRiskParameters, (field_id, model)) or FieldRiskParameters(
        field_id=field_id, model=model)
    row.parameters = checked.model_dump(mode="json", include=set(body))
    row.updated_by = actor(caller)[:160]
    row.updated_at = datetime.now(UTC)
    session.add(row)
    audit.record(session, caller, "field.risk_parameters", f"field {field_id}", address,
                 farm_id=field.farm_id, model=model, changed=sorted(body))
    session.commit()
    return checked.model_dump(mode="json")
