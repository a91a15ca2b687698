"""A method no route of a path takes is a 405 whose ``Allow`` names every documented method
of that path (OPTIONS on ``/api/v1/devices`` said ``Allow: POST`` though GET is there too)."""

from __future__ import annotations

import re

from tests.fleet.conftest import FleetUnderTest


def test_options_names_every_documented_method_of_each_path(api: FleetUnderTest) -> None:
    paths = api.app.openapi()["paths"]
    wrong = {}
    for path, item in paths.items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = api.client.options(url, headers=api.admin)
        documented = sorted(m.upper() for m in item)
        allow = sorted(m.strip() for m in response.headers.get("allow", "").split(","))
        if response.status_code != 405 or allow != documented:
            wrong[path] = (response.status_code, allow, documented)
    assert not wrong, wrong
    assert len(paths) > 40
