"""ESC/POS decoder, command by command: lengths, code pages, international sets, positions,
tabs, the customer display, UTF-8 and what is counted as unknown."""

from __future__ import annotations

import pytest
from escpos.printer import Dummy
from escpos_helpers import chunked, texts

from drivers.errors import DriverError
from drivers.escpos.decoder import EscposDecoder, decode_all

ESC, GS, FS, DLE = b"\x1b", b"\x1d", b"\x1c", b"\x10"


def test_code_pages_epson_numbering_map_override_and_fallback() -> None:
    euro_858, euro_1252 = b"\xd5", b"\x80"
    assert texts(ESC + b"t\x13" + euro_858 + ESC + b"t\x10" + euro_1252) == ["€€"]
    assert texts(b"\x82", codepage="cp437") == ["é"]
    assert texts(b"\xe9", codepage="cp1252") == ["é"]
    # a clone that numbers WPC1252 as page 6
    assert texts(ESC + b"t\x06" + euro_1252, codepage_map={6: "cp1252"}) == ["€"]
    decoder = EscposDecoder(codepage="cp850")
    (doc,) = decoder.feed(ESC + b"t\x63\x82" + GS + b"V\x00")  # page 99: unknown
    assert doc.text == "é" and decoder.unsupported_codepages == 1 and doc.unknown_bytes == 3
    with pytest.raises(DriverError):
        EscposDecoder(codepage="utf-7-nonsense")


def test_esc_at_restores_the_default_code_page_and_drops_the_unprinted_line() -> None:
    assert texts(ESC + b"t\x10\xe9\n" + b"lost" + ESC + b"@\x82\n") == ["é", "é"]


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "#$@[\\]^`{|}~"),
        (7, "₧$@¡Ñ¿^`¨ñ}~"),
        (11, "#$á¡Ñ¿é`íñóú"),
        (12, "#$á¡Ñ¿éüíñóú"),
        (2, "#$§ÄÖÜ^`äöüß"),
        (3, "£$@[\\]^`{|}~"),
    ],
)
def test_international_character_sets(n: int, expected: str) -> None:
    assert texts(ESC + b"R" + bytes([n]) + b"#$@[\\]^`{|}~") == [expected]


def test_unknown_bytes_are_counted_never_text() -> None:
    decoder = EscposDecoder(codepage="iso8859_15")
    docs = decoder.feed(b"A\x00\x01B\x7f\x85C" + ESC + b"\x01" + b"D" + GS + b"\xf0E\n")
    docs += decoder.flush()
    assert [doc.text for doc in docs] == ["ABCDE"]
    assert docs[0].unknown_bytes == decoder.unknown_bytes == 8


def test_tabs_cr_lf_and_form_feed() -> None:
    assert texts(b"a\tb\tc\r\nd\re\n\x0cf\n") == ["a       b       c\nd\ne\nf"]
    assert texts(ESC + b"D\x04\x0a\x00" + b"ab\tc\td\te\n") == ["ab  c     d e"]
    assert texts(b"x\r" + ESC + b"E\x01" + b"\ny\n") == ["x\ny"]  # CR <cmd> LF is one end
    assert texts(b"a\n\rb\n\r\n\rc\n\r") == ["a\nb\n\nc"]  # LF CR: the CR adds nothing
    assert texts(b"a\r\n\r\nb\r\n") == ["a\n\nb"]


def test_a_customer_display_on_the_same_line_is_not_receipt_text() -> None:
    p = Dummy()  # python-escpos drives a display daisy-chained before the printer
    p.textln("Item 1")
    p.linedisplay("TOTAL 99,00")
    p.textln("Item 2")
    p.cut()
    job = p.output + ESC + b"=\x02" + b"\x0cRAW \x1f\x24\x01\x01" + ESC + b"=\x01" + b"Item 3\n"
    assert texts(job) == ["Item 1\nItem 2", "Item 3"]
    assert chunked(job, [1] * len(job)) == decode_all(job)


def test_absolute_and_relative_positions_keep_columns_apart() -> None:
    # ESC $ to column 20 (240 dots), ESC \ forward by 5 columns (60 dots)
    job = b"Yerba" + ESC + b"$\xf0\x00" + b"245,00" + ESC + b"\\\x3c\x00" + b"x2\n"
    assert texts(job) == ["Yerba" + " " * 15 + "245,00     x2"]
    assert texts(b"abc" + ESC + b"$\x00\x00" + b"def\n") == ["abc def"]  # back: still apart


def test_codepage_map_is_checked_when_the_decoder_is_built() -> None:
    with pytest.raises(DriverError, match="page 6"):
        EscposDecoder(codepage_map={6: "base64"})  # not a text encoding
    with pytest.raises(DriverError, match="page 7"):
        EscposDecoder(codepage_map={7: "cp99999"})
    EscposDecoder(codepage_map={6: "cp949"})  # a double-byte page is read (CJK printers)


EVERY_COMMAND = {
    "ESC SP": ESC + b" \x41",
    "ESC !": ESC + b"!\x41",
    "ESC $": ESC + b"$\x00\x00",
    "ESC %": ESC + b"%\x41",
    "ESC &": ESC + b"&\x03\x41\x42\x02" + b"A" * 6 + b"\x01AAA",
    "ESC ( A": ESC + b"(A\x04\x00\x30\x41\x0a\x0a",
    "ESC *": ESC + b"*\x21\x02\x00" + b"A" * 6,
    "ESC -": ESC + b"-\x41",
    "ESC 2": ESC + b"2",
    "ESC 3": ESC + b"3\x41",
    "ESC <": ESC + b"<",
    "ESC =": ESC + b"=\x41",
    "ESC ?": ESC + b"?\x41",
    "ESC D": ESC + b"D\x08\x41\x00",
    "ESC E": ESC + b"E\x41",
    "ESC G": ESC + b"G\x41",
    "ESC J": ESC + b"J\x41",
    "ESC K": ESC + b"K\x41",
    "ESC L": ESC + b"L",
    "ESC M": ESC + b"M\x41",
    "ESC R": ESC + b"R\x00",
    "ESC S": ESC + b"S",
    "ESC T": ESC + b"T\x41",
    "ESC U": ESC + b"U\x41",
    "ESC V": ESC + b"V\x41",
    "ESC W": ESC + b"W" + b"\x41" * 8,
    "ESC \\": ESC + b"\\\x00\x00",
    "ESC a": ESC + b"a\x41",
    "ESC c 3": ESC + b"c3\x41",
    "ESC c 4": ESC + b"c4\x41",
    "ESC c 5": ESC + b"c5\x41",
    "ESC d": ESC + b"d\x41",
    "ESC e": ESC + b"e\x41",
    "ESC p": ESC + b"p\x41\x41\x41",
    "ESC r": ESC + b"r\x41",
    "ESC t": ESC + b"t\x00",
    "ESC u": ESC + b"u\x41",
    "ESC v": ESC + b"v",
    "ESC {": ESC + b"{\x41",
    "ESC FF": ESC + b"\x0c",
    "GS !": GS + b"!\x41",
    "GS $": GS + b"$\x41\x41",
    "GS ( A": GS + b"(A\x02\x00\x41\x41",
    "GS ( C": GS + b"(C\x05\x00\x00\x30\x41\x41\x41",
    "GS ( E": GS + b"(E\x03\x00\x01AA",
    "GS ( H": GS + b"(H\x06\x00\x30\x30AAAA",
    "GS ( K": GS + b"(K\x02\x00\x30\x41",
    "GS ( L": GS + b"(L\x0b\x00\x30\x70\x30\x01\x01\x31\x08\x00\x01\x00" + b"A",
    "GS ( k": GS + b"(k\x04\x00\x31\x41\x32\x00",
    "GS ( N": GS + b"(N\x02\x00\x30\x41",
    "GS *": GS + b"*\x01\x01" + b"A" * 8,
    "GS /": GS + b"/\x41",
    "GS :": GS + b":",
    "GS 8 L": GS + b"8L\x03\x00\x00\x00\x30\x70\x41",
    "GS B": GS + b"B\x41",
    "GS C 0": GS + b"C0\x41\x41",
    "GS C 1": GS + b"C1AAAAAA",
    "GS C 2": GS + b"C2AA",
    "GS C ;": GS + b"C;1;2;3;4;5;",
    "GS H": GS + b"H\x41",
    "GS I": GS + b"I\x41",
    "GS L": GS + b"L\x41\x00",
    "GS P": GS + b"P\x41\x41",
    "GS T": GS + b"T\x41",
    "GS W": GS + b"W\x41\x41",
    "GS \\": GS + b"\\\x41\x41",
    "GS ^": GS + b"^\x41\x41\x41",
    "GS a": GS + b"a\x41",
    "GS b": GS + b"b\x41",
    "GS c": GS + b"c",
    "GS f": GS + b"f\x41",
    "GS g 0": GS + b"g0\x41\x41\x41",
    "GS h": GS + b"h\x41",
    "GS j": GS + b"j\x41",
    "GS k A": GS + b"kA\x03AAA",
    "GS k 4": GS + b"k\x04AAA\x00",
    "GS r": GS + b"r\x41",
    "GS v 0": GS + b"v0\x41\x02\x00\x02\x00AAAA",
    "GS w": GS + b"w\x41",
    "GS z 0": GS + b"z0\x41\x41",
    "FS !": FS + b"!\x41",
    "FS &": FS + b"&",
    "FS -": FS + b"-\x41",
    "FS .": FS + b".",
    "FS 2": FS + b"2\x41\x41" + b"A" * 72,
    "FS ?": FS + b"?\x41\x41",
    "FS C": FS + b"C\x41",
    "FS S": FS + b"S\x41\x41",
    "FS W": FS + b"W\x41",
    "FS p": FS + b"p\x01\x41",
    "FS q": FS + b"q\x01\x01\x00\x01\x00" + b"A" * 8,
    "FS g 1": FS + b"g1\x41AAAA\x02\x00AA",
    "FS g 2": FS + b"g2\x41AAAA\x02\x00",
    "FS ( A": FS + b"(A\x02\x00\x30\x41",
    "DLE EOT": DLE + b"\x04\x41",
    "DLE EOT 7": DLE + b"\x04\x07\x41",
    "DLE ENQ": DLE + b"\x05\x41",
    "DLE DC4 1": DLE + b"\x14\x01\x41\x41",
    "DLE DC4 2": DLE + b"\x14\x02\x41\x41",
    "DLE DC4 3": DLE + b"\x14\x03AAAAA",
    "DLE DC4 7": DLE + b"\x14\x07\x41",
    "DLE DC4 8": DLE + b"\x14\x08AAAAAAA",
}


@pytest.mark.parametrize("name", sorted(EVERY_COMMAND))
def test_every_command_spans_exactly_its_parameters(name: str) -> None:
    # parameters are "A"s: a command one byte short or long would print one
    job = b"x" + EVERY_COMMAND[name] + b"y" + ESC + b"=\x01" + b"z\n"
    decoder = EscposDecoder()
    docs = decoder.feed(job) + decoder.flush()
    assert "".join(doc.text for doc in docs).replace(" ", "").replace("\n", "") == "xyz", name
    assert decoder.unknown_bytes == 0 and chunked(job, [1] * len(job)) == docs


def test_utf8_selected_by_fs_paren_c_or_as_the_default() -> None:
    utf8_on, one_byte = FS + b"(C\x02\x000\x02", FS + b"(C\x02\x000\x01"
    job = (
        b"Caf\x82\n"
        + utf8_on
        + "Café ñandú €\n".encode()
        + ESC
        + b"R\x07#"
        + "\u0085€\n".encode()
        + b"\xff"
        + one_byte
        + b"\x82\n"
    )
    assert texts(job) == ["Café\nCafé ñandú €\n₧€\né"]
    docs = decode_all(job)
    assert docs[0].unknown_bytes == 2  # a C1 control (NEL) and an undecodable byte
    assert chunked(job, [1] * len(job)) == docs  # sequences split across chunks
    assert texts("Año 2026: €\n".encode(), codepage="utf-8") == ["Año 2026: €"]
    decoder = EscposDecoder(codepage="UTF8")
    decoder.feed("ok\n€".encode()[:-1])
    (doc,) = decoder.flush()
    assert doc.text == "ok" and doc.unknown_bytes == 1  # the € cut short
