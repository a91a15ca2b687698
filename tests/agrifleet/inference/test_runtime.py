"""The interpreter comes from LiteRT or tflite_runtime, or whichever an env variable forces."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrifleet.inference.runtime import ENV_VAR, interpreter_class, load_interpreter


def test_forced_runtime_is_used(runtime: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, runtime)
    name, cls = interpreter_class()
    assert name == runtime and cls.__name__ == "Interpreter"


def test_unknown_runtime_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "onnx")
    with pytest.raises(ValueError, match=ENV_VAR):
        interpreter_class()


def test_shipped_model_loads_with_threads(runtime: str, shipped_dir: Path) -> None:
    interpreter = load_interpreter(shipped_dir / "model.tflite", threads=1, runtime=runtime)
    detail = interpreter.get_input_details()[0]
    assert detail["dtype"].__name__ == "int8"
    assert int(detail["shape"][0]) == 1
