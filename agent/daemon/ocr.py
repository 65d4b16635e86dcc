"""Tesseract OCR for raster receipts, off the printing path.

The tap never waits for this: the pipeline hands a document's pictures to `OcrWorker.submit`,
which queues them (a bounded queue: when it is full the job is refused and counted, and the
pipeline keeps the print job as an unread capture) and returns at once. One worker thread runs
Tesseract through pytesseract, which starts the `tesseract` program as a child process per
picture: Tesseract's memory (100-300 MB with three languages) is never the daemon's, a run
that passes the timeout is killed, and the child runs on one thread (OMP_THREAD_LIMIT) so a
2-core till keeps a core for its POS. (Not `nice`: the systemd unit's syscall filter forbids
changing priorities, and the whole service can be given a lower CPUWeight instead.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.config import ReceiptsSection
from agent.daemon.ocr_emails import reread_emails
from agent.daemon.ocr_picture import for_ocr
from agent.receipts.ocr_lines import merge_ocr, words_from_data, words_to_lines
from drivers.escpos.document import Document, TextLine
from drivers.escpos.raster import RasterImage

__all__ = ["OcrWorker", "merge_ocr", "ocr_document", "ocr_worker", "tesseract_problem"]

log = logging.getLogger("agent.ocr")

INSTALL_HINT = (
    "install Tesseract and its languages: "
    "sudo apt-get install tesseract-ocr tesseract-ocr-spa tesseract-ocr-por"
)
OCR_TIMEOUT = 30.0  # seconds per print job: far above the 1-2 s a receipt takes
Lines = list[list[TextLine]]
Done = Callable[[Any, Lines | None, str | None], None]


def tesseract_problem(languages: str) -> str | None:
    """None when Tesseract runs and has every language; else what is missing and how to
    install it (for status, doctor and the unread-capture reason)."""
    if shutil.which("tesseract") is None:
        return "Tesseract is not installed: " + INSTALL_HINT
    try:
        import pytesseract

        have = set(pytesseract.get_languages(config=""))
    except Exception as exc:  # a broken install: say so, never crash the daemon
        return f"Tesseract does not run ({exc}): " + INSTALL_HINT
    missing = [lang for lang in languages.split("+") if lang and lang not in have]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        return f"Tesseract lacks {', '.join(missing)}: sudo apt-get install {packages}"
    return None


def read_picture(image: RasterImage, *, languages: str, timeout: float) -> list[TextLine]:
    """One picture's text lines (raises RuntimeError when Tesseract times out)."""
    import pytesseract

    started = time.monotonic()
    picture = for_ocr(image)
    data = pytesseract.image_to_data(
        picture,
        lang=languages,
        config="--psm 6",
        timeout=timeout,
        output_type=pytesseract.Output.DICT,
    )
    words = words_from_data(data)
    left = timeout - (time.monotonic() - started)
    if left > 0.5:  # an address misread with the page is read again alone
        words = reread_emails(picture, words, timeout=left)
    return words_to_lines(words)


def read_pictures(images: Sequence[RasterImage], *, languages: str, timeout: float) -> Lines:
    """Every picture of a document, within `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    out: Lines = []
    for image in images:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"OCR took longer than {timeout:g} s")
        out.append(read_picture(image, languages=languages, timeout=max(0.05, left)))
    return out


def ocr_worker(receipts: ReceiptsSection) -> tuple[OcrWorker | None, str]:
    """The worker the config asks for, or none and why raster jobs will stay unread."""
    if receipts.ocr == "off":
        return None, 'receipts.ocr = "off": raster print jobs are kept unread'
    problem = tesseract_problem(receipts.ocr_languages)
    if problem is not None:
        log.warning("raster receipts will not be read: %s", problem)
        return None, problem
    worker = OcrWorker(languages=receipts.ocr_languages, timeout=OCR_TIMEOUT)
    return worker, ""


def ocr_document(doc: Document, *, languages: str, timeout: float) -> Document:
    """The document with its pictures read into lines (synchronous: for `parse`)."""
    return merge_ocr(doc, read_pictures(doc.images, languages=languages, timeout=timeout))


@dataclass
class OcrStats:
    done: int = 0
    failed: int = 0
    refused: int = 0  # the queue was full
    seconds: deque[float] = field(default_factory=lambda: deque(maxlen=500))


class OcrWorker:
    """A bounded queue and one thread running Tesseract (see the module docstring)."""

    def __init__(self, *, languages: str, timeout: float = OCR_TIMEOUT, max_queue: int = 8) -> None:
        self.languages = languages
        self.timeout = timeout
        self.stats = OcrStats()
        self._queue: queue.Queue[tuple[Any, Sequence[RasterImage], Done] | None] = queue.Queue(
            max_queue
        )
        self._thread = threading.Thread(target=self._run, name="ocr", daemon=True)
        self._stopping = False
        self._current: tuple[Any, Sequence[RasterImage], Done] | None = None
        self._lock = threading.Lock()
        self._abandoned = False

    def start(self) -> None:
        # Tesseract's OpenMP would take every core of a 2-core till: one thread per child
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> list[Any]:
        """Let the job under way finish (each run is bounded by the timeout), then return
        the keys of the jobs not done: never started, or still running at `timeout`."""
        self._stopping = True
        left: list[Any] = []
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):  # wakes an idle worker; a busy one stops
                self._queue.put_nowait(None)  # before its next job anyway
            self._thread.join(timeout)
            with self._lock:  # a job still running is the caller's now; its result is dropped
                if self._thread.is_alive() and self._current is not None:
                    left.append(self._current[0])
                    self._abandoned = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return left
            if item is not None:
                left.append(item[0])

    def submit(self, key: Any, images: Sequence[RasterImage], done: Done) -> bool:
        """Queue a document's pictures; `done(key, lines, None)` or `done(key, None, error)`
        is called from the worker thread. False (nothing queued) when the queue is full."""
        try:
            self._queue.put_nowait((key, images, done))
        except queue.Full:
            self.stats.refused += 1
            return False
        return True

    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while not self._stopping:
            item = self._queue.get()
            if item is None:
                return
            key, images, done = self._current = item
            started = time.monotonic()
            lines: Lines | None = None
            error: str | None = None
            try:
                lines = read_pictures(images, languages=self.languages, timeout=self.timeout)
            except Exception as exc:  # Tesseract failed or timed out: the job stays unread
                self.stats.failed += 1
                error = f"OCR failed: {exc}"
                log.warning("OCR of a raster print job failed: %s", exc)
            else:
                self.stats.done += 1
                self.stats.seconds.append(time.monotonic() - started)
            with self._lock:
                if self._abandoned:
                    return
                self._current = None
            try:
                done(key, lines, error)
            except Exception:  # the worker must outlive a bad callback
                log.exception("OCR: handing back a result failed")
