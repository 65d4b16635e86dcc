"""The single fields of a receipt: its date and time, its number, the customer's contact.

Each function takes one printed line (or its `fold`ed twin, which has the same length) and
returns the value or None; the reader in `agent.receipts` decides which lines to ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from agent.phones import to_e164
from agent.receipts.numbers import fold
from agent.receipts.templates import Template

MONTHS = {
    "ene": 1,
    "jan": 1,
    "feb": 2,
    "fev": 2,
    "mar": 3,
    "abr": 4,
    "apr": 4,
    "may": 5,
    "mai": 5,
    "jun": 6,
    "jul": 7,
    "ago": 8,
    "aug": 8,
    "set": 9,
    "sep": 9,
    "oct": 10,
    "out": 10,
    "nov": 11,
    "dic": 12,
    "dec": 12,
    "dez": 12,
}
MONTH_FIRST = frozenset({"US", "PH", "CA"})

_NUMERIC_DATE = re.compile(
    r"(?<![\d/.-])(?:(?P<y1>(?:19|20)\d{2})[-/.](?P<m1>\d{1,2})[-/.](?P<d1>\d{1,2})"
    r"|(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y2>(?:19|20)\d{2}|\d{2}))(?![\d/.-]|\.\d)"
)
_NAMED_DATE = re.compile(
    r"(?<!\w)(?:(?P<d1>\d{1,2})(?:st|nd|rd|th|o)?(?:\s+(?:de|of))?\s+(?P<m1>[a-z]{3,10})\.?"
    r"(?:\s+de|,)?\s+(?P<y1>(?:19|20)\d{2})"
    r"|(?P<m2>[a-z]{3,10})\.?\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y2>(?:19|20)\d{2}))(?!\d)"
)
_TIME = re.compile(
    r"(?<![\d:])(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?(?![\d:])"
    r"(?:\s*(?P<ampm>[ap])\.?\s?m\b\.?)?"
)


def find_date(folded: str, country: str, template: Template) -> date | None:
    for pattern in template.patterns["issued_at"]:
        match = pattern.search(folded)
        if match:
            found = _make_date(match["year"], match["month"], match["day"], country)
            if found:
                return found
    match = _NUMERIC_DATE.search(folded)
    if match:
        if match["y1"]:
            return _make_date(match["y1"], match["m1"], match["d1"], country, ordered=True)
        day, month = (
            (match["b"], match["a"]) if country in MONTH_FIRST else (match["a"], match["b"])
        )
        return _make_date(match["y2"], month, day, country)
    match = _NAMED_DATE.search(folded)
    if match:
        name = match["m1"] or match["m2"]
        month = MONTHS.get(name[:3])
        if month:
            return _make_date(
                match["y1"] or match["y2"],
                str(month),
                match["d1"] or match["d2"],
                country,
                ordered=True,
            )
    return None


def _make_date(
    year: str, month: str, day: str, country: str, *, ordered: bool = False
) -> date | None:
    y, m, d = int(year), int(month), int(day)
    if y < 100:
        y += 2000
    if m > 12 and d <= 12 and not ordered:
        m, d = d, m  # 11/20/2026 on a till set to US order
    try:
        return date(y, m, d)
    except ValueError:
        return None


def find_time(folded: str) -> time | None:
    match = _TIME.search(folded)
    if not match:
        return None
    hour, minute = int(match["h"]), int(match["m"])
    second = int(match["s"] or 0)
    if match["ampm"]:
        hour = hour % 12 + (12 if match["ampm"] == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


def combine(day: date | None, moment: time | None) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, moment or time(0, 0))


_DOC_WORDS = (
    r"e-?ticket|e-?factura|tique(?:\s+factura)?|ticket|factura|boleta(?:\s+electronica)?|"
    r"comprobante|recibo|receipt|invoice|folio|nota\s+de\s+(?:credito|venta)|nota\s+credito|"
    r"transaccion|trx|documento|cfe|cupom|nfc-?e|devolucion|orden|order|pedido"
)
_NUMBER_PATTERNS = (
    re.compile(
        r"(?<!\w)serie\s*:?\s*(?P<series>[a-z]{1,3})\b.{0,20}?"
        r"(?:n(?:ro|o)?\.?|numero|#)\s*:?\s*(?P<number>\d{1,12})(?!\d)"
    ),
    re.compile(
        r"(?<!\w)p\.?\s?v\.?\s*(?:n[o.]*\s*)?:?\s*(?P<pv>\d{1,5})\b.*?"
        r"(?:n(?:ro|o)?\.?|numero|#)\s*:?\s*(?P<number>\d{1,12})(?!\d)"
    ),
    re.compile(
        rf"(?<!\w)(?:{_DOC_WORDS})\b[^\d\n]{{0,30}}?"
        r"(?:(?<!\w)(?:n(?:ro|o)?\.?|numero|#)\s*:?\s*|:\s*|\s)"
        r"(?P<series>(?!no?\b|nro\b)[a-z]{1,2}[\s-]?)?(?P<number>\d[\d-]{0,22}\d|\d)(?![\d/.:,])"
    ),
    re.compile(
        r"^[\W_]*(?:nro|no|numero|#)\.?\s*:?\s*(?P<series>[a-z]{1,2}[\s-]?)?"
        r"(?P<number>\d[\d-]{0,22}\d|\d)(?![\d/.:,])"
    ),
)


def find_number(text: str, folded: str, template: Template) -> str | None:
    for pattern in template.patterns["number"]:
        match = pattern.search(text)
        if match and match["number"]:
            return str(match["number"]).strip()
    for pattern in _NUMBER_PATTERNS:
        match = pattern.search(folded)
        if not match:
            continue
        groups = match.groupdict()
        number: str = match["number"]
        if groups.get("pv"):
            return f"{groups['pv']}-{number}"
        series = groups.get("series") or ""
        if not series.strip():
            return number
        # `A 1234567` and `Serie: A Nro: 1234567` -> A-1234567; `B001-00012345` stays as is.
        spaced = series[-1:] in (" ", "-") or pattern is _NUMBER_PATTERNS[0]
        return series.strip(" -").upper() + ("-" if spaced else "") + number
    return None


@dataclass(frozen=True)
class Contact:
    phone: str | None = None
    email: str | None = None
    document: str | None = None


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_CANDIDATE = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")
_DOC_VALUE = re.compile(
    r"(?<![^\W_])(?P<type>c\.?\s?i|cedula|d\.?n\.?i|cuit|cuil|rut|rfc|nit|cc|ruc|cpf|cnpj|"
    r"curp|run|pasaporte|passport|documento|doc)\b\.?"
    # `CPF do consumidor: 123...`: a few words may sit between the type and the value.
    r"(?:\s+(?:de|del|do|da)\s+[a-z]+)?\s*(?:n[o°]?\.?|nro\.?|#)?\s*:?\s*"
    r"(?P<value>[a-z0-9](?:[a-z0-9]|[.\-/](?=[a-z0-9]))*)"
)
_DOC_TYPES = {"cedula": "CI", "documento": "DOC", "doc": "DOC", "pasaporte": "PASAPORTE"}


def find_contact(text: str, folded: str, template: Template, country: str) -> Contact:
    """Phone (E.164), e-mail or document number on a customer line."""
    email = _EMAIL.search(text)
    for pattern in template.patterns["email"]:
        custom = pattern.search(text)
        if custom:
            return Contact(email=custom["email"].lower())
    if email:
        return Contact(email=email.group().lower())
    for pattern in template.patterns["document"]:
        custom = pattern.search(text)
        if custom:
            return Contact(document=custom["document"].strip())
    for pattern in template.patterns["phone"]:
        custom = pattern.search(text)
        if custom:
            return Contact(phone=normalise_phone(custom["phone"], country))
    doc = _DOC_VALUE.search(folded)
    phone_label = template.label_match("phone", folded)
    if (
        doc
        and sum(ch.isdigit() for ch in doc["value"]) >= 5
        and not (phone_label and phone_label.start() < doc.start())
    ):
        kind = re.sub(r"[^a-z]", "", doc["type"])
        kind = _DOC_TYPES.get(kind, kind.upper())
        value = text[doc.start("value") : doc.end("value")].upper()
        return Contact(document=f"{kind} {value}")
    start = phone_label.end() if phone_label else 0
    for candidate in _PHONE_CANDIDATE.finditer(text, start):
        raw = candidate.group()
        # Without a Tel/Cel label only a mobile number printed as one counts: `Socio:
        # 4.567.890-1` is a membership or ID number, not a phone.
        phone = normalise_phone(raw, country, mobile_only=not phone_label)
        if phone and phone_label and _MOBILE_WORDS.search(folded, *phone_label.span()):
            phone = _argentine_mobile(phone, country)
        if phone and (phone_label or "." not in raw):
            return Contact(phone=phone)
    return Contact()


def _argentine_mobile(phone: str, country: str) -> str:
    """An Argentine mobile printed as area code + number (`Cel: 11 4321-0987`) takes a 9
    after +54 in E.164, which the number alone does not tell."""
    if country != "AR" or phone.startswith("+549"):
        return phone
    return normalise_phone("+549" + phone[3:], country, mobile_only=True) or phone


def find_email(text: str) -> str | None:
    if "@" not in text:  # the regex alone backtracks over every word of a long line
        return None
    match = _EMAIL.search(text)
    return match.group().lower() if match else None


def labelled_phone(
    text: str, folded: str, template: Template, country: str, *, mobile_only: bool
) -> str | None:
    """A phone printed after a phone label anywhere on the line (`Envío a domicilio - Tel:
    099 123 456`, `WhatsApp: ...`), in E.164; None when there is none or it is not valid."""
    for label in template.label_matches("phone", folded):
        candidate = _PHONE_CANDIDATE.search(text, label.end(), label.end() + 24)
        gap = text[label.end() : candidate.start()] if candidate else ""
        if candidate is None or len(gap) > 16 or any(ch.isdigit() for ch in gap):
            continue  # `WhatsApp pedidos: 099 ...` is labelled; a number far away is not
        raw = candidate.group()
        phone = normalise_phone(raw, country, mobile_only=mobile_only)
        known = normalise_phone(raw, country)
        if country == "AR" and known and _MOBILE_WORDS.search(folded, label.start(), label.end()):
            phone = _argentine_mobile(known, country)
        if phone:
            return phone
    return None


def normalise_phone(raw: str, country: str, *, mobile_only: bool = False) -> str | None:
    """'094 555 010' in UY -> '+59894555010'; None when it is not a valid number there."""
    return to_e164(raw, country, check="mobile" if mobile_only else "valid")


# A footer line that is only a phone label and a number: `WhatsApp: 099 123 456`. The label
# must open the line (`Pedidos por WhatsApp 099...` is the store advertising its own).
_PHONE_WORDS = r"telefono|tel|celular|cel|movil|whats\s*app|wsp"
_FOOTER_PHONE = re.compile(
    rf"^[\W_]*(?P<labels>(?:{_PHONE_WORDS})\b(?:[\s/.,-]*(?:{_PHONE_WORDS})\b)*)"
    r"\.?(?:\s*(?:nro|no|n)\b\.?)?\s*[:#-]?\s*(?P<number>\+?[\d(][\d\s().-]*\d)[\s.]*$"
)
_MOBILE_WORDS = re.compile(r"\b(?:cel|celular|movil|whats\s*app|wsp)\b")


def footer_phone(folded: str, country: str) -> str | None:
    """The customer's mobile on a `Tel/Cel/WhatsApp: <number>` line printed below the items;
    a landline there is the store's, so only mobile numbers count."""
    match = _FOOTER_PHONE.match(folded)
    if not match:
        return None
    phone = normalise_phone(match["number"], country, mobile_only=True)
    known = normalise_phone(match["number"], country)
    if phone is None and known and country == "AR" and _MOBILE_WORDS.search(match["labels"]):
        # Argentines print a mobile as area code + number (`11 4321-0987`); its E.164 form
        # takes a 9 after the country code, which phonenumbers cannot guess.
        phone = normalise_phone("+549" + known[3:], country, mobile_only=True)
    return phone


_CODE_TOKEN = re.compile(r"(?<![^\W_])[^\W_][\w-]*")
_CODE_SHAPE = re.compile(r"(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{3,}|[A-Z][A-Z0-9-]{3,}")


def coupon_code(text: str, template: Template) -> str:
    """The code on a coupon line (`CUPON VERANO10`, `Cupón de descuento: VERANO10`): the first
    code-like token (a digit in it, or all capitals; 4 or more characters) after the label
    that is not itself a coupon or discount word; such a word only when nothing else is."""
    label = template.label_match("coupon", fold(text))
    fallback = ""
    for token in _CODE_TOKEN.finditer(text, label.end() if label else 0):
        word = token.group()
        if not _CODE_SHAPE.fullmatch(word):
            continue
        key = fold(word)
        if template.has("coupon", key) or template.has("discount", key) or key == "codigo":
            fallback = fallback or word
            continue
        return word.upper()
    return fallback.upper()
