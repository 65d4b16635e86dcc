"""The variable-length ESC/POS commands (images, 2D symbols, barcodes, user-defined
characters, NV memory, tab stops, cuts, FS ( C): how far each one reaches and what it
leaves in the document. Fixed lengths are tables in drivers/escpos/tables.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from drivers.escpos.builder import DocumentBuilder
from drivers.escpos.tables import (
    ESC_Z_SYMBOLOGIES,
    GRAPHICS_STORE_FUNCTIONS,
    SYMBOLOGIES,
    SYMBOLS_2D,
    code128_text,
)

_NOT_ASCII_TEXT = re.compile(rb"[^\x20-\x7e]")
MAX_SYMBOL_DATA = 8192  # largest 2D symbol payload kept (QR holds at most 7089 digits)
MAX_NUL_BARCODE = 255  # longest NUL-terminated GS k data before it is declared garbage
# Larger than any image a receipt printer accepts (a full 4095-dot page at 832 dots wide is
# 425 KB): a bigger declared length is line noise, and skipping it would blind the decoder.
MAX_PAYLOAD = 16 * 1024 * 1024


class VariableLengthCommands(DocumentBuilder):
    """Handlers for the commands whose length depends on their parameters. Each gets
    (data, index of its first byte) and returns the index after the part it consumed, or
    -k when it needs k bytes (from its first byte) that have not arrived; payloads that are
    not needed (images, NV data) are left to `_skip` so they stream past unbuffered."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._skip = 0  # payload bytes still to skip
        self._blocks = 0  # ESC & / FS q: definitions still to come
        self._block_hdr = 1
        self._block_mul = 0
        self._base = 0  # stream offset of data[0] in the parse under way
        self._z_symbology = "PDF417"  # GS Z n: what ESC Z prints (Epson's default)
        self._sink: bytearray | None = None  # a raster payload being collected, see _capture
        self._sink_done: Callable[[bytes], None] = _ignore

    # the decoder's: bytes fed so far, and an incomplete command carried to the next chunk
    _fed: int
    _pending: bytearray

    @property
    def fed(self) -> int:
        """Bytes fed so far, in this decoder's own offsets (a rewind takes some back)."""
        return self._fed

    @property
    def since_document(self) -> int:
        """Bytes fed since the last document ended (the start of the next job)."""
        return self._fed - self._doc_start

    def rewind_to_document_start(self) -> None:
        """Forget what was fed since the last document ended (printer modes aside), for a
        caller that feeds it again, maybe to the Star decoder (drivers.escpos.select)."""
        self._pending = bytearray()
        self._drop_payloads()
        self._raster.take()  # the pictures of the job fed again
        self._forget_partial()
        self._fed = self._base = self._doc_start

    def _capture(self, size: int, done: Callable[[bytes], None]) -> None:
        """Collect the next `size` bytes (a picture's data, streaming past like a skipped
        payload) and hand them to `done` once all have arrived."""
        self._skip = size
        if not self._keep_images or not self._raster.room(size):
            return  # streams past: no pictures wanted, or this document's are over budget
        self._sink, self._sink_done = bytearray(), done
        if not size:
            self._captured()

    def _drop_payloads(self) -> None:
        """Forget payloads still streaming and Star's raster mode (idle gap, end of stream)."""
        self._skip = self._blocks = 0
        self._sink = None
        self._star.active = False

    def _star_rows(self, data: bytes, i: int) -> tuple[int, int]:
        """Star Graphic Mode from data[i] (see StarRaster.parse); ESC FF EOT ends the job."""
        i, need = self._star.parse(data, i, len(self._lines))
        if self._star.ended:
            self._star.ended = False
            self._end_document("cut", self._base + i)
        return i, need

    def _collect(self, part: bytes) -> None:
        """Bytes of the payload being captured (`_skip` already counts them down)."""
        if self._sink is not None:
            self._sink += part
            if not self._skip:
                self._captured()

    def _captured(self) -> None:
        sink, done = self._sink, self._sink_done
        self._sink, self._sink_done = None, _ignore
        if sink is not None:
            done(bytes(sink))

    def _paren(self, data: bytes, j: int) -> int:
        """ESC ( fn pL pH d..., FS ( fn pL pH d... (and GS ( for other functions)."""
        if j + 5 > len(data):
            return -5
        self._skip = data[j + 3] | data[j + 4] << 8
        return j + 5

    def _fs_paren(self, data: bytes, j: int) -> int:
        """FS ( fn pL pH d...; FS ( C function 48 selects UTF-8 (m 2) or one-byte (m 1)."""
        n = len(data)
        if j + 5 > n:
            return -5
        size = data[j + 3] | data[j + 4] << 8
        if data[j + 2] != 0x43 or size < 2:
            self._skip = size
            return j + 5
        if j + 7 > n:
            return -7
        if data[j + 5] == 0x30 and data[j + 6] in (1, 2, 0x31, 0x32):
            self._select_encoding(data[j + 6] in (2, 0x32))
        self._skip = size - 2
        return j + 7

    def _gs_paren(self, data: bytes, j: int) -> int:
        """GS ( fn pL pH d...: 2D symbols (fn k) and graphics (fn L) need a look inside."""
        n = len(data)
        if j + 5 > n:
            return -5
        fn = data[j + 2]
        size = data[j + 3] | data[j + 4] << 8
        if fn not in (0x6B, 0x4C) or size < 2:
            self._skip = size
            return j + 5
        if j + 7 > n:
            return -7
        cn, func = data[j + 5], data[j + 6]
        if fn == 0x4C:  # GS ( L m fn ...
            self._graphics(func, size - 2)
            return j + 7
        symbology = SYMBOLS_2D.get(cn)
        if symbology is not None and func == 80 and size > MAX_SYMBOL_DATA:
            self._symbols.pop(cn, None)  # too big to be real: skip it, forget the old one
        elif symbology is not None and func == 80 and size >= 3:
            end = j + 5 + size  # store: cn fn m d1...dk
            if end > n:
                return -(5 + size)
            self._symbols[cn] = data[j + 8 : end]
            return end
        if symbology is not None and func == 81:  # print the stored symbol
            stored = self._symbols.get(cn)
            if stored:
                self._add_symbol(symbology, stored)
        self._skip = size - 2
        return j + 7

    def _esc_z(self, data: bytes, j: int) -> int:
        """ESC Z m n k dL dH d...: the older 2D-code command (symbology from GS Z n)."""
        n = len(data)
        if j + 7 > n:
            return -7
        size = data[j + 5] | data[j + 6] << 8
        if size > MAX_SYMBOL_DATA:  # too big to be real: skip it as data
            self._skip = size
            return j + 7
        end = j + 7 + size
        if end > n:
            return -(7 + size)
        if size:
            self._add_symbol(self._z_symbology, data[j + 7 : end])
        return end

    def _gs_z(self, data: bytes, j: int) -> None:
        self._z_symbology = ESC_Z_SYMBOLOGIES.get(data[j + 2], "PDF417")

    def _gs_8(self, data: bytes, j: int) -> int:
        """GS 8 L p1 p2 p3 p4 m fn d...: graphics with a 32-bit length."""
        n = len(data)
        if j + 3 > n:
            return -3
        if data[j + 2] != 0x4C:
            self._unknown(2)
            return j + 2
        if j + 7 > n:
            return -7
        size = data[j + 3] | data[j + 4] << 8 | data[j + 5] << 16 | data[j + 6] << 24
        if size > MAX_PAYLOAD:
            self._unknown(7)
            return j + 7
        if size < 2:
            self._skip = size
            return j + 7
        if j + 9 > n:
            return -9
        self._graphics(data[j + 8], size - 2)
        return j + 9

    def _graphics(self, func: int, size: int) -> None:
        """GS ( L / GS 8 L function `func` with `size` bytes after m fn: raster and column
        graphics go into the picture, print (fn 2 / 50) places them; NV and download
        graphics (stored logos) are skipped."""
        if func in GRAPHICS_STORE_FUNCTIONS:
            self._image()
        if func in (112, 113, 2, 50):
            at = len(self._lines)
            self._capture(size, lambda body: self._raster.graphics(func, body, at))
        else:
            self._skip = size

    def _esc_image(self, data: bytes, j: int) -> int:
        """ESC * m nL nH d...: bit image, 1 byte per column (8-dot) or 3 (24-dot, m 32/33);
        ESC * r ... is Star's raster mode."""
        if j + 3 > len(data):
            return -3
        if data[j + 2] == 0x72:
            return self._star_raster_command(data, j)
        if j + 5 > len(data):
            return -5
        m, columns = data[j + 2], data[j + 3] | data[j + 4] << 8
        at = len(self._lines)
        self._capture(columns * 3 if m & 0x20 else columns,
                      lambda cols: self._raster.esc_star(m, columns, cols, at))
        self._image(stripe=True)
        return j + 5

    def _star_raster_command(self, data: bytes, j: int) -> int:
        """ESC * r X in line mode: ESC * r A enters Star's raster mode (the decoder's loop
        then hands every byte to StarRaster until ESC * r B)."""
        return self._star.command(data, j, len(self._lines))

    def _gs_image(self, data: bytes, j: int) -> int:
        """GS * x y d...: define downloaded bit image, x*y*8 bytes."""
        if j + 4 > len(data):
            return -4
        self._skip = data[j + 2] * data[j + 3] * 8
        self._image()
        return j + 4

    def _gs_raster(self, data: bytes, j: int) -> int:
        """GS v 0 m xL xH yL yH d...: raster bit image, x bytes by y dots."""
        n = len(data)
        if j + 3 > n:
            return -3
        if data[j + 2] != 0x30:
            self._unknown(2)
            return j + 2
        if j + 8 > n:
            return -8
        width, height = data[j + 4] | data[j + 5] << 8, data[j + 6] | data[j + 7] << 8
        size = width * height
        if size > MAX_PAYLOAD:
            self._unknown(8)
            return j + 8
        m, at = data[j + 3], len(self._lines)
        self._capture(size, lambda rows: self._raster.gs_v0(m, width, height, rows, at))
        self._image()
        return j + 8

    def _esc_user_chars(self, data: bytes, j: int) -> int:
        """ESC & y c1 c2 [x d1...d(y*x)]...: one definition per character c1..c2."""
        if j + 5 > len(data):
            return -5
        y, c1, c2 = data[j + 2], data[j + 3], data[j + 4]
        self._blocks = c2 - c1 + 1 if c2 >= c1 else 0
        self._block_hdr, self._block_mul = 1, y
        return j + 5

    def _fs_nv_images(self, data: bytes, j: int) -> int:
        """FS q n [xL xH yL yH d...]...: define n NV bit images."""
        if j + 3 > len(data):
            return -3
        self._blocks = data[j + 2]
        self._block_hdr = 4
        for _ in range(data[j + 2]):
            self._image()
        return j + 3

    def _fs_nv_memory(self, data: bytes, j: int) -> int:
        """FS g 1 m a1-a4 nL nH d... (write user NV memory), FS g 2 ... (read)."""
        n = len(data)
        if j + 3 > n:
            return -3
        fn = data[j + 2]
        if fn not in (1, 2, 0x31, 0x32):
            self._unknown(2)
            return j + 2
        if j + 10 > n:
            return -10
        if fn in (1, 0x31):
            self._skip = data[j + 8] | data[j + 9] << 8
        return j + 10

    def _esc_tabs(self, data: bytes, j: int) -> int:
        """ESC D n1...nk NUL: ascending tab stops; a value out of order ends the list."""
        n = len(data)
        p = j + 2
        stops: list[int] = []
        while True:
            if p >= n:
                return -(p - j + 1)
            v = data[p]
            if v == 0:
                p += 1
                break
            if len(stops) == 32 or (stops and v <= stops[-1]):
                break  # the printer takes this byte as ordinary data
            stops.append(v)
            p += 1
        self._tabs = tuple(stops)
        return p

    def _gs_counter(self, data: bytes, j: int) -> int:
        """GS C 0 n m, GS C 1 aL aH bL bH n r, GS C 2 nL nH, GS C ; sa;sb;sn;sr;sc;"""
        n = len(data)
        if j + 3 > n:
            return -3
        fn = data[j + 2]
        k = {0x30: 5, 0x31: 9, 0x32: 5}.get(fn)
        if k is not None:
            return j + k if j + k <= n else -k
        if fn != 0x3B:
            self._unknown(2)
            return j + 2
        end = j + 3
        for _ in range(5):
            end = data.find(b";", end, j + 64) + 1
            if end == 0:
                if n < j + 64:
                    return -(n - j + 1)
                self._unknown(3)
                return j + 3
        return end

    def _gs_cut(self, data: bytes, j: int) -> int:
        """GS V m (m 0 1 48 49) or GS V m n (m 65 66 97 98 103 104)."""
        n = len(data)
        if j + 3 > n:
            return -3
        m = data[j + 2]
        if m in (0, 1, 48, 49):
            k = 3
        elif m in (65, 66, 97, 98, 103, 104):
            k = 4
            if j + 4 > n:
                return -4
        else:
            self._unknown(2)
            return j + 2
        if self._parts:
            self._end_line()
        self._end_document("cut", self._base + j + k, self._base + j, data[j : j + k])
        return j + k

    def _gs_barcode(self, data: bytes, j: int) -> int:
        """GS k m d1...dk NUL (m 0-6) or GS k m n d1...dn (m 65-79)."""
        n = len(data)
        if j + 3 > n:
            return -3
        m = data[j + 2]
        if m <= 6:
            limit = j + 3 + MAX_NUL_BARCODE + 1
            hit = _NOT_ASCII_TEXT.search(data, j + 3, limit)
            if hit is None:
                if n < limit:
                    return -(n - j + 1)
                self._unknown(limit - j)  # no terminator: garbage, not text
                return limit
            end = hit.start()
            if data[end] != 0:
                self._unknown(end - j)
                return end
            self._add_symbol(SYMBOLOGIES[m], data[j + 3 : end])
            return end + 1
        if 65 <= m <= 79:
            if j + 4 > n:
                return -4
            end = j + 4 + data[j + 3]
            if end > n:
                return -(end - j)
            body = data[j + 4 : end]
            if m == 73:  # CODE128 with {A {B {C code-set selectors
                text = code128_text(body)
                self._add_symbol("CODE128", text.encode("latin-1"))
            else:
                self._add_symbol(SYMBOLOGIES[m], body)
            return end
        self._unknown(3)
        return j + 3


def _ignore(data: bytes) -> None:
    return None
