"""Every command answers --help and is documented in the README (as sqlite-utils does)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from agent.cli import build_parser, main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*prefix, name))
                found.extend(_commands(sub, (*prefix, name)))
    return found


COMMANDS = _commands(build_parser())


def test_the_expected_commands_exist() -> None:
    names = {" ".join(c) for c in COMMANDS}
    for wanted in (
        "run",
        "demo",
        "doctor",
        "config check",
        "parse",
        "track",
        "sync",
        "status",
        "outbox list",
        "outbox show",
        "outbox retry",
        "fake-hellotext",
    ):
        assert wanted in names


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_command_has_help_and_is_in_readme(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: hellotext-agent {' '.join(command)}" in capsys.readouterr().out
    assert f"hellotext-agent {' '.join(command)}" in README, f"README lacks {command}"
