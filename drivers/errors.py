"""The one exception tree of the agent, rooted here so that drivers/ (which imports nothing
from agent/) and agent/ share it. agent/errors.py adds the agent's own branches.

    AgentError
    ├── DriverError            drivers/: hardware and decoding
    │   └── DeviceError        a device is missing, unplugged or refuses IO
    └── (agent/errors.py)      ConfigError, OutboxError, DeliveryError, ReceiptError
"""

from __future__ import annotations

# No DecodeError: every decoder here is lenient by design (garbage is skipped and counted,
# never raised), so an exception class nothing raises was removed rather than kept as a lure.


class AgentError(Exception):
    """Root of every error the agent raises on purpose."""


class DriverError(AgentError):
    """A driver failed; lower-level errors (OSError, serial.SerialException) are wrapped."""


class DeviceError(DriverError):
    """A device could not be opened, read or written."""

    def __init__(self, device: str, reason: str) -> None:
        super().__init__(f"{device}: {reason}")
        self.device = device
        self.reason = reason
