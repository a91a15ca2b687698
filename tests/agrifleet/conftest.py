"""Signing keys made for the tests and a signed copy of the base model (the package tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrifleet.package import generate_keypair, load_public_keys, sign_package
from tests.agrifleet.package_folders import copy_package


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return generate_keypair(tmp_path_factory.mktemp("other-keys"))


@pytest.fixture
def trusted(keys: tuple[Path, Path]) -> dict:
    return load_public_keys([keys[1]])


@pytest.fixture
def signed(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    pkg = copy_package(tmp_path / "pkg")
    sign_package(pkg, keys[0])
    return pkg
