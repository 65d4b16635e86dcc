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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

__all__ = ["MAX_HEIGHT", "MAX_PICTURE_BYTES", "MAX_WIDTH", "Pictures", "RasterAssembler",
           "RasterImage", "picture_rows_exceed", "stack"]

MAX_WIDTH = 2048  # dots; the widest receipt printer is 832 (112 mm): more is clipped
MAX_HEIGHT = 32000  # dot rows in one picture (4 m of paper at 203 dpi): more is dropped
DEFAULT_LINE_SPACING = 34  # ESC 2: 1/6 inch at 203 dpi
MAX_PICTURE_BYTES = 4 << 20  # per document; a 2 m receipt at 576 dots is 1.2 MB
_OP_COST = 128  # a recorded command's own memory: 200 MB of Star rows is not 200 MB of data
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


def stack(images: Sequence[RasterImage], gap: int = 16) -> RasterImage:
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


# a recorded raster command: (kind, y, x, p, q, r, data), placed when the pictures are built
_Op = tuple[int, int, int, int, int, int, bytes]
_V0, _COLUMNS, _GRAPHICS, _ROW = range(4)


class _Canvas:
    """One picture being built from its recorded commands (only when it is asked for)."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.width = 0

    def put(self, y: int, x: int, value: int, width: int) -> None:
        if y >= MAX_HEIGHT or x >= MAX_WIDTH or width <= 0:
            return  # off the paper (or past MAX_HEIGHT): dropped
        if x + width > MAX_WIDTH:  # clipped at the right edge, as the printer does
            value >>= x + width - MAX_WIDTH
            width = MAX_WIDTH - x
        rows = self.rows
        if y >= len(rows):
            rows.extend([0] * (y + 1 - len(rows)))
        rows[y] |= value << (MAX_WIDTH - x - width)
        if value:
            self.width = max(self.width, x + width)

    def place(self, op: _Op) -> None:
        kind, y, x, p, q, r, data = op
        if kind == _V0:  # p mode, q bytes a row, r rows
            sx, sy = (2 if p & 1 else 1), (2 if p & 2 else 1)
            for row in range(r):
                value, width = row_bits(data[row * q : (row + 1) * q], sx)
                for k in range(sy):
                    self.put(y + row * sy + k, 0, value, width)
        elif kind == _COLUMNS:  # ESC * m (p), q columns
            col_bytes = 3 if p & 0x20 else 1
            sx, sy = (1 if p & 1 else 2), (1 if col_bytes == 3 else 3)
            for row, (value, width) in enumerate(column_rows(data, q, col_bytes, sx)):
                for k in range(sy):
                    self.put(y + row * sy + k, x, value, width)
        elif kind == _GRAPHICS:  # GS ( L function p, body a bx by c xL xH yL yH data
            bx, by = (2 if data[1] == 2 else 1), (2 if data[2] == 2 else 1)
            width, height = data[4] | data[5] << 8, data[6] | data[7] << 8
            body = data[8:]
            if p == 112:
                rb = (width + 7) // 8
                rows = [row_bits(body[k * rb : (k + 1) * rb], bx) for k in range(height)]
            else:
                rows = column_rows(body, width, (height + 7) // 8, bx)[:height]
            for row, (value, w) in enumerate(rows):
                for k in range(by):
                    self.put(y + row * by + k, x, value, w)
        else:  # a Star Graphic Mode dot row
            self.put(y, 0, *row_bits(data))

    def image(self, after_line: int) -> RasterImage:
        rows = self.rows
        while rows and not rows[-1]:  # the feed after the last band is not picture
            rows.pop()
        width = max(8, self.width)
        rb = (width + 7) // 8
        shift = MAX_WIDTH - rb * 8
        data = b"".join((r >> shift).to_bytes(rb) for r in rows)
        return RasterImage(rb * 8, len(rows), data, after_line)


@dataclass(slots=True)
class _Recorded:
    """One picture's commands as they arrived, with where each lands on the paper."""

    after_line: int
    ops: list[_Op]
    bottom: int = 0  # paper rows the commands reach: the picture is at most this tall
    sure: bool = True  # every command lies inside MAX_WIDTH x MAX_HEIGHT with all its data

    def add(self, op: _Op, width: int, height: int, exact: bool = True) -> None:
        self.ops.append(op)
        bottom = op[1] + height
        self.bottom = max(self.bottom, min(bottom, MAX_HEIGHT))
        if not exact or op[2] + width > MAX_WIDTH or bottom > MAX_HEIGHT:
            self.sure = False

    def inked(self) -> bool | None:
        """Whether the picture has a black dot (None: only building it can tell)."""
        if not self.sure:
            return None
        return any(op[6].count(0) != len(op[6]) for op in self.ops)

    def build(self) -> RasterImage:
        canvas = _Canvas()
        for op in self.ops:
            canvas.place(op)
        return canvas.image(self.after_line)


class Pictures(Sequence[RasterImage]):
    """A document's pictures, built from their recorded commands on first use: a job that is
    only read as text (the usual one, a logo over text) never pays for its bitmaps."""

    __slots__ = ("_images", "_recorded")

    def __init__(self, recorded: list[_Recorded]) -> None:
        self._recorded = recorded
        self._images: list[RasterImage] | None = None

    def _built(self) -> list[RasterImage]:
        images = self._images
        if images is None:  # the recorded commands stay: a second thread builds the same
            images = [image for image in map(_Recorded.build, self._recorded) if image.height]
            self._images = images
        return images

    @overload
    def __getitem__(self, index: int) -> RasterImage: ...
    @overload
    def __getitem__(self, index: slice) -> list[RasterImage]: ...
    def __getitem__(self, index: int | slice) -> RasterImage | list[RasterImage]:
        return self._built()[index]

    def __len__(self) -> int:
        return len(self._built())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return self._built() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Pictures({self._built()!r})"

    def rows_exceed(self, limit: int) -> bool:
        """Whether the pictures are more than `limit` rows tall in all, without building
        them when their recorded geometry (or, for limit 0, their ink) already tells."""
        if self._images is None:
            if sum(r.bottom for r in self._recorded) <= limit:
                return False
            if limit <= 0:
                inked = [r.inked() for r in self._recorded]
                if None not in inked:
                    return any(inked)
        return sum(image.height for image in self._built()) > limit


def picture_rows_exceed(images: Sequence[RasterImage], limit: int) -> bool:
    """sum(image.height) > limit, cheaply for a decoder's (still unbuilt) Pictures."""
    if isinstance(images, Pictures):
        return images.rows_exceed(limit)
    return sum(image.height for image in images) > limit


class RasterAssembler:
    """The raster part of one document: call the methods as commands arrive, `close` when
    text is printed, `take` at the end of the document. Each command is recorded with its
    place on the paper (cheap arithmetic); the bitmaps are built only when `Pictures` are
    read (OCR, `parse --image`). Past `max_bytes` of picture data the document's pictures
    are dropped (`over`) and its later raster data refused (`room`): the text stays."""

    def __init__(self, max_bytes: int = MAX_PICTURE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.over, self._kept = False, 0  # over: this document's pictures were dropped
        self._done: list[_Recorded] = []
        self._open_pic: _Recorded | None = None
        self._y = 0  # paper position inside the open picture
        self._x = 0  # ESC * bands already on this line, in dots
        self._line_height = 0  # tallest ESC * band on this line
        self._gx = 0  # GS ( L graphics stored in the print buffer, side by side
        self._gheight = 0
        self.line_spacing = DEFAULT_LINE_SPACING

    @property
    def open(self) -> bool:
        return self._open_pic is not None

    @property
    def pending(self) -> bool:
        """Some picture of this document is complete (it may still turn out blank)."""
        return bool(self._done)

    def room(self, size: int) -> bool:
        """Whether `size` more bytes of picture data fit this document's budget."""
        if not self.over and self._kept + size + _OP_COST <= self.max_bytes:
            self._kept += size + _OP_COST
            return True
        self.over, self._done, self._open_pic = True, [], None
        return False

    def _open(self, after_line: int) -> _Recorded:
        if self._open_pic is None:
            self._open_pic = _Recorded(after_line, [])
            self._y = self._x = self._line_height = 0
        return self._open_pic

    # -- ESC/POS ---------------------------------------------------------------------------

    def gs_v0(self, mode: int, width_bytes: int, height: int, data: bytes, after_line: int) -> None:
        """GS v 0: a band; m 1/49 doubles the width, 2/50 the height, 3/51 both."""
        sx = 2 if mode & 1 else 1
        sy = 2 if mode & 2 else 1
        picture = self._open(after_line)
        self._end_band_line()
        y = self._y
        picture.add((_V0, y, 0, mode, width_bytes, height, data), width_bytes * 8 * sx,
                    height * sy, len(data) == width_bytes * height)
        self._y = y + height * sy

    def esc_star(self, m: int, columns: int, data: bytes, after_line: int) -> None:
        """ESC * m: one band of columns at the current position on the line."""
        col_bytes = 3 if m & 0x20 else 1
        sx = 1 if m & 1 else 2  # single density: every column two dots wide
        sy = 1 if col_bytes == 3 else 3  # 8-dot modes: each dot three rows tall
        picture = self._open(after_line)
        height = col_bytes * 8 * sy
        picture.add((_COLUMNS, self._y, self._x, m, columns, 0, data), columns * sx, height,
                    len(data) == columns * col_bytes)
        self._x += columns * sx
        self._line_height = max(self._line_height, height)

    def graphics(self, fn: int, body: bytes, after_line: int) -> None:
        """GS ( L / GS 8 L, `body` after m fn: 112 raster or 113 column data into the print
        buffer (a bx by c xL xH yL yH data), 50 (or 2) prints the buffer."""
        if fn in (2, 50):
            if self._open_pic is not None:
                self._end_band_line()
                self._y += self._gheight
            self._gx = self._gheight = 0
            return
        if fn not in (112, 113) or len(body) < 8:
            return
        bx, by = (2 if body[1] == 2 else 1), (2 if body[2] == 2 else 1)
        width, height = body[4] | body[5] << 8, body[6] | body[7] << 8
        picture = self._open(after_line)
        self._end_band_line()
        # column data carries whole bytes below the last row: only raster data is sure
        exact = fn == 112 and len(body) - 8 <= (width + 7) // 8 * height
        dots = ((width + 7) // 8 * 8 if fn == 112 else width) * bx  # raster rows: whole bytes
        picture.add((_GRAPHICS, self._y, self._gx, fn, 0, 0, body), dots, height * by, exact)
        self._gx += width * bx
        self._gheight = max(self._gheight, height * by)

    def feed(self, dots: int) -> None:
        """ESC J n: print and feed n dots (the usual step between ESC * bands)."""
        if self._open_pic is not None:
            self._x = self._line_height = 0
            self._y += dots

    def line_feed(self) -> None:
        """LF on an empty line while a picture is open: one line at the ESC 3 spacing (a
        band taller than the spacing still advances by its height)."""
        if self._open_pic is not None:
            self._y += max(self.line_spacing, self._line_height)
            self._x = self._line_height = 0

    def _end_band_line(self) -> None:
        if self._x:  # ESC * bands left on a line that was never fed: they stay
            self._y += self._line_height
            self._x = self._line_height = 0

    # -- Star Graphic Mode -----------------------------------------------------------------

    def star_row(self, row: bytes, advance: bool, after_line: int) -> None:
        if not self.room(len(row)):
            return
        self._open(after_line).add((_ROW, self._y, 0, 0, 0, 0, row), len(row) * 8, 1)
        if advance:
            self._y += 1

    def star_skip(self, rows: int, after_line: int) -> None:
        self._open(after_line)
        self._y += max(0, rows)

    # -- pictures --------------------------------------------------------------------------

    def close(self) -> None:
        """Text was printed: the open picture (if any) is complete."""
        picture, self._open_pic = self._open_pic, None
        if picture is not None and picture.ops:
            self._done.append(picture)

    def take(self) -> Pictures:
        self.close()
        done, self._done = self._done, []
        self._gx = self._gheight = self._kept = 0
        self.over = False
        return Pictures(done)
