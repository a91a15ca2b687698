"""Real services the tests start for themselves: Mosquitto on a free port, with passwords and ACLs.

Nothing here depends on a broker or database left running on the machine.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt

from agrifleet.contract import device_client_id
from agrifleet.provisioning.acl import FLEET_USER
from agrifleet.provisioning.mosquitto import (
    MosquittoBroker,
    MosquittoConfig,
    free_port,
    wait_for_port,
)
from agrifleet.provisioning.tls import TlsFiles

if TYPE_CHECKING:
    from agrifleet.provisioning.dynsec import DynsecBroker

__all__ = ["Broker", "connack", "free_port", "running_mosquitto", "wait_for_port"]


class Broker(MosquittoBroker):
    """A running Mosquitto; ``add_device`` creates a least-privilege user for a device id."""

    @property
    def fleet_url(self) -> str:
        return self.url_for(FLEET_USER)

    def add_device(self, device_id: str) -> str:
        """Create (or keep) the device's credentials; returns its MQTT URL."""
        self.add_user(device_id)
        return self.url_for(device_id)


def connack(port: int, user: str | None = None, password: str | None = None, *,
            tls: bool = False, ca_file: Path | None = None,
            client_id: str | None = None) -> mqtt.ReasonCode:
    """Connect to 127.0.0.1:port and return the broker's CONNACK reason code.

    A device connects with its own client id (``agrifleet-<device id>``) unless ``client_id``
    says otherwise; anyone else with a random one.
    With ``tls`` the handshake happens in connect() and a certificate it refuses raises
    ``ssl.SSLCertVerificationError``; without ``ca_file`` only the system's CAs are trusted.
    """
    result: dict[str, mqtt.ReasonCode] = {}
    done = threading.Event()
    if client_id is None and user is not None and user != FLEET_USER:
        client_id = device_client_id(user)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "")
    if user is not None:
        client.username_pw_set(user, password)
    if tls:
        client.tls_set(ca_certs=str(ca_file) if ca_file else None)

    def on_connect(c: mqtt.Client, userdata: object, flags: object, rc: mqtt.ReasonCode,
                   props: object) -> None:
        result["rc"] = rc
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(5), "no CONNACK within 5 s"
    finally:
        client.disconnect()
        client.loop_stop()
    return result["rc"]


@contextmanager
def running_mosquitto(
    directory: Path, prefix: str = "agrifleet", tls: TlsFiles | None = None
) -> Iterator[Broker]:
    config = MosquittoConfig(
        directory=directory,
        port=free_port(),
        prefix=prefix,
        users={FLEET_USER: secrets.token_hex(12)},
        tls=tls,
    )
    broker = Broker(config)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, if any."""
    found = [
        p.parent
        for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (p.parent / "pg_ctl").exists()
    ]
    if not found:
        return None
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


class Postgres:
    """A private PostgreSQL cluster; ``create_database`` gives each test its own database."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new empty database, or a copy of database ``template`` (nobody may be connected to
        it; a file copy, far quicker than migrating); returns its SQLAlchemy URL."""
        import psycopg

        name = f"test_{secrets.token_hex(6)}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a test's database when the test is done (its connections closed by force), so a
        session's cluster does not grow by a dozen megabytes per test."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        try:
            with psycopg.connect(
                f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error:
            pass  # the server is gone: its directory goes at the end of the session


def _memory_backed_tmp() -> str | None:
    """/dev/shm when it is a roomy tmpfs, else None (the system's temporary folder).

    Every test creates and drops a database of some 600 files; on ext4 the inode allocator's
    search past recently deleted inodes made each CREATE DATABASE cost half a second of CPU.
    """
    import os
    import shutil

    shm = "/dev/shm"  # a private folder is made inside it with mkdtemp
    try:
        roomy = shutil.disk_usage(shm).free >= 2 * 1024**3 and os.access(shm, os.W_OK)
    except OSError:
        return None
    return shm if roomy else None


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """initdb + pg_ctl a throw-away cluster on a free port (as the postgres user when root)."""
    import os
    import pwd
    import shutil
    import subprocess
    import tempfile

    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    as_root = os.geteuid() == 0
    # The server refuses to run as root; /tmp itself is reachable by the postgres user,
    # pytest's per-user temp dirs are not.
    directory = Path(tempfile.mkdtemp(prefix="agrifleet-pg-", dir=_memory_backed_tmp()))
    runas: list[str] = []
    if as_root:
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
        runas = ["runuser", "-u", "postgres", "--"]
    data, port = directory / "data", free_port()

    def run(*args: str) -> None:
        done = subprocess.run(
            [*runas, *args], cwd=directory, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr or done.stdout}")

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        options = (
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_wal_size=256MB"  # in memory when on /dev/shm
        )
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(directory / "server.log"),
            "-o", options, "-w", "-t", "60", "start")  # fmt: skip
        try:
            yield Postgres(port=port, directory=directory)
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def running_dynsec_mosquitto(
    directory: Path, prefix: str = "agrifleet", tls: TlsFiles | None = None
) -> Iterator[DynsecBroker]:
    """Mosquitto with the dynamic security plugin: only the fleet's account at the start."""
    from agrifleet.provisioning.dynsec import DynsecBroker, DynsecConfig

    config = DynsecConfig(directory=directory, port=free_port(), prefix=prefix,
                          fleet_password=secrets.token_urlsafe(18), tls=tls, as_root=True,
                          persistence=False)
    broker = DynsecBroker(config)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
