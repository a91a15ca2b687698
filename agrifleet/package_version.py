"""The version rule of model packages: MAJOR.MINOR.PATCH, and which version may replace which.

The fleet's registry (on publish), its rollouts (ordering) and the node's updater (on install)
all apply it, so a node never takes a package the fleet would refuse.
"""

from __future__ import annotations

from agrifleet.manifest import Manifest
from agrifleet.package_errors import PackageError


def parse_version(version: str) -> tuple[int, int, int]:
    """``"1.10.2"`` → ``(1, 10, 2)``; PackageError "invalid_manifest" if it is not that form."""
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
        raise PackageError("invalid_manifest", f"version {version!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(p) for p in parts)
    return major, minor, patch


def check_upgrade(new: Manifest, current: Manifest | None, *, rollback: bool = False) -> None:
    """Refuse ``new`` unless it is the same model at a strictly higher version.

    ``rollback=True`` (an explicit, signed decision by the fleet) allows a lower version; the
    same version is never a change ("same_version"), another model name never ("wrong_model").
    """
    if current is None:
        return
    if new.name != current.name:
        raise PackageError("wrong_model", f"package is model {new.name!r}; this node runs "
                           f"{current.name!r}")
    old, candidate = parse_version(current.version), parse_version(new.version)
    if candidate == old:
        raise PackageError("same_version", f"{new.name} {new.version} is already installed")
    if candidate < old and not rollback:
        raise PackageError("downgrade", f"{new.name} {new.version} is older than the running "
                           f"{current.version}; a rollback must be requested explicitly")
