"""Acks of the sync workers, committed in groups: one transaction for every ack that arrives
while the previous group is being written (fsyncs are the cost of a delivered event)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from agent.delivery.outbox import Outbox


class GroupAck:
    """Acks from several workers share one transaction; each worker returns only once its
    own ack is committed, so "one request at risk per worker" still holds."""

    def __init__(self, outbox: Outbox, clock: Callable[[], float]) -> None:
        self._outbox = outbox
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._group = 0  # the group new ids join
        self._committed = 0  # groups below this one are written
        self._flushing = False
        self._failed: dict[int, BaseException] = {}

    def ack(self, id: str) -> None:
        with self._cond:
            self._pending.append(id)
            mine = self._group
            while self._committed <= mine:
                if not self._flushing:
                    break
                self._cond.wait()
            else:
                if mine in self._failed:
                    raise self._failed[mine]
                return
            self._flushing = True
            batch, self._pending = self._pending, []
            self._group += 1
        error: BaseException | None = None
        try:
            self._outbox.ack(batch, now=self._clock())
        except BaseException as exc:
            error = exc
            raise
        finally:
            with self._cond:
                if error is not None:
                    self._failed[mine] = error
                self._committed = mine + 1
                self._flushing = False
                self._cond.notify_all()
