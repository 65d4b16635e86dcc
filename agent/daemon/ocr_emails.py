"""A second, narrow Tesseract read of an e-mail line the page's read got wrong.

Read with the rest of the page, an address is where OCR fails most: at 180-203 dpi (and worse
in the low-density modes) `@` comes back as `g`, `Q` or nothing and a dot as `, ` — and one
wrong character loses the customer's e-mail. A line labelled as an e-mail (`Email:`,
`E-mail`, `Correo`, as OCR spells them) with no valid address is read again alone: the part
after the label, cut out, scaled up three times, as one line of text (`--psm 7`) in the
characters an address has. The new reading is taken only when it is a valid address; the
page's words stay otherwise. One short extra run, only on a receipt that needs it. Spaces
OCR put inside an address (after a dot, mostly) are closed first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from statistics import median
from typing import TYPE_CHECKING

from agent.receipts.ocr_lines import Word, group_lines

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["labelled_lines", "reread_emails"]

LABELS = ("email", "e-mail", "mail", "correo")
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")  # as the reader's find_email takes it
WHITELIST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._-+"
SCALE = 3


def _is_label(text: str) -> bool:
    folded = re.sub(r"[^a-z-]", "", text.lower())
    return len(folded) >= 4 and any(
        SequenceMatcher(None, folded, label).ratio() >= 0.75 for label in LABELS)


def labelled_lines(words: Sequence[Word]) -> list[list[Word]]:
    """The lines that start with an e-mail label and have something after it."""
    return [line for line in group_lines(list(words))
            if len(line) >= 2 and _is_label(line[0].text)]


def _joined(line: list[Word]) -> str | None:
    """The address the words after the label make without OCR's spaces (`sofia. martinez@
    gmail.com`, where the found address would be `martinez@gmail.com`), if it is longer."""
    joined = ADDRESS.fullmatch("".join(w.text for w in line[1:]).strip(".,;:"))
    spaced = ADDRESS.search(" ".join(w.text for w in line[1:]))
    if joined and (spaced is None or len(spaced.group()) < len(joined.group())):
        return joined.group()
    return None


def _as_word(text: str, rest: list[Word]) -> Word:
    left = min(w.left for w in rest)
    return Word(text, left, min(w.top for w in rest), max(w.left + w.width for w in rest) - left,
                max(w.height for w in rest), min(w.confidence for w in rest))


def _crop(picture: PILImage.Image, line: list[Word]) -> PILImage.Image:
    from PIL import Image, ImageOps

    label, rest = line[0], line[1:]
    # the line's usual extent (one tall or merged box must not take in the next line)
    top = int(median(w.top for w in line))
    bottom = int(median(w.top + w.height for w in line))
    pad = max(1, (bottom - top) // 6)
    box = (label.left + label.width + 1, max(0, top - pad),
           min(picture.width, max(w.left + w.width for w in rest) + 4 * pad),
           min(picture.height, bottom + pad))
    part = picture.convert("L").crop(box)
    part = part.resize((part.width * SCALE, part.height * SCALE), Image.Resampling.BICUBIC)
    return ImageOps.expand(part, border=10 * SCALE, fill=255)


def reread_emails(picture: PILImage.Image, words: list[Word], *, timeout: float) -> list[Word]:
    """`words` with each unread e-mail line's address read again (module docstring)."""
    import pytesseract

    out = list(words)
    for line in labelled_lines(words):
        rest = line[1:]
        address = _joined(line)
        if address is None and not ADDRESS.search(" ".join(w.text for w in rest)):
            text = pytesseract.image_to_string(
                _crop(picture, line), lang="eng", timeout=timeout,
                config=f"--psm 7 -c tessedit_char_whitelist={WHITELIST}",
            )
            match = ADDRESS.search(text.replace(" ", ""))
            address = match.group() if match else None
        if address is not None:
            out = [w for w in out if not any(w is r for r in rest)] + [_as_word(address, rest)]
    return out
