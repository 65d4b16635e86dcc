"""systemd's notify protocol: one datagram to $NOTIFY_SOCKET. A no-op outside systemd.

Ten lines of socket code do not justify a dependency; the protocol is stable and documented
in sd_notify(3).
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("agent.sdnotify")


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self._sock: socket.socket | None = None
        if self.address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, **fields: str | int) -> None:
        """notify(READY=1, STATUS="...") -> b"READY=1\\nSTATUS=...". Never raises."""
        if self._sock is None:
            return
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            self._sock.sendto(payload, self.address)
        except OSError as exc:  # systemd gone or socket full: the service goes on regardless
            log.debug("sd_notify failed: %s", exc)

    def watchdog_interval(self) -> float | None:
        """Half of WatchdogSec, in seconds, when systemd asked for pings (and for this pid)."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        return int(usec) / 2_000_000

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
