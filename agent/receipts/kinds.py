"""Sale, refund or void: the words that say so, wherever the POS prints them. Pure.

Part of the reader (`agent.receipts.reader.Reader` mixes this in). A title line (`NOTA DE
CREDITO`, `RETURN RECEIPT`, `DEVOLUÇÃO`, `ESTORNO`) marks the job; so does a payment line
below the items that gives money back (`Refund to MC ****2290  -788.00`, `VALOR
DEVOLVIDO`), and a TOTAL printed negative (a POS that prints a refund as the sale with
negative quantities). A policy note (`No se aceptan devoluciones`, `Returns accepted within
30 days`) marks nothing. When the kind shows only after the items were read,
`agent.receipts.extract` reads the job again knowing it, so that the items are the
refund's lines and not discounts.
"""

from __future__ import annotations

import re

from agent.receipts.model import Kind
from agent.receipts.templates import Template


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that make a line about refunds a policy note, not a refund ("No se aceptan
# devoluciones", "Returns accepted within 30 days", "Trocas somente com este cupom").
KIND_NOISE = _words(
    "no sin plazo dias politica hasta para con solo aceptan se por sus within days policy "
    "accepted accept only must be your not will are days dias em ate somente aceitamos "
    "nao sao prazo"
)
# A line below the items that gives money back: the job is a refund.
_MONEY_BACK = re.compile(
    r"^[\W_]*(?:refund(?:ed)?\b|reembolso|estorno|valor\s+devolvido|"
    r"devuelto\s+(?:en|al?)\b|devolvido\s+(?:em|ao|no)\b)"
)


class KindRules:
    """The kind rules of the line-by-line reader; the state is the reader's."""

    t: Template
    kind: Kind
    zone: str
    items_started: bool
    kind_late: bool

    def _set_kind(self, kind: Kind) -> Kind:
        if kind != self.kind and (self.items_started or self.zone != "head"):
            self.kind_late = True  # the items were read as a sale's: read again
        self.kind = kind
        return kind

    def _kind_marker(self, folded: str) -> Kind | None:
        for kind in ("void", "refund"):
            match = self.t.label_match(kind, folded)
            if not match:
                continue
            others = (folded[: match.start()] + " " + folded[match.end() :]).split()
            words = [w for w in re.split(r"[\W_]+", " ".join(others)) if w]
            if len(words) <= 6 and not KIND_NOISE.intersection(words):
                return self._set_kind(
                    "void" if kind == "void" or self.kind == "void" else "refund")
        if re.fullmatch(r"[\W_]*cambio[\W_]*", folded) and self.kind == "sale":
            return self._set_kind("refund")  # an exchange: CAMBIO alone as the title
        return None

    def _money_back(self, label: str) -> bool:
        """`Refund to MC ****2290  -788.00` below the items: a refund, whatever the title."""
        if self.zone != "totals" or self.kind == "void" or not _MONEY_BACK.match(label):
            return False
        if self.kind == "sale":
            self._set_kind("refund")
        return True
