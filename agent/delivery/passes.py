"""One pass of the sync engine: what its workers share, its report, its worker threads."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from agent.delivery.outbox import OutboxRow


@dataclass
class SyncReport:
    sent: int = 0
    retried: int = 0
    parked: int = 0
    released: int = 0  # claimed, then handed back untried (pause, early stop, deadline)
    maybe_delivered: int = 0
    paused: str | None = None
    stopped_early: str | None = None  # why the pass ended before the queue was empty
    busy: bool = False  # another pass was running; this call did nothing

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.parked


@dataclass
class Pass:
    """What the workers of one pass share, behind `lock`."""

    report: SyncReport
    deadline: float | None
    budget_end: float | None = None  # time.monotonic() when the pass must end
    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: deque[OutboxRow] = field(default_factory=deque)
    exhausted: bool = False
    claiming: bool = False  # a worker is claiming the next batch (outside the lock)
    failures: int = 0  # temporary failures since the last success
    stop: bool = False
    rate_limited: float | None = None  # Retry-After of a 429 that ended the pass (0: none)

    def __post_init__(self) -> None:
        self.claimed = threading.Condition(self.lock)


def spawn(fn: Callable[[Pass], None], run: Pass) -> Future[None]:
    """One worker of a pass on a daemon thread (a thread pool's are joined at exit, so a
    request stuck in the network would hold SIGTERM hostage)."""
    future: Future[None] = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            fn(run)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)

    threading.Thread(target=work, name="sync", daemon=True).start()
    return future
