"""Receipts printed with python-escpos (a real POS printing library) in the layouts of real
Latin-American stores. Each function takes a basket and returns the print job's bytes.

    supermarket()  Uruguay, CP858: code + description, `qty x price  amount` below, weighed
                   `0,750 kg x 120,00`, IVA included, cash with change; also the refund
                   (NOTA DE CREDITO) and void (ANULADO) variants
    pharmacy()     Argentina, CP1252, fiscal tique: `2,000 x 45,00 (21,00)` above the item,
                   P.V. + number, customer DNI, masked debit card
    clothing()     Mexico, CP1252, columns CANT DESCRIPCION P.U. IMPORTE, `1,234.50` numbers,
                   discount and coupon, customer phone in national format
    cafe()         Chile, CP858, no cents (`$ 12.990`), `desc 2 x 1.900  3.800`, tip line

`expected_lines(layout, basket)` says what each layout prints for a basket, as
(description, quantity, unit_price, amount, code, unit) tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from escpos.printer import Dummy
from PIL import Image, ImageDraw

WIDTH = 42
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Item:
    description: str
    unit_price: Decimal
    quantity: Decimal = Decimal(1)
    code: str | None = None
    weighed: bool = False

    def amount(self, cents: bool = True) -> Decimal:
        step = CENT if cents else Decimal(1)
        return (self.quantity * self.unit_price).quantize(step, rounding=ROUND_HALF_UP)


Basket = Sequence[Item]


def fmt(value: Decimal, style: str) -> str:
    """Money as each country prints it: uy 1.234,50 / ar 1234,50 / mx 1,234.50 / cl 12.990."""
    negative = value < 0
    value = abs(value)
    if style == "cl":
        text = f"{value.quantize(Decimal(1), rounding=ROUND_HALF_UP):,}".replace(",", ".")
    else:
        text = f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
        if style == "uy":
            text = text.replace(",", "_").replace(".", ",").replace("_", ".")
        elif style == "ar":
            text = text.replace(",", "").replace(".", ",")
    return ("-" if negative else "") + text


def qty(value: Decimal, style: str, *, decimals: int = 0) -> str:
    text = f"{value:.{decimals}f}"
    return text.replace(".", ",") if style in ("uy", "ar", "cl") else text


def row(left: str, right: str, width: int = WIDTH) -> str:
    space = max(2, width - len(left) - len(right))
    return f"{left}{' ' * space}{right}\n"


def ean13(body12: str) -> str:
    total = sum((3 if i % 2 else 1) * int(d) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def logo(width: int = 128, height: int = 48) -> Image.Image:
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, height - 4, height - 4), outline=0, width=4)
    draw.rectangle((height + 8, 12, width - 8, height - 12), fill=0)
    return image


def _title(p: Dummy, text: str) -> None:
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.text(text + "\n")
    p.set(align="left", bold=False, normal_textsize=True)


def _total(p: Dummy, left: str, right: str, width: int = WIDTH) -> None:
    p.set(bold=True, double_height=True)
    p.text(row(left, right, width))
    p.set(bold=False, normal_textsize=True)


def supermarket(
    basket: Basket,
    *,
    kind: str = "sale",
    paid: Decimal | None = None,
    customer_phone: str | None = None,
    number: str = "A 1234567",
) -> bytes:
    """Uruguay e-Ticket. kind: sale | refund (Nota de Crédito) | void (ANULADO)."""
    p = Dummy()
    p.charcode("CP858")
    p.image(logo())
    _title(p, "SUPERMERCADO EL TRÉBOL")
    p.text("Av. 18 de Julio 1234 - Montevideo\nRUT 21.234.567.0019\n")
    if kind == "refund":
        p.text(f"Nota de Crédito de e-Ticket {number}\nDEVOLUCIÓN\n")
    else:
        p.text(f"e-Ticket {number}\n")
    p.text("Fecha: 20/11/2026 14:03\nCaja 3   Cajero: Ana\n" + "-" * WIDTH + "\n")
    if kind == "void":
        p.set(bold=True)
        p.text("*** ANULADO ***\n")
        p.set(bold=False)
    for item in basket:
        head = f"{item.code} {item.description}" if item.code else item.description
        if item.weighed:
            p.text(head + "\n")
            times = f"  {qty(item.quantity, 'uy', decimals=3)} kg x {fmt(item.unit_price, 'uy')}"
            p.text(row(times, fmt(item.amount(), "uy")))
        elif item.quantity != 1:
            p.text(head + "\n")
            times = f"  {qty(item.quantity, 'uy')} x {fmt(item.unit_price, 'uy')}"
            p.text(row(times, fmt(item.amount(), "uy")))
        else:
            p.text(row(head, fmt(item.amount(), "uy")))
    total = sum((item.amount() for item in basket), Decimal(0))
    p.text("-" * WIDTH + "\n" + row("SUBTOTAL", fmt(total, "uy")))
    _total(p, "TOTAL $", fmt(total, "uy"))
    tax = total - (total / Decimal("1.22")).quantize(CENT, rounding=ROUND_HALF_UP)
    p.text(row("IVA INCLUIDO 22%", fmt(tax, "uy")))
    tendered = paid if paid is not None else total
    p.text(row("EFECTIVO", fmt(tendered, "uy")))
    p.text(row("SU VUELTO", fmt(tendered - total, "uy")))
    if customer_phone:
        p.text("Cliente: Juan Pérez\n" + f"Cel: {customer_phone}\n")
    p.qr("https://www.efactura.dgi.gub.uy/consultaQR/cfe?211234560019,101,A,1234567", native=True)
    p.barcode("{B" + number.replace(" ", ""), "CODE128", function_type="B")
    p.text("Gracias por su compra. ¡Vuelva pronto!\n")
    p.cut()
    return bytes(p.output)


def pharmacy(basket: Basket, *, document: str = "12.345.678") -> bytes:
    """Argentine fiscal tique (Tique Factura B), CP1252, quantity line above each item."""
    p = Dummy()
    p.charcode("CP1252")
    _title(p, "FARMACIA SAN MARTÍN")
    p.text("de Farmacéutica Güemes S.R.L.\nCUIT Nro: 30-71234567-9\n")
    p.text("IVA RESPONSABLE INSCRIPTO\nTIQUE FACTURA B\n")
    p.text("P.V. 0003   Nro. 00001234\nFecha: 20/11/26   Hora: 14:03:00\n")
    p.text("-" * WIDTH + "\n")
    p.text(f"Cliente: María Gómez\nDNI: {document}\n" + "-" * WIDTH + "\n")
    for item in basket:
        p.text(f"{qty(item.quantity, 'ar', decimals=3)} x {fmt(item.unit_price, 'ar')} (21,00)\n")
        p.text(row(item.description, fmt(item.amount(), "ar")))
    total = sum((item.amount() for item in basket), Decimal(0))
    p.text("-" * WIDTH + "\n")
    _total(p, "TOTAL", fmt(total, "ar"))
    tax = total - (total / Decimal("1.21")).quantize(CENT, rounding=ROUND_HALF_UP)
    p.text(row("IVA Contenido", fmt(tax, "ar")))
    p.text(row("TARJETA DEBITO VISA ****1234", fmt(total, "ar")))
    p.qr("https://www.afip.gob.ar/fe/qr/?p=eyJ2ZXIiOjEsImN1aXQiOjMwNzEyMzQ1Njc5fQ==", native=True)
    p.barcode("{B0003-00001234", "CODE128", function_type="B")
    p.cut()
    return bytes(p.output)


def clothing(
    basket: Basket,
    *,
    discount_pct: int = 10,
    coupon: tuple[str, Decimal] | None = ("VERANO10", Decimal("50.00")),
    customer_phone: str | None = "55 8765 0123",
) -> bytes:
    """Mexican clothing store, CP1252, fixed columns and `1,234.50` numbers."""
    p = Dummy()
    p.charcode("CP1252")
    p.image(logo(160, 40))
    _title(p, "MODA LUNA")
    p.text("Sucursal Polanco, CDMX\nRFC: MLU010203AB1\nTicket: 000123\n")
    p.text("Fecha: 2026-11-20 18:45:10\n")
    if customer_phone:
        p.text(f"Cliente: Ana López\nTel: {customer_phone}\n")
    p.text("=" * WIDTH + "\n" + "CANT DESCRIPCIÓN            P.U.   IMPORTE\n")
    for item in basket:
        left = f"{qty(item.quantity, 'mx'):>4} {item.description}"
        right = f"{fmt(item.unit_price, 'mx'):>9} {fmt(item.amount(), 'mx'):>10}"
        p.text(row(left, right))
    subtotal = sum((item.amount() for item in basket), Decimal(0))
    discount = (subtotal * discount_pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    p.text("=" * WIDTH + "\n" + row("SUBTOTAL", fmt(subtotal, "mx")))
    total = subtotal
    if discount:
        p.text(row(f"DESCUENTO {discount_pct}%", fmt(-discount, "mx")))
        total -= discount
    if coupon:
        p.text(row(f"CUPÓN {coupon[0]}", fmt(-coupon[1], "mx")))
        total -= coupon[1]
    _total(p, "TOTAL", "$ " + fmt(total, "mx"))
    tax = total - (total / Decimal("1.16")).quantize(CENT, rounding=ROUND_HALF_UP)
    p.text(row("IVA 16% INCLUIDO", fmt(tax, "mx")))
    p.text(row("TARJETA CRÉDITO ****4321", fmt(total, "mx")))
    p.text("Envíos a España: pago en €\n")
    p.barcode("{B000123", "CODE128", function_type="B")
    p.cut()
    return bytes(p.output)


def cafe(basket: Basket, *, tip_pct: int = 10) -> bytes:
    """Chilean café boleta, CP858, whole pesos (`$ 12.990`), suggested tip below the total."""
    p = Dummy()
    p.charcode("CP858")
    p.image(logo(96, 40))
    _title(p, "CAFÉ DEL ÁNGEL")
    p.text("RUT: 76.123.456-7\nBOLETA ELECTRÓNICA N° 4567\nFecha: 20-11-26 09:15\n")
    p.text("Mesa 4   Garzón: Pedro\n" + "-" * WIDTH + "\n")
    for item in basket:
        if item.quantity != 1:
            left = f"{item.description} {qty(item.quantity, 'cl')} x {fmt(item.unit_price, 'cl')}"
        else:
            left = item.description
        p.text(row(left, fmt(item.amount(cents=False), "cl")))
    total = sum((item.amount(cents=False) for item in basket), Decimal(0))
    p.text("-" * WIDTH + "\n")
    _total(p, "TOTAL", "$ " + fmt(total, "cl"))
    tax = total - (total / Decimal("1.19")).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    p.text(row("IVA 19% incluido", fmt(tax, "cl")))
    p.text(row(f"Propina sugerida {tip_pct}%", fmt(total * tip_pct / 100, "cl")))
    p.text(row("REDCOMPRA ****5678", fmt(total, "cl")))
    p.text("Aceptamos € y US$ al cambio del día\n")
    p.qr("https://www.sii.cl/boleta?folio=4567", native=True)
    p.barcode("{B4567", "CODE128", function_type="B")
    p.cut()
    return bytes(p.output)


LAYOUTS = {"supermarket": supermarket, "pharmacy": pharmacy, "clothing": clothing, "cafe": cafe}
COUNTRY = {"supermarket": "UY", "pharmacy": "AR", "clothing": "MX", "cafe": "CL"}
CURRENCY = {"supermarket": "UYU", "pharmacy": "ARS", "clothing": "MXN", "cafe": "CLP"}

Expected = tuple[str, Decimal, Decimal | None, Decimal, str | None, str | None]


def expected_lines(layout: str, basket: Basket) -> list[Expected]:
    """What `layout` prints for each item: (description, qty, unit price, amount, code, unit)."""
    out: list[Expected] = []
    for item in basket:
        amount = item.amount(cents=layout != "cafe")
        shown = layout in ("pharmacy", "clothing") or item.quantity != 1 or item.weighed
        code = item.code if layout == "supermarket" else None
        unit = "kg" if item.weighed and layout == "supermarket" else None
        price = item.unit_price if shown else None
        out.append((item.description, item.quantity, price, amount, code, unit))
    return out
