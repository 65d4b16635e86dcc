"""When to try a failed delivery again: exponential backoff with full jitter.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads the retries of
many terminals that lost the internet at the same moment, so they do not all come back in
step. `Retry-After` from the server is a floor, never shortened by the jitter, but it is
capped at the configured maximum backoff: a `Retry-After: 999999` must not push every event
days out.
"""

from __future__ import annotations

import random

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
