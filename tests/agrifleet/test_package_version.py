"""Which version may replace which: the same model, a strictly higher MAJOR.MINOR.PATCH, compared
as numbers; a lower one only as an explicit rollback."""

from __future__ import annotations

import pytest

from agrifleet.manifest import Manifest, read_manifest
from agrifleet.package import PackageError, check_upgrade
from tests.agrifleet.package_folders import needs_base_model
from tests.base_model import BASE_MODEL_DIR

pytestmark = needs_base_model


def _manifest(name: str = "leaf-disease", version: str = "1.1.0") -> Manifest:
    return read_manifest(BASE_MODEL_DIR).model_copy(update={"name": name, "version": version})


@pytest.mark.parametrize(("new", "current", "reason"), [
    (_manifest("weed-finder", "2.0.0"), _manifest(), "wrong_model"),
    (_manifest(version="1.0.9"), _manifest(), "downgrade"),
    (_manifest(version="1.1.0"), _manifest(), "same_version"),
    (_manifest(version="1.9.0"), _manifest(version="1.10.0"), "downgrade"),
])
def test_check_upgrade_refuses(new: Manifest, current: Manifest, reason: str) -> None:
    with pytest.raises(PackageError) as info:
        check_upgrade(new, current)
    assert info.value.reason == reason


def test_check_upgrade_compares_versions_as_numbers() -> None:
    check_upgrade(_manifest(version="1.10.0"), _manifest(version="1.9.0"))
    check_upgrade(_manifest(version="2.0.0"), _manifest(version="1.99.99"))
    check_upgrade(_manifest(), None)  # a node with no model yet takes any


def test_rollback_only_when_asked() -> None:
    old, current = _manifest(version="1.0.0"), _manifest(version="1.1.0")
    with pytest.raises(PackageError):
        check_upgrade(old, current)
    check_upgrade(old, current, rollback=True)
    with pytest.raises(PackageError) as info:
        check_upgrade(_manifest("weed-finder", "1.0.0"), current, rollback=True)
    assert info.value.reason == "wrong_model"
