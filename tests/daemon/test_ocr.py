"""Raster receipts read by the real Tesseract, off the printing path: the pipeline commits the
sale from a receipt printed as pictures, a failure or a missing Tesseract keeps the job as an
unread capture, the worker's queue is bounded and its runs time out."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fake_printer import wait_until
from raster_receipts import FONTS_MISSING, Sample, fonts_available, sample, text_receipt
from raster_set import raster_sample

from agent.config import AgentConfig
from agent.daemon.ocr import OcrWorker, ocr_document, tesseract_problem
from agent.daemon.pipeline import Pipeline
from agent.delivery.outbox import Outbox
from agent.receipts import GENERIC, extract
from drivers.escpos.decoder import decode_all
from drivers.escpos.raster import RasterImage

LANGUAGES = "spa+por+eng"
pytestmark = [
    pytest.mark.skipif(tesseract_problem(LANGUAGES) is not None,
                       reason=f"Tesseract: {tesseract_problem(LANGUAGES)}"),
    pytest.mark.skipif(not fonts_available(), reason=FONTS_MISSING),
]


def read(s: Sample) -> Any:
    (doc,) = [d for d in decode_all(s.job) if d.has_content]
    assert doc.has_raster
    read = ocr_document(doc, languages=LANGUAGES, timeout=60)
    return read, extract(read, template=GENERIC, country=s.country, currency=s.currency)


@pytest.mark.parametrize(
    ("seed", "encoding", "mixed"),
    [
        (1026, "gs_v0", False),  # a Windows driver's bands: AR sale, phone, e-mail, card
        (1046, "star", False),  # Star TSP100: UY refund with a card number
        (1148, "esc_star", True),  # a text header over 24-dot column bands: UY refund
    ],
)
def test_a_receipt_printed_as_pictures_is_read(seed: int, encoding: str, mixed: bool) -> None:
    s = sample(seed, encoding=encoding, mixed=mixed)
    doc, receipt = read(s)
    truth = s.truth
    assert (receipt.kind, receipt.total) == (truth.kind, truth.total), doc.text
    assert [line.amount for line in receipt.lines] == [a for _, a in truth.lines]
    assert truth.phone and receipt.customer.phone == text_receipt(s).customer.phone
    assert truth.card and truth.card not in str(receipt.to_json())
    ocr = [line.confidence for line in doc.lines if line.confidence is not None]
    assert ocr and all(0 <= c <= 1 for c in ocr)
    if mixed:  # the printed header is printed text, first
        assert [line.confidence for line in doc.lines[:3]] == [None] * 3


def test_an_e_mail_misread_with_the_page_is_read_again_alone() -> None:
    # python-escpos GS v 0 at 203 dpi, Liberation Serif: read with the page, the `@` is lost
    s = raster_sample(11, mode="raster", dpi=203)
    doc, receipt = read(s)
    assert receipt.customer.email == s.truth.email == "maria.gomez@gmail.com", doc.text
    assert receipt.total == s.truth.total


def test_an_8_dot_column_picture_of_whole_pesos_keeps_its_thousands() -> None:
    # ESC * 1 (8-dot, 68 dpi down the paper) from python-escpos: every `.` of `70.740` is
    # read as a comma, which in Chile would make 70,74 pesos
    s = raster_sample(8, mode="column8d", dpi=203)
    doc, receipt = read(s)
    assert (receipt.kind, receipt.total) == (s.truth.kind, s.truth.total) == (
        "refund", Decimal("70740")), doc.text


def test_the_worker_times_out_refuses_when_full_and_reports_back() -> None:
    noise = RasterImage(576, 3000, bytes((i * 7919) % 251 for i in range(72 * 3000)))
    results: list[tuple[Any, Any, str | None]] = []
    worker = OcrWorker(languages=LANGUAGES, timeout=0.2, max_queue=1)
    assert worker.submit("a", [noise], lambda *r: results.append(r))
    assert not worker.submit("b", [noise], lambda *r: results.append(r))  # full, not started
    assert worker.stats.refused == 1
    worker.start()
    assert wait_until(lambda: results, 30)
    assert worker.stop() == []
    ((key, lines, error),) = results
    assert key == "a" and lines is None and error and "timeout" in error.lower()
    assert worker.stats.failed == 1


def config(tmp_path: Path, **receipts: Any) -> AgentConfig:
    return AgentConfig(
        store={"terminal_id": "caja-1", "timezone": "UTC", "country": "AR", "currency": "ARS"},
        outbox={"path": tmp_path / "outbox.db"},
        printer=[{"name": "caja", "mode": "spool", "path": "/tmp", "idle_seconds": 0.3}],
        receipts={"capture_dir": str(tmp_path / "captures"), **receipts},
    )


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db", synchronous="normal") as box:
        yield box


def test_the_pipeline_commits_a_raster_sale_without_holding_up_the_next_job(
    tmp_path: Path, outbox: Outbox
) -> None:
    s = sample(1026, encoding="gs_v0")
    pipeline = Pipeline(config(tmp_path), outbox, local_zone=None)
    pipeline.start()
    try:
        sink = pipeline.sink(pipeline.config.printer[0])
        sink.data("caja#1", s.job)
        text = b"Ticket 9\nTOTAL  100,00\nEFECTIVO  100,00\n\x1dV\x01"
        sink.data("caja#1", text)  # a text receipt right behind it is read first
        assert wait_until(lambda: pipeline.stats.receipts == 1, 60)
        assert pipeline.stats.ocr_read == 0
        assert wait_until(
            lambda: pipeline.stats.ocr_read == 1 and pipeline.stats.receipts == 2, 60
        )
        assert wait_until(lambda: s.truth.total in payments(outbox), 60)
    finally:
        pipeline.stop()
    assert pipeline.stats.unread == 0 and not (tmp_path / "captures").exists()
    assert payments(outbox) == {Decimal("100.00"), s.truth.total}


def payments(outbox: Outbox) -> set[Decimal]:
    return {row.event.amount for row in outbox.list(limit=100)
            if row.event.action == "tienda_fisica.pago" and row.event.amount is not None}


@pytest.mark.parametrize("how", ["off", "missing"])
def test_without_ocr_a_raster_job_is_kept_as_an_unread_capture_saying_why(
    how: str, tmp_path: Path, outbox: Outbox, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if how == "missing":  # a till where Tesseract was never installed
        monkeypatch.setenv("PATH", str(tmp_path))
    cfg = config(tmp_path, ocr="off" if how == "off" else "auto")
    pipeline = Pipeline(cfg, outbox, local_zone=None)
    assert pipeline.ocr is None
    hint = "off" if how == "off" else "apt-get install tesseract-ocr"
    assert hint in pipeline.stats.ocr_problem
    pipeline.start()
    try:
        pipeline.sink(cfg.printer[0]).data("caja#1", sample(1026, encoding="gs_v0").job)
        assert wait_until(lambda: pipeline.stats.unread == 1, 60)
    finally:
        pipeline.stop()
    (kept,) = (tmp_path / "captures").glob("*.bin")
    assert kept.read_bytes() == sample(1026, encoding="gs_v0").job  # for parse, later
    logged = [r.getMessage() for r in caplog.records if "raster print job" in r.getMessage()]
    assert logged and hint in logged[0] and str(kept) in logged[0]
    assert sum(outbox.counts().values()) == 0


def test_raster_jobs_ocr_has_not_done_at_shutdown_are_kept_as_captures(
    tmp_path: Path, outbox: Outbox
) -> None:
    pipeline = Pipeline(config(tmp_path), outbox, local_zone=None)
    assert pipeline.ocr is not None
    pipeline.start()
    sink = pipeline.sink(pipeline.config.printer[0])
    jobs = [sample(seed, encoding="gs_v0_one").job for seed in (1026, 1046, 1148)]
    for k, job in enumerate(jobs):
        sink.data(f"caja#{k}", job)
    # one running, two waiting
    assert wait_until(lambda: pipeline.ocr is not None and pipeline.ocr.pending() == 2, 60)
    pipeline.stop(timeout=0.5)  # far less than three OCR runs take
    kept = sorted(p.read_bytes() for p in (tmp_path / "captures").glob("*.bin"))
    read = pipeline.stats.ocr_read
    assert len(kept) + read == 3 and len(kept) >= 2  # every job read, or on disk for parse
    assert set(kept) <= set(jobs)
