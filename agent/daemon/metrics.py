"""Prometheus metrics for a fleet: `[metrics] listen` serves /metrics (prometheus_client).

Nothing is counted twice: at each scrape a collector asks the running service for a
`Snapshot` of the state it already keeps (outbox counts, the sync passes' totals, the taps'
status, the pipeline's per-printer receipt counts) and turns it into metric families. A
scrape never touches the printer's path; it reads the outbox through its lock, like
`status` does.

Metric names: hellotext_agent_outbox_events{state}, _oldest_pending_age_seconds,
_deliveries_total{outcome}, _receipts_total{printer,result}, _printer_up{printer},
_tap_bytes_total{printer,direction}, _paused, _rate_limited, _hellotext_reachable,
_hellotext_unreachable_since_seconds, _outbox_file_bytes, _clock_suspect, _info{version}.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from agent import __version__
from agent.config import parse_host_port
from agent.daemon.pipeline import Pipeline
from agent.delivery.maintenance import file_bytes
from agent.delivery.outbox import Outbox
from agent.delivery.sync import Syncer, SyncReport
from agent.errors import AgentError
from agent.ingest.bounded import BoundedServer, Limits, bind, connection_budget, soft_fd_limit
from drivers.taps import Tap

log = logging.getLogger("agent.metrics")

STATES = ("pending", "inflight", "sent", "parked")
OUTCOMES = ("sent", "retry", "parked", "paused")
RESULTS = ("read", "unread", "void")
MAX_CONNECTIONS = 16  # Prometheus holds one; a few people with curl
FD_SHARE = 0.125  # of the descriptors left after the reserve (ingest takes 0.75)


@dataclass(frozen=True)
class PrinterSample:
    name: str
    up: bool
    bytes_to_printer: int
    bytes_from_printer: int


@dataclass(frozen=True)
class Snapshot:
    outbox: dict[str, int]
    oldest_pending_age: float | None  # seconds; None: nothing pending
    deliveries: dict[str, int]  # outcome -> total since start
    receipts: dict[str, dict[str, int]]  # printer -> result -> total since start
    printers: list[PrinterSample] = field(default_factory=list)
    paused: bool = False
    rate_limited: bool = False
    clock_suspect: bool = False
    unreachable_since: float | None = None  # clock time Hellotext stopped answering
    reachable: bool = True
    outbox_bytes: int = 0  # the database and its WAL on disk


class ServiceCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        p = "hellotext_agent_"
        outbox = GaugeMetricFamily(f"{p}outbox_events", "Events in the outbox", labels=["state"])
        for state in STATES:
            outbox.add_metric([state], snap.outbox.get(state, 0))
        yield outbox
        yield GaugeMetricFamily(
            f"{p}oldest_pending_age_seconds",
            "Age of the oldest event not yet delivered (0: none)",
            value=snap.oldest_pending_age or 0.0,
        )
        deliveries = CounterMetricFamily(
            f"{p}deliveries", "Delivery attempts by what the answer meant", labels=["outcome"]
        )
        for outcome in OUTCOMES:
            deliveries.add_metric([outcome], snap.deliveries.get(outcome, 0))
        yield deliveries
        receipts = CounterMetricFamily(
            f"{p}receipts", "Print jobs by printer and result", labels=["printer", "result"]
        )
        up = GaugeMetricFamily(
            f"{p}printer_up", "The tap listens and reached its printer", labels=["printer"]
        )
        tap = CounterMetricFamily(
            f"{p}tap_bytes", "Bytes forwarded by the tap", labels=["printer", "direction"]
        )
        for printer in snap.printers:
            counts = snap.receipts.get(printer.name, {})
            for result in RESULTS:
                receipts.add_metric([printer.name, result], counts.get(result, 0))
            up.add_metric([printer.name], 1.0 if printer.up else 0.0)
            tap.add_metric([printer.name, "to_printer"], printer.bytes_to_printer)
            tap.add_metric([printer.name, "from_printer"], printer.bytes_from_printer)
        yield receipts
        yield up
        yield tap
        yield GaugeMetricFamily(f"{p}paused", "1 while sending is paused", value=snap.paused)
        yield GaugeMetricFamily(
            f"{p}rate_limited", "1 while a 429 holds or paces sending", value=snap.rate_limited
        )
        yield GaugeMetricFamily(
            f"{p}outbox_file_bytes", "The outbox on disk: database and WAL", value=snap.outbox_bytes
        )
        yield GaugeMetricFamily(
            f"{p}hellotext_reachable",
            "1 while Hellotext answers (0: unreachable, or no sync engine)",
            value=snap.reachable,
        )
        yield GaugeMetricFamily(
            f"{p}hellotext_unreachable_since_seconds",
            "Unix time Hellotext stopped answering (0: it answers)",
            value=snap.unreachable_since or 0.0,
        )
        yield GaugeMetricFamily(
            f"{p}clock_suspect", "1 when the clock looks wrong", value=snap.clock_suspect
        )
        info = InfoMetricFamily("hellotext_agent", "The agent's version")  # ..._info{version}
        info.add_metric([], {"version": __version__})
        yield info


class MetricsServer:
    """/metrics on `listen` ("host:port"), served under the same bounds as the ingest endpoint
    (a small connection budget, header and idle deadlines, a header cap) from a thread of its
    own; stop() closes it."""

    def __init__(self, listen: str, snapshot: Callable[[], Snapshot]) -> None:
        self.host, self.port = parse_host_port(listen)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ServiceCollector(snapshot))
        budget = connection_budget(MAX_CONNECTIONS, FD_SHARE, soft_fd_limit())
        self.limits = Limits(max_connections=budget, body_seconds=5.0, keep_alive_seconds=30.0)
        self._server: BoundedServer | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] not in ("GET", "HEAD"):
            status, body, kind = 405, b"use GET\n", "text/plain"
        else:  # off the loop: a scrape reads the outbox through its lock
            status, kind = 200, CONTENT_TYPE_LATEST
            body = await asyncio.to_thread(generate_latest, self.registry)
        headers = [(b"content-type", kind.encode()), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else body
        await send({"type": "http.response.body", "body": body})

    def start(self) -> None:
        sock = bind(self.host, self.port, "metrics.listen")  # port taken: names the key
        self.port = int(sock.getsockname()[1])  # 0 picks a free one (tests)
        self._server = BoundedServer(self, sock, self.limits, name="metrics-http")
        self._server.start()
        log.info("metrics on http://%s:%s/metrics", self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=5.0)
            self._server = None


class DeliveryTotals:
    """Outcome -> total over the sync passes since start (the deliveries counter)."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()

    def count(self, report: SyncReport) -> None:
        self.totals.update(sent=report.sent, retry=report.retried, parked=report.parked)
        if report.paused and report.released:
            self.totals["paused"] += 1  # a 401/403 stopped this pass


def snapshot_of(
    outbox: Outbox | None,
    pipeline: Pipeline | None,
    syncer: Syncer | None,
    taps: Sequence[Tap],
    deliveries: DeliveryTotals,
    *,
    clock_suspect: bool,
) -> Snapshot:
    """What /metrics shows, from the state the daemon keeps anyway (a degraded outbox: none)."""
    counts = outbox.counts() if outbox is not None else {}
    oldest = outbox.oldest_pending_at() if outbox is not None else None
    by_printer = pipeline.stats.by_printer if pipeline is not None else {}
    outage = syncer.unreachable if syncer is not None else None
    printers = []
    for tap in taps:
        s = tap.status()
        up = s.listening and (s.printer_connected or s.mode in ("sniff", "spool"))
        printers.append(PrinterSample(s.name, up, s.bytes_to_printer, s.bytes_from_printer))
    return Snapshot(
        outbox=counts,
        oldest_pending_age=max(0.0, time.time() - oldest) if oldest is not None else None,
        deliveries=dict(deliveries.totals),
        receipts={name: dict(results) for name, results in by_printer.items()},
        printers=printers,
        paused=syncer.paused is not None if syncer is not None else True,
        rate_limited=syncer is not None and syncer.rate_limited() is not None,
        clock_suspect=clock_suspect,
        unreachable_since=outage.since if outage is not None else None,
        reachable=syncer is not None and outage is None,
        outbox_bytes=file_bytes(outbox.path) if outbox is not None else 0,
    )


def start_metrics(listen: str, snapshot: Callable[[], Snapshot]) -> MetricsServer | None:
    """The /metrics server, or None when off or when it cannot listen: like the local
    endpoint, a taken port is logged and the rest of the agent (printing first) goes on."""
    if not listen:
        return None
    server = MetricsServer(listen, snapshot)
    try:
        server.start()
    except AgentError as exc:
        log.error("%s: no metrics until it is free (the agent runs on)", exc)
        return None
    return server
