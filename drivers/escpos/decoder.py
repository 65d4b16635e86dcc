"""Incremental ESC/POS decoder: printer-port bytes in, `Document`s (one per receipt) out.

Pure (no IO, no clock) and incremental in the style of httpx's LineDecoder: `feed(chunk)`
returns the documents completed by that chunk, `idle()` and `flush()` end the current one.
A command split across chunks decodes exactly as if it came whole: an incomplete command is
kept (a few bytes, or a bounded 2D-symbol payload) until enough bytes arrive; raster data goes
into the document's pictures (raster.py), other image data streams past unbuffered.

Speed comes from never looping per byte in Python: a regex finds the next control byte, the
text before it is decoded in one `charmap_decode` call, and the control byte dispatches
through a table. Unknown bytes and commands are skipped and counted, never made into text.
Handlers return the index after their command, or -k when the command needs k bytes
(counted from its first byte) that have not arrived yet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from drivers.escpos.bema import BemaModes
from drivers.escpos.builder import BOLD, DOUBLE_HEIGHT, DOUBLE_WIDTH, MAX_PICTURE_BYTES
from drivers.escpos.commands import MAX_PAYLOAD, VariableLengthCommands
from drivers.escpos.document import Cut, Document
from drivers.escpos.tables import DLE_DC4_LENGTHS, ESC_FIXED, FS_FIXED, GS_FIXED, SINGLE_BYTE_NOOPS

__all__ = ["EscposDecoder", "cuts_of", "decode_all"]

_CTRL = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]")  # control bytes but LF

MOTION_UNITS_PER_COLUMN = 12  # Font A is 12 dots wide; the default motion unit is one dot
Handler = Callable[[bytes, int], int]
Effect = Callable[[bytes, int], None]


class EscposDecoder(BemaModes, VariableLengthCommands):
    """Turns one printer stream's ESC/POS bytes into documents (see the module docstring).

    A document ends at a cut (GS V, ESC i, ESC m, Star's ESC FF EOT), at ESC @ once it has
    content, at `idle()` and at `flush()`; one without content (`has_content`) is not emitted.
    LF, CR and CR LF end lines; HT pads to the tab stops (ESC D); ESC $ / ESC \\ become
    spaces; text between ESC = 2 and ESC = 1 went to a customer display and is left out.

    Counters (running totals, for status): `unknown_bytes`, `dropped_chars` and
    `dropped_lines` (beyond the caps), `unsupported_codepages` (ESC t for a page we cannot
    decode: the default page is used), `images_skipped` and `textless_documents` (images
    only: stored NV logos, or pictures with keep_images=False)."""

    def __init__(
        self,
        *,
        codepage: str = "cp858",
        codepage_map: Mapping[int, str] | None = None,
        max_line_chars: int = 1024, max_document_lines: int = 5000,
        track_cuts: bool = False, keep_images: bool = True,
        max_picture_bytes: int = MAX_PICTURE_BYTES,  # per document: more pictures are dropped
    ) -> None:
        super().__init__(codepage=codepage, codepage_map=codepage_map, keep_images=keep_images,
                         max_line_chars=max_line_chars, max_document_lines=max_document_lines,
                         max_picture_bytes=max_picture_bytes)
        self.track_cuts = track_cuts
        self._fed = 0  # bytes fed so far
        self._pending = bytearray()  # an incomplete command carried to the next chunk
        self._need = 0
        self._esc_effects: dict[int, Effect] = {
            0x21: self._esc_bang, 0x45: self._esc_bold, 0x52: self._esc_intl,
            0x74: self._esc_codepage, 0x40: self._esc_init, 0x69: self._cut, 0x6D: self._cut,
            0x64: self._feed_lines, 0x65: self._feed_lines, 0x4A: self._feed_dots,
            0x32: self._spacing, 0x33: self._spacing, 0x4B: self._print, 0x6A: self._print,
            0x3D: self._esc_peripheral, 0x24: self._esc_absolute, 0x5C: self._esc_relative,
        }
        self._esc_var: dict[int, Handler] = {
            0x26: self._esc_user_chars, 0x28: self._paren, 0x2A: self._esc_image,
            0x44: self._esc_tabs, 0x5A: self._esc_z,
        }
        self._gs_effects: dict[int, Effect] = {
            0x21: self._gs_size, 0x0C: self._print, 0x5A: self._gs_z,
        }
        self._gs_var: dict[int, Handler] = {
            0x28: self._gs_paren, 0x2A: self._gs_image, 0x38: self._gs_8, 0x43: self._gs_counter,
            0x56: self._gs_cut, 0x6B: self._gs_barcode, 0x76: self._gs_raster,
            0xF9: self._gs_bema,
        }
        self._fs_var: dict[int, Handler] = {
            0x28: self._fs_paren, 0x67: self._fs_nv_memory, 0x71: self._fs_nv_images,
        }
        ctl: list[Handler] = [self._unknown1] * 256  # only control bytes and DEL get here
        for b in SINGLE_BYTE_NOOPS:
            ctl[b] = self._noop1
        ctl[0x09], ctl[0x0C], ctl[0x0D], ctl[0x10] = self._ht, self._ff, self._cr_handler, self._dle
        self._esc_dispatch = self._dispatch_table(ESC_FIXED, self._esc_effects, self._esc_var)
        ctl[0x1B] = self._prefixed_handler(self._esc_dispatch)
        fs = self._dispatch_table(FS_FIXED, self._fs_effects(), self._fs_var)
        ctl[0x1C] = self._prefixed_handler(fs)
        ctl[0x1D] = self._prefixed_handler(
            self._dispatch_table(GS_FIXED, self._gs_effects, self._gs_var))
        self._ctl = ctl

    # -- public API -----------------------------------------------------------------------

    def feed(self, chunk: bytes) -> list[Document]:
        """Decode `chunk`; return the documents it completed (usually none or one)."""
        self._fed += len(chunk)
        if self._pending:
            self._pending += chunk
            if len(self._pending) < self._need:
                return self._take()
            data = bytes(self._pending)
            self._pending = bytearray()
        else:
            data = bytes(chunk)
        self._parse(data)
        return self._take()

    def take_cuts(self) -> list[Cut]:
        """The cut commands completed since the last call, with their stream offsets: the
        command boundaries where a block may be inserted (see drivers/taps/append.py).
        Recorded only by a decoder made with `track_cuts=True`."""
        cuts, self._cuts = self._cuts, []
        return cuts

    @property
    def pending(self) -> bytes:
        """The start of a command whose remaining bytes have not arrived (usually empty)."""
        return bytes(self._pending)

    def idle(self) -> list[Document]:
        """The caller saw an idle gap on the port: end the document if it has content.

        A command or image whose declared length has not all arrived by now never will (POS
        software sends a job in one go): drop it, so a corrupt length cannot swallow the
        next receipt."""
        self._drop_payloads()
        if self._pending:
            self._unknown(len(self._pending))
            self._base += len(self._pending)
            self._pending = bytearray()
        if self._parts:
            self._end_line()
        if self._has_content():
            self._end_document("idle", self._base)
        return self._take()

    def flush(self) -> list[Document]:
        """End of stream: end the document (ended_by="flush") and reset all state."""
        if self._pending:  # a command cut short by the end of the stream
            self._unknown(len(self._pending))
            self._pending = bytearray()
        if self._utf8 is not None:  # a UTF-8 sequence cut short by the end of the stream
            self._unknown(len(self._utf8.decode(b"", final=True)))
        if self._parts:
            self._end_line()
        self._end_document("flush", self._fed)
        self._drop_payloads()
        self._reset_printer()
        self._reset_document()
        self._doc_start = self._base = self._fed
        return self._take()

    # -- main loop ------------------------------------------------------------------------

    def _parse(self, data: bytes) -> None:
        n = len(data)
        i = 0
        search = _CTRL.search
        ctl = self._ctl
        while True:
            if self._skip:
                k = min(self._skip, n - i)
                self._skip -= k
                if self._sink is not None:  # a picture's data: kept, see _capture
                    self._collect(data[i : i + k])
                i += k
            if i >= n:
                break
            if self._star.active:  # Star Graphic Mode: raster rows until ESC * r B
                i, need = self._star_rows(data, i)
                if need:
                    self._suspend(data, i, need)
                    return
                continue
            if self._blocks:
                r = self._next_block(data, i)
                if r < 0:
                    self._suspend(data, i, -r)
                    return
                i = r
                continue
            if self._disabled:  # ESC = turned the printer off: data is for another device
                k = data.find(b"\x1b=", i)
                if k < 0:
                    if data[n - 1] == 0x1B:  # maybe the start of ESC =
                        self._suspend(data, n - 1, 2)
                        return
                    break
                i = k
            m = search(data, i)
            j = n if m is None else m.start()
            if j > i:  # text and line feeds: decoded in one go
                if self._cr and data[i] == 0x0A:  # CR LF is one line end
                    i += 1
                self._cr = False
                if j > i:
                    self._text_block(data[i:j])
                if j == n:
                    break
            r = ctl[data[j]](data, j)
            if r < 0:
                self._suspend(data, j, -r)
                return
            i = r
        self._base += n

    def _suspend(self, data: bytes, j: int, need: int) -> None:
        self._pending = bytearray(data[j:])
        self._need = need
        self._base += j

    def _next_block(self, data: bytes, i: int) -> int:
        """One definition of ESC & (x, then y*x bytes) or FS q (xL xH yL yH, then x*y*8)."""
        h = self._block_hdr
        if i + h > len(data):
            return -h
        self._blocks -= 1
        if h == 1:
            self._skip = data[i] * self._block_mul
        else:
            size = (data[i] | data[i + 1] << 8) * (data[i + 2] | data[i + 3] << 8) * 8
            if size > MAX_PAYLOAD:  # line noise: give up on this FS q
                self._blocks = 0
                self._unknown(h)
            else:
                self._skip = size
        return i + h

    # -- single bytes ---------------------------------------------------------------------

    def _unknown1(self, data: bytes, j: int) -> int:
        self._unknown(1)
        return j + 1

    def _noop1(self, data: bytes, j: int) -> int:
        return j + 1

    def _ht(self, data: bytes, j: int) -> int:
        self._tab()
        return j + 1

    def _ff(self, data: bytes, j: int) -> int:
        if self._parts:  # prints what is pending; no blank line of its own
            self._end_line()
        return j + 1

    def _cr_handler(self, data: bytes, j: int) -> int:
        # CR ends a line that has text, and an LF right after it (commands between allowed)
        # is then swallowed; on an empty line it does nothing, so LF CR and CR LF CR LF do
        # not make blank lines that LF alone would not
        if self._parts:
            self._end_line()
            self._cr = True
        return j + 1

    # -- prefixes -------------------------------------------------------------------------

    def _dispatch_table(
        self, fixed: dict[int, int], effects: dict[int, Effect], variable: dict[int, Handler]
    ) -> list[int | Handler]:
        """For one prefix, what each second byte means: a plain length, or a handler."""
        table: list[int | Handler] = []
        for c in range(256):
            k = fixed.get(c)
            effect = effects.get(c)
            if k is not None and effect is not None:
                table.append(self._with_effect(k, effect))
            elif k is not None:
                table.append(k)
            else:
                table.append(variable.get(c, self._unknown_command))
        return table

    def _with_effect(self, k: int, effect: Effect) -> Handler:
        def handler(data: bytes, j: int) -> int:
            if j + k > len(data):
                return -k
            effect(data, j)
            return j + k

        return handler

    def _unknown_command(self, data: bytes, j: int) -> int:
        if data[j + 1] < 0x20 or data[j + 1] == 0x7F:  # a lone prefix before a control byte
            self._unknown(1)
            return j + 1
        self._unknown(2)
        return j + 2

    def _prefixed_handler(self, table: list[int | Handler]) -> Handler:
        def prefixed(data: bytes, j: int) -> int:
            if j + 1 >= len(data):
                return -2
            entry = table[data[j + 1]]
            if isinstance(entry, int):
                return j + entry if j + entry <= len(data) else -entry
            return entry(data, j)

        return prefixed

    def _dle(self, data: bytes, j: int) -> int:
        """DLE EOT n [a], DLE ENQ n, DLE DC4 fn ...: real-time commands."""
        n = len(data)
        if j + 1 >= n:
            return -2
        c = data[j + 1]
        if c not in (0x04, 0x05, 0x14):
            self._unknown(1)
            return j + 1
        if j + 2 >= n:
            return -3
        fn = data[j + 2]
        if c == 0x14:  # DLE DC4 fn ...
            k = DLE_DC4_LENGTHS.get(fn, 3)
        elif c == 0x04:  # DLE EOT n, DLE EOT 7 a, DLE EOT 8 a
            k = 4 if fn in (7, 8) else 3
        else:  # DLE ENQ n
            k = 3
        return j + k if j + k <= n else -k

    # -- effects of fixed-length commands ---------------------------------------------------

    def _esc_bang(self, data: bytes, j: int) -> None:
        n = data[j + 2]
        self._style = ((n & 0x08 and BOLD) | (n & 0x10 and DOUBLE_HEIGHT)
                       | (n & 0x20 and DOUBLE_WIDTH))

    def _esc_bold(self, data: bytes, j: int) -> None:
        self._style = self._style | BOLD if data[j + 2] & 1 else self._style & ~BOLD

    def _gs_size(self, data: bytes, j: int) -> None:
        n = data[j + 2]
        self._style = ((self._style & BOLD) | (n & 0x07 and DOUBLE_HEIGHT)
                       | (n & 0x70 and DOUBLE_WIDTH))

    def _esc_intl(self, data: bytes, j: int) -> None:
        self._select_international(data[j + 2])

    def _esc_codepage(self, data: bytes, j: int) -> None:
        if not self._select_codepage(data[j + 2]):
            self._unknown(3)

    def _esc_peripheral(self, data: bytes, j: int) -> None:
        # ESC = n, bit 0 clear: the printer ignores what follows (a customer display sharing
        # the line gets it) until ESC = enables it again
        self._disabled = not data[j + 2] & 1

    def _esc_absolute(self, data: bytes, j: int) -> None:
        self._move_to((data[j + 2] | data[j + 3] << 8) // MOTION_UNITS_PER_COLUMN)

    def _esc_relative(self, data: bytes, j: int) -> None:
        units = data[j + 2] | data[j + 3] << 8
        if units < 0x8000:  # negative (two's complement) moves left: nothing to add
            self._move_to(self._len + max(1, units // MOTION_UNITS_PER_COLUMN))

    def _esc_init(self, data: bytes, j: int) -> None:
        if self._has_content():
            self._end_document("init", self._base + j)
        self._reset_printer()

    def _cut(self, data: bytes, j: int) -> None:
        self._print(data, j)
        self._end_document("cut", self._base + j + 2, self._base + j, data[j : j + 2])

    def _feed_lines(self, data: bytes, j: int) -> None:
        # ESC d n / ESC e n: print, then n line feeds: a blank line between sections
        self._end_line()

    def _print(self, data: bytes, j: int) -> None:
        # ESC J / ESC K / ESC j: print, then feed by dots: no blank line of its own
        if self._parts:
            self._end_line()


def decode_all(
    data: bytes, *, codepage: str = "cp858", codepage_map: Mapping[int, str] | None = None
) -> list[Document]:
    """Decode a whole capture at once: feed + flush."""
    decoder = EscposDecoder(codepage=codepage, codepage_map=codepage_map)
    return decoder.feed(data) + decoder.flush()


def cuts_of(
    data: bytes, *, codepage: str = "cp858", codepage_map: Mapping[int, str] | None = None
) -> list[Cut]:
    """Every cut command in a whole capture, in order (pure: feed + flush)."""
    decoder = EscposDecoder(codepage=codepage, codepage_map=codepage_map, track_cuts=True)
    decoder.feed(data)
    decoder.flush()
    return decoder.take_cuts()
