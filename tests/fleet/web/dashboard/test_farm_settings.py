"""The farm settings page shows how long the farm's data is kept (its own days, the fleet's
default, what applies) and its consent to training, in the reader's language; only the farm's
admin gets the form that changes them."""

from __future__ import annotations

import re

from tests.fleet.conftest import FleetUnderTest
from tests.fleet.farmdata import conftest as farmdata_fixtures
from tests.fleet.farmdata.data import FarmData
from tests.fleet.farmdata.test_policy import _policy
from tests.fleet.people.auth.people import add_user, signed_in

#: The farm data tests' fixtures: an app with a data directory, and two farms of known data.
farm_app = farmdata_fixtures.farm_app
two_farms = farmdata_fixtures.two_farms


def test_the_admin_sees_the_policy_and_the_form_a_viewer_only_the_policy(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm = two_farms[0]
    assert _policy(farm_app, farm, photos_days=90, training_consent=True).status_code == 200
    client = farm_app.client
    signed_in(client, farm.admin_email)
    page = client.get(f"/farm?farm={farm.farm_id}&lang=vi")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Cài đặt trang trại" in text and "90 ngày" in text and "mãi mãi" in text
    assert f'data-policy-form="/api/v1/farms/{farm.farm_id}/data-policy"' in text
    assert re.search(r'name="training_consent" checked', text)
    assert farm.admin_email in text  # who gave consent

    client.cookies.clear()
    add_user(farm_app.app.state.engine, "viewer-a@example.org", {farm.farm_id: "viewer"})
    signed_in(client, "viewer-a@example.org")
    page = client.get("/farm?lang=zh")
    assert page.status_code == 200 and "农场设置" in page.text and "90 天" in page.text
    assert "data-policy-form" not in page.text
