"""``/api/v1/advice``: a class label's crop, disease, what it is and what to do, translated."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlmodel import Field, SQLModel

from agrifleet.fleet.modelops.advice import UnknownLabel, advice_for, translate
from agrifleet.fleet.web.api.errors import Message
from agrifleet.fleet.web.api.params import name_query

router = APIRouter(prefix="/advice", tags=["advice"])


class AdvicePublic(SQLModel):
    label: str
    lang: Literal["en", "vi", "zh"]
    crop: str
    disease: str
    healthy: bool
    what_it_is: str
    what_to_do: str
    msgids: dict[str, str] = Field(description="The English msgids (gettext domain "
                                   "'diseases'), for callers with catalogs of their own")


@router.get("", responses={404: {"model": Message, "description": "No advice for the label"}},
            summary="What the label's disease is and what to do, in en, vi or zh")
def get_advice(
    label: Annotated[str, name_query(128, "A class label, e.g. Tomato___Late_blight")],
    lang: Annotated[Literal["en", "vi", "zh"], Query(description="Language")] = "en",
) -> AdvicePublic:
    try:
        advice = advice_for(label)
    except UnknownLabel:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no advice for label {label!r}") from None
    return AdvicePublic(
        label=label, lang=lang, crop=translate(advice.crop_msgid, lang),
        disease=translate(advice.disease_msgid, lang), healthy=advice.disease_msgid == "healthy",
        what_it_is=translate(advice.what_it_is_msgid, lang),
        what_to_do=translate(advice.what_to_do_msgid, lang),
        msgids={"crop": advice.crop_msgid, "disease": advice.disease_msgid,
                "what_it_is": advice.what_it_is_msgid, "what_to_do": advice.what_to_do_msgid},
    )
