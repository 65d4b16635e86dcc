"""What the ESC/POS decoder hands to the receipt reader: plain values, no IO."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

EndReason = Literal["cut", "init", "idle", "flush"]


@dataclass(frozen=True, slots=True)
class TextLine:
    """One printed line of text, with the emphasis that is cheap to track."""

    text: str
    bold: bool = False
    double_height: bool = False
    double_width: bool = False


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

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def has_content(self) -> bool:
        return bool(self.lines or self.barcodes or self.qr_codes)
