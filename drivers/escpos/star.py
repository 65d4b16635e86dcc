"""Star Line Mode (TSP100/TSP650/TSP700/SP700/mC-Print in "Star" emulation), beside ESC/POS.

Star's command set shares ESC/POS's prefix byte but not its meanings: `ESC E` is bold on
with no parameter (ESC/POS reads a parameter and eats a character), `ESC i n1 n2` is the
character size (ESC/POS: a cut), `ESC d n` the cut (ESC/POS: a feed), `ESC GS t n` the code
page, and FS a single-byte drawer kick. `detect_command_set` tells the two apart from a job's
bytes; `StarDecoder` is the ESC/POS decoder with Star's ESC table (GS commands that Star
drivers also send, such as `GS k` barcodes and `GS v 0` images, keep their ESC/POS meaning).

Pure: no IO. Public names: `detect_command_set`, `CommandSet`, `StarDecoder`,
`STAR_CODEPAGES`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from drivers.escpos.builder import BOLD, DOUBLE_HEIGHT, DOUBLE_WIDTH, MAX_PICTURE_BYTES
from drivers.escpos.commands import MAX_PAYLOAD
from drivers.escpos.decoder import Effect, EscposDecoder, Handler

__all__ = ["STAR_CODEPAGES", "CommandSet", "StarDecoder", "detect_command_set"]

CommandSet = Literal["escpos", "star", "unknown"]

# -- detection ------------------------------------------------------------------------------

# Sequences only Star Line Mode sends (weight 3) or that Star reads and ESC/POS encoders
# never emit in that form (weight 1). ESC GS and ESC RS do not exist in ESC/POS at all.
STAR_SIGNS = re.compile(
    rb"\x1b[\x1d\x1e]"  # ESC GS ..., ESC RS ...: Star-only prefixes
    rb"|\x1bi[\x00-\x07][\x00-\x07]"  # ESC i n1 n2 (size); in ESC/POS ESC i is a bare cut
    rb"|\x1bE[^\x00\x01\x30\x31]"  # ESC E then text: bold with no parameter
    rb"|\x1bF"  # ESC F: bold off (undefined in ESC/POS)
    rb"|\x1b\*r[A-Za-z]"  # ESC * r ...: Star raster graphics
    rb"|\x1bb[\x00-\x08\x30-\x38][\x00-\x04\x31-\x34][\x00-\x03\x31-\x33]"  # ESC b barcode
    rb"|\x1b\x07[\x00-\xff][\x00-\xff]\x07"  # ESC BEL n1 n2 BEL: drawer pulse, then kick
)
ESCPOS_SIGNS = re.compile(
    rb"\x1dV[\x00\x01\x30\x31AaBbgh]"  # GS V: cut
    rb"|\x1d![\x00-\x77]"  # GS ! n: character size
    rb"|\x1b![\x00-\xff]"  # ESC ! n: print mode
    rb"|\x1b[Et][\x00-\x01\x30\x31]"  # ESC E n, ESC t n
    rb"|\x1b\x1c|\x1d\(k|\x1c\(C|\x1dL|\x1bZ"  # 2D symbols, UTF-8, margins, ESC Z
)
DETECT_WINDOW = 4096  # bytes of a job's start that decide it; commands come early


def detect_command_set(data: bytes) -> CommandSet:
    """Which command set the print job in `data` uses: "escpos", "star", or "unknown" when
    nothing in its first `DETECT_WINDOW` bytes tells (plain text reads the same in both).

    Pure and cheap (two regex scans of at most 4 KB); the bytes are a job's start, e.g.
    everything since the last cut. Star wins ties only when it has the stronger signs."""
    head = data[:DETECT_WINDOW]
    star = sum(3 if m.group()[1] in (0x1D, 0x1E, 0x2A) else 1
               for m in STAR_SIGNS.finditer(head))
    # GS F9: Bematech's own settings (ESC/Bema or ESC/POS), never sent to a Star printer
    escpos = len(ESCPOS_SIGNS.findall(head)) + 10 * head.count(b"\x1d\xf9")
    if star > escpos:
        return "star"
    if escpos:
        return "escpos"
    return "unknown"


# -- decoding -------------------------------------------------------------------------------

# Star's `ESC GS t n` numbers (Star Line Mode command manual, "code page"), pages Python has.
STAR_CODEPAGES: dict[int, str] = {
    0: "cp437", 1: "cp437", 2: "katakana", 3: "cp437", 4: "cp858", 5: "cp852", 6: "cp860",
    7: "cp861", 8: "cp863", 9: "cp865", 10: "cp866", 11: "cp855", 12: "cp857", 13: "cp862",
    14: "cp864", 15: "cp737", 17: "cp869", 21: "tis_620", 32: "cp1252", 33: "cp1250",
    34: "cp1251",
}

# ESC x with a fixed total length, in Star Line Mode. Variable ones are handled apart.
STAR_ESC_FIXED: dict[int, int] = {
    0x06: 3,  # ESC ACK SOH  automatic status request
    0x0E: 3, 0x14: 3,  # ESC SO n / ESC DC4 n  expanded width (old)
    0x20: 3,  # ESC SP n  character spacing
    0x25: 3,  # ESC % n  download characters on/off
    0x2D: 3,  # ESC - n  underline
    0x2F: 3,  # ESC / n  slashed zero
    0x30: 2, 0x31: 3, 0x32: 2, 0x7A: 3,  # ESC 0, ESC 1 n, ESC 2, ESC z n  line spacing
    0x34: 2, 0x35: 2,  # ESC 4 / ESC 5  highlight on/off
    0x36: 2, 0x37: 2,  # ESC 6 / ESC 7  character set
    0x3A: 2, 0x4D: 2, 0x50: 2,  # ESC : / ESC M / ESC P  font pitch
    0x3D: 3,  # ESC = n  printer select
    0x3F: 4,  # ESC ? LF NUL  reset
    0x40: 2,  # ESC @  initialise
    0x43: 3, 0x4E: 3, 0x4F: 2,  # ESC C n, ESC N n, ESC O  page length / margins
    0x45: 2, 0x46: 2,  # ESC E / ESC F  bold on / off
    0x47: 2, 0x48: 2,  # ESC G / ESC H  double strike on / off
    0x49: 3, 0x4A: 3, 0x6A: 3,  # ESC I n, ESC J n, ESC j n  feed by n/4 mm
    0x52: 3,  # ESC R n  international character set
    0x57: 3, 0x68: 3,  # ESC W n / ESC h n  width / height expansion
    0x5F: 3,  # ESC _ n  upperline
    0x61: 3,  # ESC a n  feed n lines
    0x64: 3,  # ESC d n  cut (0/2 full, 1/3 partial)
    0x69: 4,  # ESC i n1 n2  character size (height, width)
    0x6C: 3, 0x51: 3,  # ESC l n / ESC Q n  left / right margin
    0x70: 3,  # ESC p n  drawer kick (node-thermal-printer's Star type sends ESC p 0/1)
    0x71: 3, 0x74: 3, 0x75: 3, 0x78: 3, 0x79: 3,  # assorted one-parameter settings
    0x73: 4,  # ESC s n1 n2  character spacing (receiptline sends it)
    0x77: 3,  # ESC w n  double height (Daruma printers, which also read Star's ESC E/F)
}
# ESC GS x: fixed lengths (ESC GS t n code page, ESC GS a n alignment, positions)
_GS_FIXED: dict[int, int] = {0x74: 4, 0x61: 4, 0x41: 5, 0x52: 5, 0x03: 6}
_STAR_BARCODES = {0: "UPCE", 1: "UPCA", 2: "EAN8", 3: "EAN13", 4: "CODE39", 5: "ITF",
                  6: "CODE128", 7: "CODE93", 8: "CODABAR"}


class StarDecoder(EscposDecoder):
    """Star Line Mode bytes in, `Document`s out: the API of `EscposDecoder` (feed, idle,
    flush, counters). A document ends at `ESC d n` (cut), at `ESC @` once it has content, and
    at idle/flush. `codepage_map` entries override `STAR_CODEPAGES`."""

    star_cuts = True  # an ESC d at the end of a read may be a cut (see drivers/taps/append.py)

    def __init__(
        self,
        *,
        codepage: str = "cp437",
        codepage_map: Mapping[int, str] | None = None,
        max_line_chars: int = 1024,
        max_document_lines: int = 5000,
        track_cuts: bool = False,
        keep_images: bool = True,
        max_picture_bytes: int = MAX_PICTURE_BYTES,
    ) -> None:
        super().__init__(codepage=codepage, codepage_map={**STAR_CODEPAGES, **(codepage_map or {})},
                         max_line_chars=max_line_chars, max_document_lines=max_document_lines,
                         track_cuts=track_cuts, keep_images=keep_images,
                         max_picture_bytes=max_picture_bytes)
        effects: dict[int, Effect] = {
            0x40: self._esc_init, 0x45: self._star_bold, 0x46: self._star_bold,
            0x64: self._star_cut, 0x69: self._star_size, 0x57: self._star_expand,
            0x68: self._star_expand, 0x52: self._esc_intl, 0x3D: self._esc_peripheral,
            0x61: self._feed_lines, 0x49: self._print, 0x4A: self._print, 0x6A: self._print,
        }
        variable: dict[int, Handler] = {
            0x1D: self._star_gs, 0x1E: self._star_rs, 0x62: self._star_barcode,
            0x44: self._esc_tabs, 0x42: self._to_nul, 0x2A: self._star_star,
            0x4B: self._star_image8, 0x4C: self._star_image16, 0x6B: self._star_image24,
            0x07: self._star_bel, 0x26: self._star_download,
        }
        ctl = self._ctl
        ctl[0x1B] = self._prefixed_handler(self._dispatch_table(STAR_ESC_FIXED, effects, variable))
        # FS and SUB fire the drawers, SI/DC2 turn upside-down printing on/off, EOT ends a
        # job after ESC GS ETX; VT feeds to the next vertical tab: it prints the line
        ctl[0x1C] = ctl[0x1A] = ctl[0x0F] = ctl[0x12] = ctl[0x04] = self._noop1
        ctl[0x0B] = self._ff
        ctl[0x0E] = self._width_on
        ctl[0x14] = self._width_off

    # -- effects ------------------------------------------------------------------------

    def _star_bold(self, data: bytes, j: int) -> None:
        self._style = self._style | BOLD if data[j + 1] == 0x45 else self._style & ~BOLD

    def _star_cut(self, data: bytes, j: int) -> None:
        self._print(data, j)
        # recorded for take_cuts() like ESC/POS's GS V: a block goes in before ESC d n
        self._end_document("cut", self._base + j + 3, self._base + j, data[j : j + 3])

    def _star_size(self, data: bytes, j: int) -> None:
        high, wide = data[j + 2], data[j + 3]
        self._style = ((self._style & BOLD) | (high and DOUBLE_HEIGHT)
                       | (wide and DOUBLE_WIDTH))

    def _star_expand(self, data: bytes, j: int) -> None:
        flag = DOUBLE_WIDTH if data[j + 1] == 0x57 else DOUBLE_HEIGHT
        self._style = self._style | flag if data[j + 2] & 0x0F else self._style & ~flag

    def _width_on(self, data: bytes, j: int) -> int:
        self._style |= DOUBLE_WIDTH
        return j + 1

    def _width_off(self, data: bytes, j: int) -> int:
        self._style &= ~DOUBLE_WIDTH
        return j + 1

    # -- variable-length commands ----------------------------------------------------------

    def _star_gs(self, data: bytes, j: int) -> int:
        """ESC GS t n, ESC GS a n, ESC GS A/R n1 n2, and the 2D codes ESC GS y (QR) and
        ESC GS x (PDF417): settings `S fn n`, data `D`, print `P`."""
        n = len(data)
        if j + 3 > n:
            return -3
        c = data[j + 2]
        k = _GS_FIXED.get(c)
        if k is not None:
            if j + k > n:
                return -k
            if c == 0x74 and not self._select_codepage(data[j + 3]):
                self._unknown(k)
            return j + k
        if c not in (0x78, 0x79):  # an ESC GS command we do not know: its first 3 bytes
            self._unknown(3)
            return j + 3
        if j + 4 > n:
            return -4
        op = data[j + 3]
        if op == 0x53:  # S fn n (PDF417 size fn 0 takes two more)
            if j + 5 > n:
                return -5
            k = 8 if c == 0x78 and data[j + 4] == 0x30 else 6
            return j + k if j + k <= n else -k
        if op == 0x44:  # QR: D 1 m nL nH d... (D 2 m d... NUL: auto length); PDF417: D nL nH
            head = 8 if c == 0x79 else 6
            if j + head > n:
                return -head
            if c == 0x79 and data[j + 4] != 0x31:
                return self._to_nul(data, j)
            size = data[j + head - 2] | data[j + head - 1] << 8
            end = j + head + size
            if end > n:
                return -(head + size)
            self._symbols[c] = data[j + head : end]
            return end
        if op == 0x50:  # P: print what D stored
            stored = self._symbols.get(c)
            if stored:
                self._add_symbol("QR" if c == 0x79 else "PDF417", stored)
            return j + 4
        return j + 4  # I (information) and others

    def _star_rs(self, data: bytes, j: int) -> int:
        """ESC RS x n: one-parameter settings (font, density, ASB, ...)."""
        return j + 4 if j + 4 <= len(data) else -4

    def _star_barcode(self, data: bytes, j: int) -> int:
        """ESC b n1 n2 n3 n4 d... RS."""
        n = len(data)
        if j + 6 > n:
            return -6
        end = data.find(b"\x1e", j + 6, j + 6 + 256)
        if end < 0:
            if n < j + 6 + 256:
                return -(n - j + 1)
            self._unknown(6)
            return j + 6
        kind = data[j + 2] & 0x0F
        self._add_symbol(_STAR_BARCODES.get(kind, "CODE128"), data[j + 6 : end])
        return end + 1

    def _to_nul(self, data: bytes, j: int) -> int:
        """A command whose parameters end at NUL (ESC B vertical tabs, ESC * r x n NUL)."""
        end = data.find(b"\x00", j + 2, j + 256)
        if end < 0:
            if len(data) < j + 256:
                return -(len(data) - j + 1)
            self._unknown(2)
            return j + 2
        return end + 1

    def _star_star(self, data: bytes, j: int) -> int:
        """ESC * r x: Star Graphic Mode; from ESC * r A its rows go onto the document's
        pictures (drivers/escpos/raster.py) until ESC * r B."""
        if j + 4 > len(data):
            return -4
        if data[j + 2] != 0x72:
            self._unknown(2)
            return j + 2
        if data[j + 3] == 0x41:
            self._image()
        return self._star_raster_command(data, j)

    def _skip_image(self, data: bytes, j: int, head: int, size: int) -> int:
        if size > MAX_PAYLOAD:
            self._unknown(head)
            return j + head
        self._skip = size
        self._image()
        return j + head

    def _star_image8(self, data: bytes, j: int) -> int:
        """ESC K n 0 d1..dn: 8-dot bit image."""
        if j + 4 > len(data):
            return -4
        return self._skip_image(data, j, 4, data[j + 2] | data[j + 3] << 8)

    def _star_image16(self, data: bytes, j: int) -> int:
        """ESC L nL nH d1..d(n*2): high-density bit image."""
        if j + 4 > len(data):
            return -4
        return self._skip_image(data, j, 4, (data[j + 2] | data[j + 3] << 8) * 2)

    def _star_image24(self, data: bytes, j: int) -> int:
        """ESC k n1 n2 d1..d(n*24): a 24-dot-high raster stripe of n bytes a row."""
        if j + 4 > len(data):
            return -4
        return self._skip_image(data, j, 4, (data[j + 2] | data[j + 3] << 8) * 24)

    def _star_bel(self, data: bytes, j: int) -> int:
        """ESC BEL n1 n2: drawer pulse widths."""
        return j + 4 if j + 4 <= len(data) else -4

    def _star_download(self, data: bytes, j: int) -> int:
        """ESC & NUL n1 n2 d1..d(n*?): user characters; Star's vary by font, so the
        definition is skipped up to the next ESC (user glyphs never carry receipt text)."""
        end = data.find(b"\x1b", j + 2)
        if end < 0:
            self._unknown(len(data) - j)
            return len(data)
        self._unknown(end - j)
        return end
