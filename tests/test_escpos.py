"""ESC/POS decoder: the real captures, python-escpos jobs, and the printer rules one by one."""

from __future__ import annotations

import random
import time
import tracemalloc
from pathlib import Path

import pytest
from escpos.printer import Dummy
from PIL import Image

from drivers.document import Barcode, Document
from drivers.errors import DriverError
from drivers.escpos import EscposDecoder, decode_all

ESC, GS, FS, DLE = b"\x1b", b"\x1d", b"\x1c", b"\x10"
FIXTURE_NAMES = sorted(
    p.name for p in (Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"
                     / "escpos").glob("*.bin")
)


def chunked(data: bytes, sizes: list[int], **options: object) -> list[Document]:
    decoder = EscposDecoder(**options)  # type: ignore[arg-type]
    docs: list[Document] = []
    pos = 0
    for size in sizes:
        docs += decoder.feed(data[pos : pos + size])
        pos += size
    docs += decoder.feed(data[pos:])
    return docs + decoder.flush()


def texts(data: bytes, **options: object) -> list[str]:
    return [doc.text for doc in decode_all(data, **options)]  # type: ignore[arg-type]


# -- the real captures -------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_decodes_the_same_whole_byte_by_byte_and_in_random_chunks(
    escpos_fixtures: Path, name: str
) -> None:
    data = (escpos_fixtures / name).read_bytes()
    whole = decode_all(data)
    assert whole, "every capture prints something"
    assert sum(doc.size for doc in whole) <= len(data)
    assert chunked(data, [1] * len(data)) == whole
    rnd = random.Random(name)
    assert chunked(data, [rnd.randint(1, 64) for _ in range(len(data) // 8)]) == whole
    for doc in whole:  # control characters never become text
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in doc.text if c != "\n")


def test_receipt_with_logo_reads_items_totals_and_emphasis(escpos_fixtures: Path) -> None:
    (doc,) = decode_all((escpos_fixtures / "escpos-php-receipt-with-logo.bin").read_bytes())
    lines = [" ".join(line.text.split()) for line in doc.lines]
    for item in ("Example item #1 4.00", "Another thing 3.50", "Something else 1.00",
                 "A final item 4.45", "Subtotal 12.95", "A local tax 1.30", "Total $ 14.25"):
        assert item in lines
    assert doc.lines[0].text == "ExampleMart Ltd." and doc.lines[0].double_width
    total = next(line for line in doc.lines if line.text.startswith("Total"))
    assert total.text == "Total            $ 14.25" and total.double_width and not total.bold
    assert next(line for line in doc.lines if line.text.startswith("Subtotal")).bold
    assert doc.images_skipped == 1 and doc.ended_by == "cut" and doc.unknown_bytes == 0
    assert doc.lines[-1].text == "Monday 6th of April 2015 02:56:25 PM"


def test_qr_fixture_yields_its_payloads(escpos_fixtures: Path) -> None:
    (doc,) = decode_all((escpos_fixtures / "escpos-php-qr-code.bin").read_bytes())
    assert doc.qr_codes == (
        ["Testing 123"] * 2
        + ["0123456789012345678901234567890123456789",
           "abcdefghijklmnopqrstuvwxyzabcdefghijklmn", "\0" * 40]
        + ["Testing 123"] * 14
    )
    assert "Most simple example" in doc.text and "P0" not in doc.text


def test_barcode_fixture_yields_every_symbology_and_payload(escpos_fixtures: Path) -> None:
    (doc,) = decode_all((escpos_fixtures / "escpos-php-barcode.bin").read_bytes())
    assert doc.barcodes == (
        [Barcode("CODE39", "ABC")] * 15
        + [Barcode("EAN13", "012345678901")] * 4
        + [Barcode("UPCA", "012345678901"), Barcode("UPCA", "01234567890")]
        + [Barcode("UPCE", d) for d in
           ("123456", "0123456", "01234567", "01234567890", "012345678901")]
        + [Barcode("EAN13", "012345678901"), Barcode("EAN13", "0123456789012"),
           Barcode("EAN8", "0123456"), Barcode("EAN8", "01234567"),
           Barcode("CODE39", "ABC 012"), Barcode("CODE39", "$%+-./"),
           Barcode("CODE39", "*TEXT*"), Barcode("ITF", "0123456789"),
           Barcode("CODABAR", "A012345A"), Barcode("CODABAR", "A012$+-./:A"),
           Barcode("CODE93", "012abcd"), Barcode("CODE128", "012ABCD"),
           Barcode("CODE128", "012ABCDabcd"), Barcode("CODE128", "213243")]
    )
    assert "Content: {B012ABCDabcd" in doc.text.splitlines()


def test_pdf417_fixture_yields_pdf417_barcodes(escpos_fixtures: Path) -> None:
    (doc,) = decode_all((escpos_fixtures / "escpos-php-pdf417-code.bin").read_bytes())
    assert doc.barcodes and set(doc.barcodes) == {Barcode("PDF417", "Testing 123")}
    assert doc.qr_codes == []


def test_character_encodings_follow_esc_t(escpos_fixtures: Path) -> None:
    (doc,) = decode_all((escpos_fixtures / "escpos-php-character-encodings.bin").read_bytes())
    lines = set(doc.text.splitlines())
    for expected in (
        "Quizdeltagerne spiste jordbær med fløde, mens cirkusklovnen Wolther spillede på xylofon.",
        "Falsches Üben von Xylophonmusik quält jeden größeren Zwerg.",
        "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία",
        "El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia y frío, añoraba a su "
        "querido cachorro.",
        "Árvíztűrő tükörfúrógép.",
        "Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
        "В чащах юга жил бы цитрус? Да, но фальшивый экземпляр!",
        "Pijamalı hasta, yağız şoföre çabucak güvendi.",
        "ｲﾛﾊﾆﾎﾍﾄ ﾁﾘﾇﾙｦ ﾜｶﾖﾀﾚｿ ﾂﾈﾅﾗﾑ",
        "Glāžšķūņa rūķīši dzērumā čiepj Baha koncertflīģeļu vākus.",
    ):
        assert expected in lines


def test_demo_is_split_at_each_cut_with_images_and_qr(escpos_fixtures: Path) -> None:
    data = (escpos_fixtures / "escpos-php-demo.bin").read_bytes()
    decoder = EscposDecoder()
    docs = decoder.feed(data) + decoder.flush()
    assert len(docs) == 12 and all(doc.ended_by == "cut" for doc in docs)
    assert docs[0].text == "Hello world"
    assert docs[4].text == "Partial cut\n(not available on all printers)"
    assert docs[10].barcodes == [Barcode("CODE39", "9876")]
    # the two image-only sections (4 GS ( L graphics, 4 GS v 0 rasters) make no document
    assert decoder.textless_documents == 2 and decoder.images_skipped == 8
    assert docs[11].qr_codes == ["Testing 123"] * 3 and docs[11].size == 241
    assert decoder.unknown_bytes == 0


def test_margins_and_unifont_captures_that_crash_esc2text_decode(escpos_fixtures: Path) -> None:
    margins = texts((escpos_fixtures / "escpos-php-margins-and-spacing.bin").read_bytes())
    assert "left margin 512" in margins[0].splitlines()
    assert "page width 64" in margins[0].splitlines()
    (doc,) = decode_all((escpos_fixtures / "escpos-php-unifont-print-buffer.bin").read_bytes())
    assert doc.unknown_bytes == 0 and len(doc.lines) == 2  # glyph bitmaps are not text


# -- python-escpos, a real POS library ---------------------------------------------------

SPANISH = "Café ñandú crème brûlée ¿Qué? ¡Sí! ÁÉÍÓÚ Ññ ü 1.234,50 €"


@pytest.mark.parametrize("charcode", ["CP858", "CP1252", None])
def test_python_escpos_accents_and_euro_in_each_code_page(charcode: str | None) -> None:
    p = Dummy()
    if charcode:
        p.charcode(charcode)  # None: python-escpos switches pages itself, mid-line
    p.text(SPANISH + "\n")
    p.set(bold=True, double_height=True)
    p.text("TOTAL A PAGAR    $ 1.234,50\n")
    p.cut()
    (doc,) = decode_all(p.output, codepage="cp437")
    assert [line.text for line in doc.lines] == [SPANISH, "TOTAL A PAGAR    $ 1.234,50"]
    assert doc.lines[1].bold and doc.lines[1].double_height and not doc.lines[0].bold
    assert doc.ended_by == "cut" and doc.unknown_bytes == 0


def test_python_escpos_qr_barcodes_and_images() -> None:
    p = Dummy()
    p.image(Image.new("1", (64, 48)))
    p.text("Farmacia Central\n")
    p.image(Image.new("1", (64, 48)), impl="bitImageColumn")
    p.image(Image.new("1", (64, 48)), impl="graphics")
    p.qr("https://hellotext.com/r?t=0001-00001234&m=1234.50", native=True)
    p.barcode("7730241003257", "EAN13")
    p.barcode("{BVERANO10", "CODE128", function_type="B")
    p.text("Gracias\n")
    p.cut(mode="PART")
    (doc,) = decode_all(p.output)
    assert doc.text == "Farmacia Central\nGracias"
    assert doc.qr_codes == ["https://hellotext.com/r?t=0001-00001234&m=1234.50"]
    assert doc.barcodes == [Barcode("EAN13", "7730241003257"), Barcode("CODE128", "VERANO10")]
    assert doc.images_skipped == 3 and doc.unknown_bytes == 0


def test_a_megabyte_raster_streams_through_without_being_buffered() -> None:
    width, height = 512, 2048  # 1 MiB of image data
    job = ESC + b"@Logo\n" + GS + b"v0\x00" + bytes([width % 256, width // 256,
                                                     height % 256, height // 256])
    image = bytes([0x0A, 0x1B, 0x40, 0x41]) * (width * height // 4)  # LF, ESC @, "A"...
    tail = b"After the logo\n" + GS + b"VA\x03"
    decoder = EscposDecoder()
    tracemalloc.start()
    docs = decoder.feed(job)
    for pos in range(0, len(image), 4096):
        docs += decoder.feed(image[pos : pos + 4096])
    docs += decoder.feed(tail)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024
    assert [doc.text for doc in docs] == ["Logo\nAfter the logo"]
    assert docs[0].images_skipped == 1 and docs[0].size == len(job) + len(image) + len(tail)


# -- printer rules -------------------------------------------------------------------------


def test_documents_end_at_cuts_at_init_after_content_at_idle_and_at_flush() -> None:
    cuts = [GS + b"V\x00", GS + b"V1", GS + b"VA\x10", GS + b"VB\x00", GS + b"Va\x05",
            GS + b"Vh\x01", ESC + b"i", ESC + b"m"]
    job = b"".join(f"receipt {i}\n".encode() + cut for i, cut in enumerate(cuts))
    docs = decode_all(job)
    assert [doc.text for doc in docs] == [f"receipt {i}" for i in range(len(cuts))]
    assert {doc.ended_by for doc in docs} == {"cut"}
    assert sum(doc.size for doc in docs) == len(job)

    decoder = EscposDecoder()
    (init,) = decoder.feed(ESC + b"@" + ESC + b"@first\n" + ESC + b"@second\n")
    assert (init.text, init.ended_by, init.size) == ("first", "init", 10)
    (idle,) = decoder.idle()
    assert (idle.text, idle.ended_by) == ("second", "idle")
    assert decoder.idle() == []  # nothing new: an idle gap ends nothing
    decoder.feed(b"third, no line feed")
    (last,) = decoder.flush()
    assert (last.text, last.ended_by) == ("third, no line feed", "flush")
    assert decoder.flush() == []


def test_cut_and_blank_paper_without_text_make_no_document() -> None:
    assert decode_all(b"\n\n\n" + GS + b"V\x00" + b"\n" + ESC + b"d\x05" + GS + b"V\x00") == []


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
    [(0, "#$@[\\]^`{|}~"), (7, "₧$@¡Ñ¿^`¨ñ}~"), (11, "#$á¡Ñ¿é`íñóú"), (12, "#$á¡Ñ¿éüíñóú"),
     (2, "#$§ÄÖÜ^`äöüß"), (3, "£$@[\\]^`{|}~")],
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


def test_line_and_document_caps_bound_memory_and_count_what_was_dropped() -> None:
    decoder = EscposDecoder(max_line_chars=10, max_document_lines=3)
    (doc,) = decoder.feed(b"0123456789abcdef\n" * 5 + GS + b"V\x00")
    assert [line.text for line in doc.lines] == ["0123456789"] * 3
    assert decoder.dropped_chars == 30 and decoder.dropped_lines == 2


def test_pathological_inputs_decode_in_bounded_time_and_memory() -> None:
    # unterminated NUL barcodes, long tab lists, big 2D stores, glyph definitions, lone ESCs,
    # fed a byte at a time: each waits for a bounded number of bytes, never re-scans much
    for unit in (GS + b"k\x04" + b"7" * 300, ESC + b"D" + bytes(range(1, 40)),
                 GS + b"(k\xff\x1f1P0", ESC + b"&\x03\x20\x7e", b"\x1b" * 7):
        data = unit * (30_000 // len(unit))
        sizes = [1] * len(data)
        started = time.perf_counter()
        tracemalloc.start()
        docs = chunked(data, sizes)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert time.perf_counter() - started < 5, unit
        assert peak < 256 * 1024, unit
        assert docs == decode_all(data)
        assert all(c == "\n" or c >= " " for doc in docs for c in doc.text)


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
        EscposDecoder(codepage_map={6: "cp949"})  # a double-byte page: not supported


def test_thai_and_other_pages_from_the_character_encodings_capture(
    escpos_fixtures: Path,
) -> None:
    text = texts((escpos_fixtures / "escpos-php-character-encodings.bin").read_bytes())[0]
    assert "นายสังฆภัณฑ์ เฮงพิทักษ์ฝั่ง" in text
    assert "דג סקרן שט בים" in text


EVERY_COMMAND = {
    "ESC SP": ESC + b" \x41", "ESC !": ESC + b"!\x41", "ESC $": ESC + b"$\x00\x00",
    "ESC %": ESC + b"%\x41", "ESC &": ESC + b"&\x03\x41\x42\x02" + b"A" * 6 + b"\x01AAA",
    "ESC ( A": ESC + b"(A\x04\x00\x30\x41\x0a\x0a", "ESC *": ESC + b"*\x21\x02\x00" + b"A" * 6,
    "ESC -": ESC + b"-\x41", "ESC 2": ESC + b"2", "ESC 3": ESC + b"3\x41", "ESC <": ESC + b"<",
    "ESC =": ESC + b"=\x41", "ESC ?": ESC + b"?\x41", "ESC D": ESC + b"D\x08\x41\x00",
    "ESC E": ESC + b"E\x41", "ESC G": ESC + b"G\x41", "ESC J": ESC + b"J\x41",
    "ESC K": ESC + b"K\x41", "ESC L": ESC + b"L", "ESC M": ESC + b"M\x41", "ESC R": ESC + b"R\x00",
    "ESC S": ESC + b"S", "ESC T": ESC + b"T\x41", "ESC U": ESC + b"U\x41", "ESC V": ESC + b"V\x41",
    "ESC W": ESC + b"W" + b"\x41" * 8, "ESC \\": ESC + b"\\\x00\x00", "ESC a": ESC + b"a\x41",
    "ESC c 3": ESC + b"c3\x41", "ESC c 4": ESC + b"c4\x41", "ESC c 5": ESC + b"c5\x41",
    "ESC d": ESC + b"d\x41", "ESC e": ESC + b"e\x41", "ESC p": ESC + b"p\x41\x41\x41",
    "ESC r": ESC + b"r\x41", "ESC t": ESC + b"t\x00", "ESC u": ESC + b"u\x41",
    "ESC v": ESC + b"v", "ESC {": ESC + b"{\x41", "ESC FF": ESC + b"\x0c",
    "GS !": GS + b"!\x41", "GS $": GS + b"$\x41\x41", "GS ( A": GS + b"(A\x02\x00\x41\x41",
    "GS ( C": GS + b"(C\x05\x00\x00\x30\x41\x41\x41", "GS ( E": GS + b"(E\x03\x00\x01AA",
    "GS ( H": GS + b"(H\x06\x00\x30\x30AAAA", "GS ( K": GS + b"(K\x02\x00\x30\x41",
    "GS ( L": GS + b"(L\x0b\x00\x30\x70\x30\x01\x01\x31\x08\x00\x01\x00" + b"A",
    "GS ( k": GS + b"(k\x04\x00\x31\x41\x32\x00", "GS ( N": GS + b"(N\x02\x00\x30\x41",
    "GS *": GS + b"*\x01\x01" + b"A" * 8, "GS /": GS + b"/\x41", "GS :": GS + b":",
    "GS 8 L": GS + b"8L\x03\x00\x00\x00\x30\x70\x41", "GS B": GS + b"B\x41",
    "GS C 0": GS + b"C0\x41\x41", "GS C 1": GS + b"C1AAAAAA", "GS C 2": GS + b"C2AA",
    "GS C ;": GS + b"C;1;2;3;4;5;", "GS H": GS + b"H\x41", "GS I": GS + b"I\x41",
    "GS L": GS + b"L\x41\x00", "GS P": GS + b"P\x41\x41", "GS T": GS + b"T\x41",
    "GS W": GS + b"W\x41\x41", "GS \\": GS + b"\\\x41\x41", "GS ^": GS + b"^\x41\x41\x41",
    "GS a": GS + b"a\x41", "GS b": GS + b"b\x41", "GS c": GS + b"c", "GS f": GS + b"f\x41",
    "GS g 0": GS + b"g0\x41\x41\x41", "GS h": GS + b"h\x41", "GS j": GS + b"j\x41",
    "GS k A": GS + b"kA\x03AAA", "GS k 4": GS + b"k\x04AAA\x00", "GS r": GS + b"r\x41",
    "GS v 0": GS + b"v0\x41\x02\x00\x02\x00AAAA", "GS w": GS + b"w\x41",
    "GS z 0": GS + b"z0\x41\x41", "FS !": FS + b"!\x41", "FS &": FS + b"&", "FS -": FS + b"-\x41",
    "FS .": FS + b".", "FS 2": FS + b"2\x41\x41" + b"A" * 72, "FS ?": FS + b"?\x41\x41",
    "FS C": FS + b"C\x41", "FS S": FS + b"S\x41\x41", "FS W": FS + b"W\x41",
    "FS p": FS + b"p\x01\x41", "FS q": FS + b"q\x01\x01\x00\x01\x00" + b"A" * 8,
    "FS g 1": FS + b"g1\x41AAAA\x02\x00AA", "FS g 2": FS + b"g2\x41AAAA\x02\x00",
    "FS ( A": FS + b"(A\x02\x00\x30\x41", "DLE EOT": DLE + b"\x04\x41",
    "DLE EOT 7": DLE + b"\x04\x07\x41", "DLE ENQ": DLE + b"\x05\x41",
    "DLE DC4 1": DLE + b"\x14\x01\x41\x41", "DLE DC4 2": DLE + b"\x14\x02\x41\x41",
    "DLE DC4 3": DLE + b"\x14\x03AAAAA", "DLE DC4 7": DLE + b"\x14\x07\x41",
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


def test_flush_resets_printer_state_and_idle_drops_a_split_command() -> None:
    decoder = EscposDecoder()
    assert decoder.feed(ESC + b"t\x10" + ESC + b"E\x01" + b"\xe9\n") == []
    (first,) = decoder.flush()
    assert first.lines[0].text == "é" and first.lines[0].bold
    decoder.feed(b"\x82\n" + GS + b"V")  # cp858 again, bold off; the cut is cut short
    (second,) = decoder.idle()
    assert second.lines[0].text == "é" and not second.lines[0].bold
    # the GS V cut short by the idle gap is dropped (counted), not completed by later bytes
    assert (second.ended_by, second.size, second.unknown_bytes) == ("idle", 4, 2)
    (third,) = decoder.feed(b"A\n" + GS + b"VA\x03")
    assert (third.text, third.ended_by, third.size) == ("A", "cut", 6)
    assert decoder.flush() == [] and decoder.unknown_bytes == 2


def test_a_corrupt_image_length_cannot_hide_the_receipts_after_it() -> None:
    # a GS 8 L claiming 4 GB and a GS v 0 claiming 4 GB are noise, not images
    job = (GS + b"8L\xff\xff\xff\xff" + b"Ticket 1\n" + GS + b"v0\x00\xff\xff\xff\xff"
           + b"Ticket 2\n")
    assert texts(job) == ["Ticket 1\nTicket 2"]
    # a plausible length that never completes is dropped at the next idle gap
    decoder = EscposDecoder()
    decoder.feed(b"Ticket 3\n" + GS + b"v0\x00\x48\x00\x00\x10" + b"\x00" * 100)
    (doc,) = decoder.idle()
    assert doc.text == "Ticket 3"
    (after,) = decoder.feed(b"Ticket 4\n" + GS + b"VA\x00")
    assert (after.text, after.ended_by) == ("Ticket 4", "cut")


def test_python_escpos_print_modes_and_device_commands_are_all_understood() -> None:
    p = Dummy()
    p.hw("INIT")
    p.set(align="center", font="b", bold=True, underline=1, width=2, height=2,
          custom_size=True)
    p.textln("FARMACIA")
    p.set(align="left", font="a", bold=False, underline=0, normal_textsize=True, invert=True,
          smooth=True, density=5)
    p.textln("inverted")
    p.set(invert=False, double_width=True)
    p.textln("wide")
    p.set(normal_textsize=True)
    p.line_spacing(60)
    p.block_text("Block of text that wraps at some column width here", columns=20)
    p.ln()
    p.barcode("123456789012", "EAN13", function_type="A")
    p.barcode("CODE39TEST", "CODE39", function_type="B")
    p.qr("hola", native=True, size=4, ec=2)
    p.cashdraw(2)
    p.buzzer(2, 1)
    p.panel_buttons(False)
    p.print_and_feed(2)
    p.image(Image.new("1", (50, 30)))
    p.textln("end")
    p.cut(feed=False)
    decoder = EscposDecoder()
    (doc,) = decoder.feed(p.output)
    assert [(line.text, line.bold, line.double_height, line.double_width)
            for line in doc.lines] == [
        ("FARMACIA", True, True, True), ("inverted", False, False, False),
        ("wide", False, False, True), ("Block of text that", False, False, False),
        ("wraps at some column", False, False, False), ("width here", False, False, False),
        ("end", False, False, False),
    ]
    assert doc.barcodes == [Barcode("EAN13", "123456789012"), Barcode("CODE39", "CODE39TEST")]
    assert doc.qr_codes == ["hola"] and doc.images_skipped == 1
    assert doc.unknown_bytes == 0 and doc.ended_by == "cut" and doc.size == len(p.output)


def test_utf8_selected_by_fs_paren_c_or_as_the_default() -> None:
    utf8_on, one_byte = FS + b"(C\x02\x000\x02", FS + b"(C\x02\x000\x01"
    job = (b"Caf\x82\n" + utf8_on + "Café ñandú €\n".encode() + ESC + b"R\x07#"
           + "\u0085€\n".encode() + b"\xff" + one_byte + b"\x82\n")
    assert texts(job) == ["Café\nCafé ñandú €\n₧€\né"]
    docs = decode_all(job)
    assert docs[0].unknown_bytes == 2  # a C1 control (NEL) and an undecodable byte
    assert chunked(job, [1] * len(job)) == docs  # sequences split across chunks
    assert texts("Año 2026: €\n".encode(), codepage="utf-8") == ["Año 2026: €"]
    decoder = EscposDecoder(codepage="UTF8")
    decoder.feed("ok\n€".encode()[:-1])
    (doc,) = decoder.flush()
    assert doc.text == "ok" and doc.unknown_bytes == 1  # the € cut short
