"""Load a TFLite interpreter from LiteRT (``ai_edge_litert``) or, failing that, ``tflite_runtime``.

Set ``AGRIFLEET_TFLITE_RUNTIME`` to ``litert`` or ``tflite_runtime`` to force one (tests run the
same suite against both).
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ENV_VAR = "AGRIFLEET_TFLITE_RUNTIME"
#: Runtime name → module that provides ``Interpreter``, in order of preference.
RUNTIMES = {
    "litert": "ai_edge_litert.interpreter",
    "tflite_runtime": "tflite_runtime.interpreter",
}


class RuntimeUnavailable(ModuleNotFoundError):
    """No TFLite interpreter package is installed (or the forced one is missing)."""


def available_runtimes() -> list[str]:
    """Names of the runtimes that can be imported here."""
    found = []
    for name, module in RUNTIMES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        found.append(name)
    return found


def interpreter_class(runtime: str | None = None) -> tuple[str, Any]:
    """(runtime name, Interpreter class): the forced one, else LiteRT, else tflite_runtime."""
    wanted = runtime or os.environ.get(ENV_VAR) or None
    if wanted is not None and wanted not in RUNTIMES:
        raise ValueError(f"{ENV_VAR}={wanted!r}: choose one of {', '.join(RUNTIMES)}")
    names = [wanted] if wanted else list(RUNTIMES)
    errors = []
    for name in names:
        try:
            module = importlib.import_module(RUNTIMES[name])
        except ImportError as exc:
            errors.append(f"{name}: {exc}")
            continue
        return name, module.Interpreter
    top = RUNTIMES[names[0]].split(".")[0]
    raise RuntimeUnavailable(
        f"no TFLite runtime could be imported ({'; '.join(errors)})", name=top
    )


def load_interpreter(model_path: Path, threads: int = 2, runtime: str | None = None) -> Any:
    """An allocated interpreter for ``model_path`` using ``threads`` CPU threads."""
    name, cls = interpreter_class(runtime)
    interpreter = cls(model_path=str(model_path), num_threads=threads)
    interpreter.allocate_tensors()
    log.debug("loaded %s with %s (%d threads)", model_path, name, threads)
    return interpreter
