"""The enrolment commands specify: `create-devices` registers a CSV's devices and prints a code
each (or refuses a bad file, creating nothing), `enrolment-code` prints a code and its QR image,
and `revoke-device` revokes a device in the database even without a broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy

AGRIFLEET = [sys.executable, "-m", "agrifleet", "fleet"]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env.update(AGRIFLEET_DATABASE_URL=f"sqlite:///{tmp_path / 'fleet.db'}",
               AGRIFLEET_DATA_DIR=str(tmp_path / "data"))
    return subprocess.run([*AGRIFLEET, *args], env=env, capture_output=True, text=True,
                          timeout=300)  # slow only on a loaded machine


def devices(tmp_path: Path) -> list[tuple[str, str | None]]:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'fleet.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT id, revoked_at FROM device ORDER BY id"))
            return [(r[0], r[1]) for r in rows]
    finally:
        engine.dispose()


def test_a_bad_csv_creates_nothing_and_names_the_row(tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text("id,name\nfield-01,North\nfield 02,South\n")
    bad = run(tmp_path, "create-devices", str(csv))
    assert bad.returncode == 2 and f"{csv}:3" in bad.stderr and "Traceback" not in bad.stderr
    csv.write_text("field-01,North\nfield-01,Again\n")
    twice = run(tmp_path, "create-devices", str(csv))
    assert twice.returncode == 2 and "more than once: field-01" in twice.stderr
    missing = run(tmp_path, "create-devices", str(tmp_path / "none.csv"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_devices_already_registered_are_refused_whole(tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text("field-01,North\n")
    assert run(tmp_path, "create-devices", str(csv)).returncode == 0
    csv.write_text("field-02,East\nfield-01,North\n")
    again = run(tmp_path, "create-devices", str(csv))
    assert again.returncode == 1 and "already registered: field-01" in again.stderr
    assert [d for d, _ in devices(tmp_path)] == ["field-01"]


def test_a_code_with_its_qr_image_then_a_revocation(tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text("field-05,West,tomato\n")
    assert run(tmp_path, "create-devices", str(csv)).returncode == 0
    code = run(tmp_path, "enrolment-code", "field-05", "--qr", str(tmp_path / "qr.png"))
    assert code.returncode == 0, code.stderr
    device, value, _expires = code.stdout.split()
    assert device == "field-05" and len(value) == 24
    assert (tmp_path / "qr.png").read_bytes().startswith(b"\x89PNG")
    unknown = run(tmp_path, "revoke-device", "nobody")
    assert unknown.returncode == 1 and "unknown device" in unknown.stderr
    revoked = run(tmp_path, "revoke-device", "field-05")
    assert revoked.returncode == 0, revoked.stderr
    assert "no broker configured" in revoked.stdout
    assert devices(tmp_path)[0][1] is not None

def test_devices_go_to_the_farm_named_and_an_unknown_farm_is_refused(tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text("field-06,West\n")
    unknown = run(tmp_path, "create-devices", str(csv), "--farm", "7")
    assert unknown.returncode == 1 and "no farm 7" in unknown.stderr
    assert devices(tmp_path) == []  # nothing was created
    farm = run(tmp_path, "create-farm", "Hilltop")
    assert farm.returncode == 0, farm.stderr
    created = run(tmp_path, "create-devices", str(csv), "--farm", farm.stdout.strip())
    assert created.returncode == 0, created.stderr
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'fleet.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT id, farm_id FROM device")).all()
    finally:
        engine.dispose()
    assert [(r[0], r[1]) for r in rows] == [("field-06", int(farm.stdout))]
