"""How the pipeline hands sales to the OutboxKeeper, mixed into Pipeline (daemon/pipeline.py).

A sale is stored, or held by the keeper when the outbox cannot take it (never raised). A
sale whose only time is a capture time taken while the wall clock is not trusted is kept on
the till ('local') with its monotonic instant, to be re-dated and sent once the clock is right.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from agent.config import AgentConfig, PrinterSection
from agent.daemon.captures import Captures
from agent.daemon.clock import ClockWatch
from agent.daemon.keeper import OutboxKeeper, sale_of
from agent.delivery.events import Event
from agent.receipts import Receipt

log = logging.getLogger("agent.pipeline")


class StoreSales:
    config: AgentConfig
    store: OutboxKeeper
    clock: ClockWatch | None
    wall: Callable[[], float]
    stats: Any  # PipelineStats (daemon/pipeline.py imports this module, not the reverse)
    captures: Captures | None
    on_committed: Callable[[Receipt, list[Event]], None] | None
    on_activity: Callable[[], None] | None
    _streams: dict[tuple[str, str], Any]

    def _rescue(self, printer: PrinterSection, stream: str, at: float) -> None:
        """The decoder itself failed: keep the stream's bytes, start it afresh."""
        state = self._streams.pop((printer.name, stream), None)
        if state is not None and self.captures is not None and state.raw:
            reason = "the decoder failed on this job (a bug: please send the file to support)"
            self.captures.save(printer.name, state.take_raw(), now=at, reason=reason)

    def _retry_held(self) -> None:
        if self.store.held:
            self.store.retry()
            self.stats.held_in_memory = self.store.held_events

    def _mono_at(self, arrived: float) -> float:
        """The monotonic instant of a wall-clock capture time read moments ago."""
        return time.monotonic() - max(0.0, self.wall() - arrived)

    def _commit(
        self,
        events: list[Event],
        hold: bool,
        receipt: Receipt | None,
        arrived: float,
        *,
        dated: bool = False,
    ) -> None:
        # Only a capture time, taken from a clock that is wrong: keep it on this till (local)
        # until the clock is trusted, then re-date it from the monotonic clock and send it.
        redate_at = None
        if not dated and not hold and self.clock is not None and self.clock.suspect:
            redate_at, hold = self._mono_at(arrived), True
        added = self.store.add(sale_of(events, hold=hold, arrived=arrived, redate_at=redate_at))
        self.stats.held_in_memory = self.store.held_events
        if added is None:
            self.stats.storage_errors += 1
            return
        self.stats.latencies.append(self.wall() - arrived)
        self.stats.events += len(added.added)
        self.stats.duplicates += len(added.duplicates)
        if receipt is not None:
            log.info(
                "receipt %s: %s %s, %s lines, %s events (%s already stored)%s",
                receipt.number or "-",
                receipt.kind,
                receipt.total,
                len(receipt.lines),
                len(added.added),
                len(added.duplicates),
                " [held locally]" if hold else "",
            )
            if self.on_committed is not None:
                self.on_committed(receipt, events)
        if added.added and self.on_activity is not None and not hold:
            self.on_activity()
