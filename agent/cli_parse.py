"""Commands of this area; filled in by its owner."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    """Add this area's subcommands to the `hellotext-agent` parser."""
