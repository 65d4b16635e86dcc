"""Whether Hellotext can be reached, told as state changes rather than attempts.

An outage makes every attempt of every event fail; a line per attempt floods the journal (a
week offline: hundreds of thousands of lines) and hides the one fact an installer needs. So
the sync engine reports each answer here and this logs only:

- one WARNING when Hellotext becomes unreachable, with the cause (DNS, connection refused,
  connect timeout, a 5xx, a captive portal...),
- a WARNING summary at most every SUMMARY_EVERY_SECONDS while it stays so ("Hellotext
  unreachable since 14:02 (connect timeout): 13 events wait in the outbox, oldest 14:01"),
- one INFO line when it answers again, with what that pass delivered, and one more when
  the backlog left by the outage is delivered.

The change is decided at the end of a pass: a failure followed by a success within the same
pass (one 503 among 200s) is no outage and says nothing. The per-attempt lines stay at DEBUG.
Times are the engine's clock (passed in); the zone only formats them for people.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (`status` imports this module: no httpx there)
    from agent.delivery.hellotext import Retry

log = logging.getLogger("agent.sync")

SUMMARY_EVERY_SECONDS = 600.0


def cause_of(retry: Retry) -> str | None:
    """Why a Retry means Hellotext is out of reach; None for a 429 (rate limit, not an outage)."""
    if retry.status == 429:
        return None
    if retry.wrong_answer:
        return "answers look wrong: a captive portal?"
    if retry.status is not None:
        return f"http {retry.status}"
    # The client's transport errors read "unreachable (connection refused)", "timeout (...)".
    error = retry.error
    if error.startswith("unreachable (") and error.endswith(")"):
        return error[len("unreachable (") : -1]
    return error


@dataclass(frozen=True)
class Outage:
    since: float  # clock time of the first failed answer
    cause: str  # the latest failure's cause


def clock_time(moment: float, zone: tzinfo | None, *, now: float | None = None) -> str:
    """'14:02', or '2026-12-01 14:02' when it is not the same day as `now`."""
    when = datetime.fromtimestamp(moment, zone)
    if now is not None and datetime.fromtimestamp(now, zone).date() != when.date():
        return f"{when:%Y-%m-%d %H:%M}"
    return f"{when:%H:%M}"


def headline(outage: Outage, waiting: int, zone: tzinfo | None, *, now: float) -> str:
    """For STATUS=, `status` and the journal: 'Hellotext unreachable since 14:02 (connect
    timeout) — 13 events wait in the outbox'."""
    return (
        f"Hellotext unreachable since {clock_time(outage.since, zone, now=now)}"
        f" ({outage.cause}) — {waiting} {_events(waiting)} {_wait(waiting)} in the outbox"
    )


def _events(count: int) -> str:
    return "event" if count == 1 else "events"


def _wait(count: int) -> str:
    return "waits" if count == 1 else "wait"


class Reachability:
    """Fed by the sync workers (thread-safe); `settle()` after each pass does the logging."""

    def __init__(
        self, zone: tzinfo | None = None, *, summary_every: float = SUMMARY_EVERY_SECONDS
    ) -> None:
        self._zone = zone
        self._summary_every = summary_every
        self._lock = threading.Lock()
        self._failing: Outage | None = None  # failures since the last success
        self.outage: Outage | None = None  # announced: Hellotext is unreachable
        self._summarised = 0.0
        self._back: tuple[Outage, float] | None = None  # (the outage, clock time it ended)
        self._draining: tuple[float, int] | None = None  # (back at, delivered since)

    def failed(self, cause: str, now: float) -> None:
        with self._lock:
            since = self._failing.since if self._failing else now
            self._failing = Outage(since, cause)

    def answered(self, now: float) -> None:
        """Hellotext answered as Hellotext does (sent, parked, refused the token)."""
        with self._lock:
            self._failing = None
            if self.outage is not None:
                self._back = (self.outage, now)
                self.outage = None

    def settle(self, now: float, *, sent: int, waiting: int, oldest: float | None) -> None:
        """After a pass: log what changed (`sent` by this pass, `waiting` in the outbox now)."""
        with self._lock:
            failing, back, self._back = self._failing, self._back, None
            if back is not None:
                self._draining = (back[1], 0)
            if self._draining is not None:
                self._draining = (self._draining[0], self._draining[1] + sent)
            new = failing is not None and self.outage is None
            if failing is not None:
                self.outage = Outage(self.outage.since if self.outage else failing.since,
                                     failing.cause)  # fmt: skip
            outage = self.outage
            summary = (
                outage is not None and not new and now - self._summarised >= self._summary_every
            )
            if new or summary:
                self._summarised = now
        if back is not None:
            was, ended = back
            log.info(
                "Hellotext reachable again after %s (unreachable since %s, %s): %d %s"
                " delivered, %d wait",
                duration(ended - was.since), clock_time(was.since, self._zone, now=now),
                was.cause, sent, _events(sent), waiting,
            )  # fmt: skip
        if outage is not None and (new or summary):
            oldest_text = "" if oldest is None else f", oldest {clock_time(oldest, self._zone)}"
            log.warning(
                "Hellotext unreachable since %s (%s): %d %s %s in the outbox%s; %s",
                clock_time(outage.since, self._zone, now=now), outage.cause, waiting,
                _events(waiting), _wait(waiting), oldest_text,
                "retrying with backoff, a summary every"
                f" {self._summary_every / 60:.0f} min" if new else "still retrying",
            )  # fmt: skip
        if outage is None and self._draining is not None and waiting == 0:
            came_back, delivered = self._draining
            self._draining = None
            if back is None:  # (the line above already said it all)
                log.info(
                    "the backlog is delivered: %d %s since Hellotext answered again at %s",
                    delivered, _events(delivered), clock_time(came_back, self._zone, now=now),
                )  # fmt: skip


def duration(seconds: float) -> str:
    """3725 -> '1 h 2 min'; a week offline reads '7 d 0 h' (logs and `status` alike)."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{secs} s"
