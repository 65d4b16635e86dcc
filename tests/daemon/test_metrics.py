"""/metrics for Prometheus: what a fleet's dashboard sees of a running service.

A real service (tcp tap in front of a fake printer, the stand-in as Hellotext, a real outbox)
serves `[metrics] listen`; the test prints a receipt, waits for its delivery and scrapes
/metrics over HTTP, parsing the text with prometheus_client's own parser.
"""

from __future__ import annotations

import re
import socket
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fake_printer import FakeTcpPrinter, free_port, wait_until
from prometheus_client.parser import text_string_to_metric_families

from agent import __version__
from agent.config import AgentConfig
from agent.daemon.clock import ClockWatch
from agent.daemon.service import Service
from agent.delivery.events import Event, new_event_id
from agent.standin.server import FakeHellotext, Faults

SAMPLE = Path(__file__).resolve().parents[2] / "agent" / "samples" / "supermercado.bin"
TOKEN = "metrics-token"


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def config(tmp_path: Path, url: str, printer_target: str | None = None) -> AgentConfig:
    printers = []
    if printer_target is not None:
        listen = f"127.0.0.1:{free_port()}"
        printers = [{"name": "caja", "mode": "tcp", "listen": listen, "target": printer_target}]
    return AgentConfig(
        hellotext={"api_url": url, "token": TOKEN, "timeout_seconds": 5},
        outbox={"path": tmp_path / "outbox.db"},
        store={"country": "UY", "currency": "UYU", "timezone": "America/Montevideo"},
        printer=printers,
        metrics={"listen": f"127.0.0.1:{free_port()}"},
    )


def test_a_printed_sale_shows_up_in_every_metric(tmp_path: Path) -> None:
    printer = FakeTcpPrinter().start()
    with FakeHellotext(token=TOKEN) as fake:
        cfg = config(tmp_path, fake.url, printer.target)
        # The sample's printed date is the day it was made: trust this clock all the same,
        # then show the gauge follow the watch's verdict.
        watch = ClockWatch(receipt_skew=float("inf"))
        service = Service(cfg, clock=watch)
        service.start()
        try:
            assert service.metrics is not None
            port = service.metrics.port
            host, _, tap_port = cfg.printer[0].listen.rpartition(":")
            data = SAMPLE.read_bytes()
            with socket.create_connection((host, int(tap_port))) as pos:
                pos.sendall(data)
            assert fake.wait_for_events(4, timeout=30)
            assert wait_until(
                lambda: service.outbox is not None and service.outbox.counts()["sent"] == 4, 30
            )
            m = scrape(port)
            watch.built_at = time.time() + 86400  # the clock now reads before the build
            wrong = scrape(port)
        finally:
            service.stop()
            printer.stop()
    caja = (("printer", "caja"),)
    assert m[("hellotext_agent_receipts_total", (("printer", "caja"), ("result", "read")))] == 1
    assert m[("hellotext_agent_receipts_total", (("printer", "caja"), ("result", "unread")))] == 0
    assert m[("hellotext_agent_printer_up", caja)] == 1
    to_printer = (("direction", "to_printer"), ("printer", "caja"))
    assert m[("hellotext_agent_tap_bytes_total", to_printer)] == len(data)
    assert m[("hellotext_agent_outbox_events", (("state", "sent"),))] == 4
    assert m[("hellotext_agent_outbox_events", (("state", "pending"),))] == 0
    assert m[("hellotext_agent_oldest_pending_age_seconds", ())] == 0
    assert m[("hellotext_agent_deliveries_total", (("outcome", "sent"),))] == 4
    assert m[("hellotext_agent_deliveries_total", (("outcome", "parked"),))] == 0
    assert m[("hellotext_agent_paused", ())] == 0
    assert m[("hellotext_agent_clock_suspect", ())] == 0
    assert wrong[("hellotext_agent_clock_suspect", ())] == 1
    assert m[("hellotext_agent_info", (("version", __version__),))] == 1


def sale() -> Event:
    return Event(
        id=new_event_id(),
        action="tienda_fisica.pago",
        session="s",
        amount=Decimal("10.00"),
        currency="UYU",
        tracked_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
    )


def test_a_refused_token_shows_paused_and_a_growing_oldest_pending_age(tmp_path: Path) -> None:
    with FakeHellotext(token="another-token") as fake:
        service = Service(config(tmp_path, fake.url))
        service.start()
        try:
            assert service.outbox is not None and service.syncer is not None
            service.outbox.add([sale()], now=time.time() - 7200)  # waiting for two hours
            service.wake_sync()
            assert wait_until(
                lambda: service.syncer is not None and service.syncer.paused is not None, 30
            )
            assert service.metrics is not None
            m = scrape(service.metrics.port)
        finally:
            service.stop()
    assert m[("hellotext_agent_paused", ())] == 1
    assert m[("hellotext_agent_outbox_events", (("state", "pending"),))] == 1
    assert m[("hellotext_agent_oldest_pending_age_seconds", ())] >= 7200


def test_a_429_shows_rate_limited_in_metrics_and_the_status_line(tmp_path: Path) -> None:
    with FakeHellotext(token=TOKEN, faults=Faults(rate_limit_every=1, retry_after="30")) as fake:
        service = Service(config(tmp_path, fake.url))
        service.start()
        try:
            assert service.outbox is not None and service.metrics is not None
            before = scrape(service.metrics.port)
            service.outbox.add([sale()], now=time.time())
            service.wake_sync()
            assert wait_until(
                lambda: service.syncer is not None and service.syncer.rate_limited() is not None,
                30,
            )
            m = scrape(service.metrics.port)
            line = service.snapshot()["status"]
        finally:
            service.stop()
    assert before[("hellotext_agent_rate_limited", ())] == 0
    assert m[("hellotext_agent_rate_limited", ())] == 1
    assert m[("hellotext_agent_paused", ())] == 0  # a 429 is not a refused token
    assert m[("hellotext_agent_outbox_events", (("state", "pending"),))] == 1  # nothing lost
    # Held at least Retry-After (30 s), at most the 120 s spread: what systemctl status shows.
    assert re.search(r"1 pending, rate limited \(429\): holding all sending for \d+ s more", line)
    assert 29 <= int(re.findall(r"for (\d+) s", line)[0]) <= 120


def test_an_empty_listen_serves_nothing_and_a_bad_one_names_the_key(tmp_path: Path) -> None:
    service = Service(AgentConfig(outbox={"path": tmp_path / "outbox.db"}))
    service.start()
    try:
        assert service.metrics is None  # the default: off
    finally:
        service.stop()
    with pytest.raises(ValueError, match=r"metrics\.listen"):
        AgentConfig(metrics={"listen": "everywhere"})
