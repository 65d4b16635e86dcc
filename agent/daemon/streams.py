"""The pipeline's view of each printer stream, and the byte budget of its queue.

`Stream`: one tap stream's decoder and the bytes since its last document (a captures.Spool:
in memory while small, on disk past that). `QueueBytes`: the chunks waiting in the
pipeline's queue are bounded in bytes, not only in count — 10,000 queued 64 KB chunks of a
raster flood would be 640 MB; past the budget the parser's copy is dropped (counted; the
printer has its bytes already), as when the queue is full, and the rest of that job is
skipped until it ends (`lost`): a job with a hole reads as garbage, and garbage costs the
decoder far more than a clean raster job does.

May import agent.config, agent.daemon.captures and drivers.escpos.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from agent.config import PrinterSection
from agent.daemon.captures import Spool
from drivers.escpos.select import Decoder

QUEUE_BYTES = 16 << 20  # tap chunks waiting for the pipeline's worker, all printers together


@dataclass
class Stream:
    printer: PrinterSection
    decoder: Decoder
    last_data: float = 0.0
    armed: bool = False  # bytes arrived since the last document: an idle gap may end one
    first_data: float = 0.0
    raw: Spool = field(default_factory=Spool)  # since the last document, for captures

    def take_raw(self) -> Spool:
        data, self.raw = self.raw, Spool(self.raw.folder)
        return data


class QueueBytes:
    """Bytes of data chunks queued; producers are the taps' threads, the consumer the worker."""

    def __init__(self, limit: int = QUEUE_BYTES) -> None:
        self.limit = limit
        self._queued = 0
        self._lock = threading.Lock()
        self.lost: set[tuple[str, str]] = set()  # (printer, stream) that lost a chunk

    def take(self, size: int) -> bool:
        with self._lock:
            if self._queued + size > self.limit:
                return False
            self._queued += size
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self._queued -= size
