"""From tap bytes and scans to committed sales, on one worker thread.

Taps and scanners only enqueue (never block: a full queue drops the parser's copy, counted,
while the printer keeps its bytes). The worker owns every decoder and the checkout, so none
of them needs a lock; time is read once per item and passed down to the pure code. Raster
receipts go to the OCR worker (daemon/ocr.py) and come back through the queue ("ocr").
Sales go to an OutboxKeeper (daemon/store.py: stored, or held when the outbox cannot take
them; never raised); a job the reader fails on is kept as a capture and counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from agent.config import AgentConfig, PrinterSection
from agent.daemon.append import ReceiptAppender
from agent.daemon.captures import Captures, Spool
from agent.daemon.clock import ClockWatch
from agent.daemon.keeper import OutboxKeeper
from agent.daemon.ocr import merge_ocr, ocr_worker
from agent.daemon.store import StoreSales
from agent.daemon.streams import QueueBytes, Stream
from agent.delivery.events import Event, stable_event_id
from agent.delivery.outbox import Outbox
from agent.errors import ConfigError, ReceiptError
from agent.receipts import Receipt, Template, extract, load_template
from agent.sales.checkout import Checkout, printed_at
from agent.sales.events import SalePolicy, anonymous_session, events_for_sale
from drivers.escpos.document import Document
from drivers.escpos.select import make_decoder
from drivers.scanners.barcodes import Product, VariableMeasure, VariableMeasureLayout, classify
from drivers.scanners.base import Scan

log = logging.getLogger("agent.pipeline")


@dataclass
class PipelineStats:
    receipts: int = 0
    unread: int = 0
    voids: int = 0
    scans: int = 0
    events: int = 0
    duplicates: int = 0
    dropped_chunks: int = 0
    storage_errors: int = 0  # sales the outbox refused (held, not lost)
    held_in_memory: int = 0  # events waiting for the outbox (memory + spill file)
    reader_failures: int = 0  # jobs the reader raised on (kept as captures)
    worker_errors: int = 0  # other failures of the worker (a decoder bug)
    ocr_read: int = 0  # raster print jobs whose pictures OCR read (receipt or not)
    ocr_failed: int = 0  # OCR failed or timed out, or the agent stopped first: kept unread
    ocr_problem: str = ""  # why raster jobs cannot be read (Tesseract missing, ocr = "off")
    pictures_dropped: int = 0  # jobs whose pictures passed receipts.max_picture_bytes
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=5000))
    # printer -> read | unread | void -> count (metrics' hellotext_agent_receipts_total)
    by_printer: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, printer: str, result: str) -> None:
        results = self.by_printer.setdefault(printer, {})
        results[result] = results.get(result, 0) + 1


class _Sink:
    """The TapSink a tap calls from its own thread: enqueue and return at once."""

    def __init__(self, pipeline: Pipeline, printer: PrinterSection) -> None:
        self.pipeline, self.printer = pipeline, printer

    def data(self, stream: str, chunk: bytes) -> None:
        self.pipeline.put(("data", self.printer, stream, chunk, self.pipeline.wall()))

    def end(self, stream: str) -> None:
        self.pipeline.put(("end", self.printer, stream, b"", self.pipeline.wall()))


class Pipeline(StoreSales):
    def __init__(
        self,
        config: AgentConfig,
        store: OutboxKeeper | Outbox,
        *,
        local_zone: tzinfo | None,
        on_committed: Callable[[Receipt, list[Event]], None] | None = None,
        on_activity: Callable[[], None] | None = None,
        max_queue: int = 10_000,
        clock: ClockWatch | None = None,
    ) -> None:
        self.config = config
        self.store = (
            store if isinstance(store, OutboxKeeper) else OutboxKeeper(config, outbox=store)
        )
        self.clock = clock
        self.wall = clock.wall if clock is not None else time.time  # capture times
        self.local_zone = local_zone
        self.on_committed = on_committed
        self.on_activity = on_activity
        self.stats = PipelineStats()
        self.templates = self._load_templates(config)
        self.appenders = {  # printers with [printer.append]: the taps ask these at each cut
            printer.name: ReceiptAppender(printer.append, self.templates[printer.name],
                                          country=config.store.country,
                                          currency=config.store.currency)
            for printer in config.printer
            if printer.append is not None
        }
        folder = config.receipts.capture_dir or config.outbox.path.parent / "captures"
        self.captures = (
            Captures(Path(folder), keep=config.receipts.capture_keep)
            if config.receipts.capture != "none"
            else None
        )
        if self.captures is not None:
            self.captures.clean()
        self.checkout = Checkout(
            config.store.terminal_id,
            window_seconds=config.checkout.window_seconds,
            price_checker=config.checkout.price_checker,
        )
        self.policy = SalePolicy(
            store_id=config.store.store_id,
            currency=config.store.currency,
            source=config.store.source,
            payment_action=config.store.payment_action,
            unidentified=config.store.unidentified,
            **config.events.model_dump(),  # revenue, model, order_delivery, coupon_*
        )
        self.layouts = tuple(
            VariableMeasureLayout(**{**layout.model_dump(), "prefixes": tuple(layout.prefixes)})
            for layout in config.barcodes.variable_measure
        )
        self._queue: queue.Queue[tuple[str, Any, str, Any, float]] = queue.Queue(max_queue)
        self._streams: dict[tuple[str, str], Stream] = {}
        self._queued = QueueBytes()
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        self._stopping = False
        self.ocr, self.stats.ocr_problem = ocr_worker(config.receipts)

    @staticmethod
    def _load_templates(config: AgentConfig) -> dict[str, Template]:
        templates: dict[str, Template] = {}
        folder = Path(config.receipts.templates_dir)
        for index, printer in enumerate(config.printer):
            try:
                templates[printer.name] = load_template(printer.template, templates_dir=folder)
            except ReceiptError as exc:
                raise ConfigError([(f"printer[{index}].template", str(exc))]) from exc
        return templates

    def sink(self, printer: PrinterSection) -> _Sink:
        return _Sink(self, printer)

    def scan_callback(self, scanner: str) -> Callable[[Scan], None]:
        return lambda scan: self.put(("scan", scanner, "", scan, self.wall()))

    def put(self, item: tuple[str, Any, str, Any, float]) -> None:
        size = len(item[3]) if item[0] == "data" else 0
        if self._queued.take(size):  # bounded in bytes too: a raster flood is not held
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                self._queued.give(size)
        self.stats.dropped_chunks += 1
        if size:  # the rest of that job cannot be read: skipped (cheap) until its end
            self._queued.lost.add((item[1].name, item[2]))
        if self.stats.dropped_chunks == 1:
            log.error("parser queue full: dropping the parser's copy (printing unaffected)")

    def start(self) -> None:
        for printer in self.config.printer:  # code page tables now, not when a job is arriving
            self._stream(printer, "")
        if self.ocr is not None:
            self.ocr.start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Process the queue, end open receipts (a cut may not come), keep jobs OCR missed."""
        self._stopping = True
        for key in self.ocr.stop(timeout / 2) if self.ocr is not None else ():
            self.put(("ocr", key, "", (None, "the agent stopped before OCR"), self.wall()))
        self.put(("stop", None, "", None, self.wall()))
        self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._idle_timeout(self.wall()))
            except queue.Empty:
                self._end_idle(self.wall())
                continue
            kind, who, stream, payload, at = item
            if kind == "data":
                self._queued.give(len(payload))
            try:
                if kind == "stop":
                    for state in self._streams.values():
                        self._documents(state, state.decoder.flush(), at)
                    self._streams.clear()
                    return
                if kind == "data":
                    self._data(who, stream, payload, at)
                elif kind == "end":
                    self._end(who, stream, at)
                elif kind == "scan":
                    self._scan(payload, at)
                elif kind == "ocr":
                    self._ocr_result(who, *payload)
                self._retry_held()
            except Exception:  # the parser must never die: keep the bytes, count, carry on
                self.stats.worker_errors += 1
                log.exception("pipeline: %s from %s failed", kind, getattr(who, "name", who))
                if kind in ("data", "end"):
                    self._rescue(who, stream, at)

    def _idle_timeout(self, now: float) -> float | None:
        deadlines = [
            s.last_data + s.printer.idle_seconds for s in self._streams.values() if s.armed
        ]
        if self.store.held:
            deadlines.append(now + 5.0)
        return max(0.0, min(deadlines) - now) if deadlines else None

    def _stream(self, printer: PrinterSection, stream: str) -> Stream:
        key = (printer.name, stream)
        state = self._streams.get(key)
        if state is None:
            codepage_map = dict(printer.codepage_map) or None
            decoder = make_decoder(
                printer.command_set, codepage=printer.codepage, codepage_map=codepage_map,
                max_picture_bytes=self.config.receipts.max_picture_bytes,
            )
            folder = self.captures.folder if self.captures is not None else None
            state = self._streams[key] = Stream(printer, decoder, raw=Spool(folder))
        return state

    def _data(self, printer: PrinterSection, stream: str, chunk: bytes, at: float) -> None:
        state = self._stream(printer, stream)
        if not state.armed:
            state.first_data = at
        state.last_data, state.armed = at, True
        if (printer.name, stream) in self._queued.lost:
            return  # a chunk of this job was dropped: no reading it, until an end or idle gap
        if self.captures is not None:
            state.raw.add(chunk)
        docs = state.decoder.feed(chunk)
        if docs:
            state.armed = False
            self._documents(state, docs, at)

    def _end(self, printer: PrinterSection, stream: str, at: float) -> None:
        state = self._streams.pop((printer.name, stream), None)
        self._queued.lost.discard((printer.name, stream))
        if state is not None:
            self._documents(state, state.decoder.flush(), state.first_data or at)

    def _end_idle(self, now: float) -> None:
        for key, state in self._streams.items():
            if state.armed and now - state.last_data >= state.printer.idle_seconds:
                state.armed = False
                self._queued.lost.discard(key)
                self._documents(state, state.decoder.idle(), state.last_data)
        self._retry_held()

    def _documents(self, state: Stream, docs: list[Document], arrived: float) -> None:
        """Read each document; the bytes behind them are kept on disk when one was not read
        (or always, with receipts.capture = "all")."""
        raw = state.take_raw()
        problems = []
        for doc in (d for d in docs if d.has_content):
            if doc.pictures_dropped:  # the text is still read; the job is kept for a look
                self.stats.pictures_dropped += 1
                limit = f"{self.config.receipts.max_picture_bytes >> 10} KB"
                problems.append(f"its pictures passed receipts.max_picture_bytes ({limit}): "
                                "dropped, not read")  # fmt: skip
            try:
                problem = self._read(state.printer, doc, raw, arrived)
            except Exception as exc:  # a reader bug must not lose the sale: the bytes are kept
                self.stats.reader_failures += 1
                log.exception("%s: the reader failed on a print job", state.printer.name)
                problem = f"the reader failed on this job ({type(exc).__name__}: {exc})"
            if problem:
                problems.append(problem)
        self._capture(state.printer, raw, problems, arrived)

    def _capture(self, printer: PrinterSection, raw: Spool, problems: list[str], at: float) -> None:
        keep = self.config.receipts.capture == "all" or problems
        if not (self.captures is not None and keep and raw):
            raw.discard()  # a spooled job nobody needs: its file goes
        else:
            reason = "; ".join(problems) or "print job captured"
            level = logging.WARNING if problems else logging.DEBUG
            self.captures.save(printer.name, raw, now=at, reason=reason, level=level)

    def _read(self, printer: PrinterSection, doc: Document, raw: Spool, at: float) -> str | None:
        """A receipt printed as pictures goes to OCR (its bytes with it); the rest is read."""
        store, template = self.config.store, self.templates[printer.name]
        receipt = extract(doc, template=template, country=store.country, currency=store.currency)
        if receipt.ok or not doc.has_raster or doc.ocr:
            return self._document(printer, doc, at, receipt)
        if self.ocr is not None and self.ocr.submit(
            (printer, doc, raw, at), doc.images, self._ocr_done
        ):
            return None  # read when OCR is done
        self.stats.unread += 1
        return "a raster print job (a receipt printed as pictures) was not read: " + (
            self.stats.ocr_problem or "the OCR queue is full"
        )

    def _ocr_done(self, key: Any, lines: Any, error: str | None) -> None:
        self._queue.put(("ocr", key, "", (lines, error), self.wall()), timeout=60)  # a sale: wait

    def _ocr_result(self, key: Any, lines: Any, error: str | None) -> None:
        printer, doc, raw, arrived = key
        self.stats.ocr_read += lines is not None
        self.stats.ocr_failed += lines is None
        self.stats.unread += lines is None
        problem = (
            self._read(printer, merge_ocr(doc, lines), raw, arrived)
            if lines is not None
            else f"a raster print job was not read: {error}"
        )
        self._capture(printer, raw, [problem] if problem else [], arrived)

    def _document(
        self, printer: PrinterSection, doc: Document, arrived: float, receipt: Receipt
    ) -> str | None:
        """Make one read document a sale; the reason when it is not a receipt."""
        if not receipt.ok:
            self.stats.unread += 1
            self.stats.count(printer.name, "unread")
            reason = receipt.problem or "; ".join(receipt.warnings) or "no total"
            if self.captures is None:
                log.warning("%s: a print job of %s lines was not read as a receipt: %s",
                            printer.name, len(doc.lines), reason)  # fmt: skip
            return f"a print job of {len(doc.lines)} lines was not read as a receipt: {reason}"
        printed = printed_at(receipt, local_zone=self.local_zone)
        if printed is not None and self.clock is not None:
            self.clock.observe_receipt(
                printed.timestamp(), self._mono_at(arrived), receipt.number or ""
            )
        trusted = self.clock is None or self.clock.suspect is None
        sale = self.checkout.complete(
            receipt, now=arrived, text=doc.text, local_zone=self.local_zone, trust_clock=trusted
        )
        appender = self.appenders.get(printer.name)
        receipt_qr = appender is not None and appender.took_block(doc)
        result = events_for_sale(sale, self.policy, receipt_qr=receipt_qr)
        if not result.events:
            self.stats.voids += 1
            self.stats.receipts += 1
            self.stats.count(printer.name, "void")
            log.info("%s: receipt %s: %s", printer.name, receipt.number or "-", result.reason)
            return None
        self._commit(list(result.events), result.hold, receipt, arrived, dated=printed is not None)
        self.stats.receipts += 1  # after the commit: a reader of the stats sees it stored
        self.stats.count(printer.name, "read")
        return None

    def _scan(self, scan: Scan, at: float) -> None:
        self.stats.scans += 1
        cfg = self.config
        meaning = classify(
            scan.code,
            symbology=scan.symbology,
            country=cfg.store.country,
            layouts=self.layouts,
            loyalty_pattern=cfg.barcodes.loyalty_pattern,
        )
        log.info("scan: %s (%s)", type(meaning).__name__, scan.symbology or "?")
        viewed = self.checkout.add_scan(scan, meaning)
        if viewed is not None and isinstance(viewed.meaning, Product | VariableMeasure):
            self._commit([self._viewed(viewed.meaning, scan)], False, None, at)

    def _viewed(self, product: Product | VariableMeasure, scan: Scan) -> Event:
        code = product.plu if isinstance(product, VariableMeasure) else product.code
        terminal = self.config.store.terminal_id
        return Event(
            id=stable_event_id(terminal, "viewed", code, repr(scan.at)),
            action="product.viewed",
            session=anonymous_session("viewed", terminal, code, repr(scan.at)),
            object_parameters={"reference": code, "source": self.config.store.source, "name": code},
            tracked_at=datetime.fromtimestamp(scan.at, UTC),
            metadata={"terminal": terminal},
        )
