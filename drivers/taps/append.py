"""Holding a receipt's cut back while the agent decides whether to print a block before it.

Only taps given an `Appender` (a printer with `[printer.append]`) do this; the others forward
exactly as before. Per job stream a `CutHold` runs the printer's decoder (`command_set`: auto,
escpos or star; drivers/escpos/select.py) over the POS's bytes on the forwarding thread, so it
knows where each command ends and which bytes are a cut (ESC/POS `GS V`, Star `ESC d n`):

- bytes before a cut go to the printer at once, as without an appender;
- at a cut, the appender (the agent side, behind this seam: drivers import nothing from
  agent/) is asked on a helper thread whether to insert a block; the forwarding thread waits
  for its answer at most `budget` (150 ms) after the chunk with the cut arrived, then sends
  the block (if any) and the bytes from the cut on;
- a chunk ending in the first byte or two of what may be a cut (`ESC`, `GS`, `GS V`, and
  `ESC d` when the job may be Star's) keeps those bytes until the next chunk: the printer
  could not act on half a command anyway;
- on any doubt (the decoder raised, the appender raised or was late, an odd answer, an
  `ESC i` / `ESC m` cut in a job decoded as ESC/POS, which is a size command in Star Line
  Mode), the original bytes go through unchanged and the appender hears why (`done`).

Jobs with no cut (plain text) never wait: nothing is held.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from drivers.escpos.document import Cut, Document
from drivers.escpos.select import make_decoder

log = logging.getLogger("drivers.printer")

DECIDE_BUDGET = 0.150  # seconds a cut may wait for the agent's decision
MAX_BLOCK = 64 * 1024  # a larger answer is a bug, not a QR block
_CUT_STARTS = (b"\x1b", b"\x1d", b"\x1dV")  # incomplete commands that may become a cut
_CUT_MODES_WITH_N = (65, 66, 97, 98, 103, 104)  # GS V m n: one more byte to come
_STAR_CUT_START = b"\x1bd"  # ESC d n: Star's cut (in ESC/POS a feed), its n to come
# ESC i / ESC m cut in ESC/POS but set the character size in Star Line Mode: in doubt. Only
# the ESC/POS decoder reports them; the Star decoder reads them as sizes.
_AMBIGUOUS_CUTS = (b"\x1bi", b"\x1bm")


@dataclass(frozen=True)
class CutRequest:
    """A cut in a job stream, waiting for the appender's decision."""

    tap: str
    stream: str
    cut: Cut


@dataclass(frozen=True)
class Decision:
    block: bytes | None  # None: print the cut as it came
    reason: str = ""  # why not, for status ("refund not in kinds", "not read as a receipt")


class CutDecoder(Protocol):
    """What the hold needs of a decoder: every `make_decoder(..., track_cuts=True)` has it
    (EscposDecoder, StarDecoder, AutoDecoder); stream offsets in `take_cuts()`."""

    def feed(self, chunk: bytes) -> list[Document]: ...
    def take_cuts(self) -> list[Cut]: ...
    @property
    def pending(self) -> bytes: ...


class Appender(Protocol):
    """The agent side. `decide` runs on the tap's helper thread and may be slow (the cut
    then goes out unchanged); `done` says what was printed, before the sink sees the chunk."""

    def decide(self, request: CutRequest) -> Decision: ...
    def done(self, request: CutRequest, printed: bool, reason: str) -> None: ...


def _may_be_cut(pending: bytes, *, star: bool = False) -> bool:
    return pending in _CUT_STARTS or (star and pending == _STAR_CUT_START) or (
        len(pending) == 3 and pending[:2] == b"\x1dV" and pending[2] in _CUT_MODES_WITH_N
    )


class _Box:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.decision: Decision | None = None
        self.error: BaseException | None = None


class Asker:
    """One helper thread per tap that calls `appender.decide`; callers wait with a timeout,
    so a stuck appender delays a cut by the budget, never more."""

    def __init__(self, appender: Appender, *, name: str) -> None:
        self.appender = appender
        self.name = name
        self._queue: queue.SimpleQueue[tuple[CutRequest, _Box] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ask(self, request: CutRequest, timeout: float) -> tuple[bytes | None, str]:
        """(block, "printed") or (None, why not)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"tap-{self.name}-append", daemon=True
                )
                self._thread.start()
        box = _Box()
        self._queue.put((request, box))
        if not box.ready.wait(max(0.0, timeout)):
            return None, "timeout: no decision within 150 ms"
        if box.error is not None:
            return None, f"error: {type(box.error).__name__}"
        decision = box.decision
        if decision is None or decision.block is None:
            return None, (decision.reason if decision else "") or "declined"
        if not isinstance(decision.block, bytes) or len(decision.block) > MAX_BLOCK:
            return None, "error: block too large"
        return decision.block, "printed"

    def done(self, request: CutRequest, printed: bool, reason: str) -> None:
        try:
            self.appender.done(request, printed, reason)
        except Exception:  # noqa: BLE001 - the agent's failure must not reach the printer
            log.exception("%s: appender.done raised", self.name)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            request, box = item
            try:
                box.decision = self.appender.decide(request)
            except Exception as exc:  # noqa: BLE001 - counted as a skip by the waiting side
                box.error = exc
            box.ready.set()

    def stop(self, timeout: float = 0.5) -> None:
        """End the helper thread (a decision in progress is abandoned after `timeout`)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)


class CutHold:
    """One job stream: forward the POS's bytes, inserting the block before approved cuts."""

    def __init__(
        self,
        asker: Asker,
        stream: str,
        *,
        codepage: str = "cp858",
        codepage_map: Mapping[int, str] | None = None,
        budget: float = DECIDE_BUDGET,
        command_set: str = "escpos",
        decoder: CutDecoder | None = None,
    ) -> None:
        self.asker = asker
        self.stream = stream
        self.budget = budget
        # raster data streams past unassembled: the forwarding path never builds pictures
        self.decoder: CutDecoder | None = decoder or make_decoder(
            command_set, codepage=codepage, codepage_map=codepage_map or None, track_cuts=True,
            keep_images=False,
        )
        self._held = b""  # the start of a command that may be a cut, not yet forwarded
        self._base = 0  # stream offset of the first byte not yet forwarded

    def forward(self, chunk: bytes, send: Callable[[bytes], None]) -> None:
        """Send `chunk` on (raises what `send` raises), holding only at cuts."""
        arrived = time.monotonic()
        data = self._held + chunk if self._held else chunk
        base = self._base
        try:
            cuts, pending = self._decode(chunk)
        except Exception:  # noqa: BLE001 - a decoder bug: this job goes through unchanged
            log.exception("%s: decoder failed; this job is forwarded unchanged", self.stream)
            self.decoder = None
            cuts, pending = [], b""
        pos = 0
        for cut in cuts:
            at = cut.start - base
            request = CutRequest(self.asker.name, self.stream, cut)
            if not pos <= at <= len(data):  # began in bytes already sent: cannot insert
                self.asker.done(request, False, "cut split across writes")
                continue
            if cut.command in _AMBIGUOUS_CUTS:  # ESC/POS-decoded, maybe Star: leave it alone
                self.asker.done(request, False, "ESC i / ESC m cut: command set unsure")
                self.decoder = None
                break
            send(data[pos:at])
            pos = at
            block, reason = self.asker.ask(request, arrived + self.budget - time.monotonic())
            if block is not None:
                send(block)
            self.asker.done(request, block is not None, reason)
        star = bool(getattr(self.decoder, "star_cuts", False))
        keep = len(pending) if pending and _may_be_cut(pending, star=star) else 0
        end = max(pos, len(data) - keep)
        send(data[pos:end])
        self._held = data[end:]
        self._base = base + end

    def finish(self, send: Callable[[bytes], None]) -> None:
        """The job ended: what was held (an incomplete command) goes out as it is."""
        held, self._held = self._held, b""
        if held:
            send(held)

    def _decode(self, chunk: bytes) -> tuple[list[Cut], bytes]:
        if self.decoder is None:
            return [], b""
        self.decoder.feed(chunk)
        return self.decoder.take_cuts(), self.decoder.pending
