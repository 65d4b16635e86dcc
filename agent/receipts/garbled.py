"""Text the reader cannot read: a job decoded with the wrong code page (mojibake). Pure.

Bytes of one script decoded through another's code page come out as box-drawing and
symbol characters glued to letters (`├ä┬½├å├ñ`: Korean CP949 read as CP858). A job where
many lines look like that yields no items, no total and a warning naming the likely cause,
rather than wrong lines: a wrong line would become a wrong sale.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A box-drawing, block or stray symbol character right beside a letter. Signs that do sit
# beside words on receipts (° º ª ¡ ¿ « » ® © ™ ² ³ µ) are left out.
_GLUED = re.compile(
    r"[^\W\d_][\u2500-\u259f¤¦§¨¬¯±´¶¸¼½¾÷ƒ]|[\u2500-\u259f¤¦§¨¬¯±´¶¸¼½¾÷ƒ][^\W\d_]"
)
MESSAGE = "text in a script or code page the reader cannot read (is printer.codepage right?)"


def is_garbled(lines: Iterable[str]) -> bool:
    """Do enough of a job's lines look like mojibake (two glued symbols or more)?"""
    wordy = garbled = 0
    for text in lines:
        if text.isascii():
            wordy += 1
            continue
        wordy += 1
        if len(_GLUED.findall(text)) >= 2:
            garbled += 1
    return garbled >= 2 and garbled * 5 >= wordy
