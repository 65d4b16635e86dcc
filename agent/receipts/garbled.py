"""Text the reader cannot read: a job decoded with the wrong code page (mojibake). Pure.

Bytes of one script decoded through another's code page come out as box-drawing and
symbol characters mixed with letters in one word (`├ä┬½├å├ñ`: Korean CP949 read as CP858).
A job where many lines look like that yields no items, no total and a warning naming the
likely cause, rather than wrong lines: a wrong line would become a wrong sale. (Shift-JIS
read as CP850 comes out as accented letters, `âJâtâF`, which Spanish words share; such a
job yields no lines either, as no line of it reads as an item or a total.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A word holding a box-drawing, block or stray symbol character and a letter. Signs that do
# sit beside words on receipts (° º ª ¡ ¿ « » ® © ™ ² ³ µ) are left out; a separator line
# (`──────`, `├────┤`) has no letter.
_ODD = "\u2500-\u259f¤¦§¨¬¯±´¶·¸¼½¾÷ƒ"
_GLUED = re.compile(rf"[^\s{_ODD}]*(?:[^\W\d_][^\s]*[{_ODD}]|[{_ODD}][^\s]*[^\W\d_])")
_ODD_CHAR = re.compile(rf"[{_ODD}]")
MESSAGE = "text in a script or code page the reader cannot read (is printer.codepage right?)"


def is_garbled(lines: Iterable[str]) -> bool:
    """Do enough of a job's lines look like mojibake (a word of symbols and letters)?"""
    count = garbled = 0
    for text in lines:
        count += 1
        if text.isascii():
            continue
        # a cheap character scan first: most accented lines are plain Spanish or Portuguese
        if _ODD_CHAR.search(text) and _GLUED.search(text):
            garbled += 1
    return garbled >= 2 and garbled * 5 >= count

