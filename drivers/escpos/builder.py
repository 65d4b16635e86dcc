"""The printer model behind the ESC/POS decoder: print-mode state (code page, international
set, bold and size, tab stops, stored 2D symbols) and the document under construction.

EscposDecoder (drivers/escpos/decoder.py) parses commands and calls into this; keeping the two apart
keeps the parser's hot loop readable and this part testable through the decoder's API.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Mapping

from drivers.errors import DriverError
from drivers.escpos.codepages import (
    DEFAULT_KANJI,
    KANJI_BY_INTERNATIONAL,
    codec_for_page,
    decode_table,
    international_map,
    is_known_codec,
    multibyte_codec,
)
from drivers.escpos.document import Barcode, Cut, Document, EndReason, TextLine
from drivers.escpos.raster import DEFAULT_LINE_SPACING, RasterAssembler
from drivers.escpos.raster import MAX_PICTURE_BYTES as MAX_PICTURE_BYTES  # the decoders' default
from drivers.escpos.star_raster import StarRaster

_charmap_decode = codecs.charmap_decode

DEFAULT_TABS = tuple(range(8, 256, 8))  # Epson: a tab stop every 8 characters
BOLD, DOUBLE_HEIGHT, DOUBLE_WIDTH = 1, 2, 4
MAX_COLUMNS = 96  # Font B across 112 mm paper is about 90 characters
_BLANK = TextLine("")
_NOT_UTF8_TEXT = dict.fromkeys([*range(0x80, 0xA0), 0xFFFD])  # C1 controls, bad bytes


class DocumentBuilder:
    """Printer state and the current document; counters for what was skipped or dropped."""

    def __init__(
        self,
        *,
        codepage: str,
        codepage_map: Mapping[int, str] | None,
        max_line_chars: int,
        max_document_lines: int,
        keep_images: bool = True,
        max_picture_bytes: int = MAX_PICTURE_BYTES,
    ) -> None:
        if not is_known_codec(codepage):
            raise DriverError(f"unsupported default code page {codepage!r}")
        self._default_utf8 = multibyte_codec(codepage) == "utf-8"
        # a printer set to a CJK page (cp932, cp936, cp949, cp950, gb18030...)
        self._default_mb = multibyte_codec(codepage)
        if self._default_mb:
            codepage = "cp437"  # what ESC t pages fall back to, and what ESC R tables use
        for page, codec in (codepage_map or {}).items():
            if not 0 <= page <= 255 or not is_known_codec(codec):
                raise DriverError(f"codepage_map: page {page} -> {codec!r} is not a "
                                  "code page this decoder knows")
        self._default_codec = codepage
        self._codepage_map = dict(codepage_map) if codepage_map is not None else None
        self._max_chars = max(1, max_line_chars)
        self._max_lines = max(1, max_document_lines)
        self._keep_images = keep_images  # False: raster data streams past, never kept
        self.unknown_bytes = 0  # bytes skipped as unknown, running total
        self.dropped_chars = 0  # text beyond max_line_chars
        self.dropped_lines = 0  # lines, barcodes and QR codes beyond max_document_lines
        self.unsupported_codepages = 0  # `ESC t n` for pages we cannot decode
        self.images_skipped = 0  # image commands skipped, running total
        self.textless_documents = 0  # ended with images but no text: not emitted
        self.pictures_dropped = 0  # documents whose pictures passed max_picture_bytes
        self._out: list[Document] = []
        self.track_cuts = False  # record cuts for take_cuts() (the cut hold does; others not)
        self._cuts: list[Cut] = []
        self._doc_start = 0
        self._raster = RasterAssembler(max_picture_bytes)  # the pictures of the document under way
        self._star = StarRaster(self._raster, self._unknown)  # Star Graphic Mode
        self._reset_printer()
        self._reset_document()

    # -- printer state --------------------------------------------------------------------

    def _reset_printer(self) -> None:
        """Printer state after power-on or ESC @; the unprinted partial line is lost."""
        self._utf8: codecs.IncrementalDecoder | None = None  # any multi-byte decoder
        self._mb_name = ""  # its codec
        self._page_mb = None if self._default_utf8 else self._default_mb  # ESC t / default
        self._utf8_mode = self._default_utf8  # FS ( C
        self._kanji = False  # FS & ... FS .
        self._kanji_code: str | None = None  # FS C 1: Shift-JIS
        self._codec = self._default_codec
        self._intl = 0
        self._table = decode_table(self._codec, 0)
        self._text_mode()
        self._style = 0
        self._tabs: tuple[int, ...] = DEFAULT_TABS
        self._symbols: dict[int, bytes] = {}
        self._parts: list[str] = []
        self._len = 0
        self._line_style = 0
        self._cr = False
        self._graphic = False  # an image or symbol was printed since the last line end
        self._stripes = False  # within a series of ESC * stripes (one image)
        self._disabled = False  # ESC = n with bit 0 clear
        self._raster.line_spacing = DEFAULT_LINE_SPACING

    def _select_codepage(self, page: int) -> bool:
        """`ESC t page`; False (and the default page) when the page is not supported."""
        codec = codec_for_page(page, self._codepage_map)
        known = codec is not None
        if codec is None:
            self.unsupported_codepages += 1
            codec = self._default_codec
        self._page_mb = multibyte_codec(codec)
        if not self._page_mb:
            self._codec = codec
            self._table = decode_table(codec, self._intl)
        self._text_mode()
        return known

    def _select_international(self, n: int) -> None:
        self._intl = n
        self._table = decode_table(self._codec, n)
        if self._kanji:
            self._text_mode()

    def _select_kanji(self, on: bool, code: int | None = None) -> None:
        """FS & / FS . (Kanji mode on / off), FS C n (the Kanji code: 1 is Shift-JIS)."""
        if code is not None:
            self._kanji_code = "cp932" if code in (1, 0x31) else None
        else:
            self._kanji = on
        self._text_mode()

    def _fs_effects(self) -> dict[int, Callable[[bytes, int], None]]:
        """FS & (Kanji mode on), FS . (off), FS C n (the Kanji code), for the decoder."""
        return {0x26: lambda data, j: self._select_kanji(True),
                0x2E: lambda data, j: self._select_kanji(False),
                0x43: lambda data, j: self._select_kanji(True, data[j + 2])}

    def _text_mode(self) -> None:
        """Which multi-byte decoder reads text now, if any: UTF-8 (FS ( C) first, then
        Kanji mode, then a CJK page selected by ESC t or set as the printer's default."""
        name: str | None = None
        if self._utf8_mode:
            name = "utf-8"
        elif self._kanji:
            name = (self._kanji_code or KANJI_BY_INTERNATIONAL.get(self._intl)
                    or (self._default_mb if self._default_mb != "utf-8" else None)
                    or DEFAULT_KANJI)
        else:
            name = self._page_mb
        if name is None:
            self._utf8, self._mb_name = None, ""
        elif name != self._mb_name or self._utf8 is None:
            self._utf8 = codecs.getincrementaldecoder(name)("replace")
            self._mb_name = name

    # -- text and lines -------------------------------------------------------------------

    def _text_block(self, raw: bytes) -> None:
        """Printable bytes and line feeds (nothing else) in the current print mode."""
        utf8 = self._utf8
        if utf8 is None:
            s = _charmap_decode(raw, "ignore", self._table)[0]
            if len(s) != len(raw):  # bytes with no glyph in this page (C1 controls, holes)
                self._unknown(len(raw) - len(s))
        else:
            s = self._utf8_text(utf8, raw)
        if "\n" not in s:
            if s:
                self._add_text(s)
            return
        pieces = s.split("\n")
        if self._raster.open:  # each LF steps the picture: line by line
            for k, piece in enumerate(pieces):
                if k:
                    self._end_line()
                if piece:
                    self._add_text(piece)
            return
        if pieces[0]:
            self._add_text(pieces[0])
        self._end_line()
        last = pieces.pop()
        if len(pieces) > 1:
            self._whole_lines(pieces)
        if last:
            self._add_text(last)

    def _utf8_text(self, utf8: codecs.IncrementalDecoder, raw: bytes) -> str:
        """UTF-8 mode (FS ( C, or a "utf-8" default page) or a CJK page: a character may
        span chunks."""
        s = utf8.decode(raw)
        text = s.translate(_NOT_UTF8_TEXT)
        if self._mb_name in ("cp932", "shift_jis"):  # 0x5C is the yen sign (JIS X 0201)
            text = text.replace("\\", "¥")
        if len(text) != len(s):  # C1 controls and undecodable bytes
            self._unknown(len(s) - len(text))
        return text.translate(international_map(self._intl)) if self._intl else text

    def _select_encoding(self, utf8: bool) -> None:
        """FS ( C function 48: UTF-8, or back to the code page (ESC t pages)."""
        self._utf8_mode = utf8
        self._text_mode()

    def _whole_lines(self, pieces: list[str]) -> None:
        """pieces[1:] are lines printed whole in the current style: _end_line's rules, in
        one loop because receipts are mostly such lines."""
        style = self._style
        bold, high = bool(style & BOLD), bool(style & DOUBLE_HEIGHT)
        wide = bool(style & DOUBLE_WIDTH)
        cap = self._max_chars
        lines = self._lines
        room = self._max_lines - len(lines)
        for k in range(1, len(pieces)):
            text = pieces[k]
            if len(text) > cap:
                self.dropped_chars += len(text) - cap
                text = text[:cap]
            text = text.rstrip()
            if text:
                line = TextLine(text, bold, high, wide)
                self._stripes = False
            elif lines:
                line = _BLANK
            else:
                continue
            if room > 0:
                lines.append(line)
                room -= 1
            else:
                self.dropped_lines += 1

    def _add_text(self, s: str) -> None:
        total = self._len + len(s)
        if total > self._max_chars:
            room = self._max_chars - self._len
            self.dropped_chars += len(s) - room
            if room <= 0:
                return
            s = s[:room]
            total = self._max_chars
        self._parts.append(s)
        self._len = total
        self._line_style |= self._style

    def _tab(self) -> None:
        """HT: spaces up to the next tab stop (one space past the last, to keep columns)."""
        col = self._len
        for stop in self._tabs:
            if stop > col:
                self._add_text(" " * (stop - col))
                return
        self._add_text(" ")

    def _move_to(self, column: int) -> None:
        """ESC $ / ESC \\ position the next character: spaces up to that column, and at least
        one between two pieces of text so columns stay apart. A position past the widest
        paper is ignored, as printers ignore it."""
        if self._len < column <= MAX_COLUMNS:
            self._add_text(" " * (column - self._len))
        elif self._parts:
            self._add_text(" ")

    def _end_line(self) -> None:
        parts = self._parts
        text = "".join(parts).rstrip() if parts else ""
        style = self._line_style
        self._parts = []
        self._len = 0
        self._line_style = 0
        lines = self._lines
        if not text and self._raster.open:  # paper fed inside a picture
            self._raster.line_feed()
            return
        if text:
            self._raster.close()
        if not text:
            # blank lines inside a receipt separate its sections; not the feed that follows
            # an image or a barcode, nor paper fed before the first line
            if lines and not self._graphic:
                self._append_line(_BLANK)
            self._graphic = False
            return
        self._graphic = self._stripes = False
        self._append_line(TextLine(
            text, bool(style & BOLD), bool(style & DOUBLE_HEIGHT), bool(style & DOUBLE_WIDTH)
        ))

    def _feed_dots(self, data: bytes, j: int) -> None:
        """ESC J n: print, then feed n dots (no blank line; inside a picture, n rows)."""
        if self._parts:
            self._end_line()
        self._raster.feed(data[j + 2])

    def _spacing(self, data: bytes, j: int) -> None:
        """ESC 2 (default) / ESC 3 n: the line spacing, which steps ESC * bands at LF."""
        self._raster.line_spacing = data[j + 2] if data[j + 1] == 0x33 else DEFAULT_LINE_SPACING

    def _append_line(self, line: TextLine) -> None:
        if len(self._lines) >= self._max_lines:
            self.dropped_lines += 1
        else:
            self._lines.append(line)

    def _add_symbol(self, symbology: str, data: bytes) -> None:
        self._graphic = True
        if len(self._barcodes) + len(self._qr_codes) >= self._max_lines:
            self.dropped_lines += 1
        elif symbology == "QR":
            self._qr_codes.append(payload_text(data))
        else:
            self._barcodes.append(Barcode(symbology, payload_text(data)))

    def _image(self, stripe: bool = False) -> None:
        """An image was skipped; the ESC * stripes of one picture count once."""
        if not (stripe and self._stripes):
            self._images += 1
        self._stripes = stripe
        self._graphic = True

    def _unknown(self, k: int) -> None:
        self.unknown_bytes += k
        self._doc_unknown += k

    # -- documents ------------------------------------------------------------------------

    def _has_content(self) -> bool:
        # leading blank lines are never stored, so any stored line means printed text
        return bool(self._lines or self._barcodes or self._qr_codes
                    or self._raster.pending or self._raster.open)

    def _end_document(
        self, reason: EndReason, end: int, cut_start: int = -1, cut: bytes = b""
    ) -> None:
        """Emit the document (if it has content) ending at stream offset `end`; a cut
        (`cut_start` its first byte, `cut` its bytes) is also recorded for take_cuts()."""
        lines = self._lines
        while lines and not lines[-1].text:
            lines.pop()
        dropped = self._raster.over  # read before take() resets it
        self.pictures_dropped += dropped
        made = Document(
            lines=lines, barcodes=self._barcodes, qr_codes=self._qr_codes,
            images_skipped=self._images, unknown_bytes=self._doc_unknown,
            size=end - self._doc_start, ended_by=reason, images=self._raster.take(),
            pictures_dropped=dropped,
        )
        doc = made if made.has_content else None
        if doc is not None:
            self._out.append(doc)
        if cut_start >= 0 and self.track_cuts:
            encoding = self._mb_name if self._utf8 is not None else self._codec
            self._cuts.append(Cut(cut_start, end, doc, encoding, self._intl, cut))
        if doc is None and self._images:
            self.textless_documents += 1
        self.images_skipped += self._images
        self._reset_document()
        self._doc_start = end

    def _forget_partial(self) -> None:
        """Drop the line and document under construction (the decoder rewinds)."""
        self._parts, self._len, self._cr = [], 0, False
        self._graphic = self._stripes = False
        if self._utf8 is not None:
            self._utf8.reset()
        self._reset_document()

    def _reset_document(self) -> None:
        self._lines: list[TextLine] = []
        self._barcodes: list[Barcode] = []
        self._qr_codes: list[str] = []
        self._images = 0
        self._doc_unknown = 0

    def _take(self) -> list[Document]:
        out, self._out = self._out, []
        return out


def payload_text(data: bytes) -> str:
    """Barcode / 2D symbol data as text: UTF-8 when it is valid, else byte for byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")
