"""The README's examples work as written: its agent config loads and its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agrifleet.cli import build_parser
from edge.config import load_config

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_agent_config_example_loads(tmp_path: Path) -> None:
    block = re.search(r"```toml\n(.*?)```", README, re.S)
    assert block is not None
    path = tmp_path / "agent.toml"
    path.write_text(block.group(1))
    (tmp_path / "mqtt-password").write_text("secret")
    config = load_config(path)
    assert config.device_id == "field-07"
    assert [s.type for s in config.sensors] == ["modbus-soil"]
    assert [c.type for c in config.cameras] == ["command"]


@pytest.mark.parametrize(
    "command",
    sorted(set(re.findall(r"\bagrifleet (demo|(?:edge|fleet|sim|model) [a-z-]+)", README))),
)
def test_readme_commands_exist(command: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command.split(), "--help"])
    assert exit_.value.code == 0


def test_every_shell_variable_the_commands_use_is_set_before() -> None:
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", README, re.S):
        assigned: set[str] = set()
        for line in block.splitlines():
            used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", line.split("#")[0]))
            assert used <= assigned, f"{sorted(used - assigned)} used before set in: {line}"
            assigned |= set(re.findall(r"(?:^|export\s+|\s)([A-Za-z_][A-Za-z0-9_]*)=", line))
