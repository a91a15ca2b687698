"""The classifier network: its size and the mirrored-view averaging baked into the export."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # needs TensorFlow (the train extra)


def test_view_averaging_equals_the_mean_over_mirrored_photos() -> None:
    pytest.importorskip("tensorflow")
    from agrifleet.models.network import build_model, with_view_averaging

    model = build_model(5, size=32, width=0.25)
    photos = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype(np.float32)
    mirrored = [photos, photos[:, :, ::-1], photos[:, ::-1], photos[:, ::-1, ::-1]]
    expected = np.mean([model.predict(v, verbose=0) for v in mirrored], axis=0)

    averaged = with_view_averaging(model, 4).predict(photos, verbose=0)

    np.testing.assert_allclose(averaged, expected, atol=1e-5)
    assert np.allclose(averaged.sum(axis=1), 1.0, atol=1e-5)


def test_one_view_is_the_model_itself_and_odd_counts_are_refused() -> None:
    pytest.importorskip("tensorflow")
    from agrifleet.models.network import build_model, with_view_averaging

    model = build_model(3, size=32, width=0.25)
    assert with_view_averaging(model, 1) is model
    with pytest.raises(ValueError, match="views must be one of"):
        with_view_averaging(model, 3)
