"""End to end: `hellotext-agent run` as a subprocess with a tcp tap, a serial tap on a pty and
a serial scanner on a pty; python-escpos prints as the POS; the stand-in checks the events.

The daemon is killed with SIGKILL in the middle of the stream of sales and restarted: no sale
may be lost, none counted twice, and every printed byte must have reached the printer.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from escpos.printer import Dummy, Network, Serial
from fake_printer import FakePtyPrinter, FakeTcpPrinter, free_port, wait_until

from agent.delivery.outbox import Outbox
from agent.delivery.status import META_DUPLICATES
from agent.standin.server import FakeHellotext

TOKEN = "e2e-token-0123456789"
ROOT = Path(__file__).resolve().parent.parent


def _raw(fd: int) -> None:
    import tty

    tty.setraw(fd)


def receipt(
    number: str,
    minute: int,
    items: list[tuple[str, str, int, str]],
    total: str,
    phone: str | None = None,
    codepage: str = "CP858",
) -> bytes:
    p = Dummy()
    p.charcode(codepage)
    p.set(align="center", bold=True, double_height=True)
    p.text("ALMACÉN LA ESQUINA\n")
    p.set(align="left", normal_textsize=True)
    p.text(f"e-Ticket {number}\nFecha: 21/11/2026 10:{minute:02d}\n")
    for code, description, quantity, price in items:
        p.text(f"{code} {description}\n")
        amount = Decimal(price.replace(",", ".")) * quantity
        p.text(
            f"{quantity} x {price}".ljust(30) + f"{amount:.2f}".replace(".", ",").rjust(12) + "\n"
        )
    p.set(bold=True)
    p.text("TOTAL".ljust(30) + total.rjust(12) + "\n")
    p.set(bold=False)
    p.text("EFECTIVO".ljust(30) + total.rjust(12) + "\n")
    if phone:
        p.text(f"Tel: {phone}\n")
    p.qr(f"https://example.uy/cfe?{number}", native=True)
    p.cut()
    return bytes(p.output)


SALES: list[dict[str, Any]] = [
    {
        "number": "0001-00000001",
        "minute": 0,
        "phone": "094 555 010",
        "items": [
            ("7730241003258", "Yerba 1kg", 2, "245,00"),
            ("7790070410115", "Café 250g", 1, "189,90"),
        ],
        "total": "679,90",
    },
    {
        "number": "0001-00000002",
        "minute": 5,
        "phone": None,
        "scan": "tel:+59899123456",
        "items": [("7730100000015", "Leche 1L", 3, "52,00")],
        "total": "156,00",
    },
    {
        "number": "0001-00000003",
        "minute": 9,
        "phone": None,
        "items": [("7730200000014", "Pan flauta", 1, "45,00")],
        "total": "45,00",
    },
    {
        "number": "0001-00000004",
        "minute": 12,
        "phone": "099 123 456",
        "items": [("7730241003258", "Yerba 1kg", 1, "245,00")],
        "total": "245,00",
    },
]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    fake = FakeHellotext(token=TOKEN, actions=("tienda_fisica.pago",)).start()
    tcp_printer = FakeTcpPrinter().start()
    pty_printer = FakePtyPrinter(str(tmp_path / "printer-tty")).plug()
    scan_master, scan_slave = os.openpty()
    _raw(scan_slave)
    tap_port = free_port()  # the restarted daemon must listen where the POS prints
    link = tmp_path / "ttyPOS"
    config = tmp_path / "agent.toml"
    config.write_text(f"""
[hellotext]
api_url = "{fake.url}"
timeout_seconds = 3
[store]
terminal_id = "caja-e2e"
store_id = "tienda-1"
timezone = "America/Montevideo"
[outbox]
path = "{tmp_path / "outbox.db"}"
[sync]
interval_seconds = 0.5
base_backoff_seconds = 0.2
max_backoff_seconds = 1
[[printer]]
name = "caja"
mode = "tcp"
listen = "127.0.0.1:{tap_port}"
target = "127.0.0.1:{tcp_printer.port}"
[[printer]]
name = "mostrador"
mode = "serial"
link = "{link}"
target = "{pty_printer.link}"
baudrate = 19200
[[scanner]]
name = "lector"
mode = "serial"
port = "{os.ttyname(scan_slave)}"
""")
    yield {
        "fake": fake,
        "tcp": tcp_printer,
        "pty": pty_printer,
        "scanner": scan_master,
        "port": tap_port,
        "link": link,
        "config": config,
        "tmp": tmp_path,
    }
    fake.stop()
    tcp_printer.stop()
    pty_printer.unplug()
    for fd in (scan_master, scan_slave):
        os.close(fd)


def start_daemon(world: dict[str, Any]) -> subprocess.Popen[bytes]:
    notify = world["tmp"] / f"notify-{time.monotonic_ns()}.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.settimeout(20)
    env = {**os.environ, "HELLOTEXT_API_TOKEN": TOKEN, "NOTIFY_SOCKET": str(notify)}
    with open(world["tmp"] / "daemon.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "--config", str(world["config"]), "run"],
            cwd=ROOT,
            env=env,
            stderr=log,
        )
    try:
        while b"READY=1" not in sock.recv(4096):
            pass
    finally:
        sock.close()
    return proc


def print_tcp(world: dict[str, Any], job: bytes) -> None:
    pos = Network("127.0.0.1", port=world["port"], timeout=5)
    pos.open()
    pos._raw(job)
    pos.close()


def print_serial(world: dict[str, Any], job: bytes) -> None:
    pos = Serial(devfile=str(world["link"]), baudrate=19200, timeout=2)
    pos.open()
    pos._raw(job)
    pos.device.flush()
    pos.close()


def job_for(sale: dict[str, Any]) -> bytes:
    return receipt(sale["number"], sale["minute"], sale["items"], sale["total"], sale["phone"])


def counts(world: dict[str, Any]) -> dict[str, int]:
    with Outbox(world["tmp"] / "outbox.db", synchronous="normal") as outbox:
        return outbox.counts()


def committed(world: dict[str, Any]) -> int:
    return sum(counts(world).values())


def possible_duplicates(world: dict[str, Any]) -> int:
    with Outbox(world["tmp"] / "outbox.db", synchronous="normal") as outbox:
        return int(outbox.get_meta(META_DUPLICATES) or 0)


def scans_read(world: dict[str, Any]) -> int:
    """Scans the daemon has handed to its checkout (its pipeline logs each one)."""
    return (world["tmp"] / "daemon.log").read_text(errors="replace").count(" scan: ")


@pytest.mark.slow
def test_run_end_to_end_with_sigkill(world: dict[str, Any]) -> None:
    fake: FakeHellotext = world["fake"]
    daemon = start_daemon(world)
    sent_tcp = bytearray()
    sent_serial = bytearray()
    try:
        # Sale 1 through the tcp tap, sale 2 through the serial tap after a phone QR scan.
        job = job_for(SALES[0])
        print_tcp(world, job)
        sent_tcp += job
        assert wait_until(lambda: committed(world) >= 3, 30), "sale 1 in the outbox"
        os.write(world["scanner"], SALES[1]["scan"].encode() + b"\r")
        # The scan must be read before the receipt prints, as at a real till: wait for the
        # daemon to take it (one queue feeds scans and receipts, so the order then holds).
        assert wait_until(lambda: scans_read(world) == 1, 30), "the phone QR was not read"
        job = job_for(SALES[1])
        print_serial(world, job)
        sent_serial += job
        assert wait_until(lambda: committed(world) >= 3 + 2, 30), "sale 2 in the outbox"
        # Hellotext goes away; sale 3 is committed but cannot be sent; then SIGKILL.
        fake.set_faults(offline=True)
        job = job_for(SALES[2])
        print_tcp(world, job)
        sent_tcp += job
        assert wait_until(lambda: committed(world) >= 3 + 2 + 2, 30), "sale 3 in the outbox"
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)
        # What the killed daemon may have sent without an answer: the events it held inflight
        # (released and counted at the restart) and the drops it had already counted.
        maybe_sent = counts(world)["inflight"] + possible_duplicates(world)
        fake.set_faults(offline=False)
        daemon = start_daemon(world)
        job = job_for(SALES[3])
        print_serial(world, job)
        sent_serial += job
        expected = sum(1 + len(s["items"]) for s in SALES)
        assert fake.wait_for_events(expected, timeout=30), (
            f"{len(fake.events)} of {expected} events arrived"
        )
        # Once every row is acked nothing is left to send again: a duplicate has arrived by now.
        assert wait_until(lambda: counts(world)["sent"] == expected, 30), counts(world)
        status = json.loads(
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "agent.cli",
                    "--config",
                    str(world["config"]),
                    "status",
                    "--json",
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
                env={**os.environ, "HELLOTEXT_API_TOKEN": TOKEN},
            ).stdout
        )
        assert status["daemon"]["running"] and status["daemon"]["pid"] == daemon.pid
        assert [p["name"] for p in status["devices"]["printers"]] == ["caja", "mostrador"]
        assert [s["name"] for s in status["devices"]["scanners"]] == ["lector"]
        assert status["counts"]["pending"] == 0 and status["counts"]["parked"] == 0
        # `status` owns up to exactly the sends the kill left unanswered (none arrived twice).
        assert status["possible_duplicates"] == maybe_sent
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(15)
    assert code == 0, "SIGTERM must end the daemon cleanly"

    # Every printed byte reached the printers, unchanged.
    tcp, pty = world["tcp"], world["pty"]
    assert wait_until(lambda: len(tcp.received()) >= len(sent_tcp), 10), "tcp printer bytes"
    assert wait_until(lambda: len(pty.received()) >= len(sent_serial), 10), "serial bytes"
    assert hashlib.sha256(tcp.received()).digest() == hashlib.sha256(sent_tcp).digest()
    assert hashlib.sha256(pty.received()).digest() == hashlib.sha256(sent_serial).digest()

    # Exactly the events of the four sales, none twice.
    events = fake.events
    assert fake.duplicates == 0
    assert len(events) == sum(1 + len(s["items"]) for s in SALES)
    profiles = fake.profiles  # by id, as Hellotext stored them
    for sale in SALES:
        mine = [e for e in events if e["metadata"].get("receipt_number") == sale["number"]]
        payment = [e for e in mine if e["action"] == "tienda_fisica.pago"]
        products = [e for e in mine if e["action"] == "product.purchased"]
        assert len(payment) == 1 and len(products) == len(sale["items"]), sale["number"]
        pay = payment[0]
        assert Decimal(str(pay["amount"])) == Decimal(sale["total"].replace(",", "."))
        assert pay["currency"] == "UYU"
        # Printed at 10:MM Montevideo time (UTC-3) on 21/11/2026.
        assert pay["tracked_at"].startswith(f"2026-11-21T13:{sale['minute']:02d}:00")
        assert pay["metadata"]["terminal"] == "caja-e2e"
        assert pay["metadata"]["store"] == "tienda-1"
        # Sent concurrently: they may arrive in any order (tracked_at carries the time).
        by_reference = {e["object_parameters"]["reference"]: e for e in products}
        for code, description, quantity, price in sale["items"]:
            event = by_reference[code]
            params = event["object_parameters"]
            assert params["name"] == description
            assert params["reference"] == code
            assert params["source"] == "tienda_fisica"
            assert Decimal(str(params["price"]["amount"])) == Decimal(price.replace(",", "."))
            # [events] revenue = "payment" (the default): the money is on the payment only.
            assert "amount" not in event and event["metadata"]["quantity"] == str(quantity)
            assert event["tracked_at"] == pay["tracked_at"]
        identities = {(e.get("profile"), e.get("session")) for e in mine}
        assert len(identities) == 1, "all events of a sale belong to one customer"
        profile, session = identities.pop()
        if sale["phone"] or sale.get("scan"):
            assert profile is not None and session is None, (sale["number"], mine)
            # The profile Hellotext holds is the sale's customer: the printed or scanned phone.
            wanted = sale.get("scan", "").removeprefix("tel:") or (
                "+598" + sale["phone"].replace(" ", "").lstrip("0")
            )
            assert profiles[profile]["phone"] == wanted, sale["number"]
        else:
            assert session is not None and profile is None
