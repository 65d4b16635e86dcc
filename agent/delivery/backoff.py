"""When to try a failed delivery again: exponential backoff with full jitter.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads the retries of
many terminals that lost the internet at the same moment, so they do not all come back in
step. `Retry-After` from the server is a floor, never shortened by the jitter, but it is
capped at the configured maximum backoff: a `Retry-After: 999999` must not push every event
days out.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

RATE_LIMIT_SPREAD_SECONDS = 120.0  # a rate-limited till returns within this (or Retry-After)
PACED_START_RATE = 1.0  # requests/s of a till back from a 429 hold
PACED_SLACK = 1.05  # gaps a little over 1/rate: a till's own last request has left the window
PACED_DOUBLING_SECONDS = 20.0  # the paced rate doubles after this long without a 429
PACED_FREE_RATE = 16.0  # from this rate on, the till sends with all its workers again
_MAX_EXPONENT = 60  # 2**60 seconds is far past any cap; avoids float overflow

log = logging.getLogger("agent.sync")


def ceiling(attempts: int, *, base: float, cap: float) -> float:
    """The upper bound of the jitter window after `attempts` failed tries (0 = first failure)."""
    return min(cap, base * 2.0 ** min(max(attempts, 0), _MAX_EXPONENT))


def retry_delay(
    attempts: int,
    *,
    base: float,
    cap: float,
    rng: random.Random,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait: uniform(0, min(cap, base * 2**attempts)), at least `retry_after`
    (itself at most `cap`)."""
    delay = rng.uniform(0.0, ceiling(attempts, base=base, cap=cap))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


class Hold:
    """The till-wide answer to a 429: hold, then pace, then send freely again.

    A fleet sharing one account's limit is the case this is shaped for (200 tills measured by
    benchmarks/fleet.py, the choice explained in benchmarks/fleet_model.py). After a 429 the
    till sends nothing for a random hold, then takes a turn at one request a second, the gaps
    kept from one request's start to the next so that a till that got in keeps its place in
    the server's window. The rate doubles after every PACED_DOUBLING_SECONDS without a 429
    (the room a drained till leaves is taken) and at PACED_FREE_RATE the till sends with all
    its workers again. A 429 while paced: hold again, from the start rate.

    `until` is on the engine's clock; the pacing on the monotonic clock, since its gaps are
    under a second or two and a wall-clock jump must not stretch one.
    """

    def __init__(
        self,
        *,
        cap: float,
        rng: random.Random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.until = 0.0  # nothing is sent before this clock time
        self.rate: float | None = None  # paced: requests/s; None: sending freely
        self._longest = max(RATE_LIMIT_SPREAD_SECONDS, cap)  # Retry-After is capped at `cap`
        self._rng = rng
        self._monotonic = monotonic
        self._next = 0.0  # monotonic time the next paced request may start
        self._since: float | None = None  # when the current rate began (None: not yet sent)

    @property
    def paced(self) -> bool:
        return self.rate is not None

    def holds(self, now: float) -> bool:
        # A wall clock set back must not stretch a hold past the longest one could be.
        self.until = min(self.until, now + self._longest)
        return now < self.until

    def settle(self, rate_limited: float | None, *, now: float, sent: int = 0) -> None:
        """After a pass: `rate_limited` is the Retry-After of the 429 that ended it (0: none
        given), None when no 429 did; `sent` is what the pass got through."""
        if rate_limited is None:
            return
        spread = RATE_LIMIT_SPREAD_SECONDS
        if self.rate is None:  # a till that got more through before the 429 has a bigger
            spread /= 1 + sent / 2  # share of the account: it comes back sooner
        hold = retry_delay(0, base=spread, cap=spread, rng=self._rng, retry_after=rate_limited)
        self.until = now + hold
        self.rate, self._since, self._next = PACED_START_RATE, None, 0.0
        log.info(
            "sync: rate limited (429): holding all sending for %.0f s, then %g request/s",
            hold,
            PACED_START_RATE,
        )

    def describe(self, now: float) -> str | None:
        """What a 429 still does to sending, for `status` (None: nothing)."""
        if self.holds(now):
            return f"holding all sending for {self.until - now:.0f} s more"
        if self.rate is not None:
            return f"{self.rate:g} request/s, doubling every {PACED_DOUBLING_SECONDS:.0f} s"
        return None

    def wait(self) -> float:
        """Seconds before the next request may start (0 when free or its turn has come)."""
        if self.rate is None:
            return 0.0
        return min(max(0.0, self._next - self._monotonic()), PACED_SLACK / self.rate)

    def answered(self, started: float, *, sent: bool) -> None:
        """A request that started at monotonic time `started` was answered (`sent`: 200).
        Any answer takes its turn: a 5xx while paced does not let the next one go early."""
        if self.rate is None:
            return
        if sent:
            since = started if self._since is None else self._since
            if started - since >= PACED_DOUBLING_SECONDS:
                self.rate, since = self.rate * 2, started
                if self.rate >= PACED_FREE_RATE:
                    log.info("sync: no 429 at %g request/s: sending freely again", self.rate / 2)
                    self.rate = None
                    return
            self._since = since
        self._next = started + PACED_SLACK / self.rate
