"""What the ESC/POS decoder hands to the receipt reader: plain values, no IO."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from drivers.escpos.raster import RasterImage, picture_rows_exceed

EndReason = Literal["cut", "init", "idle", "flush"]
ROWS_PER_TEXT_LINE = 24  # a job whose pictures are taller than its text would be is raster


@dataclass(frozen=True, slots=True)
class TextLine:
    """One printed line of text, with the emphasis that is cheap to track."""

    text: str
    bold: bool = False
    double_height: bool = False
    double_width: bool = False
    confidence: float | None = None  # 0-1 when the line was read by OCR from a picture


@dataclass(frozen=True, slots=True)
class Barcode:
    """A 1D barcode (`GS k`) or a 2D code other than QR (e.g. PDF417), with its data."""

    symbology: str  # "EAN13", "CODE128", "PDF417", ...
    data: str


@dataclass(slots=True)
class Document:
    """One print job / receipt as decoded from ESC/POS bytes."""

    lines: list[TextLine] = field(default_factory=list)
    barcodes: list[Barcode] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    images_skipped: int = 0
    unknown_bytes: int = 0
    size: int = 0  # bytes of input that made this document
    ended_by: EndReason = "flush"
    # raster pictures, exact 1-bit (the decoder's are built on first use: raster.Pictures)
    images: Sequence[RasterImage] = field(default_factory=list)
    ocr: bool = False  # some lines were read by OCR from the images
    pictures_dropped: bool = False  # its pictures passed the decoder's max_picture_bytes

    @property
    def has_raster(self) -> bool:
        """The job printed its receipt (or most of it) as pictures, not just a logo over
        text: what OCR reads, and a job a block inserted before the cut should leave alone."""
        printed = sum(1 for line in self.lines if line.confidence is None)
        return picture_rows_exceed(self.images, ROWS_PER_TEXT_LINE * printed)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def has_content(self) -> bool:
        return (bool(self.lines or self.barcodes or self.qr_codes or self.pictures_dropped)
                or self.has_raster)


@dataclass(frozen=True, slots=True)
class Cut:
    """Where a cut command sits in the stream, for inserting a block just before it.

    `start` and `end` are stream offsets of the command's first byte and the byte after it
    (a command boundary: nothing is ever inserted inside a command). `document` is what the
    cut ended (None when it had no content; a raster job's document says `has_raster`).
    `encoding` is the text encoding in force at the cut ("utf-8" or a codec name), and
    `international` the ESC R character set, so inserted text prints in the same way.
    `command` tells GS V from ESC i / ESC m (which in Star Line Mode is a size, not a cut)."""

    start: int
    end: int
    document: Document | None
    encoding: str
    international: int = 0
    command: bytes = b""  # the cut's own bytes: GS V m [n], ESC i, ESC m
