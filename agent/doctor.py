"""`hellotext-agent doctor`: checks an installer runs on a till; filled in by its owner."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    """Add the `doctor` subcommand."""
