"""Whether a receipt gets the `[printer.append]` block, and what the block says. Pure.

A receipt gets it when it was read (a total found), its kind is one of the configured kinds,
and `{receipt}` (in the QR text or a line) can be filled with its number. Each refusal has
a short fixed reason, counted by `status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.receipts.model import Receipt
from drivers.escpos.blocks import QR_MAX_BYTES

PLACEHOLDER = "{receipt}"
NO_TEXT = "no text before the cut (an image or raster job)"
NOT_READ = "not read as a receipt"
NO_NUMBER = "no receipt number for {receipt}"
TOO_LONG = f"QR text over {QR_MAX_BYTES} bytes"


@dataclass(frozen=True)
class AppendRule:
    qr: str
    lines: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ("sale",)

    @classmethod
    def of(cls, qr: str, lines: Sequence[str], kinds: Sequence[str]) -> AppendRule:
        return cls(qr, tuple(lines), tuple(kinds))


@dataclass(frozen=True)
class BlockPlan:
    lines: tuple[str, ...]
    qr: bytes


def plan_block(receipt: Receipt | None, rule: AppendRule) -> BlockPlan | str:
    """The block for this receipt, or why it gets none."""
    if receipt is None:
        return NO_TEXT
    if not receipt.ok:
        return NOT_READ
    if receipt.kind not in rule.kinds:
        return f"{receipt.kind} not in kinds"
    texts = (rule.qr, *rule.lines)
    if any(PLACEHOLDER in text for text in texts) and not receipt.number:
        return NO_NUMBER
    number = receipt.number or ""
    qr = rule.qr.replace(PLACEHOLDER, number).encode("utf-8")
    if len(qr) > QR_MAX_BYTES:
        return TOO_LONG
    return BlockPlan(tuple(line.replace(PLACEHOLDER, number) for line in rule.lines), qr)
