"""A printer stream that mixes Star Line Mode and ESC/POS jobs reaches the outbox right:
each job decoded with its own command set, a line's event amount net of its discount."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fake_printer import wait_until

from agent.config import AgentConfig
from agent.daemon.pipeline import Pipeline
from agent.delivery.outbox import Outbox
from tests.daemon.test_pipeline import job

ESC, GS = b"\x1b", b"\x1d"


def star_job() -> bytes:
    def row(left: str, right: str) -> bytes:
        return f"{left:<30}{right:>12}\n".encode("cp1252")

    return (ESC + b"@" + ESC + GS + b"t\x20" + ESC + b"E" + "ALMACÉN LA ESTRELLA\n".encode(
        "cp1252") + ESC + b"F" + b"Ticket 0005-00000042\nFecha: 21/11/2026 10:20\n"
        + b"Vino tinto\n" + row("  2 x 450,00", "900,00") + row("  Bonif. 2da unidad 50%",
                                                               "-225,00")
        + row("Pan flauta", "60,00") + ESC + b"i\x01\x00" + ESC + b"E" + row("TOTAL", "735,00")
        + ESC + b"F" + ESC + b"i\x00\x00" + row("EFECTIVO", "735,00") + ESC + b"d\x03")


def test_star_and_escpos_jobs_on_one_stream(tmp_path: Path) -> None:
    cfg = AgentConfig(
        store={"terminal_id": "caja-1", "timezone": "UTC"},
        events={"revenue": "products"},  # the lines carry the money: net of their discounts
        outbox={"path": tmp_path / "outbox.db"},
        printer=[{"name": "caja", "mode": "spool", "path": "/tmp", "idle_seconds": 0.3}],
    )
    assert cfg.printer[0].command_set == "auto"
    with Outbox(cfg.outbox.path, synchronous="normal") as outbox:
        pipeline = Pipeline(cfg, outbox, local_zone=None)
        pipeline.start()
        try:
            sink = pipeline.sink(cfg.printer[0])
            stream = star_job() + job("0001-00000007")
            for i in range(0, len(stream), 50):  # a serial port's reads
                sink.data("caja#1", stream[i : i + 50])
            sink.end("caja#1")
            assert wait_until(lambda: pipeline.stats.receipts == 2)
        finally:
            pipeline.stop()
        events = [row.event for row in outbox.list()]
    payments = [e for e in events if e.action == "tienda_fisica.pago"]
    assert sorted(int(e.metadata["item_count"]) for e in payments) == [1, 2]
    assert {e.amount for e in payments} == {None}  # the money is on the lines
    lines = sum((e.amount or 0 for e in events if e.action == "product.purchased"), Decimal(0))
    assert lines == Decimal("189.90") + Decimal("735.00")
    wine = next(e for e in events if e.object_parameters
                and e.object_parameters.get("name") == "Vino tinto")
    assert wine.amount == Decimal("675.00")  # what was paid for it
    assert wine.metadata["discount"] == "225.00"
    assert wine.metadata["gross_amount"] == "900.00"
