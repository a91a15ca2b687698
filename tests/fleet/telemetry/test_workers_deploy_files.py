"""The deployment samples in docs/deploy/ work as written: the Mosquitto configuration starts a
real broker that takes the fleet's TLS login and its workers' shared subscription and refuses
anonymous clients; the ACL is the one provisioning writes; the systemd units run commands that
exist; the environment file names only settings the fleet knows."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import ssl
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from agrifleet.cli import build_parser
from agrifleet.fleet.settings import FleetSettings
from agrifleet.provisioning.mosquitto import acl_text, find_mosquitto, free_port, wait_for_port
from agrifleet.provisioning.tls import make_broker_certificates

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "docs" / "deploy"


def without_comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not
            line.lstrip().startswith("#")]  # fmt: skip


def test_the_sample_acl_is_the_one_provisioning_writes() -> None:
    assert without_comments((DEPLOY / "agrifleet.acl").read_text()) == without_comments(
        acl_text("agrifleet"))


def test_the_sample_mosquitto_conf_takes_tls_logins_and_shared_subscriptions(
    tmp_path: Path,
) -> None:
    if find_mosquitto() is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto is not installed")
    tls = make_broker_certificates(tmp_path / "tls", hosts=("127.0.0.1",))
    port = free_port()
    password = secrets.token_hex(8)
    passwd = tmp_path / "passwd"
    passwd.write_text("")
    passwd.chmod(0o600)
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "fleet", password], check=True)
    (tmp_path / "data").mkdir()
    conf = (DEPLOY / "mosquitto.conf").read_text()
    for old, new in {"/etc/mosquitto/agrifleet.passwd": str(passwd),
                     "/etc/mosquitto/agrifleet.acl": str(DEPLOY / "agrifleet.acl"),
                     "/var/lib/mosquitto/": f"{tmp_path / 'data'}/",
                     "/etc/mosquitto/certs/ca.crt": str(tls.ca_file),
                     "/etc/mosquitto/certs/broker.crt": str(tls.cert_file),
                     "/etc/mosquitto/certs/broker.key": str(tls.key_file),
                     "listener 8883 0.0.0.0": f"listener {port} 127.0.0.1"}.items():  # fmt: skip
        assert old in conf, old
        conf = conf.replace(old, new)
    if os.geteuid() == 0:  # as root Mosquitto would switch to a user who cannot read tmp_path
        conf += "\nuser root\n"
    (tmp_path / "mosquitto.conf").write_text(conf)
    broker = subprocess.Popen([str(find_mosquitto()), "-c", str(tmp_path / "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_for_port(port)
        granted: list[list[int]] = []
        for user, pw in (("fleet", password), (None, None)):
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            if user:
                client.username_pw_set(user, pw)
            client.tls_set(ca_certs=str(tls.ca_file), cert_reqs=ssl.CERT_REQUIRED)
            connected, subscribed = threading.Event(), threading.Event()
            result: dict[str, object] = {}

            def on_connect(c: mqtt.Client, _u: object, _f: object, rc: mqtt.ReasonCode,
                           _p: object, result: dict[str, object] = result,
                           connected: threading.Event = connected) -> None:
                result["rc"] = rc
                connected.set()
                if not rc.is_failure:
                    c.subscribe("$share/agrifleet-ingest/agrifleet/+/messages", qos=1)

            def on_subscribe(_c: mqtt.Client, _u: object, _m: object, codes: list[mqtt.ReasonCode],
                             _p: object, subscribed: threading.Event = subscribed) -> None:
                granted.append([int(c.value) for c in codes])
                subscribed.set()

            client.on_connect = on_connect
            client.on_subscribe = on_subscribe
            client.connect("127.0.0.1", port)
            client.loop_start()
            try:
                assert connected.wait(10)
                rc = result["rc"]
                assert isinstance(rc, mqtt.ReasonCode)
                if user:
                    assert not rc.is_failure, rc
                    assert subscribed.wait(10)
                else:
                    assert rc.is_failure, "an anonymous client was let in"
            finally:
                client.disconnect()
                client.loop_stop()
        assert granted == [[1]]  # QoS 1 granted on the shared subscription
    finally:
        broker.terminate()
        broker.wait(10)


@pytest.mark.parametrize("unit", ["agrifleet-ingest@.service", "agrifleet-api@.service"])
def test_the_systemd_units_run_commands_that_exist(unit: str) -> None:
    text = (DEPLOY / unit).read_text()
    (line,) = re.findall(r"^ExecStart=(.*)$", text, re.M)
    argv = shlex.split(line.replace("%i", "8000" if "api" in unit else "1"))
    assert argv[0] == "/opt/agrifleet/bin/agrifleet"
    args = build_parser().parse_args(argv[1:])
    assert args.part == "fleet" and callable(args.func)
    assert "Restart=always" in text and "User=agrifleet" in text
    assert "EnvironmentFile=/etc/agrifleet/fleet.env" in text


def test_the_environment_file_names_only_known_settings() -> None:
    known = {f"AGRIFLEET_{name.upper()}" for name in FleetSettings.model_fields}
    names = {line.split("=", 1)[0] for line in without_comments(
        (DEPLOY / "fleet.env").read_text())}  # fmt: skip
    assert names and names <= known, names - known
