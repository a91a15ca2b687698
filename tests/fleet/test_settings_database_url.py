"""A database URL that cannot be parsed is refused by the settings in one line that names the
variable and hides the password, never a traceback from deeper down."""

from __future__ import annotations

import pytest

from agrifleet.fleet.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:SECRETPW@[::1/db",  # an unclosed IPv6 bracket
        "postgresql://u:SECRETPW@db:port/agrifleet",  # a port that is not a number
    ],
)
def test_an_unparseable_database_url_is_a_settings_error(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"AGRIFLEET_DATABASE_URL": url})
    text = str(caught.value)
    assert "AGRIFLEET_DATABASE_URL" in text
    assert "cannot be parsed" in text
    assert "SECRETPW" not in text
