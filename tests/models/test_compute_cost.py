"""Multiply-adds are counted from the .tflite graph itself, and the Raspberry Pi 4 latency is
scaled from the stated published figure."""

from __future__ import annotations

import pytest

from agrifleet.models.compute_cost import (
    PI4_REFERENCE_MULTIPLY_ADDS,
    cost,
    multiply_adds,
    pi4_latency_ms,
)
from tests.agrifleet.inference.conftest import DATA
from tests.base_model import BASE_MODEL_DIR


def test_the_tiny_model_costs_what_its_two_layers_cost_by_hand() -> None:
    # A 3x3 convolution of 3 channels into 4 at stride 4 on 32x32 (8x8x4 outputs), then a
    # dense layer of 4 inputs to 31 classes.
    assert multiply_adds(DATA / "tiny_32px.tflite") == 8 * 8 * 4 * 3 * 3 * 3 + 31 * 4


def test_a_real_model_counts_its_four_views() -> None:
    path = BASE_MODEL_DIR / "model.tflite"
    if not path.is_file():
        pytest.skip("no base model")
    # 1.1.0: 67.5 M per view (docs/models.md), 4 mirrored views in one batch.
    assert multiply_adds(path) == 4 * 67_506_624


def test_pi4_estimate_scales_the_reference_figure() -> None:
    assert pi4_latency_ms(PI4_REFERENCE_MULTIPLY_ADDS) == pytest.approx(87.0)
    assert pi4_latency_ms(0) == 0.0
    found = cost(DATA / "tiny_32px.tflite")
    assert found["size_bytes"] == (DATA / "tiny_32px.tflite").stat().st_size
    assert "estimate" in found["pi4_method"] and "87 ms" in found["pi4_method"]
