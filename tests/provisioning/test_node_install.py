"""provisioning/node and provisioning/server specify: the install script, run as root into a
throw-away root (``--destdir``), makes the config directory private to the agent's user, the
data directory its only writable one, a venv, and installs a unit that `systemd-analyze verify`
accepts (as are the server's units), udev rules and journald limits.

The script runs for real except for two steps a test may not take on this machine: creating a
system user (``--no-useradd --user daemon``: an existing user stands in) and pip downloading the
edge extra (``--no-pip``: the venv is made, the console script is then written as pip writes it).
systemd-analyze checks ExecStart against the live file system, so the verified copy of the
installed unit has its venv path pointed into the throw-away root: the only change made to it.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "provisioning" / "node"
SERVER = ROOT / "provisioning" / "server"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the install script runs as root")


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    probe = subprocess.run([tool, "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"systemd-analyze cannot run here: {probe.stderr.strip()}")
    return tool


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([systemd_analyze(), "verify", str(unit)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"})


def install(destdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(NODE / "install.sh"), "--destdir", str(destdir),
                           "--no-useradd", "--user", "daemon", "--no-pip", *extra],
                          capture_output=True, text=True, timeout=120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@needs_root
def test_the_install_script_lays_out_a_node(tmp_path: Path) -> None:
    root = tmp_path / "root"
    done = install(root)
    assert done.returncode == 0, done.stderr
    assert "agrifleet edge enroll" in done.stdout
    daemon = pwd.getpwnam("daemon")
    conf, data = root / "etc/agrifleet", root / "var/lib/agrifleet"
    assert mode(conf) == 0o700 and conf.stat().st_uid == daemon.pw_uid
    assert mode(data) == 0o750 and data.stat().st_uid == daemon.pw_uid
    venv = root / "opt/agrifleet/venv"
    assert (venv / "bin/python").exists() and venv.stat().st_uid == 0  # the agent cannot edit it
    unit = root / "etc/systemd/system/agrifleet-agent.service"
    text = unit.read_text()
    assert "User=daemon" in text and "ExecStart=/opt/agrifleet/venv/bin/agrifleet edge run" in text
    assert re.search(r"^ReadWritePaths=/var/lib/agrifleet$", text, re.M)
    for setting in ("ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
                    "Restart=on-failure", "WatchdogSec=", "Type=notify", "StartLimitBurst="):
        assert setting in text, setting
    assert (root / "etc/udev/rules.d/99-agrifleet-serial.rules").is_file()
    journald = (root / "etc/systemd/journald.conf.d/agrifleet.conf").read_text()
    assert "SystemMaxUse=" in journald

    # the console script, as pip writes it, then the installed unit through systemd-analyze
    script = venv / "bin/agrifleet"
    script.write_text(f"#!{venv / 'bin/python'}\nimport sys\nfrom agrifleet.cli import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    checked = tmp_path / "agrifleet-agent.service"
    checked.write_text(text.replace("/opt/agrifleet/venv", str(venv)))
    result = verify(checked)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # not even a warning

    again = install(root)  # running it twice changes nothing and does not fail
    assert again.returncode == 0, again.stderr


@needs_root
def test_the_install_script_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    relative = install(tmp_path / "root", "--prefix", "opt/agrifleet")
    assert relative.returncode == 2 and "absolute" in relative.stderr
    unknown = install(tmp_path / "root", "--frobnicate")
    assert unknown.returncode == 2 and "unknown option" in unknown.stderr
    missing = subprocess.run(["sh", str(NODE / "install.sh"), "--destdir", str(tmp_path / "r"),
                              "--no-useradd", "--user", "no-such-user-agrifleet", "--no-pip"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_the_agent_unit_as_shipped_only_lacks_its_venv(tmp_path: Path) -> None:
    """The unit in the repository, its ExecStart pointed at an executable: no warning at all."""
    text = (NODE / "agrifleet-agent.service").read_text()
    unit = tmp_path / "agrifleet-agent.service"
    unit.write_text(text.replace("/opt/agrifleet/venv/bin/agrifleet", "/bin/true"))
    result = verify(unit)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("name", ["agrifleet-broker.service", "agrifleet-fleet.service"])
def test_the_server_units_pass_systemd_analyze_verify(tmp_path: Path, name: str) -> None:
    text = (SERVER / name).read_text()
    if "/usr/sbin/mosquitto" in text and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed")
    unit = tmp_path / name
    unit.write_text(text.replace("/opt/agrifleet/venv/bin/agrifleet", "/bin/true"))
    result = verify(unit)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_the_udev_rules_are_well_formed_and_name_devices_under_agrifleet() -> None:
    """Each rule is KEY op "value" pairs udev knows; the links go to /dev/agrifleet/."""
    pair = re.compile(r'^\s*([A-Z_]+(?:\{[^}]+\})?)\s*(==|!=|\+=|:=|=)\s*"([^"]*)"\s*$')
    known = {"ACTION", "SUBSYSTEM", "ENV", "GOTO", "LABEL", "GROUP", "MODE", "SYMLINK",
             "ATTRS", "KERNEL"}
    links = []
    for line in (NODE / "99-agrifleet-serial.rules").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        for part in line.split('", '):
            part = part if part.endswith('"') else part + '"'
            match = pair.match(part)
            assert match, f"not a udev key: {part!r}"
            assert match.group(1).split("{")[0] in known, match.group(1)
            if match.group(1) == "SYMLINK":
                links.append(match.group(3))
    assert links and all(link.startswith("agrifleet/") for link in links)
