"""The README's examples work as written: its agent config loads, its commands exist, and its
model rollout walkthrough is the one `agrifleet demo` prints (tests/demo/test_walkthrough.py runs
it against a real demo)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agrifleet.cli import build_parser
from agrifleet.demo.walkthrough import COMMANDS, VARIABLES
from agrifleet.edge.config import load_config

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


def readme_walkthrough() -> tuple[str, list[str]]:
    """The export line and the commands (continued lines kept together) of "Rolling out a
    better model"."""
    section = README.split("## Rolling out a better model", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "no bash block in Rolling out a better model"
    commands: list[str] = []
    for line in block.group(1).splitlines():
        if commands and commands[-1].endswith("\\"):
            commands[-1] += "\n" + line
        else:
            commands.append(line)
    return commands[0], commands[1:]


def test_the_walkthrough_is_what_the_demo_prints() -> None:
    export, commands = readme_walkthrough()
    assert commands == list(COMMANDS)
    assert export.startswith("export ")
    assert re.findall(r"([A-Z_]+)=", export) == list(VARIABLES)
