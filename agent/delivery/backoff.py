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

RATE_LIMIT_SPREAD_SECONDS = 60.0  # a rate-limited till returns within this (or Retry-After)
_MAX_EXPONENT = 60  # 2**60 seconds is far past any cap; avoids float overflow


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
    """The till-wide wait after a 429, on the sync engine's clock."""

    def __init__(self, *, cap: float, rng: random.Random) -> None:
        self.until = 0.0  # nothing is sent before this clock time
        self.probing = False  # the pass after a hold runs one worker
        self._longest = max(RATE_LIMIT_SPREAD_SECONDS, cap)  # Retry-After is capped at `cap`
        self._rng = rng

    def holds(self, now: float) -> bool:
        # A wall clock set back must not stretch a hold past the longest one could be.
        self.until = min(self.until, now + self._longest)
        return now < self.until

    def settle(self, rate_limited: float | None, *, now: float) -> None:
        """After a pass: `rate_limited` is the Retry-After of the 429 that ended it (0: none
        given), None when no 429 did."""
        self.probing = rate_limited is not None
        if rate_limited is None:
            return
        spread = RATE_LIMIT_SPREAD_SECONDS
        hold = retry_delay(0, base=spread, cap=spread, rng=self._rng, retry_after=rate_limited)
        self.until = now + hold
        logging.getLogger("agent.sync").info(
            "sync: rate limited (429): holding all sending for %.0f s", hold
        )
