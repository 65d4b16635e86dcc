"""The block a store may ask to print before each receipt's cut: a few centred lines and a
QR code (opt-in: `[printer.append]`). Pure: values in, bytes out.

The QR code is either the printer's own symbol (ESC/POS `GS ( k`, Star `ESC GS y`) or, for
printers without a QR engine, a raster image (`GS v 0`) of a matrix made by segno. Text is
encoded for the printer state in force at the cut (the decoder reports it), so nothing has
to switch code pages. The block ends with a feed: a cut right after the last printed dot
would go through the QR code, since the cutter sits above the print head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal

import segno

from drivers.escpos.codepages import UNDEFINED, decode_table, multibyte_codec

__all__ = [
    "QR_MAX_BYTES",
    "QrMode",
    "append_block",
    "escpos_qr",
    "raster_qr",
    "splice",
    "star_block",
    "star_qr",
]

QrMode = Literal["native", "raster"]
QR_MAX_BYTES = 300  # a Hellotext capture link is far shorter; this keeps the code scannable
PAPER_DOTS = 384  # 58 mm paper: the narrowest common receipt printer
FEED_LINES = 4  # between the block's last dot and the cutter
_ECC = {"L": 0, "M": 1, "Q": 2, "H": 3}
ESC, GS = b"\x1b", b"\x1d"


@lru_cache(maxsize=32)
def _qr(payload: bytes, ecc: str) -> segno.QRCode:
    return segno.make_qr(payload, error=ecc.lower(), boost_error=False)


# Bytes a QR code of version 1, 2, ... holds in byte mode at level M (ISO/IEC 18004).
_BYTE_CAPACITY_M = (14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331)


def module_dots(payload: bytes, *, paper_dots: int = PAPER_DOTS) -> int:
    """The largest module (2-6 dots) at which the code and its quiet zone fit the paper
    (byte mode, the largest a payload can need; no matrix is made: this runs at a cut)."""
    version = next(
        (v for v, cap in enumerate(_BYTE_CAPACITY_M, 1) if len(payload) <= cap),
        len(_BYTE_CAPACITY_M),
    )
    size = 17 + 4 * version + 8  # modules across, quiet zone included
    return max(2, min(6, paper_dots // size))


def escpos_qr(payload: bytes, *, module: int = 4, ecc: str = "M") -> bytes:
    """GS ( k: model 2, module size, error correction, store the data, print it."""
    if not 1 <= len(payload) <= QR_MAX_BYTES:
        raise ValueError(f"QR payload must be 1-{QR_MAX_BYTES} bytes, got {len(payload)}")
    store = len(payload) + 3

    def fn(body: bytes) -> bytes:
        return GS + b"(k" + len(body).to_bytes(2, "little") + body

    return (
        fn(b"\x31\x41\x32\x00")  # fn 165: model 2
        + fn(b"\x31\x43" + bytes([module]))  # fn 167: module size in dots
        + fn(b"\x31\x45" + bytes([48 + _ECC[ecc]]))  # fn 169: error correction level
        + GS + b"(k" + store.to_bytes(2, "little") + b"\x31\x50\x30" + payload  # fn 180
        + fn(b"\x31\x51\x30")  # fn 181: print the stored symbol
    )


def raster_qr(payload: bytes, *, module: int = 4, ecc: str = "M") -> bytes:
    """The QR code as a GS v 0 raster image, quiet zone included (MSB = leftmost dot)."""
    if not 1 <= len(payload) <= QR_MAX_BYTES:
        raise ValueError(f"QR payload must be 1-{QR_MAX_BYTES} bytes, got {len(payload)}")
    rows = [list(row) for row in _qr(payload, ecc).matrix_iter(scale=1, border=4)]
    width = len(rows[0]) * module
    row_bytes = (width + 7) // 8
    dark, light = "1" * module, "0" * module
    data = bytearray()
    for row in rows:  # one module row, packed once and repeated `module` dots high
        bits = "".join(dark if cell else light for cell in row).ljust(row_bytes * 8, "0")
        data += int(bits, 2).to_bytes(row_bytes, "big") * module
    height = len(rows) * module
    header = GS + b"v0\x00" + row_bytes.to_bytes(2, "little") + height.to_bytes(2, "little")
    return header + bytes(data)


def star_qr(payload: bytes, *, cell: int = 4, ecc: str = "M") -> bytes:
    """Star Line Mode: ESC GS y S 0 (model 2), S 1 (error correction), S 2 (cell size),
    D 1 (store, automatic mode selection), P (print)."""
    if not 1 <= len(payload) <= QR_MAX_BYTES:
        raise ValueError(f"QR payload must be 1-{QR_MAX_BYTES} bytes, got {len(payload)}")
    qr = ESC + GS + b"y"
    return (
        qr + b"S0\x02" + qr + b"S1" + bytes([_ECC[ecc]]) + qr + b"S2" + bytes([cell])
        + qr + b"D1\x00" + len(payload).to_bytes(2, "little") + payload
        + qr + b"P"
    )


@lru_cache(maxsize=64)
def _encode_map(encoding: str, international: int) -> Mapping[str, int]:
    table = decode_table(encoding, international)
    inverse: dict[str, int] = {}
    for byte in range(0x20, 256):  # printable bytes only: no control byte can come out
        char = table[byte]
        if char != UNDEFINED and byte != 0x7F:
            inverse.setdefault(char, byte)
    return inverse


def encode_text(text: str, encoding: str, international: int = 0) -> bytes:
    """Text as the printer will read it in this state; characters it lacks become '?'."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    if multibyte_codec(encoding):  # UTF-8 or a CJK page (Kanji mode, cp932, gb18030...)
        return text.encode(encoding, errors="replace")
    table = _encode_map(encoding, international)
    return bytes(table.get(ch, 0x3F) for ch in text)


def append_block(
    lines: Sequence[str],
    qr: bytes,
    *,
    mode: QrMode = "native",
    encoding: str = "cp858",
    international: int = 0,
) -> bytes:
    """ESC/POS: centred lines, the QR code, a feed; alignment back to left."""
    module = module_dots(qr)
    body = b"".join(encode_text(line, encoding, international) + b"\n" for line in lines)
    symbol = escpos_qr(qr, module=module) if mode == "native" else raster_qr(qr, module=module)
    return ESC + b"a\x01" + body + symbol + b"\n" + ESC + b"a\x00" + ESC + b"d" + bytes(
        [FEED_LINES]
    )


def star_block(lines: Sequence[str], qr: bytes, *, encoding: str = "cp858") -> bytes:
    """Star Line Mode: the same block with Star's own alignment and QR commands (ESC d is a
    cut there, so the feed is plain line feeds)."""
    body = b"".join(encode_text(line, encoding) + b"\n" for line in lines)
    return (
        ESC + GS + b"a\x01" + body + star_qr(qr, cell=module_dots(qr)) + b"\n"
        + ESC + GS + b"a\x00" + b"\n" * FEED_LINES
    )


def splice(data: bytes, inserts: Mapping[int, bytes]) -> bytes:
    """`data` with each block inserted at its offset (a command boundary, e.g. a cut's start)."""
    out = bytearray()
    last = 0
    for offset in sorted(inserts):
        if not last <= offset <= len(data):
            raise ValueError(f"insert offset {offset} outside 0..{len(data)}")
        out += data[last:offset] + inserts[offset]
        last = offset
    return bytes(out + data[last:])
