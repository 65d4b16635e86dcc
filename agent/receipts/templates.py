"""Receipt templates: the label lists and regexes the reader uses to take each printed line.

The built-in `generic` template reads common Spanish and English layouts with no
configuration. A site template is a TOML file selected per printer (`printer.template`): it
adds labels to the generic lists (or replaces them with `extends = "none"`) and regexes with
named groups that are tried before the generic rules, e.g.

    name = "super-x"
    [labels]
    total = ["NETO A COBRAR"]
    [payments]
    credito = ["OCA", "CREDITEL"]
    [patterns]
    item = ['^(?P<code>\\d{6}) (?P<description>.+?) {2,}(?P<amount>\\S+)$']
    number = ['^TKT (?P<number>\\d+)$']

Labels match accent- and case-insensitively on whole words (punctuation between words
is free); regexes run on the printed text, case-insensitively, and need these groups:
item: description, amount (code, quantity, unit_price, unit optional); total, subtotal,
discount, tax: amount; coupon: code (amount optional); payment: method, amount; number:
number; issued_at: day, month, year (the time is still found by the generic rule); phone,
email, document (read inside a customer block only); ignore: none.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.errors import ReceiptError
from agent.receipts.model import PAYMENT_METHODS
from agent.receipts.numbers import label_key

_W = ConfigDict(frozen=True, extra="forbid")

# Label lists, '|'-separated. total, subtotal and meta match at the start of a line's label
# text; the others anywhere in it, as whole words.
GENERIC_LABELS: dict[str, str] = {
    "total": (
        "total|total a pagar|a pagar|importe total|importe|monto total|total venta|"
        "total general|grand total|amount due|balance due|valor total|valor a pagar|"
        "neto a pagar|total a cobrar|total factura"
    ),
    "subtotal": "subtotal|sub total|total parcial|sub tot|suma|subtotales",
    "meta": (
        "rut|cuit|cuil|nit|rfc|ruc|cnpj|tel|telefono|fecha|hora|caja|cajero|cajera|"
        "vendedor|vendedora|mesa|mozo|mesero|sucursal|local|terminal|ticket|tique|"
        "factura|boleta|comprobante|nro|numero|serie|folio|cae|cai|vto|vencimiento|p v|"
        "pv|punto de venta|dir|direccion|av|avda|calle|ing brutos|iibb|"
        "inicio de actividades|inicio act|resolucion|res|turno|operador|usuario|pedido|"
        "orden|order|transaccion|trans|autorizacion|aut|lote|cp|codigo postal|e ticket|"
        "e factura|date|time|cashier|store|shop|phone|web|www|auth|ref|referencia|"
        "cod seguridad|codigo de seguridad|dgi|afip|sii|dian|sat|sunat|nota de venta"
    ),
    "count": (
        "articulos|items|item|unidades|productos|piezas|lineas|bultos|cantidad|cant|qty|arts|"
        "prods|itens|qtd|quantidade"
    ),
    "tax": (
        "iva|i v a|igv|tax|taxes|impuesto|impuestos|impto|inc|icms|itbms|itbis|isv|vat|"
        "impoconsumo|ipoconsumo|percepcion|perc|isc|ibs"
    ),
    "tax_included": "incluido|incluidos|incl|included|inclusive|incluye|contenido",
    "tax_base": (
        "neto|gravado|gravada|base imponible|exento|exenta|no gravado|net|base|exonerada|"
        "inafecta|op gravada"
    ),
    "adjustment": (
        "redondeo|rounding|ajuste|recargo|surcharge|arredondamento|servicio|servicio de mesa|"
        "cubierto|cubiertos|service charge|cover|propina incluida|acrescimo"
    ),
    "discount": (
        "descuento|descuentos|desc|dto|dcto|dscto|bonificacion|bonificaciones|bonif|"
        "rebaja|discount|promocion|promo|oferta|desconto"
    ),
    "savings": "ahorro|ahorraste|ahorro total|you saved|you save|ahorra",
    "coupon": "cupon|cupones|coupon|voucher|codigo promocional|codigo promo",
    "change": "vuelto|su vuelto|cambio|change|troco|vuelta|su cambio",
    "tendered": (
        "recibido|entregado|paga con|pago con|su pago|tendered|abonado|recibimos|monto recibido"
    ),
    "refund": (
        "nota de credito|nota credito|n credito|devolucion|devoluciones|reembolso|"
        "refund|credit note|ticket de cambio|comprobante de cambio"
    ),
    "void": (
        "anulado|anulada|anulacion|comprobante anulado|void|voided|cancelado|cancelada|anulado por"
    ),
    "customer": (
        "cliente|customer|consumidor|comprador|receptor|adquirente|sr|sra|senor|senora|"
        "socio|razon social|datos del cliente|nombre"
    ),
    "phone": ("tel|telefono|cel|celular|movil|whatsapp|whats app|wsp|phone|mobile|fono|contacto"),
    "email": "email|e mail|mail|correo|correo electronico",
    "document": (
        "ci|c i|cedula|dni|cuit|cuil|rut|rfc|nit|cc|ruc|cpf|cnpj|pasaporte|passport|"
        "documento|doc|curp|run|d n i"
    ),
    "ignore": "",
}
START_ANCHORED = frozenset({"total", "subtotal", "meta"})

# Checked in this order: the specific kinds of card before the word "tarjeta".
GENERIC_PAYMENTS: dict[str, str] = {
    "mercado_pago": "mercado pago|mercadopago",
    "debito": "debito|maestro|visa electron|redcompra|debit|tdd|redbanc",
    "credito": "credito|amex|american express|diners|credit|tdc|oca|creditel|naranja|cabal",
    "tarjeta": "tarjeta|tarj|card|visa|master|mastercard|posnet|cartao",
    "efectivo": "efectivo|contado|cash|efvo|efect|dinero|dinheiro",
    "transferencia": "transferencia|transfer|spei|deposito",
    "nequi": "nequi",
    "daviplata": "daviplata",
    "yape": "yape",
    "plin": "plin",
    "pix": "pix",
    "cheque": "cheque|check",
}

# Named groups each kind of pattern must have.
PATTERN_GROUPS: dict[str, tuple[str, ...]] = {
    "item": ("description", "amount"),
    "total": ("amount",),
    "subtotal": ("amount",),
    "discount": ("amount",),
    "tax": ("amount",),
    "coupon": ("code",),
    "payment": ("method", "amount"),
    "number": ("number",),
    "issued_at": ("day", "month", "year"),
    "phone": ("phone",),
    "email": ("email",),
    "document": ("document",),
    "ignore": (),
}


class LabelsSpec(BaseModel):
    model_config = _W
    total: list[str] = []
    subtotal: list[str] = []
    meta: list[str] = []
    count: list[str] = []
    tax: list[str] = []
    tax_included: list[str] = []
    tax_base: list[str] = []
    discount: list[str] = []
    adjustment: list[str] = []
    savings: list[str] = []
    coupon: list[str] = []
    change: list[str] = []
    tendered: list[str] = []
    refund: list[str] = []
    void: list[str] = []
    customer: list[str] = []
    phone: list[str] = []
    email: list[str] = []
    document: list[str] = []
    ignore: list[str] = []

    @field_validator("*")
    @classmethod
    def _not_blank(cls, value: list[str]) -> list[str]:
        for label in value:
            if not label_key(label):
                raise ValueError(f"label {label!r} has no letters or digits")
        return value


class PatternsSpec(BaseModel):
    model_config = _W
    item: list[str] = []
    total: list[str] = []
    subtotal: list[str] = []
    discount: list[str] = []
    tax: list[str] = []
    coupon: list[str] = []
    payment: list[str] = []
    number: list[str] = []
    issued_at: list[str] = []
    phone: list[str] = []
    email: list[str] = []
    document: list[str] = []
    ignore: list[str] = []


class TemplateSpec(BaseModel):
    """The TOML file, validated; `load_template` names the key of the first problem."""

    model_config = _W
    name: str = Field("site", min_length=1)
    extends: Literal["generic", "none"] = "generic"
    labels: LabelsSpec = LabelsSpec()
    payments: dict[str, list[str]] = {}
    patterns: PatternsSpec = PatternsSpec()

    @field_validator("payments")
    @classmethod
    def _methods(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for method in value:
            if method not in PAYMENT_METHODS:
                raise ValueError(f"{method!r} is not one of {', '.join(PAYMENT_METHODS)}")
        return value


def _label_regex(labels: Iterable[str], *, anchored: bool) -> re.Pattern[str] | None:
    """One regex for a list of labels, run on `fold(text)`: words may be joined by any
    punctuation (`sub-total`, `p.v.`, `e-mail`), longest label first."""
    keys = sorted({label_key(label) for label in labels if label_key(label)}, key=len)
    if not keys:
        return None
    body = "|".join(r"[\W_]*".join(map(re.escape, key.split())) for key in reversed(keys))
    start = r"^[\W_]*" if anchored else r"(?<![^\W_])"
    return re.compile(f"{start}(?:{body})(?![^\\W_])")


@dataclass(frozen=True)
class Template:
    """A compiled template: label matchers on folded text, patterns on printed text.

    Labels in other scripts (`合計`, `합계`) sit in `wide` and `wide_payments`, tried only on
    text that is not ASCII once folded: Latin receipts do not pay for them."""

    name: str
    labels: dict[str, re.Pattern[str] | None]
    payments: tuple[tuple[str, re.Pattern[str]], ...]
    patterns: dict[str, tuple[re.Pattern[str], ...]]
    wide: dict[str, re.Pattern[str] | None] = dataclass_field(default_factory=dict)
    wide_payments: tuple[tuple[str, re.Pattern[str]], ...] = ()

    def has(self, field: str, folded: str) -> bool:
        """Does `folded` (text from `fold`) carry a label of `field`?"""
        return self.label_match(field, folded) is not None

    def label_match(self, field: str, folded: str) -> re.Match[str] | None:
        regex = self.labels.get(field)
        found = regex.search(folded) if regex else None
        if found is None and not folded.isascii():
            wide = self.wide.get(field)
            found = wide.search(folded) if wide else None
        return found

    def label_matches(self, field: str, folded: str) -> list[re.Match[str]]:
        """Every label of `field` in `folded`, in order."""
        regexes = [self.labels.get(field)] + ([] if folded.isascii() else [self.wide.get(field)])
        found = [m for regex in regexes if regex for m in regex.finditer(folded)]
        return sorted(found, key=lambda m: m.start())

    def payment_method(self, folded: str) -> str | None:
        payments = self.payments if folded.isascii() else self.payments + self.wide_payments
        for method, regex in payments:
            if regex.search(folded):
                return method
        return None


VOCABULARIES = resources.files("agent.receipts") / "vocab"


def _vocabularies() -> TemplateSpec:
    """The country vocabularies (agent/receipts/vocab/*.toml), merged into one spec."""
    labels: dict[str, list[str]] = {}
    payments: dict[str, list[str]] = {}
    for entry in sorted(VOCABULARIES.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        try:
            spec = TemplateSpec.model_validate(tomllib.loads(entry.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, ValidationError) as exc:  # a packaging mistake
            raise ReceiptError(f"vocabulary {entry.name}: {exc}") from exc
        for field, words in spec.labels.model_dump().items():
            labels.setdefault(field, []).extend(words)
        for method, words in spec.payments.items():
            payments.setdefault(method, []).extend(words)
    return TemplateSpec.model_validate({"labels": labels, "payments": payments})


_VOCABULARY = _vocabularies()


def _split(words: list[str]) -> tuple[list[str], list[str]]:
    """(labels that fold to ASCII, labels in other scripts)."""
    ascii_words = [w for w in words if label_key(w).isascii()]
    return ascii_words, [w for w in words if not label_key(w).isascii()]


def build_template(spec: TemplateSpec) -> Template:
    base = spec.extends == "generic"
    labels: dict[str, re.Pattern[str] | None] = {}
    wide: dict[str, re.Pattern[str] | None] = {}
    for field in GENERIC_LABELS:
        extra: list[str] = getattr(spec.labels, field)
        vocabulary: list[str] = getattr(_VOCABULARY.labels, field)
        words = [*GENERIC_LABELS[field].split("|"), *vocabulary, *extra] if base else extra
        narrow, other = _split(words)
        labels[field] = _label_regex(narrow, anchored=field in START_ANCHORED)
        wide[field] = _label_regex(other, anchored=field in START_ANCHORED)
    payments: list[tuple[str, re.Pattern[str]]] = []
    wide_payments: list[tuple[str, re.Pattern[str]]] = []
    # Site labels first so a site can say that "OCA" means credito.
    methods = list(spec.payments.items())
    if base:
        methods += [(method, [*_VOCABULARY.payments.get(method, []), *words2.split("|")])
                    for method, words2 in GENERIC_PAYMENTS.items()]
        methods += [(method, words3) for method, words3 in _VOCABULARY.payments.items()
                    if method not in GENERIC_PAYMENTS]
    for method, words in methods:
        narrow, other = _split(words)
        for found, out in ((_label_regex(narrow, anchored=False), payments),
                           (_label_regex(other, anchored=False), wide_payments)):
            if found:
                out.append((method, found))
    patterns = {
        kind: tuple(re.compile(p, re.IGNORECASE) for p in getattr(spec.patterns, kind))
        for kind in PATTERN_GROUPS
    }
    return Template(spec.name, labels, tuple(payments), patterns, wide, tuple(wide_payments))


def _check_patterns(spec: TemplateSpec) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for kind, needed in PATTERN_GROUPS.items():
        for index, pattern in enumerate(getattr(spec.patterns, kind)):
            key = f"patterns.{kind}[{index}]"
            try:
                regex = re.compile(pattern)
            except re.error as exc:
                problems.append((key, f"not a valid regular expression: {exc}"))
                continue
            missing = [group for group in needed if group not in regex.groupindex]
            if missing:
                groups = ", ".join(f"(?P<{group}>...)" for group in missing)
                problems.append((key, f"needs the named group(s) {groups}"))
    return problems


def _loc(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def parse_template(data: dict[str, object], *, source: str) -> Template:
    try:
        spec = TemplateSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ReceiptError(
            f"template {source}: {_loc(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
        ) from exc
    problems = _check_patterns(spec)
    if problems:
        key, reason = problems[0]
        raise ReceiptError(f"template {source}: {key}: {reason}")
    return build_template(spec)


GENERIC = build_template(TemplateSpec(name="generic"))


def load_template(name_or_path: str, *, templates_dir: Path | None = None) -> Template:
    """`generic` (built in), a path to a TOML file, or `<templates_dir>/<name>.toml`."""
    if name_or_path == "generic":
        return GENERIC
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path.exists()) and templates_dir is not None:
        path = templates_dir / f"{name_or_path}.toml"
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ReceiptError(f"template {name_or_path!r} not found (looked at {path})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ReceiptError(f"template {path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ReceiptError(f"template {path}: cannot read: {exc.strerror}") from exc
    data.setdefault("name", path.stem)
    return parse_template(data, source=str(path))
