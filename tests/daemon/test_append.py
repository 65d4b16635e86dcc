"""`[printer.append]` in the running service: a sale printed through the real TCP tap gets the
QR block before its cut and its payment event says so; a refund (not in kinds) and a job
that is not a receipt print unchanged; status counts both, with the reason."""

from __future__ import annotations

import socket
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import receipt_layouts as layouts
from fake_printer import FakeTcpPrinter, free_port, wait_until
from pydantic import ValidationError

from agent.cli.sync import status_lines
from agent.config import AgentConfig, AppendSection
from agent.daemon.append import ReceiptAppender
from agent.daemon.service import Service
from agent.delivery.status import delivery_status
from agent.receipts import load_template
from drivers.escpos.blocks import append_block, splice, star_block
from drivers.escpos.decoder import cuts_of, decode_all
from drivers.escpos.document import Cut
from drivers.escpos.select import cuts_of as select_cuts_of
from drivers.escpos.select import decode_all as select_decode_all
from drivers.taps import CutRequest

BASKET = [layouts.Item("Leche entera 1L", Decimal("45.00"), code="7730123456789")]
APPEND = {
    "qr": "SMSTO:+59899000000:QUIERO {receipt}",
    "lines": ["¿Querés ofertas por WhatsApp?", "Ticket {receipt}"],
    "kinds": ["sale"],
}


def service_for(tmp_path: Path, printer: FakeTcpPrinter, append: dict[str, Any]) -> Service:
    config = AgentConfig(
        store={"terminal_id": "caja-1", "timezone": "UTC"},
        outbox={"path": tmp_path / "outbox.db", "synchronous": "normal"},
        printer=[{"name": "caja", "mode": "tcp", "listen": f"127.0.0.1:{free_port()}",
                  "target": printer.target, "append": append}],
    )
    return Service(config)


def print_job(service: Service, data: bytes) -> None:
    with socket.create_connection(service.taps[0].address, timeout=5) as pos:  # type: ignore[attr-defined]
        pos.sendall(data)


def payment_metadata(service: Service, number: str) -> dict[str, Any] | None:
    assert service.outbox is not None
    for row in service.outbox.list(limit=100):
        event = row.event
        if event.metadata.get("receipt_number") == number and event.action in (
            "tienda_fisica.pago", "refund.received"
        ):
            return dict(event.metadata)
    return None


@pytest.mark.parametrize("qr_mode", ["native", "raster"])
def test_sale_gets_the_block_refund_and_non_receipts_do_not(
    tmp_path: Path, qr_mode: str
) -> None:
    printer = FakeTcpPrinter().start()
    service = service_for(tmp_path, printer, {**APPEND, "qr_mode": qr_mode})
    service.start()
    try:
        sale = layouts.supermarket(BASKET, number="A 1234567")
        refund = layouts.supermarket(BASKET, kind="refund", number="A 7654321")
        other = b"\x1b@Prueba de impresora\n\x1dV\x00"
        block = append_block(
            ["¿Querés ofertas por WhatsApp?", "Ticket A-1234567"],  # the number as read
            b"SMSTO:+59899000000:QUIERO A-1234567",
            mode=qr_mode,
        )
        want = splice(sale, {cuts_of(sale)[-1].start: block})
        appender = service.pipeline.appenders["caja"]  # type: ignore[union-attr]
        # one job at a time, as a till prints
        for index, (data, printed) in enumerate(((sale, want), (refund, refund), (other, other))):
            print_job(service, data)
            size = len(data)
            assert wait_until(lambda i=index, n=size: len(printer.connections) > i
                              and len(printer.connections[i]) >= n, 5)
            assert wait_until(lambda i=index, p=printed: bytes(printer.connections[i]) == p, 2), \
                appender.status()
        doc = decode_all(bytes(printer.connections[0]))[0]
        assert [line.text for line in doc.lines[-2:]] == [
            "¿Querés ofertas por WhatsApp?", "Ticket A-1234567"
        ]
        if qr_mode == "native":
            assert doc.qr_codes[-1] == "SMSTO:+59899000000:QUIERO A-1234567"

        assert wait_until(lambda: payment_metadata(service, "A-7654321") is not None, 10)
        assert payment_metadata(service, "A-1234567") == {
            "receipt_number": "A-1234567", "terminal": "caja-1", "payment_methods": "efectivo",
            "item_count": 1, "reconciled": True, "receipt_qr": True,
        }
        assert "receipt_qr" not in (payment_metadata(service, "A-7654321") or {})

        assert appender.status() == {"printed": 1, "skipped": {
            "refund not in kinds": 1, "not read as a receipt": 1
        }}
        service._record_devices()
        assert service.outbox is not None
        report = delivery_status(service.outbox, now=time.time())
        text = "\n".join(status_lines(report, now=time.time()))
        assert ("append caja         1 receipts given the block, 2 skipped "
                "(1 not read as a receipt, 1 refund not in kinds)") in text
    finally:
        service.stop()
        printer.stop()


def test_a_receipt_without_a_number_is_skipped_when_the_qr_names_it(tmp_path: Path) -> None:
    printer = FakeTcpPrinter().start()
    service = service_for(tmp_path, printer, APPEND)
    service.start()
    try:
        job = b"\x1bt\x13Cafe 1\n" + b"TOTAL".ljust(30) + b"120,00\n\x1dV\x00"
        print_job(service, job)
        assert wait_until(lambda: printer.received() == job, 5)
        appender = service.pipeline.appenders["caja"]  # type: ignore[union-attr]
        assert wait_until(lambda: appender.status()["skipped"], 5)
        assert appender.status()["skipped"] == {"no receipt number for {receipt}": 1}
    finally:
        service.stop()
        printer.stop()


def test_append_is_refused_where_the_agent_cannot_print_or_the_qr_is_too_long() -> None:
    with pytest.raises(ValidationError, match="only reads"):
        AgentConfig(printer=[{"name": "c", "mode": "sniff", "port": "/dev/ttyS0",
                              "append": {"qr": "x"}}])
    with pytest.raises(ValidationError, match="300 bytes"):
        AgentConfig(printer=[{"name": "c", "mode": "tcp", "listen": "127.0.0.1:9100",
                              "target": "127.0.0.1:9101", "append": {"qr": "x" * 301}}])
    with pytest.raises(ValidationError):
        AgentConfig(printer=[{"name": "c", "mode": "tcp", "listen": "127.0.0.1:9100",
                              "target": "127.0.0.1:9101",
                              "append": {"qr": "x", "kinds": ["void"]}}])


def test_a_star_cut_gets_stars_own_qr_commands() -> None:
    # the agent side answers an ESC d cut (a job the tap decoded as Star) with Star's block
    sale = layouts.supermarket(BASKET, number="A 1234567")
    escpos_cut = cuts_of(sale)[-1]
    star_cut = Cut(escpos_cut.start, escpos_cut.start + 3, escpos_cut.document, "cp858",
                   command=b"\x1bd\x02")
    appender = ReceiptAppender(AppendSection(**APPEND), load_template("generic"),
                               country="UY", currency="UYU")
    decision = appender.decide(CutRequest("caja", "caja", star_cut))
    assert decision.block == star_block(
        ["¿Querés ofertas por WhatsApp?", "Ticket A-1234567"],
        b"SMSTO:+59899000000:QUIERO A-1234567",
    )


CORPUS = Path(__file__).resolve().parents[1] / "corpus"
STAR_APPEND = {"qr": "SMSTO:+59899000000:QUIERO", "lines": ["¿Querés ofertas por WhatsApp?"],
               "kinds": ["sale"]}


def payments(service: Service) -> list[dict[str, Any]]:
    assert service.outbox is not None
    return [dict(row.event.metadata) for row in service.outbox.list(limit=100)
            if row.event.action in ("tienda_fisica.pago", "refund.received")]


def test_star_sales_get_stars_block_end_to_end(tmp_path: Path) -> None:
    # Star receipts of both Star encoders in the corpus (UY, the config's country), through
    # the running service with command_set "auto": the sales get Star's QR block before
    # their last ESC d n cut, the refund prints unchanged, the sales' events say receipt_qr
    jobs = [(CORPUS / part / f"{name}.bin").read_bytes() for part, name in (
        ("train", "r018-uy-ntp-star"), ("train", "r036-uy-receiptline-star"),
        ("train", "r126-uy-ntp-star"))]
    printer = FakeTcpPrinter().start()
    service = service_for(tmp_path, printer, STAR_APPEND)
    service.start()
    try:
        wants = []
        for data in jobs[:2]:
            cut = select_cuts_of(data, command_set="star")[-1]
            assert cut.command.startswith(b"\x1bd") and cut.start == data.rindex(b"\x1bd")
            block = star_block(STAR_APPEND["lines"], STAR_APPEND["qr"].encode(),
                               encoding=cut.encoding)
            wants.append(splice(data, {cut.start: block}))
        wants.append(jobs[2])
        appender = service.pipeline.appenders["caja"]  # type: ignore[union-attr]
        for index, (data, want) in enumerate(zip(jobs, wants, strict=True)):
            print_job(service, data)
            size = len(want)
            assert wait_until(lambda i=index, n=size: len(printer.connections) > i
                              and len(printer.connections[i]) >= n, 5)
            assert bytes(printer.connections[index]) == want, appender.status()
        for index in range(2):
            doc = select_decode_all(bytes(printer.connections[index]), command_set="star")[-1]
            assert doc.lines[-1].text == "¿Querés ofertas por WhatsApp?"
            assert doc.qr_codes[-1] == "SMSTO:+59899000000:QUIERO"
        assert appender.status() == {"printed": 2, "skipped": {"refund not in kinds": 1}}
        assert wait_until(lambda: len(payments(service)) == 3, 10)
        assert sorted(bool(m.get("receipt_qr")) for m in payments(service)) == [
            False, True, True]
    finally:
        service.stop()
        printer.stop()
