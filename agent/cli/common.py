"""What every command shares: exit codes and the lazily loaded configuration.

Light on purpose (no pydantic here): `track` and `status` start in a fraction of the time the
full configuration model takes to import; they read `Context.data()`, the validated config as
plain data (cached, see fastconfig), and the other commands `Context.config()`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.tokens import config_path

if TYPE_CHECKING:
    from agent.config import AgentConfig

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_PENDING = 3  # `sync`: events are still waiting
EXIT_CONFIG = 78  # EX_CONFIG from sysexits.h: systemd will not restart-loop on it

Handler = Callable[[argparse.Namespace, "Context"], int]
Commands = "argparse._SubParsersAction[argparse.ArgumentParser]"


@dataclass
class Context:
    config_arg: str | None = None
    verbose: bool = False
    _config: AgentConfig | None = field(default=None, repr=False)
    _data: dict[str, Any] | None = field(default=None, repr=False)

    def config(self) -> AgentConfig:
        """Load once; raises ConfigError (exit 78) when the file is missing or invalid."""
        if self._config is None:
            from agent.config import load_config

            self._config = load_config(config_path(self.config_arg, os.environ))
        return self._config

    def config_file(self) -> Path:
        return config_path(self.config_arg, os.environ)

    def data(self) -> dict[str, Any]:
        """The same validated config as plain data (`model_dump(mode="json")`), fast when
        this file was validated before; raises ConfigError like `config()`."""
        if self._data is None:
            from agent.cli import fastconfig

            self._data = fastconfig.load(config_path(self.config_arg, os.environ))
        return self._data


def add_command(
    commands: Any, name: str, handler: Handler, help_text: str, description: str = ""
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help_text, description=description or help_text
    )
    parser.set_defaults(handler=handler)
    return parser
