"""Types registered by their ``type``: a package whose every module adds one kind of thing.

A sensor or camera type is one module in its package (``edge/sensor_types/``,
``edge/inference/camera_types/``) defining a public pydantic model, a subclass of the package's
base, whose ``type`` field is a ``Literal`` of the names it answers to. :func:`discover` imports
every module of the package and maps each name to its model; :func:`tagged_union` turns that
map into the annotation a config field takes, so pydantic picks the model by ``type``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Annotated, Any, TypeVar, Union, get_args

from pydantic import BaseModel, Field

M = TypeVar("M", bound=BaseModel)

#: Modules of a type package that are not types themselves.
_NOT_TYPES = {"base"}


def type_names(model: type[BaseModel]) -> tuple[str, ...]:
    """The ``type`` values a model answers to (the arguments of its ``Literal``)."""
    field = model.model_fields.get("type")
    names = get_args(field.annotation) if field is not None else ()
    if not names or not all(isinstance(n, str) for n in names):
        raise TypeError(f"{model.__qualname__}: its 'type' field must be a Literal of names")
    return names


def discover(package: str, base: type[M]) -> dict[str, type[M]]:
    """Each ``type`` name to its model, from every module of ``package`` (sorted by module)."""
    found: dict[str, type[M]] = {}
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name.startswith("_") or info.name in _NOT_TYPES:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for obj in vars(module).values():
            if not (isinstance(obj, type) and issubclass(obj, base) and obj is not base
                    and obj.__module__ == module.__name__ and not obj.__name__.startswith("_")):
                continue
            for name in type_names(obj):
                if name in found:
                    raise TypeError(f"type {name!r} is claimed by {found[name].__qualname__} "
                                    f"and {obj.__qualname__}")
                found[name] = obj
    return found


def tagged_union(types: dict[str, type[M]]) -> Any:
    """The annotation of a field that holds any of ``types``, chosen by its ``type`` key."""
    models = tuple(dict.fromkeys(types.values()))
    return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007 - built at run time
