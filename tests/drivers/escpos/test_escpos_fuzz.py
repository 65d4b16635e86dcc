"""Fuzzing the ESC/POS decoder (hypothesis, bounded): random and mutated print jobs never raise,
decode the same however they are chunked, and parameter bytes never turn into text."""

from __future__ import annotations

import re

from escpos_helpers import FIXTURES, chunked
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.escpos.decoder import decode_all
from drivers.escpos.document import Document

CAPTURES = [p.read_bytes() for p in sorted(FIXTURES.glob("*.bin"))]
ESC, GS, FS, DLE = b"\x1b", b"\x1d", b"\x1c", b"\x10"
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_clean(docs: list[Document], data: bytes) -> None:
    assert sum(doc.size for doc in docs) <= len(data)
    for doc in docs:
        assert doc.has_content
        assert all(c == "\n" or (c >= " " and not "\x7f" <= c < "\xa0") for c in doc.text)


# -- random bytes, biased towards command prefixes -------------------------------------------

escposish = st.lists(
    st.one_of(
        st.binary(min_size=1, max_size=8),
        st.sampled_from(
            [
                ESC,
                GS,
                FS,
                DLE,
                b"\n",
                b"\r",
                b"\t",
                b"\x00",
                GS + b"(",
                GS + b"k",
                FS + b"(C\x02\x000\x02",
                ESC + b"*",
                GS + b"v0",
                ESC + b"&",
                ESC + b"D",
                GS + b"8L",
                FS + b"q",
            ]
        ),
    ),
    max_size=200,
).map(b"".join)


@FUZZ
@given(data=escposish, sizes=st.lists(st.integers(1, 40), max_size=30))
def test_random_bytes_never_raise_and_chunking_does_not_matter(
    data: bytes, sizes: list[int]
) -> None:
    whole = decode_all(data)
    assert_clean(whole, data)
    assert chunked(data, sizes) == whole
    capped = chunked(data, [len(data)], max_line_chars=7, max_document_lines=3)
    assert chunked(data, sizes, max_line_chars=7, max_document_lines=3) == capped
    assert all(
        len(doc.lines) <= 3
        and len(doc.barcodes) + len(doc.qr_codes) <= 3
        and all(len(line.text) <= 7 for line in doc.lines)
        for doc in capped
    )


# -- mutated real captures -------------------------------------------------------------------


@st.composite
def mutated_capture(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CAPTURES)))
    for _ in range(draw(st.integers(0, 8))):  # bit flips
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] ^= 1 << draw(st.integers(0, 7))
    if draw(st.booleans()):  # splice in a slice of another capture
        other = draw(st.sampled_from(CAPTURES))
        start = draw(st.integers(0, len(other) - 1))
        at = draw(st.integers(0, len(data)))
        data[at:at] = other[start : start + draw(st.integers(1, 2000))]
    if draw(st.booleans()):  # truncate
        del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


@settings(FUZZ, max_examples=100)
@given(data=mutated_capture(), sizes=st.lists(st.integers(1, 4096), max_size=20))
def test_mutated_captures_never_raise_and_chunking_does_not_matter(
    data: bytes, sizes: list[int]
) -> None:
    whole = decode_all(data)
    assert_clean(whole, data)
    assert chunked(data, sizes) == whole


# -- known commands with random parameters between known words --------------------------------

WORDS = ["yerba", "leche", "total", "efectivo", "cafe", "iva", "subtotal", "tarjeta"]
u8 = st.integers(0, 255)


def byte(draw: st.DrawFn, strategy: st.SearchStrategy[int] = u8) -> bytes:
    return bytes([draw(strategy)])


def blob(draw: st.DrawFn, size: int) -> bytes:
    return draw(st.binary(min_size=size, max_size=size))


def le16(value: int) -> bytes:
    return bytes([value & 0xFF, value >> 8])


def one_param(draw: st.DrawFn) -> bytes:
    prefix, names = draw(
        st.sampled_from([(ESC, b"!E-aRtMG3 {Jd%rVUTKe"), (GS, b"!BHhwfabrjIT/E"), (FS, b"!-CW")])
    )
    return prefix + byte(draw, st.sampled_from(names)) + byte(draw)


def fixed(draw: st.DrawFn) -> bytes:
    head, size = draw(
        st.sampled_from(
            [
                (ESC + b"p", 3),
                (ESC + b"$", 2),
                (ESC + b"\\", 2),
                (ESC + b"W", 8),
                (ESC + b"c3", 1),
                (ESC + b"c4", 1),
                (ESC + b"c5", 1),
                (ESC + b"2", 0),
                (ESC + b"B", 2),
                (GS + b"L", 2),
                (GS + b"W", 2),
                (GS + b"P", 2),
                (GS + b"^", 3),
                (GS + b":", 0),
                (GS + b"g0", 3),
                (GS + b"z0", 2),
                (GS + b"C0", 2),
                (GS + b"C1", 6),
                (GS + b"c", 0),
                (GS + b"$", 2),
                (FS + b"p", 2),
                (FS + b"S", 2),
                (FS + b"&", 0),
                (FS + b".", 0),
                (FS + b"?", 2),
                (FS + b"2", 74),
                (DLE + b"\x04\x01", 0),
                (DLE + b"\x04\x07", 1),
                (DLE + b"\x05", 1),
                (DLE + b"\x14\x01", 2),
                (DLE + b"\x14\x08", 7),
                (DLE + b"\x14\x03", 5),
                (GS + b"V\x00", 0),
                (GS + b"V1", 0),
                (GS + b"VA", 1),
                (GS + b"Vh", 1),
                (ESC + b"i", 0),
                (FS + b"(C\x02\x000", 1),
            ]
        )
    )
    return head + blob(draw, size)


def variable(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind == 0:  # ESC * m nL nH d
        m, cols = draw(st.sampled_from([0, 1, 32, 33])), draw(st.integers(0, 300))
        return ESC + b"*" + bytes([m]) + le16(cols) + blob(draw, cols * (3 if m & 32 else 1))
    if kind == 1:  # GS v 0 m xL xH yL yH d
        x, y = draw(st.integers(0, 40)), draw(st.integers(0, 40))
        return GS + b"v0" + byte(draw) + le16(x) + le16(y) + blob(draw, x * y)
    if kind == 2:  # GS ( k / GS ( L / ESC ( / FS ( with any body
        head = draw(st.sampled_from([GS + b"(k", GS + b"(L", GS + b"(E", ESC + b"(A", FS + b"(A"]))
        size = draw(st.integers(0, 300))
        return head + le16(size) + blob(draw, size)
    if kind == 3:  # QR / PDF417 store and print
        cn, body = draw(st.sampled_from([b"1", b"0", b"5"])), blob(draw, draw(st.integers(0, 99)))
        store = GS + b"(k" + le16(len(body) + 3) + cn + b"P0" + body
        return store + GS + b"(k\x03\x00" + cn + b"Q0"
    if kind == 4:  # GS k, both formats
        m = draw(st.integers(0, 6))
        if draw(st.booleans()):
            digits = draw(st.text("0123456789", max_size=20))
            return GS + b"k" + bytes([m]) + digits.encode() + b"\0"
        body = blob(draw, draw(st.integers(0, 255)))
        return GS + b"k" + bytes([draw(st.integers(65, 79))]) + bytes([len(body)]) + body
    if kind == 5:  # ESC & y c1 c2 [x d(y*x)]...
        y, c1 = draw(st.integers(0, 3)), draw(st.integers(32, 126))
        c2 = draw(st.integers(c1, min(126, c1 + 3)))
        out = ESC + b"&" + bytes([y, c1, c2])
        for _ in range(c2 - c1 + 1):
            x = draw(st.integers(0, 12))
            out += bytes([x]) + blob(draw, y * x)
        return out
    if kind == 6:  # ESC D ascending tab stops NUL
        stops = sorted(draw(st.sets(st.integers(1, 255), max_size=32)))
        return ESC + b"D" + bytes(stops) + b"\0"
    if kind == 7:  # FS q n [xL xH yL yH d(x*y*8)]...
        out = FS + b"q" + bytes([n := draw(st.integers(0, 2))])
        for _ in range(n):
            x, y = draw(st.integers(0, 3)), draw(st.integers(0, 3))
            out += le16(x) + le16(y) + blob(draw, x * y * 8)
        return out
    if kind == 8:  # GS 8 L p1-p4 m fn d / FS g 1 m a1-a4 nL nH d
        body = blob(draw, draw(st.integers(0, 200)))
        if draw(st.booleans()):
            return GS + b"8L" + len(body).to_bytes(4, "little") + body
        return FS + b"g1" + blob(draw, 5) + le16(len(body)) + body
    return draw(st.sampled_from([b"\t", b"\r", b"\r\n", b"\x0c", b"\n" + ESC + b"@"]))


@st.composite
def job(draw: st.DrawFn) -> tuple[bytes, str]:
    parts: list[bytes] = []
    words: list[str] = []
    for _ in range(draw(st.integers(0, 60))):
        choice = draw(st.integers(0, 4))
        if choice == 0:
            words.append(draw(st.sampled_from(WORDS)))
            parts.append(words[-1].encode())
        elif choice == 1:
            parts.append(b"\n")
        else:
            parts.append(draw(st.sampled_from([one_param, fixed, variable]))(draw))
    return b"".join(parts) + b"\n", "".join(words)


@FUZZ
@given(case=job(), sizes=st.lists(st.integers(1, 64), max_size=40))
def test_parameters_never_become_text(case: tuple[bytes, str], sizes: list[int]) -> None:
    data, words = case
    whole = decode_all(data)
    printed = re.sub(r"\s", "", "".join(doc.text for doc in whole))
    assert printed == words
    assert_clean(whole, data)
    assert chunked(data, sizes) == whole
