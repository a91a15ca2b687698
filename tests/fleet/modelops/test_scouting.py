"""The farm's active model for scouting: the package of the newest completed rollout, else the
shipped model; a package folder that cannot be loaded falls back to the shipped model."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.modelops.registry.tables import ModelPackage
from agrifleet.fleet.modelops.rollouts.tables import Rollout
from agrifleet.fleet.modelops.scouting import Scout, active_model, shipped_model
from agrifleet.models.shipped import default_model_dir

RUST = default_model_dir() / "selftest" / "02-apple-cedar-apple-rust.png"


def _package(session: Session, version: str) -> int:
    package = ModelPackage(name="leaf-disease", version=version, sha256="a" * 64, size=1,
                           model_sha256="b" * 64, key_id="k", published_by="t",
                           published_role="technician", manifest={})
    session.add(package)
    session.commit()
    assert package.id is not None
    return package.id


def _rollout(session: Session, package_id: int, version: str, state: str) -> None:
    session.add(Rollout(model="leaf-disease", version=version, package_id=package_id,
                        targets={"all": True}, phases=[100], min_devices=1, shadow_images=0,
                        shadow_max_s=0, limits={}, state=state, created_by="t"))
    session.commit()


def test_the_newest_completed_rollout_names_the_model(database_url: str,
                                                      tmp_path: Path) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            assert active_model(session, tmp_path) == shipped_model()
            old = _package(session, "1.2.0")
            new = _package(session, "1.3.0")
            _rollout(session, old, "1.2.0", "completed")
            _rollout(session, new, "1.3.0", "aborted")
            choice = active_model(session, tmp_path)
            assert (choice.name, choice.version) == ("leaf-disease", "1.2.0")
            assert choice.folder == tmp_path / "models" / "leaf-disease" / "1.2.0" / "package"
    finally:
        engine.dispose()


def test_a_package_folder_that_cannot_load_falls_back_to_the_shipped_model(
        database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            _rollout(session, _package(session, "1.2.0"), "1.2.0", "completed")
            choice = active_model(session, tmp_path)
        scout = Scout()
        with caplog.at_level(logging.WARNING, "agrifleet.fleet.modelops.scouting"):
            prediction, classifier = scout.classify(choice, RUST.read_bytes())
        assert classifier.model_dir == default_model_dir()
        assert prediction.best == "Apple___Cedar_apple_rust"
        assert "cannot be loaded" in caplog.text
        # A loadable package folder is used as it is, and loaded once.
        shutil.copytree(default_model_dir(), choice.folder)
        fresh = Scout()
        _, first = fresh.classify(choice, RUST.read_bytes())
        _, second = fresh.classify(choice, RUST.read_bytes())
        assert first is second and first.model_dir == choice.folder
    finally:
        engine.dispose()
