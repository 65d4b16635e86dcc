"""Sale assembly (pure): a receipt plus the scans read at that till since the last receipt.

Scans older than the window belong to nobody (a forgotten scan from the morning must not
identify the afternoon's customer). A customer scan identifies the sale; product scans fill
item codes the receipt did not print, but only when they match one-to-one in order — a guess
would attach the wrong product to a customer's history.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from decimal import Decimal

from agent.receipts import Receipt, ReceiptLine
from drivers.scanners.barcodes import (
    CustomerPhone,
    CustomerSession,
    LoyaltyCard,
    Product,
    Unknown,
    VariableMeasure,
)
from drivers.scanners.base import Scan

Meaning = Product | VariableMeasure | CustomerSession | CustomerPhone | LoyaltyCard | Unknown


@dataclass(frozen=True, slots=True)
class ScannedCode:
    scan: Scan
    meaning: Meaning


@dataclass(frozen=True, slots=True)
class Identity:
    """Who bought: at most one of these is used as the event identity."""

    session: str | None = None
    phone: str | None = None  # E.164; becomes a profile id at send time
    email: str | None = None  # likewise (with the phone, in the same profile request)
    loyalty: str | None = None
    source: str = "none"  # scan-session | scan-phone | receipt-phone | receipt-email | loyalty


@dataclass(frozen=True, slots=True)
class SaleLine:
    line: ReceiptLine
    code: str | None  # printed, else filled from a scan
    weight: Decimal | None = None  # from a variable-measure code
    scale_price: Decimal | None = None  # the price a scale printed into the code
    code_from_scan: bool = False


@dataclass(frozen=True, slots=True)
class Sale:
    receipt: Receipt
    terminal_id: str
    key: str  # the receipt's identity on this terminal: same receipt seen twice, same key
    occurred_at: datetime  # UTC
    identity: Identity
    lines: tuple[SaleLine, ...]
    scans: tuple[ScannedCode, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class Checkout:
    """Per-terminal state: the scans waiting for the next receipt."""

    terminal_id: str
    window_seconds: float = 600.0
    price_checker: bool = False
    _pending: list[ScannedCode] = field(default_factory=list)

    def add_scan(self, scan: Scan, meaning: Meaning) -> ScannedCode | None:
        """Keep a scan for the next receipt; a price checker returns product scans at once."""
        scanned = ScannedCode(scan, meaning)
        if self.price_checker and isinstance(meaning, Product | VariableMeasure):
            return scanned
        self._pending.append(scanned)
        return None

    def pending(self, *, now: float) -> list[ScannedCode]:
        self._expire(now)
        return list(self._pending)

    def complete(
        self,
        receipt: Receipt,
        *,
        now: float,
        text: str,
        local_zone: tzinfo | None,
        trust_clock: bool = True,
    ) -> Sale:
        """Close the checkout: the receipt takes the scans of its window and they are gone."""
        self._expire(now)
        scans = tuple(self._pending)
        self._pending.clear()
        occurred = occurred_at(receipt, now=now, local_zone=local_zone, trust_clock=trust_clock)
        lines, notes = fill_codes(receipt.lines, scans)
        return Sale(
            receipt=receipt,
            terminal_id=self.terminal_id,
            key=receipt_key(self.terminal_id, receipt, text),
            occurred_at=occurred,
            identity=identify(receipt, scans),
            lines=lines,
            scans=scans,
            notes=notes,
        )

    def _expire(self, now: float) -> None:
        horizon = now - self.window_seconds
        self._pending = [s for s in self._pending if s.scan.at >= horizon]


def printed_at(receipt: Receipt, *, local_zone: tzinfo | None) -> datetime | None:
    """The receipt's printed date and time, read in the store's zone, in UTC."""
    printed = receipt.issued_at
    if printed is None:
        return None
    if printed.tzinfo is None:
        printed = printed.replace(tzinfo=local_zone) if local_zone else printed.astimezone()
    return printed.astimezone(UTC)


def occurred_at(
    receipt: Receipt, *, now: float, local_zone: tzinfo | None, trust_clock: bool = True
) -> datetime:
    """The printed time in the store's zone, else the capture time. A printed time more than a
    day in the future or a year in the past is a misread or a wrong till clock: use capture,
    unless this clock is the one known to be wrong (`trust_clock` false): then the printed
    time is the better of the two."""
    captured = datetime.fromtimestamp(now, UTC)
    printed = printed_at(receipt, local_zone=local_zone)
    if printed is None:
        return captured
    if not trust_clock and printed.year >= 2000:
        return printed
    if not -86400 * 366 < (captured - printed).total_seconds() < 86400 * 366:
        return captured
    if (printed - captured).total_seconds() > 86400:
        return captured
    return printed


def receipt_key(terminal_id: str, receipt: Receipt, text: str) -> str:
    """Number and time identify a receipt; without a number, its whole text does (a reprint of
    the same ticket is then the same sale, which is what we want)."""
    if receipt.number:
        stamp = receipt.issued_at.isoformat() if receipt.issued_at else ""
        basis = f"{receipt.kind}|{receipt.number}|{stamp}"
    else:
        basis = "text|" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{terminal_id}|{basis}"


def identify(receipt: Receipt, scans: tuple[ScannedCode, ...]) -> Identity:
    """A scan at the till beats what the receipt printed: the customer showed it just now.
    The last scan of a kind wins (the cashier rescanned)."""
    for scanned in reversed(scans):
        if isinstance(scanned.meaning, CustomerSession):
            return Identity(session=scanned.meaning.session, source="scan-session")
    for scanned in reversed(scans):
        if isinstance(scanned.meaning, CustomerPhone):
            return Identity(phone=scanned.meaning.phone, source="scan-phone")
    printed = receipt.customer
    if printed.phone:
        return Identity(phone=printed.phone, email=printed.email, source="receipt-phone")
    if printed.email:
        return Identity(email=printed.email, source="receipt-email")
    for scanned in reversed(scans):
        if isinstance(scanned.meaning, LoyaltyCard):
            return Identity(loyalty=scanned.meaning.number, source="loyalty")
    return Identity()


def fill_codes(
    lines: tuple[ReceiptLine, ...], scans: tuple[ScannedCode, ...]
) -> tuple[tuple[SaleLine, ...], tuple[str, ...]]:
    """Give lines without a printed code the codes scanned for them, when unambiguous."""
    products = [s.meaning for s in scans if isinstance(s.meaning, Product | VariableMeasure)]
    printed = {_canonical(line.code) for line in lines if line.code}
    unmatched = [p for p in products if _canonical(p.code) not in printed]
    missing = [i for i, line in enumerate(lines) if not line.code]
    result = [SaleLine(line=line, code=line.code) for line in lines]
    notes: list[str] = []
    if missing and unmatched:
        if len(missing) == len(unmatched):
            for index, product in zip(missing, unmatched, strict=True):
                scale = product if isinstance(product, VariableMeasure) else None
                weight = scale.weight if scale else None
                price = scale.price if scale else None
                # As scanned (the package's EAN-13): the same reference the POS would print.
                code = product.plu if isinstance(product, VariableMeasure) else product.code
                result[index] = replace(
                    result[index],
                    code=code,
                    weight=weight,
                    scale_price=price,
                    code_from_scan=True,
                )
        else:
            notes.append(
                f"{len(unmatched)} scanned codes for {len(missing)} lines without a code: "
                "not matched"
            )
    return tuple(result), tuple(notes)


def _canonical(code: str) -> str:
    """UPC-A, EAN-13 and GTIN-14 spellings of one product compare equal."""
    return code.lstrip("0") if code.isdigit() else code


_SLUG_DROP = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """A stable reference for an item with no code: 'Café Molido 250g' -> 'cafe-molido-250g'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _SLUG_DROP.sub("-", plain).strip("-")[:80] or "item"
