"""Star Graphic Mode (raster mode) bytes, ESC * r A ... ESC * r B, parsed into the pictures
of a RasterAssembler (drivers/escpos/raster.py). Pure."""

from __future__ import annotations

from collections.abc import Callable

from drivers.escpos.raster import RasterAssembler

__all__ = ["StarRaster"]

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
                if not raster.over:  # past the picture budget rows only stream past
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
