"""Make the multi-encoder receipt corpus in tests/corpus/ (bytes + expected.json + README).

    uv run python scripts/make_receipt_corpus.py [--npm-dir /work/npmcache]

Receipts of nine countries (UY AR BR CL CO MX PE PY US) are planned here, with what a reader
must find in each, then printed by six encoders: python-escpos (in this process) and, through
scripts/corpus_encode.js, node-thermal-printer (EPSON and STAR types), receiptline (ESC/POS
and Star Line Mode) and @node-escpos/core. The npm packages are installed into --npm-dir,
outside the repository. Deterministic (seeded): re-running gives the same plans; the bytes
can differ only if an encoder's version changes. Every fourth receipt goes to heldout/;
fresh/ comes from another seed.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "corpus"
NPM_PACKAGES = ["node-thermal-printer@4.6.1", "receiptline@4.0.4", "@node-escpos/core@0.6.0"]
ENCODERS = ["python-escpos", "ntp-epson", "ntp-star", "receiptline-escpos", "receiptline-star",
            "node-escpos"]
COUNTRIES = ["UY", "AR", "BR", "CL", "CO", "MX", "PE", "PY", "US"]
COUNT = 135
FRESH = 54  # every country with every encoder once
PARTS = ("train", "heldout", "fresh")
WIDTH = 42


@dataclass(frozen=True)
class Country:
    currency: str
    cents: bool
    comma: bool  # 1.234,50 (True) or 1,234.50
    tax_id: str
    tax_rate: int
    added_tax: bool  # items before tax, tax added below (MX, US)
    total_labels: tuple[str, ...]
    store_phone: str
    mobiles: tuple[str, ...]  # printed forms of customer mobiles
    e164: tuple[str, ...]
    refund_title: str
    void_title: str


C: dict[str, Country] = {
    "UY": Country("UYU", True, True, "RUT 21 123456 0019", 22, False,
                  ("TOTAL", "TOTAL A PAGAR", "IMPORTE TOTAL"), "Tel: 2901 2345",
                  ("099 123 456", "098 765 432"), ("+59899123456", "+59898765432"),
                  "NOTA DE CREDITO", "ANULADO"),
    "AR": Country("ARS", True, True, "CUIT 30-71234567-9", 21, False,
                  ("TOTAL", "TOTAL $", "IMPORTE TOTAL"), "Tel: (011) 4321-5678",
                  ("11 5555-1234", "+549 11 6666-7777"), ("+5491155551234", "+5491166667777"),
                  "NOTA DE CREDITO B", "COMPROBANTE ANULADO"),
    "BR": Country("BRL", True, True, "CNPJ 12.345.678/0001-95", 18, False,
                  ("VALOR TOTAL R$", "Valor a Pagar R$"), "Fone: (11) 3456-7890",
                  ("(11) 98765-4321", "(21) 99876-5432"), ("+5511987654321", "+5521998765432"),
                  "COMPROVANTE DE DEVOLUÇÃO", "CUPOM CANCELADO"),
    "CL": Country("CLP", False, True, "RUT 76.123.456-7", 19, False,
                  ("TOTAL", "TOTAL A PAGAR"), "Fono: 2 2345 6789",
                  ("+56 9 8765 4321", "9 7654 3210"), ("+56987654321", "+56976543210"),
                  "NOTA DE CREDITO ELECTRONICA", "BOLETA ANULADA"),
    "CO": Country("COP", False, True, "NIT 900.123.456-7", 19, False,
                  ("Vr. Total", "TOTAL", "Vlr. Total"), "Tel: 601 345 6789",
                  ("300 123 4567", "315 765 4321"), ("+573001234567", "+573157654321"),
                  "NOTA CREDITO", "FACTURA ANULADA"),
    "MX": Country("MXN", True, False, "RFC TIE850101AB1", 16, True,
                  ("TOTAL", "TOTAL A PAGAR"), "Tel: 55 1234 5678",
                  ("55 8765 4321", "33 1234 9876"), ("+525587654321", "+523312349876"),
                  "DEVOLUCION", "CANCELADO"),
    "PE": Country("PEN", True, False, "RUC 20123456789", 18, False,
                  ("IMPORTE TOTAL", "TOTAL A PAGAR"), "Telf: (01) 234-5678",
                  ("987 654 321", "+51 912 345 678"), ("+51987654321", "+51912345678"),
                  "NOTA DE CREDITO ELECTRONICA", "ANULADO"),
    "PY": Country("PYG", False, True, "RUC 80012345-6", 10, False,
                  ("TOTAL", "TOTAL A PAGAR"), "Tel: (021) 123 456",
                  ("0981 123 456", "0971 654 321"), ("+595981123456", "+595971654321"),
                  "NOTA DE CREDITO", "ANULADO"),
    "US": Country("USD", True, False, "", 8, True,
                  ("TOTAL", "AMOUNT DUE", "BALANCE DUE"), "Tel: (212) 555-0100",
                  ("(917) 555-0123", "646-555-0199"), ("+19175550123", "+16465550199"),
                  "REFUND", "VOID"),
}
PRODUCTS = ["Leche entera 1L", "Pan flauta", "Yerba 1kg", "Arroz 1kg", "Aceite girasol",
            "Queso dambo", "Cafe molido 500g", "Azucar 1kg", "Fideos tirabuzon", "Galletas",
            "Jabon liquido", "Shampoo 400ml", "Agua mineral 2L", "Vino tinto", "Tomate kg",
            "Manzana roja", "Detergente", "Harina 000", "Atun en lata", "Chocolate 100g"]


def _gs1_check(body: str) -> str:
    total = sum((3 if i % 2 == 0 else 1) * int(d) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        v = int(ch) * (2 if i % 2 else 1)
        total += v - 9 if v > 9 else v
    return total % 10 == 0


def _gtins() -> list[str]:
    """Valid GTIN-13s (Argentina, Brazil, Mexico, Colombia, Peru prefixes) whose digits also
    pass the Luhn check: a careless redactor masks them as card numbers."""
    found: list[str] = []
    for prefix in ("779", "789", "750", "770", "775"):
        n = 1000000
        while len([g for g in found if g.startswith(prefix)]) < 2:
            body = f"{prefix}{n:09d}"
            code = body + _gs1_check(body)
            if _luhn(code):
                found.append(code)
            n += 7919
    return found


GTINS = _gtins()
CARDS = ["4111 1111 1111 1111", "5500 0000 0000 0004", "4012888888881881"]
EMAILS = ["juan.perez@correo.com", "maria.gomez@example.org", "clientes.vip@hotmail.com",
          "ana-lopez@gmail.com"]


def money(value: Decimal, country: Country) -> str:
    q = value.quantize(Decimal("0.01") if country.cents else Decimal(1), ROUND_HALF_UP)
    sign = "-" if q < 0 else ""
    whole, _, frac = f"{abs(q):.2f}".partition(".")
    groups = f"{int(whole):,}".replace(",", "." if country.comma else ",")
    if not country.cents:
        return sign + groups
    return f"{sign}{groups}{',' if country.comma else '.'}{frac}"


def lr(left: str, right: str, width: int = WIDTH) -> str:
    space = max(1, width - len(left) - len(right))
    return left + " " * space + right


@dataclass
class Plan:
    id: str
    country: str
    encoder: str
    ops: list[list[str]] = field(default_factory=list)
    expect: dict[str, Any] = field(default_factory=dict)

    def add(self, op: str, *args: str) -> None:
        if op in ("text", "bold", "big", "center") and len(args[0]) > WIDTH:
            raise ValueError(f"{self.id}: {args[0]!r} is wider than the paper")  # it would wrap
        self.ops.append([op, *args])


def make_plan(index: int, rnd: random.Random) -> Plan:
    code = COUNTRIES[index % len(COUNTRIES)]
    country = C[code]
    encoder = ENCODERS[(index // len(COUNTRIES)) % len(ENCODERS)]
    plan = Plan(f"r{index:03d}-{code.lower()}-{encoder}", code, encoder)
    kind = rnd.choices(["sale", "refund", "void"], [8, 2, 1])[0]
    unit = Decimal("1") if country.cents else Decimal("10")
    # header: the store's own name, tax id, phone and e-mail (never the customer's)
    plan.add("center", rnd.choice(["MINIMERCADO EL SOL", "FARMACIA CENTRAL", "TIENDA ÑANDÚ",
                                   "SUPER LA ESQUINA", "ALMACÉN DON JOSÉ"]))
    if country.tax_id:
        plan.add("center", country.tax_id)
    plan.add("center", "Av. Principal 1234")
    plan.add("center", country.store_phone)
    if rnd.random() < 0.4:
        plan.add("center", "ventas@tiendaelsol.com")
    if code == "PE" or rnd.random() < 0.15:
        plan.add("center", "Delivery cel.: 912 000 111" if code == "PE" else
                 "WhatsApp pedidos: " + country.mobiles[1][:-3] + "000")
    if kind == "refund":
        plan.add("bold", country.refund_title)
    elif kind == "void":
        plan.add("bold", country.void_title)
    plan.add("text", f"Ticket 0001-{index + 4000:08d}   20/11/2026 14:{index % 60:02d}")
    if code == "CO":
        plan.add("text", f"Resolución DIAN 1876400000{index % 10}123")
        plan.add("text", "Rango del 10000 al 50000")
    if code == "BR":
        plan.add("text", f"Protocolo de autorização: 1352600012{index:05d}")
    # the customer, somewhere (or nowhere)
    where = rnd.choice(["none", "none", "block", "inline", "footer", "email-head", "email-foot",
                        "dni-inline"])
    phone_i = rnd.randrange(2)
    phone = email = None
    doc_line = {"AR": "DNI", "UY": "CI", "BR": "CPF", "CL": "RUT", "CO": "CC",
                "MX": "RFC", "PE": "DNI", "PY": "CI", "US": "ID"}[code]
    # `Tel: 11 5555-1234` is an Argentine landline as printed (a mobile takes a 9 after +54,
    # which a Tel label does not tell); the other labels here say mobile
    tel_e164 = "+541155551234" if code == "AR" and phone_i == 0 else country.e164[phone_i]
    if where == "block":
        plan.add("text", "Cliente: Juan Pérez")
        plan.add("text", "Cel: " + country.mobiles[phone_i])
        phone = country.e164[phone_i]
    elif where == "dni-inline":
        plan.add("text", f"{doc_line}: 12345678   Cliente: Ana Ríos")
        plan.add("text", "Tel: " + country.mobiles[phone_i])
        phone = tel_e164
    elif where == "email-head":
        email = rnd.choice(EMAILS)
        plan.add("text", "Factura enviada a " + email)
    plan.add("sep")
    # items
    lines: list[dict[str, str]] = []
    gtins: list[str] = []
    for _ in range(rnd.randint(2, 7)):
        name = rnd.choice(PRODUCTS)
        qty = rnd.choice([1, 1, 1, 2, 3])
        price = Decimal(rnd.randint(15, 900)) * unit + (Decimal(rnd.choice([0, 50])) / 100
                                                       if country.cents else 0)
        gross = price * qty
        if rnd.random() < 0.25:
            gtin = rnd.choice(GTINS)
            gtins.append(gtin)
            plan.add("text", f"{gtin} {name}" if rnd.random() < 0.5 else f"{name} {gtin}")
        else:
            plan.add("text", name)
        if qty > 1:
            plan.add("text", lr(f"  {qty} x {money(price, country)}", money(gross, country)))
        else:
            plan.add("text", lr("  1 UN", money(gross, country)))
        discount = Decimal(0)
        if kind == "sale" and qty > 1 and rnd.random() < 0.5:
            discount = (price / 2).quantize(Decimal("0.01") if country.cents else Decimal(1))
            label = {"BR": "Desconto item", "US": "Item discount"}.get(code,
                                                                       "Bonif. 2da unidad 50%")
            plan.add("text", lr("  " + label, "-" + money(discount, country)))
        lines.append({"amount": str(gross - discount), "discount": str(discount)})
    items_total = sum((Decimal(x["amount"]) for x in lines), Decimal(0))
    plan.add("sep")
    tax_rate = Decimal(country.tax_rate) / 100
    if country.added_tax:
        tax = (items_total * tax_rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
        total = items_total + tax
        plan.add("text", lr("SUBTOTAL", money(items_total, country)))
        plan.add("text", lr(f"{'TAX' if code == 'US' else 'IVA'} {country.tax_rate}%",
                            money(tax, country)))
    else:
        total = items_total
        base = (total / (1 + tax_rate)).quantize(Decimal("0.01") if country.cents else 1)
        tax = total - base
        if code == "PE":
            plan.add("text", lr("OP. GRAVADAS", money(base, country)))
            plan.add("text", lr("OP. EXONERADAS", money(Decimal(0), country)))
            plan.add("text", lr("OP. INAFECTAS", money(Decimal(0), country)))
            plan.add("text", lr("I.G.V. 18%", money(tax, country)))
            plan.add("text", lr("ICBPER", money(Decimal(0), country)))
        elif code == "CL":
            plan.add("text", lr("NETO", money(base, country)))
            plan.add("text", lr("IVA 19%", money(tax, country)))
        elif code == "CO":
            plan.add("text", lr("Base gravable", money(base, country)))
            plan.add("text", lr("IVA 19%", money(tax, country)))
        elif code == "BR":
            plan.add("text", lr("QTD. TOTAL DE ITENS", str(len(lines))))
        elif rnd.random() < 0.5:
            plan.add("text", lr(f"IVA {country.tax_rate}% incluido", money(tax, country)))
    label = rnd.choice(country.total_labels)
    plan.add("big" if rnd.random() < 0.6 else "bold", lr(label, money(total, country),
                                                        WIDTH // 2 if False else WIDTH))
    card = None
    if kind == "refund":
        plan.add("text", lr("VALOR DEVOLVIDO" if code == "BR" else "Devuelto en efectivo",
                            money(total, country)))
    elif code == "BR":
        plan.add("text", "FORMA PAGAMENTO")
        plan.add("text", lr("Dinheiro", money(total + 10, country)))
        plan.add("text", lr("Troco", money(Decimal(10), country)))
    elif rnd.random() < 0.35:
        card = rnd.choice(CARDS)
        plan.add("text", lr("TARJETA CREDITO", money(total, country)))
        plan.add("text", "VISA " + card)
    else:
        plan.add("text", lr("EFECTIVO" if code != "US" else "CASH", money(total, country)))
    if where == "inline":
        plan.add("text", "Envío a domicilio - Tel: " + country.mobiles[phone_i])
        phone = tel_e164
    elif where == "footer":
        plan.add("text", "WhatsApp: " + country.mobiles[phone_i])
        phone = country.e164[phone_i]
    elif where == "email-foot":
        email = rnd.choice(EMAILS)
        plan.add("text", "Recibo digital: " + email)
    if rnd.random() < 0.3:
        plan.add("qr", f"https://tienda.example/r/{index}")
    plan.add("center", "Gracias por su compra")
    plan.add("cut")
    if kind == "void":
        lines_expect: list[dict[str, str]] = lines
    else:
        lines_expect = lines
    plan.expect = {
        "country": code, "currency": country.currency, "kind": kind, "total": str(total),
        "lines": lines_expect, "phone": phone, "email": email, "cards": [card] if card else [],
        "gtins": gtins, "command_set": "star" if encoder.endswith("star") else "escpos",
        "encoder": encoder,
    }
    return plan


def python_escpos(plan: Plan) -> bytes:
    import logging

    logging.disable(logging.WARNING)
    from escpos.printer import Dummy

    p = Dummy()
    p.charcode("CP858")
    for op, *args in plan.ops:
        if op == "text":
            p.text(args[0] + "\n")
        elif op == "bold":
            p.set(bold=True)
            p.text(args[0] + "\n")
            p.set(bold=False)
        elif op == "big":
            p.set(bold=True, double_height=True)
            p.text(args[0] + "\n")
            p.set(bold=False, double_height=False)
        elif op == "center":
            p.set(align="center")
            p.text(args[0] + "\n")
            p.set(align="left")
        elif op == "sep":
            p.text("-" * WIDTH + "\n")
        elif op == "qr":
            p.qr(args[0], native=True)
        elif op == "cut":
            p.cut()
    return bytes(p.output)


def npm_install(npm_dir: Path, packages: tuple[str, ...] | list[str] = NPM_PACKAGES) -> None:
    """The pinned npm packages into `npm_dir` (outside the repository), once."""
    if all((npm_dir / "node_modules" / name.rsplit("@", 1)[0]).is_dir() for name in packages):
        return
    npm_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(npm_dir),
                    *packages], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npm-dir", type=Path, default=Path("/work/npmcache"))
    args = parser.parse_args()
    npm_install(args.npm_dir)
    rnd = random.Random(20261201)
    plans = [make_plan(i, rnd) for i in range(COUNT)]
    # fresh/: receipts of the same kinds from another seed, made after the reader's last
    # change and scored once (heldout/ was looked at while fixing corpus mistakes)
    fresh_rnd = random.Random(20261202)
    fresh = [make_plan(i, fresh_rnd) for i in range(200, 200 + FRESH)]
    parts = {p.id: ("heldout" if i % 4 == 3 else "train") for i, p in enumerate(plans)}
    parts.update({p.id: "fresh" for p in fresh})
    plans += fresh
    for part in PARTS:
        (OUT / part).mkdir(parents=True, exist_ok=True)
        for old in (OUT / part).glob("*.bin"):
            old.unlink()
    node_plans = []
    for plan in plans:
        part = parts[plan.id]
        if plan.encoder == "python-escpos":
            (OUT / part / f"{plan.id}.bin").write_bytes(python_escpos(plan))
        else:
            node_plans.append((part, plan))
    with tempfile.TemporaryDirectory() as tmp:
        for part in PARTS:
            batch = [{"id": p.id, "encoder": p.encoder, "width": WIDTH, "ops": p.ops}
                     for q, p in node_plans if q == part]
            plans_file = Path(tmp) / f"{part}.json"
            plans_file.write_text(json.dumps(batch, ensure_ascii=False))
            env = {"NODE_PATH": str(args.npm_dir / "node_modules"), "PATH": "/usr/bin:/bin"}
            subprocess.run(["node", str(ROOT / "scripts" / "corpus_encode.js"), str(plans_file),
                            str(OUT / part)], check=True, env=env)
    for part in PARTS:
        expect = {p.id: p.expect for p in plans if parts[p.id] == part}
        (OUT / part / "expected.json").write_text(
            json.dumps(expect, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(plans)} receipts in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
