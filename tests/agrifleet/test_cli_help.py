"""Every `agrifleet` subcommand, at every depth, says what it does and what each option means."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from agrifleet.cli import build_parser


def _walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _walk(child)


def _options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        yield action


def test_the_walk_reaches_nested_subcommands() -> None:
    progs = {parser.prog for parser in _walk(build_parser())}
    assert "agrifleet fleet migrate" in progs
    assert "agrifleet sim sensors" in progs
    assert "agrifleet demo" in progs
    assert len(progs) > 15


def test_every_subcommand_has_a_description() -> None:
    missing = [p.prog for p in _walk(build_parser()) if not (p.description or "").strip()]
    assert missing == []


def test_every_option_has_help() -> None:
    missing = [
        f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
        for parser in _walk(build_parser())
        for action in _options(parser)
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS
    ]
    assert missing == []
