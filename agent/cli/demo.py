"""`hellotext-agent demo`: the whole agent on virtual devices, in under a minute.

It starts the Hellotext stand-in, a virtual receipt printer behind a real tcp tap, a virtual
serial scanner on a pty, and plays the bundled receipts as a POS would (scans first, then the
print job over TCP). Midway the stand-in goes offline, events pile up in the outbox (a check-in
tablet posts one through the local ingest endpoint too), then it comes back and the backlog
drains. At the end it scrapes the agent's /metrics as a fleet's Prometheus would, and one sale
goes the `[events] model = "orders"` way (agent.cli.demo_orders). Everything is the code `run`
uses; only the devices are virtual.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from agent.cli.demo_orders import orders_sale
from agent.config import AgentConfig, ReceiptsSection
from agent.daemon.clock import ClockWatch
from agent.daemon.ocr import tesseract_problem
from agent.daemon.service import Service
from agent.delivery.events import Event
from agent.receipts import Receipt
from agent.standin.server import FakeHellotext
from drivers.escpos.star import detect_command_set

DEMO_TOKEN = "demo-token-not-secret"
DEMO_APPEND = {
    "qr": "SMSTO:+59899000000:QUIERO {receipt}",
    "lines": ["¿Querés ofertas por WhatsApp?", "Escaneá y envianos el mensaje"],
    "kinds": ["sale"],
}
DEMO_APP_TOKEN = "demo-tablet-token"  # the in-store app's own token, never Hellotext's
APP_ACTION = "evento.asistio"


SHOWN_METRICS = (
    "hellotext_agent_outbox_events",
    "hellotext_agent_deliveries_total",
    "hellotext_agent_receipts_total",
    "hellotext_agent_printer_up",
    "hellotext_agent_tap_bytes_total",
    "hellotext_agent_paused",
)


def _scrape(port: int) -> dict[str, float]:
    """GET /metrics as Prometheus would: the samples (name{labels} -> value) of the families
    the demo shows."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(SHOWN_METRICS) and not sample.name.endswith("_created"):
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def _post_checkin(port: int, evento: str = "demo") -> str:
    """An in-store app (a check-in tablet) posting to the agent as it would to Hellotext."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = {"action": APP_ACTION, "email": "ana@example.com", "metadata": {"evento": evento}}
        headers = {"Authorization": f"Bearer {DEMO_APP_TOKEN}", "Idempotency-Key": "tablet:1"}
        conn.request("POST", "/v1/attribution/events", body=json.dumps(body), headers=headers)
        answer = conn.getresponse()
        return f"{answer.status} {answer.read().decode()}"
    finally:
        conn.close()


@dataclass
class _Seen:
    rows: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def committed(self, receipt: Receipt, events: list[Event]) -> None:
        who = next((e.phone or e.session or e.profile for e in events), "") or ""
        who = "phone ···" + who[-3:] if who.startswith("+") else who[:18]
        with self.lock:
            self.rows.append(
                (receipt.number or "-", receipt.kind, str(receipt.total), who, len(events))
            )


class VirtualPrinter:
    """A receipt printer on 127.0.0.1: swallows jobs, answers status requests (DLE EOT)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = 0
        threading.Thread(target=self._accept, name="virtual-printer", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                self.received += len(data)
                if b"\x10\x04" in data:
                    conn.sendall(b"\x12")  # online, drawer closed

    def close(self) -> None:
        self.server.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _plan(ocr_problem: str | None) -> list[dict[str, Any]]:
    """The receipts to print; the one printed as a picture only when Tesseract can read it."""
    folder = resources.files("agent") / "samples"
    plan: list[dict[str, Any]] = json.loads((folder / "plan.json").read_text("utf-8"))
    plan = [step for step in plan if not (step.get("raster") and ocr_problem)]
    for step in plan:
        step["bytes"] = (folder / step["receipt"]).read_bytes()
    return plan


def run_demo(*, console: Console | None = None, pause: float = 1.2) -> int:
    console = console or Console()
    ocr_problem = tesseract_problem(ReceiptsSection().ocr_languages)
    plan = _plan(ocr_problem)
    seen = _Seen()
    with (
        tempfile.TemporaryDirectory(prefix="hellotext-demo-") as tmp,
        FakeHellotext(token=DEMO_TOKEN, actions=("tienda_fisica.pago", APP_ACTION)) as fake,
    ):
        printer = VirtualPrinter()
        master, slave = os.openpty()
        tap_port, app_port, metrics_port = _free_port(), _free_port(), _free_port()
        config = AgentConfig(
            hellotext={"api_url": fake.url, "timeout_seconds": 3, "probe_interval_seconds": 2},
            store={
                "terminal_id": "caja-demo",
                "store_id": "demo",
                "country": "UY",
                "currency": "UYU",
                "timezone": "America/Montevideo",
            },
            outbox={"path": Path(tmp) / "outbox.db", "synchronous": "normal"},
            sync={"interval_seconds": 1, "max_backoff_seconds": 2, "base_backoff_seconds": 0.5},
            printer=[
                {
                    "name": "caja",
                    "mode": "tcp",
                    "listen": f"127.0.0.1:{tap_port}",
                    "target": f"127.0.0.1:{printer.port}",
                    "idle_seconds": 1,
                    "append": DEMO_APPEND,  # the opt-in QR block before each sale's cut
                }
            ],
            scanner=[{"name": "lector", "mode": "serial", "port": os.ttyname(slave)}],
            ingest={"listen": f"127.0.0.1:{app_port}"},
            metrics={"listen": f"127.0.0.1:{metrics_port}"},  # what Prometheus would scrape
        )
        hellotext = config.hellotext.model_copy(update={"token": SecretStr(DEMO_TOKEN)})
        ingest = config.ingest.model_copy(update={"token": SecretStr(DEMO_APP_TOKEN)})
        config = config.model_copy(update={"hellotext": hellotext, "ingest": ingest})
        # The bundled receipts carry the date they were made on: a replay's printed times say
        # nothing about this machine's clock, so only the build-date check stays on.
        clock = ClockWatch(receipt_skew=math.inf)
        service = Service(config, on_committed=seen.committed, clock=clock)
        console.print(_intro(plan, ocr_problem), highlight=False)
        service.start()
        phase = "online"
        try:
            with Live(
                _view(service, fake, seen, phase), console=console, refresh_per_second=4
            ) as live:
                for index, step in enumerate(plan):
                    if index == len(plan) // 3:
                        fake.set_faults(offline=True)
                        phase = "OFFLINE: events wait in the outbox"
                        live.console.print("[yellow]Hellotext went offline[/yellow]")
                        answer = _post_checkin(app_port)
                        live.console.print(f"check-in tablet -> local endpoint: {answer}")
                        answer = _post_checkin(app_port, "otro")  # a bug in the app: refused
                        live.console.print(f"the same Idempotency-Key, another body: {answer}")
                    if index == 2 * len(plan) // 3:
                        fake.set_faults(offline=False)
                        phase = "back online: the backlog drains"
                        waiting = service.outbox.counts()["pending"] if service.outbox else 0
                        live.console.print(
                            f"[green]Hellotext is back[/green]: {waiting} events waited offline"
                        )
                    live.console.print(_step_line(step), highlight=False, markup=False)
                    for code in step["scans"]:
                        os.write(master, code.encode() + b"\r")
                        time.sleep(0.1)
                    with socket.create_connection(("127.0.0.1", tap_port), timeout=5) as pos:
                        pos.sendall(step["bytes"])
                    _sleep_updating(live, pause, service, fake, seen, phase)
                deadline = time.monotonic() + (25 if ocr_problem else 90)  # OCR takes seconds
                while time.monotonic() < deadline and not _drained(service, seen, plan):
                    _sleep_updating(live, 0.5, service, fake, seen, "draining")
                live.update(_view(service, fake, seen, "done"))
            metrics = _scrape(metrics_port)
        finally:
            service.stop()
            printer.close()
            os.close(master)
            os.close(slave)
        appended = service.pipeline.appenders["caja"].status() if service.pipeline else {}
        ocr_read = service.pipeline.stats.ocr_read if service.pipeline else 0
        console.print()  # a Live view not on a terminal ends without a line break
        if ocr_problem:
            console.print(f"[yellow]skipped a receipt printed as a picture[/yellow]: {ocr_problem}")
        else:
            console.print(f"{ocr_read} of 1 receipt printed as a picture (a Windows driver's "
                          "raster) read by OCR.")
        orders_ok, orders_line = orders_sale(Path(tmp))  # the other [events] model
        console.print(orders_line, markup=False, highlight=False)
        return _summary(console, fake, seen, printer, plan, appended, metrics, orders_ok)


def _intro(plan: list[dict[str, Any]], ocr_problem: str | None) -> str:
    star = sum(detect_command_set(step["bytes"]) == "star" for step in plan)
    scans = sum(len(step["scans"]) for step in plan)
    picture = "" if ocr_problem else ", one printed as a picture and read by OCR"
    return (
        "[bold]What this demo shows[/bold]: the agent as `run` starts it, on virtual devices."
        f" A POS prints {len(plan)} sample receipts from Uruguayan shops (ESC/POS, {star} in"
        f" Star Line Mode{picture}) through a tcp tap to a virtual printer, and {scans} codes"
        " are read on a virtual serial scanner. Hellotext (a local stand-in) goes offline for"
        " the middle third while a check-in tablet posts through the local endpoint; then it"
        " comes back and the backlog drains. It ends with a summary (every event delivered"
        " once), the QR blocks printed and the metrics Prometheus would scrape.\n"
    )


def _step_line(step: dict[str, Any]) -> str:
    """What the POS does for one receipt, so the Star and scanner parts show as they happen."""
    if step.get("raster"):
        how = "printed as a picture (raster): read by OCR"
    elif detect_command_set(step["bytes"]) == "star":
        how = "Star Line Mode (a Star printer's own commands)"
    else:
        how = "ESC/POS"
    scans = step["scans"]
    scanned = f"; before it, the serial scanner read {', '.join(scans)}" if scans else ""
    return f"POS prints {step['receipt']}: {how}{scanned}"


def _drained(service: Service, seen: _Seen, plan: list[dict[str, Any]]) -> bool:
    if service.outbox is None:
        return True
    counts = service.outbox.counts()
    stats = service.pipeline.stats if service.pipeline else None
    ocr_pending = any(step.get("raster") for step in plan) and stats is not None and not (
        stats.ocr_read or stats.ocr_failed
    )
    return (
        counts.get("pending", 0) + counts.get("inflight", 0) == 0
        and len(seen.rows) >= len(plan) - 1
        and not ocr_pending
    )


def _sleep_updating(live: Live, seconds: float, *args: Any) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.25)
        live.update(_view(*args))


def _view(service: Service, fake: FakeHellotext, seen: _Seen, phase: str) -> Group:
    receipts = Table(title="Receipts read at the till", expand=True)
    for column in ("number", "kind", "total", "customer", "events"):
        receipts.add_column(column)
    with seen.lock:
        for number, kind, total, who, count in seen.rows:
            receipts.add_row(number, kind, total, who, str(count))
    counts = service.outbox.counts() if service.outbox else {}
    states = "  ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    status = (
        f"Hellotext stand-in: {phase}\nOutbox  {states}\n"
        f"Received by Hellotext: {len(fake.events)} events, duplicates: {fake.duplicates}"
    )
    return Group(receipts, Panel(status, title="delivery"))


def _summary(
    console: Console,
    fake: FakeHellotext,
    seen: _Seen,
    printer: VirtualPrinter,
    plan: list[dict[str, Any]],
    appended: dict[str, Any],
    metrics: dict[str, float],
    orders_ok: bool = True,
) -> int:
    expected = sum(row[4] for row in seen.rows if row[1] != "void") + 1  # + the tablet's
    sent = len(fake.events)
    from_app = sum(e["action"] == APP_ACTION for e in fake.events)
    ok = sent >= expected and fake.duplicates == 0 and len(seen.rows) >= len(plan) - 1
    ok = ok and from_app == 1
    console.print(
        f"\n[bold]Summary[/bold]: {len(seen.rows)} receipts read of {len(plan)} printed, "
        f"{sent} events sent to Hellotext (expected {expected}), duplicates: {fake.duplicates}, "
        f"{printer.received} bytes reached the printer; {from_app} check-in from an in-store app"
        " through the local endpoint."
    )
    skipped = appended.get("skipped", {})
    why = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
    console.print(
        f"QR subscription block ([printer.append]): printed on {appended.get('printed', 0)} "
        f"receipts, skipped on {sum(skipped.values())}" + (f" ({why})" if why else "") + ".",
        markup=False,
    )
    console.print("Metrics, as Prometheus scrapes them from [metrics] listen (non-zero ones):",
                  markup=False)  # fmt: skip
    for name in sorted(metrics):
        if metrics[name]:
            console.print(f"  {name} {metrics[name]:g}", markup=False, highlight=False)
    sent_metric = metrics.get('hellotext_agent_deliveries_total{outcome="sent"}', -1)
    ok = ok and sent_metric == sent and orders_ok  # the fleet's dashboard: what Hellotext got
    console.print("[green]demo OK[/green]" if ok else "[red]demo FAILED[/red]")
    return 0 if ok else 1
