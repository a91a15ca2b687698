"""Sensor profiles are TOML data files: shipped ones by name, a user's own by path."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ValidationError

#: snake_case quantity names, as the fleet stores them.
QUANTITY = re.compile(r"^[a-z][a-z0-9_]*$")


def _snake_case(value: str) -> str:
    if not QUANTITY.match(value):
        raise ValueError(f"quantity {value!r} must be snake_case, e.g. soil_moisture")
    return value


#: A quantity name as profiles write it: snake_case, e.g. ``soil_moisture``.
QuantityName = Annotated[str, AfterValidator(_snake_case)]

M = TypeVar("M", bound=BaseModel)


class ProfileError(ValueError):
    """A profile that cannot be found, parsed or validated; the message says where and why."""


def shipped(package: str) -> list[str]:
    """Names of the profiles shipped in ``package``/profiles/."""
    folder = resources.files(package) / "profiles"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load(package: str, name_or_path: str, model: type[M]) -> M:
    """A shipped profile by name, or a user's TOML file by path, validated as ``model``."""
    if "/" in name_or_path or name_or_path.endswith(".toml"):
        source = name_or_path
        try:
            text = Path(name_or_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(f"profile {source}: cannot read it: {exc.strerror}") from exc
    else:
        source = f"{name_or_path} (shipped)"
        file = resources.files(package) / "profiles" / f"{name_or_path}.toml"
        if not file.is_file():
            known = ", ".join(shipped(package))
            raise ProfileError(
                f"unknown profile {name_or_path!r}: shipped ones are {known}; "
                "or give the path to your own .toml file"
            )
        text = file.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {source}: not valid TOML: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ProfileError(f"profile {source}: {problems}") from None
