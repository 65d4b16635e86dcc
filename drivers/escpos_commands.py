"""The ESC/POS command set (Epson "ESC/POS Application Programming Guide", TM series):
lengths of the fixed-length commands as tables, and handlers for the variable-length ones
(images, 2D symbols, barcodes, user-defined characters, NV memory, tab stops, cuts).

Table lengths are totals including the prefix and command bytes, e.g. ESC ! n is 3. The
effects of fixed-length commands (ESC ! / ESC E / ESC t / ...) live in drivers/escpos.py.
"""

from __future__ import annotations

import re
from typing import Any

from drivers.escpos_builder import DocumentBuilder

_NOT_ASCII_TEXT = re.compile(rb"[^\x20-\x7e]")
MAX_SYMBOL_DATA = 8192  # largest 2D symbol payload kept (QR holds at most 7089 digits)
MAX_NUL_BARCODE = 255  # longest NUL-terminated GS k data before it is declared garbage
# Larger than any image a receipt printer accepts (a full 4095-dot page at 832 dots wide is
# 425 KB): a bigger declared length is line noise, and skipping it would blind the decoder.
MAX_PAYLOAD = 16 * 1024 * 1024

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10

# ESC x with a fixed length. Variable ones (ESC & ESC ( ESC * ESC D) are handled apart.
ESC_FIXED: dict[int, int] = {
    0x0C: 2,  # ESC FF   print page-mode data
    0x0E: 2,  # ESC SO   double width (old)
    0x0F: 2,  # ESC SI   condensed (old)
    0x12: 2,  # ESC DC2  cancel condensed (old)
    0x14: 2,  # ESC DC4  cancel double width (old)
    0x20: 3,  # ESC SP n right-side character spacing
    0x21: 3,  # ESC ! n  print mode
    0x24: 4,  # ESC $ nL nH absolute position
    0x25: 3,  # ESC % n  user-defined character set on/off
    0x2D: 3,  # ESC - n  underline
    0x32: 2,  # ESC 2    default line spacing
    0x33: 3,  # ESC 3 n  line spacing
    0x3C: 2,  # ESC <    return home
    0x3D: 3,  # ESC = n  peripheral device
    0x3F: 3,  # ESC ? n  cancel user-defined character
    0x40: 2,  # ESC @    initialise
    0x42: 4,  # ESC B n t beeper (clones)
    0x45: 3,  # ESC E n  emphasis
    0x47: 3,  # ESC G n  double strike
    0x4A: 3,  # ESC J n  print and feed
    0x4B: 3,  # ESC K n  print and reverse feed
    0x4C: 2,  # ESC L    page mode
    0x4D: 3,  # ESC M n  font
    0x52: 3,  # ESC R n  international character set
    0x53: 2,  # ESC S    standard mode
    0x54: 3,  # ESC T n  print direction in page mode
    0x55: 3,  # ESC U n  unidirectional printing
    0x56: 3,  # ESC V n  90 degree rotation
    0x57: 10,  # ESC W xL xH yL yH dxL dxH dyL dyH print area in page mode
    0x5C: 4,  # ESC \ nL nH relative position
    0x61: 3,  # ESC a n  justification
    0x63: 4,  # ESC c 0..5 n  paper sensor / panel buttons / paper type
    0x64: 3,  # ESC d n  print and feed n lines
    0x65: 3,  # ESC e n  print and reverse feed n lines
    0x66: 4,  # ESC f m n cut sheet wait time
    0x69: 2,  # ESC i    partial cut (obsolete)
    0x6A: 3,  # ESC j n  print and reverse feed (clones)
    0x6D: 2,  # ESC m    partial cut (obsolete)
    0x70: 5,  # ESC p m t1 t2 drawer kick pulse
    0x72: 3,  # ESC r n  print colour
    0x74: 3,  # ESC t n  code page
    0x75: 3,  # ESC u n  peripheral status
    0x76: 2,  # ESC v    paper sensor status
    0x7B: 3,  # ESC { n  upside-down
}

GS_FIXED: dict[int, int] = {
    0x0C: 2,  # GS FF    print and eject (label printers)
    0x21: 3,  # GS ! n   character size
    0x24: 4,  # GS $ nL nH absolute vertical position in page mode
    0x2F: 3,  # GS / m   print downloaded bit image
    0x3A: 2,  # GS :     start/end macro definition
    0x42: 3,  # GS B n   reverse (white on black)
    0x45: 3,  # GS E n   print density (old)
    0x48: 3,  # GS H n   HRI position
    0x49: 3,  # GS I n   transmit printer ID
    0x4C: 4,  # GS L nL nH left margin
    0x50: 4,  # GS P x y motion units
    0x54: 3,  # GS T n   beginning of line
    0x57: 4,  # GS W nL nH print area width
    0x5C: 4,  # GS \ nL nH relative vertical position in page mode
    0x5E: 5,  # GS ^ r t m execute macro
    0x61: 3,  # GS a n   automatic status back
    0x62: 3,  # GS b n   smoothing
    0x63: 2,  # GS c     print counter
    0x66: 3,  # GS f n   HRI font
    0x67: 6,  # GS g 0/2 m nL nH maintenance counter
    0x68: 3,  # GS h n   barcode height
    0x6A: 3,  # GS j n   automatic ink status back
    0x72: 3,  # GS r n   transmit status
    0x77: 3,  # GS w n   barcode width
    0x7A: 5,  # GS z 0 t1 t2 online recovery wait time
    0x7C: 3,  # GS | n   print density (clones; python-escpos sends it)
}

FS_FIXED: dict[int, int] = {
    0x21: 3,  # FS ! n   Kanji print mode
    0x26: 2,  # FS &     Kanji mode on
    0x2D: 3,  # FS - n   Kanji underline
    0x2E: 2,  # FS .     Kanji mode off
    0x32: 76,  # FS 2 c1 c2 d1..d72 define user Kanji (24x24 dots)
    0x3F: 4,  # FS ? c1 c2 cancel user Kanji
    0x43: 3,  # FS C n   Kanji code system
    0x53: 4,  # FS S n1 n2 Kanji spacing
    0x57: 3,  # FS W n   Kanji quadruple size
    0x70: 4,  # FS p n m print NV bit image
}

# DLE DC4 fn: lengths by function (1 pulse, 2 power off, 3 buzzer, 7 status, 8 clear buffer).
DLE_DC4_LENGTHS: dict[int, int] = {1: 5, 2: 5, 3: 8, 7: 4, 8: 10}

# Control bytes that are known single-byte commands with no effect on the text.
# BEL (buzzer on some models), SO DC2 DC4 (old print modes), CAN (page mode).
SINGLE_BYTE_NOOPS = frozenset({0x07, 0x0E, 0x12, 0x14, 0x18})

# GS k m: symbology names, for both formats (m 0-6 NUL terminated, m 65-79 with a length).
SYMBOLOGIES: dict[int, str] = {
    0: "UPCA", 1: "UPCE", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "CODABAR",
    65: "UPCA", 66: "UPCE", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "CODABAR",
    72: "CODE93", 73: "CODE128", 74: "GS1_128", 75: "GS1_DATABAR_OMNI",
    76: "GS1_DATABAR_TRUNCATED", 77: "GS1_DATABAR_LIMITED", 78: "GS1_DATABAR_EXPANDED",
    79: "CODE128",
}

# GS ( k cn: the 2D symbologies; QR (49) goes to Document.qr_codes, the rest to barcodes.
SYMBOLS_2D: dict[int, str] = {
    48: "PDF417", 49: "QR", 50: "MAXICODE", 51: "GS1_DATABAR", 52: "COMPOSITE",
    53: "AZTEC", 54: "DATAMATRIX",
}

# GS ( L / GS 8 L functions that carry image data (store raster/column graphics, NV and
# download graphics definitions): each one counts as a skipped image.
GRAPHICS_STORE_FUNCTIONS = frozenset({67, 68, 83, 84, 112, 113})


def code128_text(data: bytes) -> str:
    """Human-readable content of Epson CODE128 data ({A/{B/{C code sets, {S shift, {1-{4
    function characters, {{ for a brace); code set C bytes are digit pairs."""
    out: list[str] = []
    code_set = "B"
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x7B and i + 1 < n:  # "{"
            c = data[i + 1]
            i += 2
            if c in b"ABC":
                code_set = chr(c)
            elif c == 0x7B:
                out.append("{")
            # {S (shift) and {1-{4 (FNC1-4) print no character
            continue
        if code_set == "C":
            out.append(f"{b:02d}" if b < 100 else "")
        else:
            out.append(chr(b) if 0x20 <= b < 0x7F else "")
        i += 1
    return "".join(out)


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
            if func in GRAPHICS_STORE_FUNCTIONS:
                self._image()
            self._skip = size - 2
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
        if data[j + 8] in GRAPHICS_STORE_FUNCTIONS:
            self._image()
        self._skip = size - 2
        return j + 9

    def _esc_image(self, data: bytes, j: int) -> int:
        """ESC * m nL nH d...: bit image, 1 byte per column (8-dot) or 3 (24-dot, m 32/33)."""
        if j + 5 > len(data):
            return -5
        columns = data[j + 3] | data[j + 4] << 8
        self._skip = columns * 3 if data[j + 2] & 0x20 else columns
        self._image(stripe=True)
        return j + 5

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
        size = (data[j + 4] | data[j + 5] << 8) * (data[j + 6] | data[j + 7] << 8)
        if size > MAX_PAYLOAD:
            self._unknown(8)
            return j + 8
        self._skip = size
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
        self._end_document("cut", self._base + j + k)
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
