"""Turn a missing optional dependency into a one-line hint instead of a traceback."""

from __future__ import annotations

#: Top-level import name → the extra that installs it.
_EXTRA_OF = {
    "serial": "edge",
    "pymodbus": "edge",
    "paho": "edge or fleet",
    "numpy": "edge",
    "PIL": "edge",
    "ai_edge_litert": "edge",
    "tflite_runtime": "edge-tflite",
    "fastapi": "fleet",
    "uvicorn": "fleet",
    "sqlmodel": "fleet",
    "sqlalchemy": "fleet",
    "alembic": "fleet",
    "psycopg": "fleet",
    "pydantic_settings": "fleet",
    "amqtt": "fleet",
    "cryptography": "sign or edge or fleet",
    "tensorflow": "train",
    "matplotlib": "train",
}


def missing_extra_hint(error: ModuleNotFoundError, command: str) -> str | None:
    """The hint for a missing module we know, or None if it is not an optional dependency."""
    top = (error.name or "").split(".")[0]
    extra = _EXTRA_OF.get(top)
    if extra is None:
        return None
    first = extra.split(" or ")[0]
    return (
        f"agrifleet {command}: the Python package '{top}' is missing; "
        f"install the '{extra}' extra: pip install 'agrifleet[{first}]'"
    )
