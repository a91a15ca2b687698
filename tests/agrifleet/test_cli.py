"""One `agrifleet` command: every part has --help, and a missing extra gives a one-line hint."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agrifleet.cli import PARTS, build_parser


@pytest.mark.parametrize("part", [name for name, _, _ in PARTS])
def test_every_part_has_help(part: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([part, "--help"])
    assert exit_.value.code == 0
    assert "usage: agrifleet" in capsys.readouterr().out


def _run_without(blocked: list[str], *argv: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter where the given packages cannot be imported."""
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "from agrifleet.cli import main\n"
        f"sys.exit(main({list(argv)!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("blocked", "argv", "extra"),
    [
        (["fastapi", "uvicorn", "sqlmodel", "sqlalchemy"], ["fleet", "serve"], "fleet"),
        (["serial", "pymodbus"], ["sim", "sensors"], "edge"),
        (["tensorflow"], ["model", "train", "--data", "d", "--out", "o"], "train"),
    ],
)
def test_missing_extra_gives_a_one_line_hint(
    blocked: list[str], argv: list[str], extra: str
) -> None:
    done = _run_without(blocked, *argv)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    hint = [line for line in done.stderr.splitlines() if "pip install" in line]
    assert len(hint) == 1
    assert f"agrifleet[{extra}]" in hint[0]
