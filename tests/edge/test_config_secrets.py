"""No bad [mqtt] section, however wrong, makes a config error show the MQTT password."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrifleet.cli import main

SECRET = "s3cr3t-PA55"

BAD_MQTT = [
    f'url = "http://field-07:{SECRET}@broker"',  # wrong scheme
    f'url = "mqtt://field-07:{SECRET}@"',  # no host
    f'url = "mqtt://field-07:{SECRET}@broker:port"',  # bad port
    f'url = "mqtt://field-07:{SECRET}@broker:99999"',
    'url = "mqtt://field-07:s3cr3t/PA55@broker"',  # an unescaped '/' in the password
    'url = "mqtt://field-07:s3cr3t#PA55@broker"',  # an unescaped '#'
    f'url = "mqtt://field-07:{SECRET}@broker/agrifleet"',  # a path
    f'url = ["mqtt://field-07:{SECRET}@broker"]',  # not a string
    f'url = "mqtt://broker"\npassword = ["{SECRET}"]',  # a password of the wrong type
    f'url = "mqtt://broker"\npassword = "{SECRET}"\npassword_file = "/nope"',  # both
    f'url = "mqtt://broker"\npasword = "{SECRET}"',  # a misspelt key
    f'url = "mqtt://field-07:{SECRET}@broker"\nkeepalive_s = 1',  # another key is wrong
    f'url = "mqtt://field-07:{SECRET}@broker"\nprefix = "a/b"',
]


@pytest.mark.parametrize("mqtt", BAD_MQTT)
def test_check_config_refuses_without_printing_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mqtt: str
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(f'device_id = "field-07"\n[mqtt]\n{mqtt}\n')
    assert main(["edge", "check-config", str(path)]) == 2
    captured = capsys.readouterr()
    assert "mqtt" in captured.err, captured.err  # the error says where
    for text in (captured.err, captured.out):
        assert "s3cr3t" not in text and "PA55" not in text, text


def test_a_whole_mqtt_url_in_place_of_the_section_is_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(f'device_id = "field-07"\nmqtt = "mqtt://field-07:{SECRET}@broker"\n')
    assert main(["edge", "check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "mqtt://field-07:***@broker" in err
    assert SECRET not in err


def test_a_good_config_summary_shows_the_user_but_not_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(f'device_id = "field-07"\n[mqtt]\nurl = "mqtt://field-07:{SECRET}@broker"\n')
    assert main(["edge", "check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "mqtt://field-07:***@broker:1883" in out
    assert SECRET not in out


def test_a_camera_url_is_quoted_with_its_password_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('device_id = "field-07"\n[mqtt]\nurl = "mqtt://broker"\n'
                    f'[[cameras]]\ntype = "http"\nname = "cam"\nurl = "rtsp://admin:{SECRET}@cam"\n')
    assert main(["edge", "check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cameras[0].url" in err and "rtsp://admin:***@cam" in err
    assert SECRET not in err
