"""The model registry: models chosen by a field's crop in en/vi/zh, the shipped parameters load,
and a field's overrides are checked (a typo or an impossible value is a clear error)."""

from __future__ import annotations

import pytest

from agrifleet.fleet.risk import registry
from agrifleet.fleet.risk.tomcast import TomcastParameters


@pytest.mark.parametrize(
    ("crop", "models"),
    [
        ("Potato", ["hutton", "smith", "blitecast", "tomcast"]),
        ("khoai tây", ["hutton", "smith", "blitecast", "tomcast"]),
        ("番茄", ["blitecast", "tomcast"]),
        (" Lúa ", ["rice_blast"]),
        ("coffee", []),
        ("", []),
    ],
)
def test_models_follow_the_crop(crop: str, models: list[str]) -> None:
    assert registry.models_for(crop) == models


def test_every_registered_model_has_a_catalogue_entry_and_a_disease() -> None:
    assert set(registry.catalogue().models) == set(registry.MODELS)
    assert registry.disease_of("rice_blast") == "blast"


def test_field_overrides_are_merged_and_checked() -> None:
    params = registry.parameters("tomcast", {"spray_interval": 15})
    assert isinstance(params, TomcastParameters)
    assert params.spray_interval == 15
    with pytest.raises(registry.ParameterError, match="tomcast parameters: spray_intervall"):
        registry.parameters("tomcast", {"spray_intervall": 15})
    with pytest.raises(registry.ParameterError, match="humid_hours"):
        registry.parameters("hutton", {"humid_hours": 30})
