"""Raster graphics from the printer port assembled into exact 1-bit pictures. Pure.

Windows printer drivers, web POS and Star's TSP100 (futurePRNT) send receipts as bitmaps, not
text. `RasterAssembler` places every raster form on a page the way the printer does:

    GS v 0 m ...            raster bands; the paper advances by each band's height
    ESC * m nL nH ...       8- or 24-dot column bands; ESC J n / LF (at the ESC 3 spacing)
                            advance the paper, several bands on one line sit side by side
    GS ( L / GS 8 L         graphics stored in the print buffer (functions 112 raster and
                            113 column), printed by function 50
    Star Graphic Mode       `b n1 n2 row` (one dot row, then the next line), `k n1 n2 row`
                            (no advance), ESC * r Y n NUL (skip n rows), between ESC * r A
                            and ESC * r B (`StarRaster` parses that mode's bytes)

A picture is one contiguous run of raster output; printed text ends it, so a job with a text
header over a raster body gives text lines and one picture placed after them
(`RasterImage.after_line`). Rows are kept as Python ints (pixel x is bit MAX_WIDTH-1-x) so a
band is OR-ed into place in C, not per pixel.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_HEIGHT", "MAX_WIDTH", "RasterAssembler", "RasterImage", "StarRaster"]

MAX_WIDTH = 2048  # dots; the widest receipt printer is 832 (112 mm): more is clipped
MAX_HEIGHT = 32000  # dot rows in one picture (4 m of paper at 203 dpi): more is dropped
DEFAULT_LINE_SPACING = 34  # ESC 2: 1/6 inch at 203 dpi
# bytes -> b"0"/b"1" per byte for bit b (7 = the top / leftmost dot), for int(..., 2)
_BIT = [bytes(0x31 if v >> b & 1 else 0x30 for v in range(256)) for b in range(8)]


@dataclass(frozen=True, slots=True)
class RasterImage:
    """One picture: `height` rows of `(width + 7) // 8` bytes, MSB first, 1 = a black dot."""

    width: int
    height: int
    data: bytes
    after_line: int = 0  # how many text lines of the document were printed before it

    @property
    def row_bytes(self) -> int:
        return (self.width + 7) // 8

    def ink(self) -> int:
        """Black dots in the picture (a blank band is not a picture worth reading)."""
        return int.from_bytes(self.data).bit_count() if self.data else 0

    def to_png(self) -> bytes:
        """The picture as a 1-bit grayscale PNG (black on white), written without Pillow."""
        rb = self.row_bytes
        inverted = bytes(b ^ 0xFF for b in self.data)  # PNG gray 1 is white
        raw = b"".join(b"\x00" + inverted[r * rb : (r + 1) * rb] for r in range(self.height))

        def chunk(kind: bytes, body: bytes) -> bytes:
            crc = zlib.crc32(kind + body) & 0xFFFFFFFF
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

        header = struct.pack(">IIBBBBB", max(1, self.width), max(1, self.height), 1, 0, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def stack(images: list[RasterImage], gap: int = 16) -> RasterImage:
    """Several pictures one under the other (for `parse --image`)."""
    width = max((i.width for i in images), default=1)
    rb = (width + 7) // 8
    rows: list[bytes] = []
    for k, image in enumerate(images):
        if k:
            rows.extend([bytes(rb)] * gap)
        ib = image.row_bytes
        for r in range(image.height):
            rows.append(image.data[r * ib : (r + 1) * ib].ljust(rb, b"\x00"))
    return RasterImage(width, len(rows), b"".join(rows))


def _spread(bits: bytes, factor: int) -> bytes:
    """b"0110" -> b"00111100" for factor 2: each dot repeated `factor` times across."""
    if factor == 1:
        return bits
    out = bytearray(len(bits) * factor)
    for k in range(factor):
        out[k::factor] = bits
    return bytes(out)


def row_bits(row: bytes, sx: int = 1) -> tuple[int, int]:
    """One raster row (MSB first) as (int, width in dots), each dot `sx` dots wide."""
    if sx == 1:
        return int.from_bytes(row), len(row) * 8
    bits = _spread(format(int.from_bytes(row), f"0{len(row) * 8}b").encode(), sx)
    return int(bits, 2), len(bits)


def column_rows(data: bytes, columns: int, col_bytes: int, sx: int = 1) -> list[tuple[int, int]]:
    """Column-format data (col_bytes per column, top bit first) as its dot rows."""
    rows: list[tuple[int, int]] = []
    for k in range(col_bytes):
        plane = data[k::col_bytes][:columns].ljust(columns, b"\x00")
        for b in range(7, -1, -1):
            bits = _spread(plane.translate(_BIT[b]), sx)
            rows.append((int(bits, 2) if bits else 0, len(bits)))
    return rows


class _Canvas:
    def __init__(self, after_line: int) -> None:
        self.rows: list[int] = []
        self.width = 0
        self.after_line = after_line
        self.dropped_rows = 0

    def put(self, y: int, x: int, value: int, width: int) -> None:
        if y >= MAX_HEIGHT or x >= MAX_WIDTH or width <= 0:
            self.dropped_rows += 1
            return
        if x + width > MAX_WIDTH:  # clipped at the right edge, as the printer does
            value >>= x + width - MAX_WIDTH
            width = MAX_WIDTH - x
        rows = self.rows
        if y >= len(rows):
            rows.extend([0] * (y + 1 - len(rows)))
        rows[y] |= value << (MAX_WIDTH - x - width)
        if value:
            self.width = max(self.width, x + width)

    def image(self) -> RasterImage:
        rows = self.rows
        while rows and not rows[-1]:  # the feed after the last band is not picture
            rows.pop()
        width = max(8, self.width)
        rb = (width + 7) // 8
        shift = MAX_WIDTH - rb * 8
        data = b"".join((r >> shift).to_bytes(rb) for r in rows)
        return RasterImage(rb * 8, len(rows), data, self.after_line)


class RasterAssembler:
    """The raster part of one document: call the methods as commands arrive, `close` when
    text is printed, `take` at the end of the document."""

    def __init__(self) -> None:
        self.images: list[RasterImage] = []
        self.dropped_rows = 0
        self._canvas: _Canvas | None = None
        self._y = 0  # paper position inside the open picture
        self._x = 0  # ESC * bands already on this line, in dots
        self._line_height = 0  # tallest ESC * band on this line
        self._gx = 0  # GS ( L graphics stored in the print buffer, side by side
        self._gheight = 0
        self.line_spacing = DEFAULT_LINE_SPACING

    @property
    def open(self) -> bool:
        return self._canvas is not None

    def _open(self, after_line: int) -> _Canvas:
        if self._canvas is None:
            self._canvas = _Canvas(after_line)
            self._y = self._x = self._line_height = 0
        return self._canvas

    # -- ESC/POS ---------------------------------------------------------------------------

    def gs_v0(self, mode: int, width_bytes: int, height: int, data: bytes, after_line: int) -> None:
        """GS v 0: a band; m 1/49 doubles the width, 2/50 the height, 3/51 both."""
        sx = 2 if mode & 1 else 1
        sy = 2 if mode & 2 else 1
        canvas = self._open(after_line)
        self._end_band_line()
        y = self._y
        for r in range(height):
            value, width = row_bits(data[r * width_bytes : (r + 1) * width_bytes], sx)
            for k in range(sy):
                canvas.put(y + r * sy + k, 0, value, width)
        self._y = y + height * sy

    def esc_star(self, m: int, columns: int, data: bytes, after_line: int) -> None:
        """ESC * m: one band of columns at the current position on the line."""
        col_bytes = 3 if m & 0x20 else 1
        sx = 1 if m & 1 else 2  # single density: every column two dots wide
        sy = 1 if col_bytes == 3 else 3  # 8-dot modes: each dot three rows tall
        canvas = self._open(after_line)
        rows = column_rows(data, columns, col_bytes, sx)
        for r, (value, width) in enumerate(rows):
            for k in range(sy):
                canvas.put(self._y + r * sy + k, self._x, value, width)
        self._x += columns * sx
        self._line_height = max(self._line_height, len(rows) * sy)

    def graphics(self, fn: int, body: bytes, after_line: int) -> None:
        """GS ( L / GS 8 L, `body` after m fn: 112 raster or 113 column data into the print
        buffer (a bx by c xL xH yL yH data), 50 (or 2) prints the buffer."""
        if fn in (2, 50):
            if self._canvas is not None:
                self._end_band_line()
                self._y += self._gheight
            self._gx = self._gheight = 0
            return
        if fn not in (112, 113) or len(body) < 8:
            return
        bx, by = (2 if body[1] == 2 else 1), (2 if body[2] == 2 else 1)
        width, height = body[4] | body[5] << 8, body[6] | body[7] << 8
        data = body[8:]
        canvas = self._open(after_line)
        self._end_band_line()
        if fn == 112:
            rb = (width + 7) // 8
            rows = [row_bits(data[r * rb : (r + 1) * rb], bx) for r in range(height)]
        else:
            rows = column_rows(data, width, (height + 7) // 8, bx)[:height]
        for r, (value, w) in enumerate(rows):
            for k in range(by):
                canvas.put(self._y + r * by + k, self._gx, value, w)
        self._gx += width * bx
        self._gheight = max(self._gheight, height * by)

    def feed(self, dots: int) -> None:
        """ESC J n: print and feed n dots (the usual step between ESC * bands)."""
        if self._canvas is not None:
            self._x = self._line_height = 0
            self._y += dots

    def line_feed(self) -> None:
        """LF on an empty line while a picture is open: one line at the ESC 3 spacing (a
        band taller than the spacing still advances by its height)."""
        if self._canvas is not None:
            self._y += max(self.line_spacing, self._line_height)
            self._x = self._line_height = 0

    def _end_band_line(self) -> None:
        if self._x:  # ESC * bands left on a line that was never fed: they stay
            self._y += self._line_height
            self._x = self._line_height = 0

    # -- Star Graphic Mode -----------------------------------------------------------------

    def star_row(self, row: bytes, advance: bool, after_line: int) -> None:
        value, width = row_bits(row)
        self._open(after_line).put(self._y, 0, value, width)
        if advance:
            self._y += 1

    def star_skip(self, rows: int, after_line: int) -> None:
        self._open(after_line)
        self._y += max(0, rows)

    # -- pictures --------------------------------------------------------------------------

    def close(self) -> None:
        """Text was printed: the open picture (if any) is complete."""
        canvas, self._canvas = self._canvas, None
        if canvas is None:
            return
        self.dropped_rows += canvas.dropped_rows
        image = canvas.image()
        if image.height:
            self.images.append(image)

    def take(self) -> list[RasterImage]:
        self.close()
        images, self.images = self.images, []
        self._gx = self._gheight = 0
        return images


# -- Star Graphic Mode: ESC * r A ... ESC * r B ------------------------------------------------

_STAR_PLAIN = frozenset(b"ABCRab")  # ESC * r A / B / C / R / a / b: no parameter
_STAR_PARAM = frozenset(b"DEFPQTtKYe")  # ESC * r X n NUL, n in ASCII decimal
_STAR_ESC_LENGTHS = {0x07: 4, 0x1E: 4, 0x06: 3, 0x0C: 3}  # ESC BEL n1 n2, ESC RS x n, ...
_MAX_PARAM = 24  # ESC * r X digits NUL: a longer run is noise


class StarRaster:
    """Parses the bytes of Star Graphic Mode (raster mode) into a RasterAssembler.

    `parse` stops after ESC * r B (`active` False) and at ESC FF EOT / ESC FF EM, which set
    `ended` (the job's cut); `command` parses one ESC command (or -k: k bytes missing)."""

    def __init__(self, raster: RasterAssembler, unknown: Callable[[int], None]) -> None:
        self.raster = raster
        self.active = False
        self.ended = False
        self._unknown = unknown

    def parse(self, data: bytes, i: int, after_line: int) -> tuple[int, int]:
        """Take raster-mode commands from data[i]: (index reached, k) where k > 0 when the
        command there needs k bytes (from that index) that have not arrived."""
        n = len(data)
        raster = self.raster
        while i < n and self.active and not self.ended:
            c = data[i]
            if c in (0x62, 0x6B):  # b n1 n2 row / k n1 n2 row
                if i + 3 > n:
                    return i, 3
                size = data[i + 1] | data[i + 2] << 8
                if i + 3 + size > n:
                    return i, 3 + size
                raster.star_row(data[i + 3 : i + 3 + size], c == 0x62, after_line)
                i += 3 + size
            elif c == 0x1B:
                r = self.command(data, i, after_line)
                if r < 0:
                    return i, -r
                i = r
            else:  # BEL, FS, SUB, EM, ETB and stray bytes: one byte each
                if c >= 0x20:
                    self._unknown(1)
                i += 1
        return i, 0

    def command(self, data: bytes, i: int, after_line: int) -> int:
        """One ESC command at data[i] (in raster mode, or ESC * r in line mode)."""
        n = len(data)
        if i + 2 > n:
            return -2
        c = data[i + 1]
        if c == 0x2A:  # ESC * r ...
            if i + 4 > n:
                return -4
            if data[i + 2] != 0x72:
                self._unknown(2)
                return i + 2
            op = data[i + 3]
            if op in _STAR_PLAIN:
                if op in (0x41, 0x42):  # ESC * r A enters raster mode, ESC * r B leaves it
                    self.active = op == 0x41
                return i + 4
            start = i + 5 if op == 0x6D else i + 4  # ESC * r m l n NUL / m r n NUL
            if op not in _STAR_PARAM and op != 0x6D:
                self._unknown(4)
                return i + 4
            end = data.find(b"\x00", start, start + _MAX_PARAM)
            if end < 0:
                if n < start + _MAX_PARAM:
                    return -(n - i + 1)
                self._unknown(start - i)
                return start
            if op == 0x59:  # ESC * r Y n NUL: skip n dot rows
                digits = data[start:end]
                self.raster.star_skip(int(digits) if digits.isdigit() else 0, after_line)
            return end + 1
        if c == 0x1D:  # ESC GS ETX s n1 n2 (document start/end), ESC GS BEL m n1 n2, ...
            if i + 3 > n:
                return -3
            k = 6 if data[i + 2] in (0x03, 0x07) else 3
            return i + k if i + k <= n else -k
        if c == 0x0C:  # ESC FF NUL (page) / EOT / EM (end of document) / LF
            if i + 3 > n:
                return -3
            if data[i + 2] in (0x04, 0x19):
                self.ended = True
            return i + 3
        k = _STAR_ESC_LENGTHS.get(c, 2)
        return i + k if i + k <= n else -k
