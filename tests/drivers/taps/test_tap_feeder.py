"""The sink feeder: the parser side is fed apart from the printer, bounded and counted."""

from __future__ import annotations

import logging
import threading

import pytest
from fake_printer import wait_until

from drivers.taps.base import SinkFeeder


class GatedSink:
    """Blocks inside data() until released; can raise on chosen chunks."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls: list[tuple[str, bytes | None]] = []

    def data(self, stream: str, chunk: bytes) -> None:
        self.gate.wait(5)
        if chunk.startswith(b"raise-value"):
            raise ValueError("bad receipt")
        if chunk.startswith(b"raise-key"):
            raise KeyError("template")
        self.calls.append((stream, chunk))

    def end(self, stream: str) -> None:
        self.calls.append((stream, None))


def test_a_stuck_sink_makes_the_queue_drop_and_count_never_block(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = GatedSink()
    feeder = SinkFeeder(sink, name="caja", max_bytes=100)
    feeder.start()
    try:
        for _ in range(10):  # 500 bytes into a 100-byte queue, while the sink is stuck
            feeder.data("caja#1", b"x" * 50)
        feeder.end("caja#1")
        assert feeder.dropped >= 7
        overflow_logs = [r for r in caplog.records if "queue full" in r.getMessage()]
        assert len(overflow_logs) == 1
        sink.gate.set()
        assert wait_until(lambda: sink.calls and sink.calls[-1] == ("caja#1", None))
        delivered = [c for _, c in sink.calls if c is not None]
        assert len(delivered) + feeder.dropped == 10
    finally:
        feeder.stop(1)


def test_sink_exceptions_are_counted_and_logged_once_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = GatedSink()
    sink.gate.set()
    feeder = SinkFeeder(sink, name="caja")
    feeder.start()
    try:
        for chunk in [b"raise-value"] * 5 + [b"raise-key"] * 3 + [b"fine"]:
            feeder.data("caja", chunk)
        assert wait_until(lambda: ("caja", b"fine") in sink.calls)
        assert feeder.errors == 8
        logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(logged) == 2
        assert any("ValueError" in m for m in logged) and any("KeyError" in m for m in logged)
    finally:
        feeder.stop(1)


def test_stop_abandons_a_sink_that_never_returns() -> None:
    sink = GatedSink()  # never released
    feeder = SinkFeeder(sink, name="caja")
    feeder.start()
    feeder.data("caja", b"a")
    feeder.data("caja", b"b")
    assert wait_until(lambda: feeder._items and len(feeder._items) == 1)  # "a" is inside the sink
    feeder.stop(0.2)
    assert feeder.dropped == 1  # "b" never reached the parser, and says so
    sink.gate.set()
