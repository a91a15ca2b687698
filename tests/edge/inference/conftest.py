"""Camera and worker tests share the inference fixtures: runtimes, the shipped model, photos."""

from tests.agrifleet.inference.conftest import (  # noqa: F401
    leaf,
    model_copy,
    runtime,
    shipped_dir,
    tiny_model,
)
