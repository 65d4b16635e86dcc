"""Decoding helpers shared by the ESC/POS test modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.escpos.decoder import EscposDecoder, decode_all
from drivers.escpos.document import Document

_ROOT = Path(__file__).resolve().parent.parent
# The real captures, in the repository (their provenance: tests/fixtures/escpos/README.md).
FIXTURES = _ROOT / "tests" / "fixtures" / "escpos"


def chunked(data: bytes, sizes: list[int], **options: Any) -> list[Document]:
    """Feed `data` in pieces of `sizes` (the rest in one piece), then flush."""
    decoder = EscposDecoder(**options)
    docs: list[Document] = []
    pos = 0
    for size in sizes:
        docs += decoder.feed(data[pos : pos + size])
        pos += size
    docs += decoder.feed(data[pos:])
    return docs + decoder.flush()


def texts(data: bytes, **options: Any) -> list[str]:
    return [doc.text for doc in decode_all(data, **options)]
