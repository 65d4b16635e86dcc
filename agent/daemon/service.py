"""`hellotext-agent run`: taps and scanners → pipeline → outbox, and a scheduler that syncs.

A boring daemon: signal handlers only set a flag; the main thread waits on an event; the
scheduler runs sync (every interval, and at once after a sale), the daily prune and the
systemd watchdog. Nothing polls: idle, every thread is blocked in a wait with a timeout.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import json
import logging
import math
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from agent.config import AgentConfig
from agent.daemon.metrics import MetricsServer, PrinterSample, Snapshot
from agent.daemon.pipeline import Pipeline
from agent.daemon.sdnotify import Notifier
from agent.delivery.events import Event
from agent.delivery.hellotext import HellotextClient
from agent.delivery.outbox import Outbox
from agent.delivery.status import META_DAEMON, META_DEVICES, add_possible_duplicates
from agent.delivery.sync import Syncer, SyncReport
from agent.ingest.server import IngestServer, start_ingest
from agent.receipts import Receipt
from drivers.scanners.hid import HidScanner
from drivers.scanners.serial import SerialScanner
from drivers.taps import Tap, TapOptions, open_tap

log = logging.getLogger("agent.service")
SYNC_PASS_SECONDS = 5.0  # a backlog is drained in short passes: stop and watchdog stay prompt


class Service:
    def __init__(
        self,
        config: AgentConfig,
        *,
        notifier: Notifier | None = None,
        on_committed: Callable[[Receipt, list[Event]], None] | None = None,
    ) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self._on_committed = on_committed
        self.outbox: Outbox | None = None
        self.pipeline: Pipeline | None = None
        self.syncer: Syncer | None = None
        self.ingest: IngestServer | None = None  # the local endpoint for in-store apps
        self._client: HellotextClient | None = None
        self.taps: list[Tap] = []
        self.scanners: list[SerialScanner | HidScanner] = []
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sync_lock = threading.Lock()
        self._sync_heartbeat = time.monotonic()
        self._last_devices = ""
        self._deliveries: Counter[str] = Counter()  # outcome -> total, for metrics
        self.metrics: MetricsServer | None = None

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        self.outbox = Outbox(cfg.outbox.path, synchronous=cfg.outbox.synchronous)
        # The daemon owns the outbox: anything inflight at start was orphaned by a crash, so
        # it is released now rather than after its lease (which covers a whole send round).
        recovered = self.outbox.recover_leases(now=math.inf)
        add_possible_duplicates(self.outbox, recovered)
        if recovered:
            log.warning("%s events were being sent when the agent stopped: will resend", recovered)
        self.pipeline = Pipeline(
            cfg,
            self.outbox,
            local_zone=_zone(cfg.store.timezone),
            on_committed=self._on_committed,
            on_activity=self.wake_sync,
        )
        self.pipeline.start()
        self.ingest = start_ingest(cfg, on_commit=self.wake_sync)
        if cfg.hellotext.token is None:
            log.warning("no Hellotext token configured: events are kept, nothing is sent")
        else:
            self._client = HellotextClient.from_config(cfg)
            self.syncer = Syncer(self.outbox, self._client, config=cfg)
        for printer in cfg.printer:
            fields = {f.name for f in dataclasses.fields(TapOptions)}
            options = TapOptions(**{k: v for k, v in printer.model_dump().items() if k in fields})
            appender = self.pipeline.appenders.get(printer.name)
            tap = open_tap(options, self.pipeline.sink(printer), appender=appender)
            tap.start()
            self.taps.append(tap)
        for scanner in cfg.scanner:
            on_scan = self.pipeline.scan_callback(scanner.name)
            device: SerialScanner | HidScanner
            if scanner.mode == "serial":
                device = SerialScanner(
                    name=scanner.name,
                    port=scanner.port,
                    baudrate=scanner.baudrate,
                    terminator=scanner.terminator,
                    prefix=scanner.prefix,
                    max_length=scanner.max_length,
                    on_scan=on_scan,
                )
            else:
                device = HidScanner(
                    name=scanner.name,
                    device=scanner.device,
                    layout=scanner.layout,
                    grab=scanner.grab,
                    max_length=scanner.max_length,
                    on_scan=on_scan,
                )
            device.start()
            self.scanners.append(device)
        if cfg.metrics.listen:
            self.metrics = MetricsServer(cfg.metrics.listen, self.metrics_snapshot)
            self.metrics.start()
        self._schedule()
        self.outbox.set_meta(
            META_DAEMON, json.dumps({"pid": os.getpid(), "started_at": time.time()})
        )
        self._record_devices()
        release_memory()
        self.notifier.notify(READY=1, STATUS=self._status_line())
        log.info(
            "running: %s printers, %s scanners, outbox %s, %s",
            len(self.taps),
            len(self.scanners),
            cfg.outbox.path,
            self._status_line(),
        )

    def _schedule(self) -> None:
        cfg = self.config
        first = datetime.now(UTC)
        self._scheduler.add_job(
            self._sync_job,
            "interval",
            seconds=cfg.sync.interval_seconds,
            id="sync",
            next_run_time=first,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._scheduler.add_job(
            self._prune_job,
            "interval",
            hours=24,
            id="prune",
            next_run_time=first + timedelta(seconds=60),
            coalesce=True,
        )
        interval = self.notifier.watchdog_interval()
        self._scheduler.add_job(
            self._health_job,
            "interval",
            seconds=min(interval or 10.0, 10.0),
            id="health",
            coalesce=True,
            max_instances=1,
        )
        self._scheduler.start()

    def wake_sync(self) -> None:
        """A sale was committed: sync now rather than at the next tick."""
        self._wake.set()
        if self.syncer is not None and not self._sync_lock.locked():
            job = self._scheduler.get_job("sync")
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC))

    def handle_signals(self) -> None:
        """SIGTERM/SIGINT only set the flag. Installed before start: the ingest endpoint may
        answer apps while the rest starts, and a stop then must still drain it."""

        def handler(signum: int, frame: FrameType | None) -> None:
            self._stop.set()  # only a flag: the main thread does the work

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run_until_signalled(self) -> int:
        self.handle_signals()
        self._stop.wait()
        log.info("stopping")
        self.notifier.notify(STOPPING=1)
        self.stop()
        return 0

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking bytes, commit what arrived, finish the send in flight, close."""
        deadline = time.monotonic() + timeout
        self._stop.set()  # ends the sync loop after its current pass
        for device in [*self.taps, *self.scanners]:
            device.stop(timeout=2.0)
        if self.pipeline is not None:
            self.pipeline.stop(timeout=max(0.5, deadline - time.monotonic() - 4))
        if self.ingest is not None:  # answers the requests in flight, commits them, closes
            self.ingest.stop(timeout=max(0.5, deadline - time.monotonic() - 3))
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self.metrics is not None:
            self.metrics.stop()
        # A send in flight holds the lock; wait for it, bounded (its lease covers a cut-off).
        if self._sync_lock.acquire(timeout=max(0.1, deadline - time.monotonic())):
            self._sync_lock.release()
        if self.syncer is not None:
            self.syncer.close()
        if self._client is not None:
            self._client.close()
        if self.outbox is not None:
            self._record_devices()
            self.outbox.set_meta(META_DAEMON, json.dumps({"stopped_at": time.time()}))
            self.outbox.close()
        self.notifier.close()

    # --- jobs -------------------------------------------------------------------------------

    def _sync_job(self) -> None:
        if self.syncer is None or not self._sync_lock.acquire(blocking=False):
            self._sync_heartbeat = time.monotonic()
            return
        try:
            self._wake.clear()
            while not self._stop.is_set():
                report = self.syncer.run_once(deadline=time.time() + SYNC_PASS_SECONDS)
                self._sync_heartbeat = time.monotonic()
                self._count(report)
                # Go again at once when a sale arrived during the pass, or the pass was cut
                # by its deadline (a backlog): short passes keep SIGTERM and the watchdog prompt.
                if not (self._wake.is_set() or report.stopped_early == "deadline"):
                    break
                self._wake.clear()
        except Exception:  # a bug in one pass must not end syncing for good
            log.exception("sync pass failed")
        finally:
            self._sync_heartbeat = time.monotonic()
            self._sync_lock.release()

    @property
    def clock_suspect(self) -> str | None:
        """Why the wall clock is not trusted now (None: it is); hellotext_agent_clock_suspect.
        Issue 9's ClockWatch provides this (`self.clock.suspect`); until it lands, None."""
        return None

    def _count(self, report: SyncReport) -> None:
        self._deliveries.update(sent=report.sent, retry=report.retried, parked=report.parked)
        if report.paused and report.released:
            self._deliveries["paused"] += 1  # a 401/403 stopped this pass

    def metrics_snapshot(self) -> Snapshot:
        """What /metrics shows, from the state the daemon keeps anyway."""
        outbox, pipeline = self.outbox, self.pipeline
        counts = outbox.counts() if outbox is not None else {}
        oldest = outbox.oldest_pending_at() if outbox is not None else None
        paused = self.syncer.paused is not None if self.syncer is not None else True
        by_printer = pipeline.stats.by_printer if pipeline is not None else {}
        printers = []
        for tap in self.taps:
            s = tap.status()
            up = s.listening and (s.printer_connected or s.mode in ("sniff", "spool"))
            printers.append(PrinterSample(s.name, up, s.bytes_to_printer, s.bytes_from_printer))
        return Snapshot(
            outbox=counts,
            oldest_pending_age=max(0.0, time.time() - oldest) if oldest is not None else None,
            deliveries=dict(self._deliveries),
            receipts={name: dict(results) for name, results in by_printer.items()},
            printers=printers,
            paused=paused,
            clock_suspect=self.clock_suspect is not None,
        )

    def _prune_job(self) -> None:
        if self.outbox is None:
            return
        removed = self.outbox.prune(
            now=time.time(), retention_days=self.config.outbox.sent_retention_days
        )
        if removed:
            log.info(
                "pruned %s sent events older than %s days",
                removed,
                self.config.outbox.sent_retention_days,
            )

    def _health_job(self) -> None:
        alive = self.healthy()
        fields: dict[str, str | int] = {"STATUS": self._status_line()}
        if alive:
            fields["WATCHDOG"] = 1
        self.notifier.notify(**fields)
        self._record_devices()

    def healthy(self) -> bool:
        """Taps, scanners and the pipeline threads run, and sync has not hung."""
        # A pass can outlast its deadline by a request timeout per round of workers.
        stale = max(
            4 * self.config.sync.interval_seconds,
            SYNC_PASS_SECONDS + 4 * self.config.hellotext.timeout_seconds,
        )
        sync_ok = time.monotonic() - self._sync_heartbeat < stale
        devices_ok = all(d.alive() for d in [*self.taps, *self.scanners])
        return sync_ok and devices_ok and self.pipeline is not None and self.pipeline.alive()

    def _status_line(self) -> str:
        if self.outbox is None:
            return "starting"
        counts = self.outbox.counts()
        paused = self.syncer.paused if self.syncer is not None else "no token"
        text = f"{counts.get('pending', 0) + counts.get('inflight', 0)} pending"
        if counts.get("parked"):
            text += f", {counts['parked']} parked"
        return text + (f", paused: {paused}" if paused else "")

    def device_status(self) -> dict[str, Any]:
        stats = self.pipeline.stats if self.pipeline else None
        return {
            "printers": [dataclasses.asdict(t.status()) for t in self.taps],
            "scanners": [dataclasses.asdict(s.status()) for s in self.scanners],
            "pipeline": {
                k: v
                for k, v in dataclasses.asdict(stats).items()
                if k not in ("latencies", "by_printer")
            }
            if stats
            else {},
            "append": {name: a.status() for name, a in self.pipeline.appenders.items()}
            if self.pipeline
            else {},
        }

    def _record_devices(self) -> None:
        """Written for `status` only when something changed: no write every tick."""
        if self.outbox is None:
            return
        text = json.dumps(self.device_status(), sort_keys=True)
        if text != self._last_devices:
            self._last_devices = text
            self.outbox.set_meta(META_DEVICES, text)


def limit_malloc_arenas() -> None:
    """glibc gives each thread its own malloc arena (taps, scanners, sync workers): two are
    plenty for this load and keep freed memory from being spread thin. A no-op elsewhere."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-8, 2)  # M_ARENA_MAX


def release_memory() -> None:
    """Start-up (imports, config, templates) frees a lot; hand it back to the OS."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - musl and others lack it
        return libc
    except (OSError, AttributeError):
        return None


def _zone(name: str) -> tzinfo | None:
    return ZoneInfo(name) if name else None
