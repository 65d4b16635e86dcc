"""Epson's `ESC t n` code page numbers and `ESC R n` international sets, as decode tables.

A decode table is a 256-character string for `codecs.charmap_decode`: byte b becomes
table[b]; UNDEFINED marks bytes that must never become text (C0/C1 controls, DEL, holes in a
code page). Tables are built once per (code page, international set) and cached.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from functools import cache, lru_cache

UNDEFINED = "\ufffe"  # charmap_decode treats this as "no mapping"

# Epson's numbering (TM series application programming guide, "ESC t"). Only pages with a
# Python codec (or built here) are listed; other numbers fall back to the default page.
EPSON_CODEPAGES: dict[int, str] = {
    0: "cp437",
    1: "katakana",  # JIS X 0201 half-width katakana in the upper half
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    13: "cp857",
    14: "cp737",
    15: "iso8859_7",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
    # Thai character codes 42, 11, 13, 14, 16, 17, 18: the letters sit at their TIS-620
    # places (the models differ in glyph variants for combining marks, not in the letters)
    20: "tis_620", 21: "tis_620", 22: "tis_620", 23: "tis_620", 24: "tis_620",
    25: "tis_620", 26: "tis_620",
    32: "cp720",
    33: "cp775",
    34: "cp855",
    35: "cp861",
    36: "cp862",
    37: "cp864",
    38: "cp869",
    39: "iso8859_2",
    40: "iso8859_15",
    44: "cp1125",
    45: "cp1250",
    46: "cp1251",
    47: "cp1253",
    48: "cp1254",
    49: "cp1255",
    50: "cp1256",
    51: "cp1257",
    52: "cp1258",
    53: "kz1048",
}

# `ESC R n`: the characters printed for bytes 0x23 0x24 0x40 0x5B-0x5E 0x60 0x7B-0x7E.
_INTL_POSITIONS = b"#$@[\\]^`{|}~"
INTERNATIONAL_SETS: dict[int, str] = {
    0: "#$@[\\]^`{|}~",  # U.S.A.
    1: "#$à°ç§^`éùè¨",  # France
    2: "#$§ÄÖÜ^`äöüß",  # Germany
    3: "£$@[\\]^`{|}~",  # U.K.
    4: "#$@ÆØÅ^`æøå~",  # Denmark I
    5: "#¤ÉÄÖÅÜéäöåü",  # Sweden
    6: "#$@°\\é^ùàòèì",  # Italy
    7: "₧$@¡Ñ¿^`¨ñ}~",  # Spain I
    8: "#$@[¥]^`{|}~",  # Japan
    9: "#¤ÉÆØÅÜéæøåü",  # Norway
    10: "#$ÉÆØÅÜéæøåü",  # Denmark II
    11: "#$á¡Ñ¿é`íñóú",  # Spain II
    12: "#$á¡Ñ¿éüíñóú",  # Latin America
    13: "#$@[₩]^`{|}~",  # Korea
    14: "#$ŽŠĐĆČžšđćč",  # Slovenia / Croatia
    15: "#¥@[\\]^`{|}~",  # China
    16: "#₫@[\\]^`{|}~",  # Vietnam
    17: "#$@[\\]^`{|}~",  # Arabia (the Latin half is unchanged)
}


def _katakana_table() -> str:
    chars = [chr(b) for b in range(128)] + [UNDEFINED] * 128
    for b in range(0xA1, 0xE0):
        chars[b] = chr(0xFF61 + b - 0xA1)
    # Epson's page 1 has block and line graphics at 0x80-0x9F (receiptline draws its rules
    # with 0x95 there)
    chars[0x80:0xA0] = "▁▂▃▄▅▆▇█▏▎▍▌▋▊▉┼┴┬┤├▔─│▕┌┐└┘╭╮╰╯"
    return "".join(chars)


@cache  # one per code page name in use: a few dozen at most
def _base_table(codec: str) -> str:
    """Decode every byte alone; anything that is not printable text becomes UNDEFINED."""
    if codec == "katakana":
        chars = list(_katakana_table())
    else:
        chars = []
        for b in range(256):
            try:
                c = bytes([b]).decode(codec)
            except UnicodeDecodeError:
                c = UNDEFINED
            chars.append(c if len(c) == 1 else UNDEFINED)
    for b in range(256):
        c = chars[b]
        if b < 0x20 or b == 0x7F or not c.isprintable() and c != "\xa0":
            chars[b] = UNDEFINED
    return "".join(chars)


@lru_cache(maxsize=256)
def decode_table(codec: str, international: int = 0) -> str:
    """The table for a codec name under international set `international`."""
    table = list(_base_table(codec))
    subst = INTERNATIONAL_SETS.get(international, INTERNATIONAL_SETS[0])
    for pos, char in zip(_INTL_POSITIONS, subst, strict=True):
        table[pos] = char
    table[0x0A] = "\n"  # text runs are decoded with their line feeds, then split
    return "".join(table)


@cache
def international_map(international: int) -> dict[int, str]:
    """`ESC R` as a str.translate table, for text that is not decoded through a table."""
    subst = INTERNATIONAL_SETS.get(international, INTERNATIONAL_SETS[0])
    return {pos: char for pos, char in zip(_INTL_POSITIONS, subst, strict=True)
            if chr(pos) != char}


# Multi-byte code pages of CJK printers: a printer set to one (`codepage = "cp932"`, or a
# clone's `ESC t n` mapped to one in `codepage_map`), or Kanji mode (`FS &`) on Chinese,
# Japanese and Korean models. Decoded with Python's incremental decoders, so a character
# may span chunks.
MULTIBYTE_CODECS = frozenset({
    "cp932", "shift_jis", "euc_jp", "cp936", "gbk", "gb2312", "gb18030", "cp949", "euc_kr",
    "johab", "cp950", "big5", "big5hkscs", "utf-8",
})
# Kanji mode's code by the `ESC R n` set a CJK model is left in (Japan, Korea, China); a
# Japanese model's `FS C 1` says Shift-JIS too. Without either, a Chinese model's GB18030.
KANJI_BY_INTERNATIONAL: dict[int, str] = {8: "cp932", 13: "cp949", 15: "gb18030"}
DEFAULT_KANJI = "gb18030"


@cache
def multibyte_codec(codec: str) -> str | None:
    """The normalised name of a multi-byte CJK (or UTF-8) codec, else None."""
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return None
    return name if name in MULTIBYTE_CODECS else None


@cache
def is_known_codec(codec: str) -> bool:
    """True for a code page the decoder can read: a single-byte page (each byte alone
    through a table) or one of the multi-byte CJK pages in MULTIBYTE_CODECS."""
    if codec == "katakana" or multibyte_codec(codec):
        return True
    try:
        info = codecs.lookup(codec)
    except LookupError:
        return False
    decoder = info.incrementaldecoder
    if info.name.startswith("utf") or not isinstance(decoder, type) or any(
        cls.__name__ == "MultibyteIncrementalDecoder" for cls in decoder.__mro__
    ):
        return False
    try:
        return len(b"A".decode(info.name)) == 1
    except (UnicodeDecodeError, LookupError):  # LookupError: not a text encoding (base64)
        return False


def codec_for_page(page: int, codepage_map: Mapping[int, str] | None) -> str | None:
    """The codec the printer uses for `ESC t page`, or None when it is not supported."""
    if codepage_map is not None and page in codepage_map:
        codec = codepage_map[page]
        return codec if is_known_codec(codec) else None
    return EPSON_CODEPAGES.get(page)
