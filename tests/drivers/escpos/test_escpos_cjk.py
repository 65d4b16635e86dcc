"""CJK code pages and the Brazilian printers' own modes (issue 22): Kanji mode (FS & / FS .)
with the country told by ESC R or FS C, a clone's ESC t page mapped to a CJK codec, a printer
set to one, Star's ESC GS t; Bematech's ESC/Bema bold and Daruma's ESC w."""

from __future__ import annotations

import pytest
from escpos_helpers import chunked, texts

from drivers.escpos.blocks import encode_text
from drivers.escpos.select import cuts_of, decode_all
from drivers.escpos.star import detect_command_set

ESC, FS, GS = b"\x1b", b"\x1c", b"\x1d"
KANJI_ON, KANJI_OFF = FS + b"&", FS + b"."


@pytest.mark.parametrize("intl, codec, text", [
    (8, "cp932", "合計 1,100円"), (13, "cp949", "합계 12,000원"), (15, "gb18030", "合计 ¥12.50"),
])
def test_kanji_mode_reads_the_code_of_the_country_esc_r_names(
    intl: int, codec: str, text: str
) -> None:
    job = ESC + b"@" + ESC + b"R" + bytes([intl]) + KANJI_ON + text.encode(codec) + b"\n"
    assert texts(job + KANJI_OFF + b"Caf\x82\n") == [text + "\nCafé"]  # FS .: back to cp858


def test_kanji_mode_without_a_country_is_gb18030_and_fs_c_1_is_shift_jis() -> None:
    assert texts(KANJI_ON + "合计 找零".encode("gb18030") + b"\n") == ["合计 找零"]
    job = FS + b"C\x01" + KANJI_ON + "お釣り".encode("cp932") + b"\n"
    assert texts(job) == ["お釣り"]


def test_a_character_split_between_two_reads_is_decoded_whole() -> None:
    data = ESC + b"R\x0d" + KANJI_ON + "카페 모카".encode("cp949") + b"\n"
    for cut in range(4, len(data)):
        (doc,) = chunked(data, [cut])
        assert doc.text == "카페 모카"


def test_a_clones_esc_t_page_mapped_to_a_cjk_codec() -> None:
    # escpos-buffer's Bematech profile selects Shift-JIS with ESC t 11, GB2312 with ESC t 12
    job = ESC + b"t\x0b" + "合計".encode("shift_jis") + b"\n" + ESC + b"t\x0c"
    job += "合计".encode("gb2312") + b"\n" + ESC + b"t\x02" + b"\x82\n"
    assert texts(job, codepage_map={11: "shift_jis", 12: "gb2312", 2: "cp850"}) == [
        "合計\n合计\né"]


@pytest.mark.parametrize("codec, text", [("cp950", "合計 NT$120"), ("gb18030", "现金 ¥20.00"),
                                         ("cp949", "현금 5,000")])
def test_a_printer_set_to_a_cjk_page(codec: str, text: str) -> None:
    assert texts(text.encode(codec) + b"\n", codepage=codec) == [text]


def test_star_esc_gs_t_mapped_to_a_cjk_codec() -> None:
    # Japanese pages print byte 0x5C as the yen sign (JIS X 0201), not a backslash
    job = ESC + b"\x1dt\x40" + "合計 \\500".encode("cp932") + b"\n" + ESC + b"d\x02"
    (doc,) = decode_all(job, command_set="star", codepage_map={0x40: "cp932"})
    assert doc.text == "合計 ¥500"


def test_bematech_esc_bema_bold_keeps_the_first_character() -> None:
    job = GS + b"\xf950" + ESC + b"t\x02" + ESC + b"ETOTAL" + ESC + b"F     12,50\r\n"
    job += GS + b"\xf951" + ESC + b"E\x01Cupom" + ESC + b"E\x00\r\n"  # back to ESC/POS
    assert detect_command_set(job) == "escpos"
    (doc,) = decode_all(job)
    assert [(line.text, line.bold) for line in doc.lines] == [
        ("TOTAL     12,50", True), ("Cupom", True)]


def test_daruma_double_height_leaves_no_digit_behind() -> None:
    job = ESC + b"M\x00" + ESC + b"ERECIBO" + ESC + b"F\r\n" + ESC + b"w1TOTAL  9,90"
    job += ESC + b"w0\r\n"
    (doc,) = decode_all(job)
    assert doc.text == "RECIBO\nTOTAL  9,90"


def test_a_block_inserted_at_the_cut_of_a_kanji_job_is_encoded_in_its_code() -> None:
    job = ESC + b"R\x0d" + KANJI_ON + "합계 12,000원".encode("cp949") + b"\n" + GS + b"V\x00"
    (cut,) = cuts_of(job)
    assert cut.encoding == "cp949"
    assert encode_text("쿠폰 받기", cut.encoding, cut.international).decode("cp949") == "쿠폰 받기"
