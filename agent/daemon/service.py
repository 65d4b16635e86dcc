"""`hellotext-agent run`: taps and scanners → pipeline → outbox, and loops that sync.

A boring daemon: signal handlers only set a flag; the main thread waits on an event. Two
daemon threads run the rest on the monotonic clock (a wall-clock jump never stalls them):
the sync loop (every interval, and at once after a sale) and the health loop (the systemd
watchdog, STATUS=, the outbox's health, clock jumps). Timed housekeeping (printer probes,
the clock's plausibility, the nightly maintenance) runs on APScheduler (`housekeeping`).

The taps listen before the outbox is opened; an outbox that cannot be used is degraded
service (sales held, STATUS= says what to do, the watchdog pings), never a stop to printing.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import tzinfo
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from agent.config import AgentConfig
from agent.daemon.clock import META_REDATE, ClockWatch, Redates
from agent.daemon.devices import device_status, note_devices, open_devices, warn_if_no_devices
from agent.daemon.health import (
    FAILED_PASSES_UNHEALTHY,
    SyncHealth,
    now_snapshot,
    outage_headline,
    status_file,
    status_line,
    write_status,
)
from agent.daemon.housekeeping import Housekeeping, schedule
from agent.daemon.keeper import OutboxKeeper
from agent.daemon.memory import limit_malloc_arenas, release_memory
from agent.daemon.metrics import DeliveryTotals, MetricsServer, Snapshot, snapshot_of, start_metrics
from agent.daemon.pipeline import Pipeline
from agent.daemon.sdnotify import Notifier
from agent.daemon.spill import HeldSale
from agent.delivery import repair
from agent.delivery.events import Event
from agent.delivery.hellotext import HellotextClient
from agent.delivery.maintenance import MaintenanceReport
from agent.delivery.outbox import AddResult, Outbox
from agent.delivery.status import META_DAEMON, add_possible_duplicates
from agent.delivery.sync import Syncer
from agent.errors import AgentError
from agent.ingest.server import IngestServer, start_ingest
from agent.receipts import Receipt
from drivers.scanners.hid import HidScanner
from drivers.scanners.serial import SerialScanner
from drivers.taps import Tap

__all__ = ["Service", "limit_malloc_arenas"]

log = logging.getLogger("agent.service")
SYNC_PASS_SECONDS = 5.0  # a backlog is drained in short passes: stop and watchdog stay prompt
DETACH_WAIT_SECONDS = 5.0  # a rebuild waits this long for a sync pass to finish


class Service:
    def __init__(
        self,
        config: AgentConfig,
        *,
        notifier: Notifier | None = None,
        on_committed: Callable[[Receipt, list[Event]], None] | None = None,
        clock: ClockWatch | None = None,
    ) -> None:
        self.config, self._on_committed = config, on_committed
        self.notifier = notifier or Notifier()
        self.clock = clock or ClockWatch()
        self.keeper = OutboxKeeper(
            config,
            clock=self.clock.wall,
            detach=self._detach_sync,
            attach=self._attach,
            on_stored=self._stored,
        )
        self.pipeline: Pipeline | None = None
        self.syncer: Syncer | None = None
        self.ingest: IngestServer | None = None  # the local endpoint for in-store apps
        self._client: HellotextClient | None = None
        self.taps: list[Tap] = []
        self.scanners: list[SerialScanner | HidScanner] = []
        self.sync_health = SyncHealth()
        self.redates = Redates()
        self.status_path = status_file(config.outbox.runtime_dir, config.outbox.path)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sync_lock = threading.Lock()
        self._sync_heartbeat = time.monotonic()
        self._last_devices = ""
        self.deliveries = DeliveryTotals()  # hellotext_agent_deliveries_total
        self.metrics: MetricsServer | None = None
        self._threads: list[threading.Thread] = []
        self.housekeeping: Housekeeping | None = None
        self.outbox_jobs = threading.Lock()  # health loop and scheduler: one at a time
        self.last_maintenance: MaintenanceReport | None = None

    @property
    def outbox(self) -> Outbox | None:
        return self.keeper.outbox

    @property
    def outbox_degraded(self) -> str | None:
        """Why the outbox cannot take sales now (None: it can). For status and metrics."""
        return self.keeper.degraded

    @property
    def clock_suspect(self) -> str | None:
        """Why the wall clock is not trusted now (None: it is). For status and metrics."""
        return self.clock.suspect

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        if cfg.hellotext.token is not None:
            self._client = HellotextClient.from_config(cfg)
        else:
            log.warning("no Hellotext token configured: events are kept, nothing is sent")
        self.pipeline = Pipeline(
            cfg,
            self.keeper,
            local_zone=_zone(cfg.store.timezone),
            on_committed=self._on_committed,
            on_activity=self.wake_sync,
            clock=self.clock,
        )
        self.pipeline.start()
        # First: printing never waits on the outbox.
        self.taps, self.scanners = open_devices(self.config, self.pipeline)
        if not self.keeper.start():
            log.error("running degraded: %s", self.keeper.degraded)
        self.clock.changed()  # logs once why the clock is not trusted, if it is not
        for name, target in (("sync-loop", self._sync_loop), ("health", self._health_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.housekeeping = schedule(self)
        self.ingest = start_ingest(cfg, on_commit=self.wake_sync)
        self.metrics = start_metrics(cfg.metrics.listen, self.metrics_snapshot)
        self._record_devices()
        release_memory()
        self.notifier.notify(READY=1, STATUS=self._status_line())
        log.info("running: %s printers, %s scanners, outbox %s, %s", len(self.taps),
                 len(self.scanners), cfg.outbox.path, self._status_line())  # fmt: skip
        warn_if_no_devices(cfg)

    def _attach(self, outbox: Outbox) -> None:
        """The outbox (re)opened: orphaned leases back, due times capped, a sync engine."""
        # The daemon owns the outbox: anything inflight was orphaned (a crash, a rebuild).
        recovered = outbox.recover_leases(now=math.inf)
        add_possible_duplicates(outbox, recovered)
        if recovered:
            log.warning("%s events were being sent when the agent stopped: will resend", recovered)
        repair.clamp_due(
            outbox, now=self.clock.wall(), max_delay=self.config.sync.max_backoff_seconds
        )
        self.redates, earlier = Redates.load(outbox.get_meta(META_REDATE))
        if earlier:  # captured under a wrong clock before a reboot: no exact correction
            log.warning("%s events captured under a wrong clock before a reboot: sent as dated",
                        len(earlier))  # fmt: skip
            repair.redate(outbox, [(i, self.clock.wall()) for i in earlier], now=self.clock.wall())
            outbox.set_meta(META_REDATE, None)
        outbox.set_meta(
            META_DAEMON, json.dumps({"pid": os.getpid(), "started_at": self.clock.wall()})
        )
        self._last_devices = ""
        if self._client is not None:
            self.syncer = Syncer(outbox, self._client, config=self.config, clock=self.clock.wall)
        self.wake_sync()

    def _detach_sync(self) -> None:
        """Before the outbox file is rebuilt: close the sync engine's connection."""
        got = self._sync_lock.acquire(timeout=DETACH_WAIT_SECONDS)
        try:
            syncer, self.syncer = self.syncer, None
            if syncer is not None:
                syncer.close()
        finally:
            if got:
                self._sync_lock.release()

    def _stored(self, sale: HeldSale, result: AddResult) -> None:
        if sale.redate_at is not None and result.added and self.outbox is not None:
            self.redates.items.extend((id, sale.redate_at) for id in result.added)
            self.outbox.set_meta(META_REDATE, self.redates.dump())
        if result.added and not sale.hold:
            self.wake_sync()

    def wake_sync(self) -> None:
        """A sale was committed: sync now rather than at the next tick."""
        self._wake.set()

    def handle_signals(self) -> None:
        """Before start: a SIGTERM while starting must stop cleanly too, not kill."""

        def handler(signum: int, frame: FrameType | None) -> None:
            self._stop.set()  # only a flag: the main thread does the work

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run_until_signalled(self) -> int:
        self.handle_signals()
        # A timeout, not a bare wait: a SIGTERM the kernel hands to another thread only sets
        # CPython's flag, and the main thread runs the handler when it next wakes up.
        while not self._stop.wait(1.0):
            continue
        log.info("stopping")
        self.notifier.notify(STOPPING=1)
        self.stop()
        return 0

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking bytes, commit what arrived, finish the send in flight, close. Bounded:
        a request stuck in the network is left to its daemon thread."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        for device in [*self.taps, *self.scanners]:
            device.stop(timeout=2.0)
        if self.pipeline is not None:
            self.pipeline.stop(timeout=max(0.5, deadline - time.monotonic() - 4))
        if self.ingest is not None:  # answers the requests in flight, commits them, closes
            self.ingest.stop(timeout=max(0.5, deadline - time.monotonic() - 3))
        if self.metrics is not None:
            self.metrics.stop()
        if self.housekeeping is not None:
            self.housekeeping.stop()
        got = self._sync_lock.acquire(timeout=max(0.1, deadline - time.monotonic() - 1))
        syncer, self.syncer = self.syncer, None
        if syncer is not None:
            syncer.close()
        if got:
            self._sync_lock.release()
        for thread in self._threads:  # bounded: a request stuck in the network stays behind
            thread.join(timeout=max(0.2, deadline - time.monotonic() - 0.5))
        if self._client is not None:
            self._client.close()
        if self.outbox is not None:
            try:
                self._record_devices()
                self.outbox.set_meta(META_DAEMON, json.dumps({"stopped_at": self.clock.wall()}))
            except AgentError as exc:
                log.error("could not note the stop in the outbox: %s", exc)
        self.keeper.close()
        write_status(self.status_path, {**self.snapshot(), "stopped_at": self.clock.wall()})
        self.notifier.close()

    # --- loops ------------------------------------------------------------------------------

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.config.sync.interval_seconds)
            if self._stop.is_set():
                return
            self._sync_job()

    def _sync_job(self) -> None:
        syncer = self.syncer
        if syncer is None or not self._sync_lock.acquire(blocking=False):
            self._wake.clear()
            self._sync_heartbeat = time.monotonic()
            return
        try:
            self._wake.clear()
            while not self._stop.is_set() and self.syncer is syncer:
                report = syncer.run_once(budget=SYNC_PASS_SECONDS)
                self._sync_heartbeat = time.monotonic()
                self.deliveries.count(report)
                # Go again at once when a sale arrived during the pass, or the pass was cut
                # by its deadline (a backlog): short passes keep SIGTERM and the watchdog prompt.
                if not (self._wake.is_set() or report.stopped_early == "deadline"):
                    break
                self._wake.clear()
            self.sync_health.passed()
        except Exception as exc:  # counted: several in a row show in status and health
            self.sync_health.failed(exc, self.clock.wall())
            log.exception("sync pass failed (%s in a row)", self.sync_health.failed_passes)
        finally:
            self._sync_heartbeat = time.monotonic()
            self._sync_lock.release()

    def _health_loop(self) -> None:
        period = min(self.notifier.watchdog_interval() or 10.0, 10.0)
        while not self._stop.wait(period):
            try:
                with self.outbox_jobs:
                    self._maintain()
            except Exception:  # the watchdog must keep its say whatever broke here
                log.exception("health check failed")
            self._health_job()

    def _maintain(self) -> None:
        """Clock jumps and the outbox file: each health period, on the monotonic clock."""
        jump = self.clock.jump()
        if jump and self.outbox is not None:
            repair.rebase(self.outbox, jump)
        if jump and self.housekeeping is not None:
            self.housekeeping.rebase()
        self.keeper.check()
        if self.outbox is not None and self.syncer is None and self._client is not None:
            self._attach(self.outbox)  # a sync engine that could not open before

    def clock_job(self) -> None:
        """Whether the clock is trusted; once it is again, re-date what waited for it."""
        with self.outbox_jobs:
            if self.clock.changed() is not None or not self.redates.items or self.outbox is None:
                return
            items = [(id, self.clock.corrected(mono)) for id, mono in self.redates.items]
            done = repair.redate(self.outbox, items, now=self.clock.wall())
            log.warning("%s events captured while the clock was wrong re-dated and released", done)
            self.redates.items.clear()
            self.outbox.set_meta(META_REDATE, None)
            self.wake_sync()

    def _health_job(self) -> None:
        alive = self.healthy()
        fields: dict[str, str | int] = {"STATUS": self._status_line()}
        if alive:
            fields["WATCHDOG"] = 1
        self.notifier.notify(**fields)
        self._record_devices()

    def healthy(self) -> bool:
        """Taps, scanners and the pipeline run, and sync neither hung nor keeps failing. A
        broken outbox is degraded service, not a reason for systemd to restart printing."""
        # A pass can outlast its deadline by a request timeout per round of workers.
        stale = max(
            4 * self.config.sync.interval_seconds,
            SYNC_PASS_SECONDS + 4 * self.config.hellotext.timeout_seconds,
        )
        sync_ok = time.monotonic() - self._sync_heartbeat < stale
        failing = self.sync_health.failed_passes >= FAILED_PASSES_UNHEALTHY
        if failing and self.keeper.problem is None:
            sync_ok = False
        devices_ok = all(d.alive() for d in [*self.taps, *self.scanners])
        return sync_ok and devices_ok and self.pipeline is not None and self.pipeline.alive()

    def _status_line(self) -> str:
        counts = None
        if self.outbox is not None:
            try:
                counts = self.outbox.counts()
            except AgentError:
                counts = None
        syncer = self.syncer
        zone, now = _zone(self.config.store.timezone), self.clock.wall()
        return status_line(
            counts=counts,
            unreachable=outage_headline(syncer, counts, zone, now=now),
            paused=(syncer.paused if syncer else None) if self._client else "no token",
            rate_limited=syncer.rate_limited() if syncer else None,
            degraded=self.keeper.degraded,
            clock=self.clock.suspect,
            sync=self.sync_health,
            answers_wrong=bool(syncer and syncer.answers_wrong),
        )

    def snapshot(self) -> dict[str, Any]:
        """Everything `status` and metrics show about this daemon, as plain data."""
        return {
            **now_snapshot(os.getpid()),
            "status": self._status_line(),
            "healthy": self.healthy(),
            "outbox": self.keeper.snapshot(),
            "clock": {"suspect": self.clock.suspect, "redate_pending": len(self.redates.items)},
            "sync": {
                **self.sync_health.as_dict(),
                "answers_wrong": bool(self.syncer and self.syncer.answers_wrong),
                "rate_limited": self.syncer.rate_limited() if self.syncer else None,
                "last_error": self.syncer.last_error if self.syncer else None,
            },
            "devices": device_status(self.taps, self.scanners, self.pipeline),
        }

    def metrics_snapshot(self) -> Snapshot:
        return snapshot_of(self.outbox, self.pipeline, self.syncer, self.taps,
                           self.deliveries, clock_suspect=self.clock_suspect is not None)

    def _record_devices(self) -> None:
        """The status file every period; the outbox's note only when something changed."""
        write_status(self.status_path, self.snapshot())
        self._last_devices = note_devices(
            self.outbox, self._last_devices, device_status(self.taps, self.scanners, self.pipeline)
        )


def _zone(name: str) -> tzinfo | None:
    return ZoneInfo(name) if name else None
