"""The risk models by name, which crops each applies to, and their parameters as data.

``parameters.toml`` (next to this module) lists each model's crops, the disease it forecasts
and any parameters that differ from the published defaults; a field's own overrides are
merged over those. Adding a model: a module with ``NAME``, a pydantic parameters class and
``assess(days, parameters)``, one line in :data:`MODELS` and a section in the TOML file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agrifleet.fleet.risk import blitecast, hutton, rice_blast, smith, tomcast
from agrifleet.fleet.risk.outcome import DayRisk
from agrifleet.fleet.risk.series import Day


@dataclass(frozen=True)
class Model:
    """A registered model: its name, parameter class and function."""

    name: str
    parameters: type[BaseModel]
    assess: Callable[[list[Day], Any], list[DayRisk]]


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model(hutton.NAME, hutton.HuttonParameters, hutton.assess),
        Model(smith.NAME, smith.SmithParameters, smith.assess),
        Model(blitecast.NAME, blitecast.BlitecastParameters, blitecast.assess),
        Model(tomcast.NAME, tomcast.TomcastParameters, tomcast.assess),
        Model(rice_blast.NAME, rice_blast.RiceBlastParameters, rice_blast.assess),
    )
}


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    crops: list[str] = Field(min_length=1)
    disease: str
    parameters: dict[str, Any] = Field(default_factory=dict)


class Catalogue(BaseModel):
    """parameters.toml, validated."""

    model_config = ConfigDict(extra="forbid")

    crops: dict[str, list[str]]
    models: dict[str, ModelEntry]


class ParameterError(ValueError):
    """Parameters a model refuses; the message names the model and each problem."""


@cache
def catalogue() -> Catalogue:
    """The shipped parameters.toml, checked against the registered models."""
    text = (resources.files("agrifleet.fleet.risk") / "parameters.toml").read_text(encoding="utf-8")
    found = Catalogue.model_validate(tomllib.loads(text))
    for name, entry in found.models.items():
        if name not in MODELS:
            raise ParameterError(f"parameters.toml names an unregistered model {name!r}")
        unknown = sorted(set(entry.crops) - set(found.crops))
        if unknown:
            raise ParameterError(f"model {name}: crops {unknown} are not under [crops]")
        try:
            MODELS[name].parameters.model_validate(entry.parameters)
        except ValidationError as exc:
            raise ParameterError(f"parameters.toml, model {name}: {exc}") from None
    return found


def crop_of(text: str) -> str | None:
    """The catalogue's crop for a field's crop text (any case, en/vi/zh), or None."""
    wanted = text.strip().casefold()
    for crop, names in catalogue().crops.items():
        if wanted in (n.casefold() for n in names):
            return crop
    return None


def models_for(crop_text: str) -> list[str]:
    """Names of the models that apply to a field's crop, in catalogue order."""
    crop = crop_of(crop_text)
    if crop is None:
        return []
    return [name for name, entry in catalogue().models.items() if crop in entry.crops]


def disease_of(model: str) -> str:
    return catalogue().models[model].disease


def parameters(model: str, overrides: dict[str, Any]) -> BaseModel:
    """The model's parameters: defaults, then parameters.toml, then a field's ``overrides``."""
    entry = catalogue().models.get(model)
    shipped = entry.parameters if entry is not None else {}
    try:
        return MODELS[model].parameters.model_validate({**shipped, **overrides})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ParameterError(f"{model} parameters: {problems}") from None


def assess(model: str, days: list[Day], overrides: dict[str, Any] | None = None) -> list[DayRisk]:
    """Run a registered model over ``days`` with its parameters."""
    return MODELS[model].assess(days, parameters(model, overrides or {}))
