"""Score the reader on the multi-encoder corpus in tests/corpus/ (see its README).

    score("train") -> Score    # figures the issue's targets name, and what went wrong

Each receipt's bytes are decoded with the command set detected per job, read with the
generic template for its country, and compared with expected.json: the total, the lines'
amounts (net of a discount printed under a line) and discounts, the kind, the customer's
phone and e-mail, no customer read where none was printed, no card number left readable,
and every GTIN printed as an item code still readable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent.receipts import GENERIC, explain, extract
from drivers.escpos.select import decode_all

CORPUS = Path(__file__).resolve().parent / "corpus"
_DIGITS = re.compile(r"[\s-]")


@dataclass
class Score:
    part: str
    receipts: int = 0
    totals: list[int] = field(default_factory=lambda: [0, 0])  # [right, asked]
    lines: list[int] = field(default_factory=lambda: [0, 0])
    kind: list[int] = field(default_factory=lambda: [0, 0])
    phones: list[int] = field(default_factory=lambda: [0, 0])
    emails: list[int] = field(default_factory=lambda: [0, 0])
    documents: list[int] = field(default_factory=lambda: [0, 0])  # one document per job
    phantom_customers: int = 0  # a phone or e-mail read where none was printed
    cards_leaked: int = 0
    gtins_masked: int = 0
    failures: list[str] = field(default_factory=list)

    def rate(self, name: str) -> float:
        right, asked = getattr(self, name)
        return right / asked if asked else 1.0

    def report(self) -> str:
        parts = [f"{self.part}: {self.receipts} receipts"]
        for name in ("documents", "totals", "lines", "kind", "phones", "emails"):
            right, asked = getattr(self, name)
            parts.append(f"{name} {right}/{asked} ({100 * self.rate(name):.1f} %)")
        parts.append(f"customers where none printed {self.phantom_customers}")
        parts.append(f"cards leaked {self.cards_leaked}")
        parts.append(f"GTINs masked {self.gtins_masked}")
        return "\n  ".join(parts)


def _tick(counter: list[int], ok: bool) -> bool:
    counter[1] += 1
    counter[0] += ok
    return ok


def score_one(score: Score, name: str, data: bytes, want: dict[str, Any]) -> None:
    score.receipts += 1
    # what an installer sets for a CJK printer's own `ESC t` pages (tests/corpus/README.md)
    codepage_map = {int(k): v for k, v in want.get("codepage_map", {}).items()} or None
    docs = decode_all(data, command_set="auto", codepage_map=codepage_map)
    if not _tick(score.documents, len(docs) == 1):
        score.failures.append(f"{name}: {len(docs)} documents")
    if not docs:
        return
    doc = docs[0]
    options = {"template": GENERIC, "country": want["country"], "currency": want["currency"]}
    receipt = extract(doc, **options)
    trace = "\n".join(text for text, _ in explain(doc, **options))
    got_json = json.dumps(receipt.to_json())
    if not _tick(score.kind, receipt.kind == want["kind"]):
        score.failures.append(f"{name}: kind {receipt.kind} != {want['kind']}")
    if want["kind"] != "void":
        total = Decimal(want["total"])
        if not _tick(score.totals, receipt.total == total):
            score.failures.append(f"{name}: total {receipt.total} != {total}")
        got = [(line.amount, line.discount) for line in receipt.lines]
        expected = [(Decimal(x["amount"]), Decimal(x["discount"])) for x in want["lines"]]
        if not _tick(score.lines, got == expected):
            score.failures.append(f"{name}: lines {got} != {expected}")
    for key, counter in (("phone", score.phones), ("email", score.emails)):
        value = getattr(receipt.customer, key)
        if want[key] is None:
            if value is not None:
                score.phantom_customers += 1
                score.failures.append(f"{name}: {key} {value} read where none was printed")
        elif not _tick(counter, value == want[key]):
            score.failures.append(f"{name}: {key} {value} != {want[key]}")
    for card in want["cards"]:
        digits = _DIGITS.sub("", card)
        if digits in _DIGITS.sub("", trace) or digits in _DIGITS.sub("", got_json):
            score.cards_leaked += 1
            score.failures.append(f"{name}: card {card} readable")
    for gtin in want["gtins"]:
        if gtin not in trace:
            score.gtins_masked += 1
            score.failures.append(f"{name}: GTIN {gtin} masked")


def score(part: str) -> Score:
    folder = CORPUS / part
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    result = Score(part)
    for name in sorted(expected):
        score_one(result, name, (folder / f"{name}.bin").read_bytes(), expected[name])
    return result
