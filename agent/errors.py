"""The agent's branches of the exception tree (root in drivers/errors.py).

AgentError
├── DriverError / DeviceError     (drivers/errors.py)
├── ConfigError        invalid configuration: names the key; the CLI exits 78
│   └── ConfigNotFoundError   no config file at the path
├── OutboxError        the SQLite outbox failed
│   └── StorageFullError   the disk is full: nothing new can be committed
├── DeliveryError      talking to Hellotext failed (translated from httpx)
├── KeyReusedError     an ingest Idempotency-Key came again with another body
└── ReceiptError       a receipt template is invalid or a receipt cannot be read
"""

from __future__ import annotations

from drivers.errors import AgentError, DeviceError, DriverError

__all__ = [
    "AgentError",
    "ConfigError",
    "ConfigNotFoundError",
    "DeliveryError",
    "DeviceError",
    "DriverError",
    "KeyReusedError",
    "OutboxError",
    "ReceiptError",
    "StorageFullError",
]


class ConfigError(AgentError):
    """The configuration is invalid; `problems` is a list of (key, reason)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in problems))


class ConfigNotFoundError(ConfigError):
    """The config file is not there: not an invalid configuration, a missing one."""

    def __init__(self, path: object, variable: str) -> None:
        self.path = path
        super().__init__([("config", f"{path} not found (use --config PATH or ${variable})")])
        self.hint = f"config file not found: {path} (use --config PATH or ${variable})"


class OutboxError(AgentError):
    """The outbox database could not be read or written."""


class StorageFullError(OutboxError):
    """The disk (or the database's size limit) is full; committed rows are intact."""


class DeliveryError(AgentError):
    """A request to Hellotext could not be completed."""


class ReceiptError(AgentError):
    """A receipt template is invalid, or a receipt could not be read."""


class KeyReusedError(AgentError):
    """An Idempotency-Key already stored with another request body (the ingest app: 422)."""
