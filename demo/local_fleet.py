"""A whole fleet on one machine: broker, fleet, simulated sensors, agents (demo and e2e tests).

The parts run as they would in the field: the broker and the fleet as their own processes, each
agent as its own ``agrifleet edge run`` process reading simulated probes on pseudo-terminals,
with its own least-privilege MQTT user. Leaf photos, when a folder of them is at hand, are
dropped into each agent's watched camera folder so detections reach the fleet too.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agrifleet.provisioning.acl import FLEET_USER
from agrifleet.provisioning.mosquitto import (
    MosquittoBroker,
    MosquittoConfig,
    find_mosquitto,
    free_port,
    wait_for_port,
)

if TYPE_CHECKING:
    from agrifleet.demo.walkthrough import Practice
    from agrifleet.provisioning.embedded_broker import EmbeddedBroker

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass
class LocalFleetOptions:
    workdir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    mqtt_port: int = 0  # 0: a free port
    agents: int = 3
    broker: str = "auto"  # auto | mosquitto | embedded
    images: Path | None = None  # default: ../shared/data/plantvillage when present
    feed_images: bool = True
    image_interval_s: float = 5.0
    sensor_interval_s: float = 5.0
    database_url: str | None = None  # default: SQLite in workdir
    agent_extra_toml: str = ""  # appended to every agent's config (tests tune the outbox)
    #: A fleet to practise a rollout on (agrifleet demo): its own signing key, which the fleet
    #: and the nodes trust; nodes that take offers; a technician's token; the README's
    #: walkthrough in the banner (demo/walkthrough.py).
    practice: bool = False
    backfill_days: float = 0.0  # days of past soil readings per node (demo/backfill.py)
    alert_rules: bool = False  # start with the demo's alert rules (demo/alert_rules.py)


class StartError(RuntimeError):
    """A part of the local fleet did not start; the message says which part and why."""


class PortInUse(StartError):
    """A port the fleet needs is taken (or cannot be listened on); ``setting`` names the option."""

    def __init__(self, what: str, host: str, port: int, setting: str, reason: str) -> None:
        super().__init__(f"{host}:{port} for the {what} is {reason}")
        self.setting = setting


def check_port_free(host: str, port: int, what: str, setting: str) -> None:
    """PortInUse unless something could listen on host:port now (as uvicorn and Mosquitto do)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            taken = exc.errno == errno.EADDRINUSE
            reason = "already in use" if taken else f"not available here ({exc.strerror})"
            raise PortInUse(what, host, port, setting, reason) from None


def default_images() -> Path | None:
    """``../shared/data/plantvillage`` beside the project or the working directory, if present."""
    here = Path(__file__).resolve().parents[1]
    for base in (here.parent, Path.cwd().parent, Path.cwd()):
        candidate = base / "shared" / "data" / "plantvillage"
        if candidate.is_dir():
            return candidate
    return None


class LocalFleet:
    """Starts every part in order and stops them in reverse."""

    def __init__(self, options: LocalFleetOptions) -> None:
        self.options = options
        self.users: dict[str, str] = {FLEET_USER: secrets.token_urlsafe(18)}
        self.devices = [f"field-{i + 1:02d}" for i in range(options.agents)]
        for device in self.devices:
            self.users[device] = secrets.token_urlsafe(18)
        self.mqtt_port = options.mqtt_port or free_port()
        self.token = ""
        self.technician_token = ""
        #: (signing.key, signing.pub) of this run, with ``practice``.
        self.signing: tuple[Path, Path] | None = None
        self._stack = ExitStack()
        self.fleet: subprocess.Popen[bytes] | None = None
        self.agents: dict[str, subprocess.Popen[bytes]] = {}
        self.broker: MosquittoBroker | EmbeddedBroker | None = None
        self._stop = threading.Event()
        self.broker_kind = ""
        self.simulators: dict[str, dict[str, Any]] = {}
        #: role → (email, password) of the demo farm's dashboard sign-ins.
        self.sign_ins: dict[str, tuple[str, str]] = {}

    @property
    def database_url(self) -> str:
        return self.options.database_url or f"sqlite:///{self.options.workdir / 'fleet.db'}"

    @property
    def api_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    # -- the table of contents -------------------------------------------------------------
    def start(self) -> None:
        """Start every part; PortInUse before anything starts if a port is taken."""
        check_port_free(self.options.host, self.options.port, "fleet API", "port")
        check_port_free("127.0.0.1", self.mqtt_port, "MQTT broker", "mqtt_port")
        try:
            self.options.workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartError(
                f"cannot create the work folder {self.options.workdir}: {exc.strerror}"
            ) from None
        if self.options.practice:
            from agrifleet.demo.walkthrough import make_keys

            self.signing = make_keys(self.options.workdir)
        self._start_broker()
        self._start_fleet()
        self._register_devices()
        if self.options.alert_rules:
            from agrifleet.demo.alert_rules import create_alert_rules

            create_alert_rules(self._api)
        backfilling = self._start_backfill()
        sensors = self._start_sensors()
        self._start_agents(sensors)
        self._start_image_feeder()
        if backfilling is not None:
            backfilling.join()

    def _start_backfill(self) -> threading.Thread | None:
        """Past readings for every node, sent while the rest starts (demo/backfill.py)."""
        if self.options.backfill_days <= 0:
            return None
        from agrifleet.demo.backfill import backfill

        def run() -> None:
            try:
                backfill(self.devices, self.options.backfill_days, self.mqtt_port, self.users)
            except (OSError, ValueError) as exc:  # the charts start empty; the demo runs on
                log.warning("no past readings for the charts: %s", exc)

        thread = threading.Thread(target=run, name="backfill", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        for device in list(self.agents):
            self.stop_agent(device)
        self.stop_fleet()
        self._stack.close()

    # -- the parts -------------------------------------------------------------------------
    def _start_broker(self) -> None:
        kind = self.options.broker
        if kind == "auto":
            kind = "mosquitto" if find_mosquitto() else "embedded"
        if kind == "mosquitto":
            self.broker = MosquittoBroker(
                MosquittoConfig(
                    directory=self.options.workdir / "mosquitto",
                    port=self.mqtt_port,
                    users=dict(self.users),
                )
            )
        else:
            from agrifleet.provisioning.embedded_broker import EmbeddedBroker

            self.broker = EmbeddedBroker(self.mqtt_port, dict(self.users))
        try:
            self.broker.start()
        except (RuntimeError, TimeoutError, OSError) as exc:
            with contextlib.suppress(Exception):  # whatever half of it started
                self.broker.stop()
            raise StartError(f"the MQTT broker ({kind}) did not start: {exc}") from None
        self._stack.callback(self.broker.stop)
        self.broker_kind = kind

    def _mqtt_url(self, user: str) -> str:
        return f"mqtt://{user}:{self.users[user]}@127.0.0.1:{self.mqtt_port}"

    def _fleet_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["AGRIFLEET_DATABASE_URL"] = self.database_url
        env["AGRIFLEET_MQTT_URL"] = self._mqtt_url(FLEET_USER)
        if self.signing is not None:
            from agrifleet.demo.walkthrough import fleet_settings

            env.update(fleet_settings(self.signing[1], self.api_url, self.options.workdir))
        return env

    def _start_fleet(self) -> None:
        """Migrate with ``agrifleet fleet migrate`` (which also checks the fleet's settings in
        the environment, each failure one line), make the tokens and sign-ins, then serve."""
        env = self._fleet_env()
        done = subprocess.run([sys.executable, "-m", "agrifleet", "fleet", "migrate"], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise StartError(f"agrifleet fleet migrate failed: {why.strip()}")
        self._create_tokens_and_sign_ins()
        self.start_fleet()

    def _create_tokens_and_sign_ins(self) -> None:
        """The admin's (and with ``practice`` the technician's) API token, and a viewer and a
        technician of the demo farm with fresh passwords for the dashboard: what
        ``create-token`` and ``create-user`` do, made here rather than in four more processes
        (each a few seconds of start-up on a small machine)."""
        from sqlalchemy.exc import SQLAlchemyError
        from sqlmodel import Session

        from agrifleet.fleet.db import make_engine
        from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
        from agrifleet.fleet.people.accounts import AccountError, add_member
        from agrifleet.fleet.people.auth import create_token
        from agrifleet.fleet.people.tables import UserCreate

        engine = make_engine(self.database_url)
        try:
            self.token = create_token(engine, "admin", "demo-admin")
            if self.options.practice:
                self.technician_token = create_token(engine, "technician", "demo-technician")
            with Session(engine) as session:
                for role in ("viewer", "technician"):
                    email, password = f"{role}@demo.example.org", secrets.token_urlsafe(12)
                    person = UserCreate(email=email, password=password,
                                        farm_id=DEFAULT_FARM_ID, role=role)
                    add_member(session, person, actor="demo")
                    self.sign_ins[role] = (email, password)
                session.commit()
        except (SQLAlchemyError, AccountError) as exc:
            raise StartError(f"the demo's tokens and sign-ins: {exc}") from None
        finally:
            engine.dispose()  # the fleet's own process opens the database next

    def start_fleet(self, timeout: float = 30.0) -> None:
        """Start (or restart) the fleet service process and wait ``timeout`` s until it answers."""
        serve = [sys.executable, "-m", "agrifleet", "fleet", "serve"]
        serve += ["--host", self.options.host, "--port", str(self.options.port)]
        with (self.options.workdir / "fleet.log").open("ab") as log_file:
            self.fleet = subprocess.Popen(
                serve, env=self._fleet_env(), stdout=log_file, stderr=log_file
            )
        self._wait_for_fleet(timeout)

    def _wait_for_fleet(self, timeout: float) -> None:
        """Until the API port answers; StartError if the process exits or time runs out."""
        log_path = self.options.workdir / "fleet.log"
        deadline = time.monotonic() + timeout
        while self.fleet is not None and self.fleet.poll() is None:
            try:
                wait_for_port(self.options.port, timeout=0.5, host=self.options.host)
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise StartError(
                        f"the fleet service did not answer on {self.api_url} within "
                        f"{timeout:g} s; see {log_path}"
                    ) from None
                continue
            return
        status = None if self.fleet is None else self.fleet.returncode
        raise StartError(f"the fleet service exited (status {status}); see {log_path}")

    def stop_fleet(self) -> None:
        if self.fleet is not None:
            _terminate(self.fleet)
            self.fleet = None

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - our own fleet on http://host:port
            f"{self.api_url}/api/v1{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def _register_devices(self) -> None:
        from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID

        farm = DEFAULT_FARM_ID
        # One paddy around the simulated GPS positions (10.03 + 0.01 i, 105.77 + 0.01 i).
        span = 0.01 * len(self.devices)
        ring = [[105.765, 10.025], [105.775 + span, 10.025], [105.775 + span, 10.035 + span],
                [105.765, 10.035 + span], [105.765, 10.025]]
        paddy = self._api("POST", f"/farms/{farm}/fields", {
            "name": "Paddy A", "crop": "rice",
            "outline": {"type": "Polygon", "coordinates": [ring]}})
        for device in self.devices:
            self._api("POST", "/devices", {"id": device, "name": f"Demo field {device[-2:]}",
                                           "field_id": paddy["id"]})

    def _start_sensors(self) -> dict[str, dict[str, str]]:
        """One soil probe, one SDI-12 probe and one GPS per agent; returns device → paths."""
        from agrifleet.hardware.simulators import (
            ModbusSoilSimulator,
            NmeaGpsSimulator,
            Sdi12Simulator,
        )

        paths: dict[str, dict[str, str]] = {}
        for i, device in enumerate(self.devices):
            soil = self._stack.enter_context(ModbusSoilSimulator())
            sdi12 = self._stack.enter_context(Sdi12Simulator(profile="acclima-tdr"))
            gps = self._stack.enter_context(
                NmeaGpsSimulator(lat=10.03 + 0.01 * i, lon=105.77 + 0.01 * i)
            )
            # The stable links stand in for /dev/serial/by-id paths.
            paths[device] = {"soil": soil.link, "sdi12": sdi12.link, "gps": gps.link}
            self.simulators[device] = {"soil": soil, "sdi12": sdi12, "gps": gps}
        return paths

    def _agent_config(self, device: str, sensors: dict[str, str]) -> Path:
        home = self.options.workdir / device
        (home / "camera").mkdir(parents=True, exist_ok=True)
        interval = self.options.sensor_interval_s
        config = f"""\
device_id = "{device}"
data_dir = "{home}"

[clock]
synced = "always"  # the demo runs on this machine's clock, which is trusted

[mqtt]
url = "mqtt://127.0.0.1:{self.mqtt_port}"
password = "{self.users[device]}"

[[sensors]]
type = "modbus-soil"
name = "soil"
port = "{sensors['soil']}"
interval_s = {interval}

[[sensors]]
type = "sdi12"
name = "probe"
profile = "acclima-tdr"
port = "{sensors['sdi12']}"
interval_s = {interval}

[[sensors]]
type = "nmea-gps"
name = "gps"
port = "{sensors['gps']}"
interval_s = {interval * 6}

[[cameras]]
type = "folder"
name = "leafcam"
path = "{home / 'camera'}"
after = "delete"
threads = 1
{self._updates_toml()}{self.options.agent_extra_toml}
"""
        path = home / "agent.toml"
        path.write_text(config)
        path.chmod(0o600)  # it holds the device's password
        return path

    def _updates_toml(self) -> str:
        """With ``practice``: the node takes offers signed by this run's or the release key."""
        if self.signing is None:
            return ""
        from agrifleet.demo.walkthrough import updates_toml

        return updates_toml(self.signing[1])

    def _start_agents(self, sensors: dict[str, dict[str, str]]) -> None:
        for device in self.devices:
            self._agent_config(device, sensors[device])
            self.start_agent(device)

    def start_agent(self, device: str) -> None:
        config = self.options.workdir / device / "agent.toml"
        command = [sys.executable, "-m", "agrifleet", "edge", "run", "--config", str(config)]
        with (config.parent / "agent.log").open("ab") as log_file:
            self.agents[device] = subprocess.Popen(command, stdout=log_file, stderr=log_file)

    def stop_agent(self, device: str, *, kill: bool = False) -> None:
        """Stop an agent cleanly, or with SIGKILL as a power cut would."""
        process = self.agents.pop(device, None)
        if process is None:
            return
        if kill:
            process.kill()
            process.wait()
        else:
            _terminate(process)

    def _start_image_feeder(self) -> None:
        if not self.options.feed_images:
            return
        folder = self.options.images or default_images()
        if folder is None:
            from agrifleet.models.shipped import default_model_dir

            folder = default_model_dir() / "selftest"
            log.info("no leaf photos found: the nodes' cameras get the shipped model's self-test "
                     "images (one small photo per class); pass --images DIR for real photos")
        images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            log.warning("no .jpg/.png photos under %s", folder)
            return
        thread = threading.Thread(target=self._feed, args=(images,), daemon=True)
        thread.start()
        self._stack.callback(thread.join, 5)

    def _feed(self, images: list[Path]) -> None:
        rng = random.Random(7)  # noqa: S311 - picking demo photos, not security
        while not self._stop.wait(self.options.image_interval_s):
            for device in self.devices:
                source = rng.choice(images)
                camera = self.options.workdir / device / "camera"
                partial = camera / f".{source.name}.part"
                shutil.copyfile(source, partial)
                partial.rename(camera / f"{int(time.time() * 1000)}{source.suffix.lower()}")

    def walkthrough(self) -> Practice | None:
        """What the README's rollout walkthrough needs from this run (with ``practice``)."""
        if self.signing is None:
            return None
        from agrifleet.demo.walkthrough import Practice, next_version
        from agrifleet.manifest import read_manifest
        from agrifleet.models.shipped import default_model_dir

        model = default_model_dir()
        return Practice(fleet_url=self.api_url, technician_token=self.technician_token,
                        keys=self.signing[0].parent, model=model,
                        version=next_version(read_manifest(model).version))

    def banner(self) -> str:
        practice = self.walkthrough()
        return "\n".join(
            [
                "agrifleet demo is running",
                f"  dashboard   {self.api_url}/",
                *[f"  sign in     {role}: {email}  password {password}"
                  for role, (email, password) in self.sign_ins.items()],
                f"  fleet API   {self.api_url}/api/v1   (OpenAPI docs: {self.api_url}/docs)",
                f"  API token   {self.token}  (admin)",
                *([f"  API token   {self.technician_token}  (technician)"]
                  if self.technician_token else []),
                f"  MQTT broker 127.0.0.1:{self.mqtt_port} ({self.broker_kind})",
                f"  devices     {', '.join(self.devices)}",
                f"  files       {self.options.workdir}",
                "  try:        curl -H 'Authorization: Bearer "
                f"{self.token}' {self.api_url}/api/v1/devices",
                *(practice.banner_lines() if practice is not None else []),
                "Ctrl-C stops everything.",
            ]
        )


def _terminate(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
