"""`agrifleet demo` prints the dashboard's address and a viewer's and a technician's sign-in
for the demo farm, and those sign-ins open the dashboard on the demo's live nodes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from agrifleet.demo.local_fleet import LocalFleet, LocalFleetOptions
from tests.services import free_port


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[LocalFleet]:
    fleet = LocalFleet(LocalFleetOptions(workdir=tmp_path / "demo", port=free_port(), agents=1,
                                         broker="mosquitto", feed_images=False,
                                         sensor_interval_s=0.5))
    try:
        fleet.start()
        yield fleet
    finally:
        fleet.stop()


def test_the_demo_prints_the_dashboard_and_sign_ins_that_work(demo: LocalFleet) -> None:
    banner = demo.banner()
    assert f"dashboard   {demo.api_url}/" in banner
    found = {role: (email, password) for role, email, password in
             re.findall(r"sign in +(viewer|technician): (\S+) +password (\S+)", banner)}
    assert set(found) == {"viewer", "technician"}, banner
    for role, (email, password) in found.items():
        with httpx.Client(base_url=demo.api_url, timeout=30) as client:
            login = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
            assert token is not None
            signed = client.post("/login", data={"email": email, "password": password,
                                                 "csrf_token": token.group(1), "next": "/"})
            assert signed.status_code == 303, (role, signed.text[:300])
            overview = client.get("/")
            assert overview.status_code == 200, role
            assert "Demo field 01" in overview.text, role  # the demo's live node
            assert "Paddy A" in overview.text, role  # in the demo farm's field
            me = client.get("/api/v1/auth/me").json()
            assert me["user"]["memberships"][0]["role"] == role
