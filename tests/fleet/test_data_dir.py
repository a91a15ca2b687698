"""The fleet's data directory: where the default SQLite file lives, whatever the current folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from agrifleet.fleet.settings import default_data_dir, load_settings
from tests.fleet.device import wait_until
from tests.services import free_port

AGRIFLEET = [sys.executable, "-m", "agrifleet", "fleet"]


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env.update({f"AGRIFLEET_{k.upper()}": v for k, v in settings.items()})
    return env


def test_the_default_database_is_fleet_db_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"AGRIFLEET_DATA_DIR": str(tmp_path / "data")})
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'fleet.db'}"


def test_a_relative_data_dir_is_fixed_when_the_settings_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"AGRIFLEET_DATA_DIR": "state"})
    assert settings.data_dir == tmp_path / "state"
    assert settings.database_url == f"sqlite:///{tmp_path / 'state' / 'fleet.db'}"


def test_an_explicit_database_url_wins(tmp_path: Path) -> None:
    settings = load_settings({
        "AGRIFLEET_DATA_DIR": str(tmp_path),
        "AGRIFLEET_DATABASE_URL": "sqlite:////srv/other.db",
    })  # fmt: skip
    assert settings.database_url == "sqlite:////srv/other.db"
    assert settings.data_dir == tmp_path


def test_default_resolution_for_a_user(tmp_path: Path) -> None:
    home, absent = tmp_path / "home", tmp_path / "no-var-lib"
    user = {"HOME": str(home)}
    assert default_data_dir(user, is_root=False, system=absent) == home / ".local/share/agrifleet"
    xdg = {**user, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert default_data_dir(xdg, is_root=False, system=absent) == tmp_path / "xdg" / "agrifleet"
    relative = {**user, "XDG_DATA_HOME": "not/absolute"}  # ignored, as the XDG spec says
    assert default_data_dir(relative, is_root=False, system=absent) == (
        home / ".local/share/agrifleet"
    )


def test_default_resolution_for_root_and_a_service_user(tmp_path: Path) -> None:
    var_lib = tmp_path / "var-lib-agrifleet"
    user = {"HOME": str(tmp_path / "home")}
    assert default_data_dir(user, is_root=True, system=var_lib) == var_lib
    var_lib.mkdir()  # an existing, writable system folder is used by a non-root user too
    assert default_data_dir(user, is_root=False, system=var_lib) == var_lib


def test_create_token_and_serve_in_different_folders_share_one_database(tmp_path: Path) -> None:
    env = _env(data_dir=str(tmp_path / "data"))
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    created = subprocess.run(
        [*AGRIFLEET, "create-token", "--role", "viewer", "--create"],
        cwd=here, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert (tmp_path / "data" / "fleet.db").is_file()
    assert list(here.iterdir()) == []
    port = free_port()
    serve = subprocess.Popen(
        [*AGRIFLEET, "serve", "--port", str(port)], cwd=there, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(base), timeout=30, what="the API to answer")
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/v1/devices", headers=headers).status_code == 200
        wrong = {"Authorization": "Bearer agf_not-a-token"}
        assert httpx.get(f"{base}/api/v1/devices", headers=wrong).status_code == 401
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    assert list(there.iterdir()) == []


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_new_database_and_its_folder_are_private_whatever_the_umask(tmp_path: Path) -> None:
    from sqlalchemy import text

    from agrifleet.fleet.db import make_engine

    old = os.umask(0o022)
    try:
        data = tmp_path / "fresh" / "data"
        engine = make_engine(f"sqlite:///{data / 'fleet.db'}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (v TEXT)"))
            conn.execute(text("INSERT INTO t VALUES ('x')"))
            modes = {p.name: p.stat().st_mode & 0o777 for p in data.iterdir()}
        engine.dispose()
    finally:
        os.umask(old)
    assert data.stat().st_mode & 0o777 == 0o700
    assert modes == {"fleet.db": 0o600, "fleet.db-wal": 0o600, "fleet.db-shm": 0o600}
