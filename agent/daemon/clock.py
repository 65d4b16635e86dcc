"""The wall clock, watched against the monotonic one.

A till without a real-time clock boots in 1970 until NTP answers; an operator sets the date
by hand; a dead CMOS battery loses a year. `ClockWatch` (both clocks are parameters, so tests
jump time without touching the machine's) says:

- `jump()`: how far the wall clock moved against the monotonic clock since the last look
  (the daemon then re-bases due times and leases, so a jump never delays an event);
- `suspect`: why the wall clock is implausible now (before this release was built, or far
  from the times printed on the last receipts), or None when it is trusted;
- `corrected(mono)`: the wall time of a monotonic instant of this boot, once trusted: events
  that only had a capture time taken while the clock was wrong are re-dated exactly.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("agent.clock")

BUILT_AT = datetime(2026, 1, 1, tzinfo=UTC).timestamp()  # this release was built after this
RECEIPT_SKEW_SECONDS = 18 * 3600.0  # more than any wrong time zone: the clock itself is off
# One receipt proves nothing: a reprint of last week's, a sample printed to test the till, a
# POS whose own clock is off for one sale. The clock is wrong when this many receipts in a
# row (each a different receipt) put it this far off, all by the same amount give or take
# RECEIPT_AGREE_SECONDS (printed minutes, a slow print): a POS printing live does that.
RECEIPTS_TO_AGREE = 3
RECEIPT_AGREE_SECONDS = 300.0
JUMP_SECONDS = 5.0  # NTP slews small errors; a step this big is a jump
META_REDATE = "clock.redate"  # JSON {"boot": id, "items": [[event id, monotonic], ...]}


def boot_id() -> str:
    """The kernel's id of this boot: a monotonic time means nothing across a reboot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


class ClockWatch:
    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        built_at: float = BUILT_AT,
        receipt_skew: float = RECEIPT_SKEW_SECONDS,
    ) -> None:
        self.wall, self.mono = wall, mono
        self.built_at = built_at
        self.receipt_skew = receipt_skew
        self._last = (wall(), mono())
        # The last receipts: (printed UTC, monotonic at capture, receipt number or "").
        self._receipts: deque[tuple[float, float, str]] = deque(maxlen=RECEIPTS_TO_AGREE)
        self._said: str | None = None

    def jump(self) -> float:
        """Seconds the wall clock jumped since the last call (0.0 when it did not)."""
        wall, mono = self.wall(), self.mono()
        last_wall, last_mono = self._last
        self._last = (wall, mono)
        delta = (wall - last_wall) - (mono - last_mono)
        if abs(delta) < JUMP_SECONDS:
            return 0.0
        log.warning("the wall clock jumped %+.0f s: due times and leases follow it", delta)
        return delta

    def observe_receipt(self, printed: float, captured_mono: float, number: str = "") -> None:
        """A receipt's printed time; the same receipt again (a reprint) counts once."""
        if number and any(number == n for _, _, n in self._receipts):
            return
        self._receipts.append((printed, captured_mono, number))

    def agreed_skew(self) -> float | None:
        """How far the clock is from the POS's printed times, when the last receipts agree
        that it is beyond `receipt_skew` (None: they do not, or too few)."""
        if len(self._receipts) < RECEIPTS_TO_AGREE:
            return None
        skews = [self.corrected(mono) - printed for printed, mono, _ in self._receipts]
        if max(skews) - min(skews) > RECEIPT_AGREE_SECONDS:
            return None
        if all(skew > self.receipt_skew for skew in skews):
            return min(skews)
        if all(skew < -self.receipt_skew for skew in skews):
            return max(skews)
        return None

    def corrected(self, mono: float) -> float:
        return self.wall() - (self.mono() - mono)

    @property
    def suspect(self) -> str | None:
        now = self.wall()
        if now < self.built_at:
            built = datetime.fromtimestamp(self.built_at, UTC)
            return (
                f"the clock says {datetime.fromtimestamp(now, UTC):%Y-%m-%d %H:%M} UTC, before"
                f" this release was built ({built:%Y-%m-%d}): enable time sync"
                " (timedatectl set-ntp true)"
            )
        skew = self.agreed_skew()
        if skew is not None:
            side = "ahead of" if skew > 0 else "behind"
            return (
                f"the clock is {abs(skew) / 3600:.0f} h {side} the time printed on the last"
                f" {RECEIPTS_TO_AGREE} receipts: set the right time (timedatectl set-ntp true)"
                " or check the POS's clock; receipts keep their printed time meanwhile"
            )
        return None

    def changed(self) -> str | None:
        """`suspect`, logged once each time it changes."""
        now = self.suspect
        if now != self._said:
            if now:
                log.error("clock: %s", now)
            else:
                log.warning("clock trusted again: events captured meanwhile are re-dated")
            self._said = now
        return now


class Redates:
    """Events stored 'local' because their only time came from a clock not trusted, with the
    monotonic instant they were captured at; kept in the outbox's meta for a restart within
    the same boot."""

    def __init__(self, items: list[tuple[str, float]] | None = None, boot: str = "") -> None:
        self.items = list(items or [])
        self.boot = boot or boot_id()

    @classmethod
    def load(cls, text: str | None) -> tuple[Redates, list[str]]:
        """The pending re-dates of this boot, and the ids of an earlier boot (not exact)."""
        data = json.loads(text) if text else {}
        items = [(str(i), float(m)) for i, m in data.get("items", [])]
        if data.get("boot", boot_id()) != boot_id():
            return cls(), [i for i, _ in items]
        return cls(items), []

    def dump(self) -> str | None:
        return json.dumps({"boot": self.boot, "items": self.items}) if self.items else None
