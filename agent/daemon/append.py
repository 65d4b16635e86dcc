"""The agent's side of the cut hold (drivers/taps/append.py) for one `[printer.append]`.

At each cut the tap hands over the document its own decoder read up to the cut; this reads
it with the printer's template, applies the rule (agent/receipts/append.py) and builds the
block for the printer state at the cut. Runs on the tap's helper thread: it only reads
shared values (template, rule) and takes a lock for its counters.

`done` (the tap's word on what was printed) counts printed and skipped receipts for
`status`, and remembers the printed ones until the pipeline reads the same document and
marks its payment event `metadata.receipt_qr = true`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, OrderedDict
from typing import Any

from agent.config import AppendSection
from agent.receipts import Template, extract
from agent.receipts.append import AppendRule, BlockPlan, plan_block
from drivers.escpos.blocks import append_block, star_block
from drivers.escpos.document import Cut, Document
from drivers.taps import CutRequest, Decision

STAR_CUT = b"\x1bd"  # ESC d n: Star Line Mode's cut
_REMEMBERED = 256  # printed receipts the pipeline has not read yet (it is normally 1)


def document_key(doc: Document) -> str:
    """The same bytes decode to the same document in the tap and in the pipeline."""
    text = "\n".join([doc.text, *doc.qr_codes, *(b.data for b in doc.barcodes)])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class ReceiptAppender:
    """An `Appender` (drivers.taps) for one printer."""

    def __init__(
        self, settings: AppendSection, template: Template, *, country: str, currency: str
    ) -> None:
        self.settings = settings
        self.rule = AppendRule.of(settings.qr, settings.lines, settings.kinds)
        self.template = template
        self.country = country
        self.currency = currency
        self.printed = 0
        self.skipped: Counter[str] = Counter()
        self._marks: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        # The first QR segno makes costs tens of ms (its tables): pay that now, not at a cut.
        append_block(self.rule.lines, self.rule.qr.encode("utf-8"), mode=settings.qr_mode)

    def decide(self, request: CutRequest) -> Decision:
        plan = self.plan(request.cut)
        if isinstance(plan, str):
            return Decision(None, plan)
        return Decision(self.block(plan, request.cut))

    def plan(self, cut: Cut) -> BlockPlan | str:
        """What the block says for the receipt this cut ends, or why there is none."""
        doc = cut.document
        receipt = (
            extract(doc, template=self.template, country=self.country, currency=self.currency)
            if doc is not None
            else None
        )
        return plan_block(receipt, self.rule)

    def block(self, plan: BlockPlan, cut: Cut) -> bytes:
        if cut.command.startswith(STAR_CUT):  # a job decoded as Star Line Mode: its own QR
            return star_block(plan.lines, plan.qr, encoding=cut.encoding)
        return append_block(
            plan.lines,
            plan.qr,
            mode=self.settings.qr_mode,
            encoding=cut.encoding,
            international=cut.international,
        )

    def done(self, request: CutRequest, printed: bool, reason: str) -> None:
        doc = request.cut.document
        with self._lock:
            if not printed:
                self.skipped[reason] += 1
                return
            self.printed += 1
            if doc is not None:
                self._marks[document_key(doc)] = None
                while len(self._marks) > _REMEMBERED:
                    self._marks.popitem(last=False)

    def took_block(self, doc: Document) -> bool:
        """Whether this document was printed with the block (asked once per document)."""
        key = document_key(doc)
        with self._lock:
            if key in self._marks:
                del self._marks[key]
                return True
            return False

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"printed": self.printed, "skipped": dict(self.skipped)}
