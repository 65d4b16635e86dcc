"""Sales the outbox could not take, mirrored on the runtime tmpfs so a restart keeps them.

`/run/hellotext-agent` (systemd's RuntimeDirectory=, kept across restarts by
RuntimeDirectoryPreserve=) lives in memory, not on the disk that may be full or broken. One
JSON line per held sale; the file is rewritten whole when sales leave it (it is small: it
holds at most `outbox.memory_buffer_events` events) and removed once it is empty.
The file is named after the outbox it belongs to, so two agents (or tests) never share one.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from agent.delivery.events import Event

log = logging.getLogger("agent.spill")


@dataclass
class HeldSale:
    events: list[Event]
    hold: bool  # stored as 'local' (never sent), e.g. a sale without customer, policy local
    arrived: float  # wall-clock capture time
    redate_at: float | None = None  # monotonic capture time when the wall clock was not trusted

    def to_line(self) -> str:
        return json.dumps(
            {
                "events": [e.to_json() for e in self.events],
                "hold": self.hold,
                "arrived": self.arrived,
                "redate_at": self.redate_at,
            }
        )

    @classmethod
    def from_line(cls, line: str) -> HeldSale:
        data = json.loads(line)
        events = [Event.from_json(text) for text in data["events"]]
        return cls(events, bool(data["hold"]), float(data["arrived"]), data.get("redate_at"))


class SpillFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.failed: str | None = None  # why the last write failed (tmpfs full, missing)

    def load(self) -> list[HeldSale]:
        """What a previous run left; a line that cannot be read is logged and skipped."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.error("cannot read the held sales in %s: %s", self.path, exc.strerror)
            return []
        sales: list[HeldSale] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                sales.append(HeldSale.from_line(line))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("%s line %s cannot be read, skipped: %s", self.path, number, exc)
        return sales

    def append(self, sale: HeldSale) -> bool:
        return self._write([sale], mode="a")

    def rewrite(self, sales: list[HeldSale]) -> bool:
        if not sales:
            try:
                self.path.unlink(missing_ok=True)
            except OSError as exc:
                self.failed = exc.strerror or str(exc)
                return False
            self.failed = None
            return True
        return self._write(sales, mode="w")

    def _write(self, sales: list[HeldSale], *, mode: str) -> bool:
        text = "".join(s.to_line() + "\n" for s in sales)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if mode == "w":
                tmp = self.path.with_name(self.path.name + ".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, self.path)
            else:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as fh:
                    fh.write(text)
        except OSError as exc:
            if self.failed is None:
                log.error(
                    "cannot keep held sales in %s (%s): they are in memory only",
                    self.path,
                    exc.strerror,
                )
            self.failed = exc.strerror or str(exc)
            return False
        self.failed = None
        return True
