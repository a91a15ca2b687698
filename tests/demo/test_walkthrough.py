"""A real `agrifleet demo` is a fleet a technician can practise on: its banner prints the README's
"Rolling out a better model" with the values that run it, those lines, taken from README.md, run
in a shell to a completed rollout, and the demo starts with a season of readings and alert rules.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from agrifleet.demo.walkthrough import COMMANDS, VARIABLES
from tests.services import free_port
from tests.test_readme import readme_walkthrough

pytestmark = pytest.mark.slow  # the README walkthrough against a running demo

BIN = Path(sys.executable).parent  # where `agrifleet` is installed beside this interpreter


@dataclass
class Demo:
    banner: str
    admin_token: str
    export: str  # the banner's export line
    values: dict[str, str]  # what it sets
    folder: Path  # the demo's files, and the technician's shell folders

    def scratch(self, name: str) -> Path:
        """An empty folder for a technician's shell."""
        path = self.folder / name
        path.mkdir()
        return path

    def shell(self, script: str, cwd: Path,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``script`` in bash -e after the banner's export line, as a technician would paste it."""
        return subprocess.run(["bash", "-ec", f"{self.export}\n{script}"], cwd=cwd,
                              env=_clean_env(), capture_output=True, text=True, timeout=timeout)

    def api(self, path: str, **query: Any) -> Any:
        url = f"{self.values['AGRIFLEET_FLEET_URL']}/api/v1{path}"
        request = urllib.request.Request(  # noqa: S310 - the test's own demo
            url + (f"?{urlencode(query)}" if query else ""),
            headers={"Authorization": f"Bearer {self.admin_token}"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())


def _clean_env() -> dict[str, str]:
    """This environment without any fleet setting, with `agrifleet` on the PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """`agrifleet demo` as a newcomer starts it (three nodes, defaults), until its banner.

    Its folder is its own, not under pytest's shared base folder, which other pytest runs on
    this machine prune while a demo of some minutes still uses it.
    """
    workdir = Path(tempfile.mkdtemp(prefix="agrifleet-walkthrough-"))
    process = subprocess.Popen(
        [str(BIN / "agrifleet"), "demo", "--workdir", str(workdir / "files"),
         "--port", str(free_port()), "--duration", "900"],
        env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C stops everything."):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        # about 20 s on an idle machine; minutes on a shared one under load
        assert ready.wait(600) and process.poll() is None, "\n".join(lines[-30:])
        banner = "\n".join(lines)
        export = next(line.strip() for line in lines if line.startswith("  export "))
        admin = re.search(r"API token +(agf_\S+) +\(admin\)", banner)
        assert admin is not None, banner
        values = dict(item.split("=", 1) for item in shlex.split(export)[1:])
        yield Demo(banner=banner, admin_token=admin.group(1), export=export, values=values,
                   folder=workdir)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_banner_prints_the_readme_walkthrough_with_a_technician_token(demo: Demo) -> None:
    assert list(demo.values) == list(VARIABLES)
    after = demo.banner.split(demo.export, 1)[1].split("Ctrl-C stops everything.")[0]
    printed = [line.removeprefix("  ") for line in after.strip("\n").splitlines()]
    _, readme = readme_walkthrough()
    assert printed == "\n".join(readme).splitlines() == "\n".join(COMMANDS).splitlines()
    assert f"API token   {demo.values['AGRIFLEET_TOKEN']}  (technician)" in demo.banner
    keys = Path(demo.values["KEYS"])
    assert (keys / "signing.key").is_file() and (keys / "signing.pub").is_file()
    assert oct((keys / "signing.key").stat().st_mode & 0o777) == "0o600"


def test_rollout_list_says_so_when_there_is_none(demo: Demo) -> None:
    done = demo.shell("agrifleet rollout list", demo.scratch("list"))
    assert (done.returncode, done.stdout) == (0, "no rollouts\n"), done.stderr


def test_the_readme_walkthrough_runs_as_written_to_a_completed_rollout(demo: Demo) -> None:
    _, commands = readme_walkthrough()
    done = demo.shell("\n".join(commands), demo.scratch("technician"), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    version = demo.values["VERSION"]
    assert f"published leaf-disease {version}" in done.stdout
    last = done.stdout.rsplit("rollout ", 1)[1]
    assert last.startswith(f"1: leaf-disease {version} completed"), done.stdout[-3000:]
    rollout = demo.api("/rollouts/1")
    assert {d["device_id"]: d["state"] for d in rollout["devices"]} == {
        "field-01": "active", "field-02": "active", "field-03": "active"}
    assert {d["active"]["version"] for d in rollout["devices"]} == {version}
    assert all(d["takes_offers"] is True for d in rollout["devices"])


def test_the_nodes_start_with_a_season_of_readings_and_the_farm_with_alert_rules(
    demo: Demo,
) -> None:
    now = datetime.now(UTC)
    for span, bucket, least in ((timedelta(days=1), 900, 80), (timedelta(days=7), 7200, 70),
                                (timedelta(days=120), 86400, 110)):
        buckets = demo.api("/devices/field-02/readings", sensor="soil", quantity="soil_moisture",
                           bucket=bucket, since=(now - span).isoformat(), limit=1000)
        assert len(buckets) >= least, (span, len(buckets))
    rules = demo.api("/alert-rules")
    assert sorted((r["kind"], r["enabled"]) for r in rules) == [
        ("disease", True), ("offline", True), ("reading_range", True)]
    disease = next(r for r in rules if r["kind"] == "disease")
    assert disease["min_confidence"] == 0.8
    moisture = next(r for r in rules if r["kind"] == "reading_range")
    assert moisture["quantity"] == "soil_moisture"
    assert moisture["min_value"] < moisture["max_value"]
