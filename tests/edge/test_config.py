"""The agent's TOML config: the documented example loads; bad files give clear, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrifleet.cli import main
from agrifleet.contract import DEFAULT_PREFIX
from agrifleet.edge.config import ConfigError, load_config
from agrifleet.edge.sensor_types.modbus import ModbusSoilSensor

EXAMPLE = """\
device_id = "field-07"
[mqtt]
url = "mqtt://127.0.0.1:1883"
[[sensors]]
type = "modbus-soil"
port = "/dev/ttyUSB0"
baudrate = 9600
address = 1
profile = "soil-7in1"
interval_s = 60
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_the_issue_example_loads_with_defaults(tmp_path):
    config = load_config(write(tmp_path, EXAMPLE))
    assert config.device_id == "field-07"
    assert config.mqtt.prefix == DEFAULT_PREFIX
    assert config.mqtt_username() == "field-07"
    assert config.outbox_path == config.data_dir / "outbox.sqlite"
    (sensor,) = config.sensors
    assert isinstance(sensor, ModbusSoilSensor)
    assert (sensor.name, sensor.baudrate, sensor.address, sensor.interval_s) == (
        "modbus-soil", 9600, 1, 60
    )
    assert config.cameras == []


def test_every_sensor_type_and_a_camera_load_with_unique_default_names(tmp_path):
    text = EXAMPLE + """
[[sensors]]
type = "modbus-soil"
port = "/dev/ttyUSB1"
[[sensors]]
type = "sdi12"
port = "/dev/ttyUSB2"
address = 3
[[sensors]]
type = "nmea-gps"
port = "/dev/ttyACM0"
baudrate = 4800
[[cameras]]
type = "folder"
name = "leafcam"
path = "/srv/photos"
"""
    config = load_config(write(tmp_path, text))
    assert [s.name for s in config.sensors] == ["modbus-soil", "modbus-soil-2", "sdi12", "nmea-gps"]
    assert config.sensors[2].address == "3"  # type: ignore[attr-defined]
    assert config.cameras[0].name == "leafcam"


def test_unknown_key_names_the_key_and_where_it_is(tmp_path):
    path = write(tmp_path, EXAMPLE.replace("baudrate", "bauddrate"))
    message = error_of(path)
    assert f"{path}: sensors[0]: unknown key 'bauddrate'" in message
    assert "Traceback" not in message


def test_unknown_top_level_and_section_keys(tmp_path):
    message = error_of(write(tmp_path, 'foo = 1\n' + EXAMPLE + '[outbox]\nmax_byte = 5\n'))
    assert "top level: unknown key 'foo'" in message
    assert "outbox: unknown key 'max_byte'" in message


def test_wrong_type_names_the_field_and_the_value(tmp_path):
    message = error_of(write(tmp_path, EXAMPLE.replace("baudrate = 9600", 'baudrate = "fast"')))
    assert "sensors[0].baudrate" in message
    assert "'fast'" in message


def test_unknown_sensor_type(tmp_path):
    message = error_of(write(tmp_path, EXAMPLE.replace('"modbus-soil"', '"modbus-soyl"')))
    assert "sensors[0]" in message and "modbus-soyl" in message


def test_missing_mqtt_section_and_bad_url(tmp_path):
    assert "top level: missing key 'mqtt'" in error_of(write(tmp_path, 'device_id = "a"\n'))
    message = error_of(write(tmp_path, EXAMPLE.replace("mqtt://", "http://")))
    assert "mqtt.url: invalid MQTT URL 'http://127.0.0.1:1883': must start with mqtt://" in message


def test_bad_toml_gives_the_line(tmp_path):
    path = write(tmp_path, EXAMPLE.replace("baudrate = 9600", "baudrate = = 9600"))
    message = error_of(path)
    assert message.startswith(f"{path}: not valid TOML")
    assert "line 7" in message


def test_missing_file(tmp_path):
    assert "cannot read" in error_of(tmp_path / "nope.toml")


def test_password_sources(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    text = EXAMPLE.replace("[mqtt]", f'[mqtt]\nusername = "u"\npassword_file = "{secret}"')
    config = load_config(write(tmp_path, text))
    assert (config.mqtt_username(), config.mqtt_password()) == ("u", "s3cret")
    url_config = load_config(write(tmp_path, EXAMPLE.replace("mqtt://", "mqtt://me:pw@")))
    assert (url_config.mqtt_username(), url_config.mqtt_password()) == ("me", "pw")
    both = EXAMPLE.replace("[mqtt]", f'[mqtt]\npassword = "x"\npassword_file = "{secret}"')
    assert "password or password_file, not both" in error_of(write(tmp_path, both))


def test_check_config_command(tmp_path, capsys):
    good = write(tmp_path, EXAMPLE.replace("mqtt://", "mqtt://field-07:hunter2@"))
    assert main(["edge", "check-config", str(good)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "modbus-soil on /dev/ttyUSB0" in out
    assert "hunter2" not in out and "***" in out
    bad = write(tmp_path, EXAMPLE + "\n[mqtt2]\n")
    assert main(["edge", "check-config", str(bad)]) == 2
    assert "unknown key 'mqtt2'" in capsys.readouterr().err


def test_an_unknown_sensor_profile_is_refused_at_load_time(tmp_path):
    message = error_of(write(tmp_path, EXAMPLE.replace('"soil-7in1"', '"soil-7in1x"')))
    assert "sensors[0].profile" in message and "soil-7in1x" in message


def test_a_missing_ca_file_is_refused_at_load_time(tmp_path):
    text = EXAMPLE.replace('[mqtt]\n', f'[mqtt]\nca_file = "{tmp_path}/ca.pem"\n')
    message = error_of(write(tmp_path, text))
    assert "ca_file" in message and "no CA certificate file" in message
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert load_config(write(tmp_path, text)).mqtt.ca_file == tmp_path / "ca.pem"
