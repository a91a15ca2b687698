"""Settings specify: AGRIFLEET_* variables only, each checked, errors that name the variable and
never show a password."""

from __future__ import annotations

import pytest

from agrifleet.fleet.settings import FleetSettings, SettingsError, load_settings, mask_url


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.mqtt_url is None
    assert settings.mqtt_prefix == "agrifleet"


def test_values_come_from_agrifleet_variables() -> None:
    settings = load_settings({
        "AGRIFLEET_DATABASE_URL": "postgresql://fleet:pw@db:5432/agrifleet",
        "AGRIFLEET_MQTT_URL": "mqtt://fleet:secret@broker:1884",
        "AGRIFLEET_MQTT_PREFIX": "farm-2",
        "PATH": "/usr/bin",
    })  # fmt: skip
    assert settings.database_url == "postgresql+psycopg://fleet:pw@db:5432/agrifleet"
    assert settings.mqtt_url == "mqtt://fleet:secret@broker:1884"
    assert settings.mqtt_prefix == "farm-2"


def test_a_misspelt_variable_is_refused_with_a_suggestion() -> None:
    with pytest.raises(SettingsError, match=r"AGRIFLEET_DATABSE_URL.*AGRIFLEET_DATABASE_URL"):
        load_settings({"AGRIFLEET_DATABSE_URL": "sqlite:///x.db"})


def test_other_parts_variables_are_left_alone() -> None:
    settings = load_settings({"AGRIFLEET_TFLITE_RUNTIME": "litert"})
    assert settings.mqtt_prefix == "agrifleet"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGRIFLEET_DATABASE_URL", "mysql://root:hunter2@db/x"),
        ("AGRIFLEET_MQTT_URL", "http://fleet:hunter2@broker"),
        ("AGRIFLEET_MQTT_URL", "mqtt://fleet:hunter2@broker:notaport"),
        ("AGRIFLEET_MQTT_PREFIX", "a/b"),
        ("AGRIFLEET_MQTT_KEEPALIVE_S", "soon"),
        ("AGRIFLEET_AUTO_MIGRATE", "perhaps"),
    ],
)
def test_invalid_values_name_the_variable_and_hide_passwords(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    assert name in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_repr_hides_urls_with_passwords() -> None:
    settings = FleetSettings(database_url="postgresql://u:hunter2@db/x",
                             mqtt_url="mqtt://fleet:hunter2@b:1883")  # fmt: skip
    assert "hunter2" not in repr(settings)
    assert mask_url("mqtt://fleet:hunter2@b:1883") == "mqtt://fleet:***@b:1883"


def test_a_ca_file_must_exist(tmp_path) -> None:
    with pytest.raises(SettingsError, match=r"AGRIFLEET_MQTT_CA_FILE.*no CA certificate file"):
        load_settings({"AGRIFLEET_MQTT_CA_FILE": str(tmp_path / "ca.pem")})
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings({"AGRIFLEET_MQTT_CA_FILE": str(tmp_path / "ca.pem")})
    assert settings.mqtt_ca_file == tmp_path / "ca.pem"


SECRET = "s3cr3t-PA55"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGRIFLEET_DATABASE_URL", f"mysql://root:{SECRET}@db/x"),
        ("AGRIFLEET_DATABASE_URL", "oracle://root:s3cr3t/PA55@db/x"),
        ("AGRIFLEET_MQTT_URL", f"mqtt://fleet:{SECRET}@"),
        ("AGRIFLEET_MQTT_URL", f"mqtts://fleet:{SECRET}@broker:99999"),
        ("AGRIFLEET_MQTT_URL", "mqtt://fleet:s3cr3t/PA55@broker"),
        ("AGRIFLEET_MQTT_URL", "mqtt://fleet:s3cr3t#PA55@broker"),
        ("AGRIFLEET_PUBLIC_URL", f"ftp://admin:{SECRET}@fleet.farm"),
    ],
)
def test_no_settings_error_shows_a_password(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    assert name in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and "PA55" not in str(caught.value)


def test_settings_built_in_code_fail_without_echoing_the_url() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        FleetSettings(mqtt_url=f"mqtt://fleet:{SECRET}@broker:notaport")
    assert SECRET not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        FleetSettings(mqtt_keepalive_s=f"mqtt://fleet:{SECRET}@broker")  # type: ignore[arg-type]
    assert SECRET not in str(caught.value)


def test_fleet_serve_with_a_bad_url_prints_no_password() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env["AGRIFLEET_MQTT_URL"] = "mqtt://fleet:s3cr3t/PA55@broker"
    done = subprocess.run([sys.executable, "-m", "agrifleet", "fleet", "serve", "--port", "1"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "AGRIFLEET_MQTT_URL" in done.stderr
    assert "s3cr3t" not in done.stderr + done.stdout and "PA55" not in done.stderr + done.stdout


def test_model_keys_are_comma_separated_paths(tmp_path, monkeypatch) -> None:
    one, two = tmp_path / "a.pub", tmp_path / "b.pub"
    one.write_text("key"), two.write_text("key")
    assert load_settings({"AGRIFLEET_MODEL_KEYS": f"{one}, {two}"}).model_keys == (one, two)
    monkeypatch.setenv("AGRIFLEET_MODEL_KEYS", str(one))  # as `agrifleet fleet` reads it
    monkeypatch.setenv("AGRIFLEET_DATA_DIR", str(tmp_path))
    assert FleetSettings().model_keys == (one,)
