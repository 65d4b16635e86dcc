"""Group commit for the ingest endpoint: durability without one fsync per request.

Each request hands its event to `Committer.submit` and waits. One thread writes every event
that queued up while the previous transaction was being committed, in one transaction (with
`synchronous=FULL`, one fsync), then wakes their requests. So a request is answered only after
its event is on disk, and concurrent requests share the cost of the flush.

Clients that wait for their answer before sending the next event arrive in step: the first
one back would otherwise be committed alone while the others are still on their way. So, like
PostgreSQL's commit_delay, the thread waits a moment (GATHER_SECONDS, below an fsync) for as
many events as the busiest of the recent batches held; a lone client never waits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from agent.delivery.events import Event
from agent.delivery.outbox import Outbox
from agent.errors import AgentError, KeyReusedError

log = logging.getLogger("agent.ingest")
MAX_BATCH = 512  # one transaction stays short even under a flood
GATHER_SECONDS = 0.002


class Pending:
    """One submitted event and, once its batch is settled, what the commit raised (None:
    stored, or a replay of an id already stored, answered with the same id). `waiter` is
    the submitter's own token (the app's asyncio future): the committer never touches it."""

    __slots__ = ("event", "waiter", "digest", "error")

    def __init__(self, event: Event, waiter: Any = None, digest: str | None = None) -> None:
        self.event = event
        self.waiter = waiter
        self.digest = digest  # the request body's hash, kept with a keyed event
        self.error: BaseException | None = None


class Committer:
    def __init__(
        self,
        outbox: Outbox,
        *,
        on_commit: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._outbox = outbox
        self._on_commit = on_commit
        self._clock = clock
        self._queue: deque[Pending] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._recent_sizes: deque[int] = deque([1], maxlen=16)
        self._thread = threading.Thread(target=self._loop, name="ingest-commit", daemon=True)
        self._on_settled: Callable[[list[Pending]], None] = lambda batch: None
        self.committed = 0  # events stored (not replays)
        self.batches = 0

    def start(self, on_settled: Callable[[list[Pending]], None]) -> None:
        """Begin committing; `on_settled` gets each batch once its transaction ended (on this
        thread: one call per batch, so the server's loop is woken once, not once per event)."""
        self._on_settled = on_settled
        self._thread.start()

    def submit(self, event: Event, waiter: Any = None, digest: str | None = None) -> Pending:
        pending = Pending(event, waiter, digest)
        with self._ready:
            if self._stopping:
                raise AgentError("the agent is stopping")
            self._queue.append(pending)
            self._ready.notify()
        return pending

    def stop(self, timeout: float = 5.0) -> None:
        """Commit what was submitted, then end the thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _take(self) -> list[Pending] | None:
        with self._ready:
            while not self._queue and not self._stopping:
                self._ready.wait()
            if not self._queue:
                return None  # stopping, nothing left
            deadline = time.monotonic() + GATHER_SECONDS
            target = max(self._recent_sizes)  # as many as the recent busiest batch held
            while len(self._queue) < target and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(left)
            count = min(len(self._queue), MAX_BATCH)
            self._recent_sizes.append(count)
            return [self._queue.popleft() for _ in range(count)]

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            error: BaseException | None = None
            try:
                events, digests = [p.event for p in batch], [p.digest for p in batch]
                result = self._outbox.add(events, now=self._clock(), digests=digests)
                self.committed += len(result.added)
                self.batches += 1
                for at in result.conflicts:  # that key's event holds another body
                    batch[at].error = KeyReusedError(batch[at].event.id)
            except AgentError as exc:  # full disk, broken file: the app gets 503, retries
                log.error("ingest: %s", exc)
                error = exc
            except Exception as exc:  # a bug must not leave requests hanging
                log.exception("ingest: commit failed")
                error = exc
            for pending in batch:
                pending.error = error or pending.error
            try:
                self._on_settled(batch)
            except Exception:  # the listener's bug must not end the commits
                log.exception("ingest: waking the requests failed")
            if error is None and self._on_commit is not None:
                self._on_commit()
