"""Regenerate the demo's bundled receipts (agent/samples/*.bin) with python-escpos.

The demo must run on a till without dev dependencies, so the bytes are generated once here
and committed. Run: `uv run python scripts/make_samples.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from escpos.printer import Dummy
from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "agent" / "samples"
WIDTH = 42


def logo() -> Image.Image:
    img = Image.new("1", (256, 64), 1)
    draw = ImageDraw.Draw(img)
    draw.rectangle((4, 4, 252, 60), outline=0, width=4)
    draw.ellipse((16, 12, 56, 52), fill=0)
    return img


def row(left: str, right: str) -> str:
    return f"{left[: WIDTH - len(right) - 1]:<{WIDTH - len(right)}}{right}\n"


def header(p: Dummy, name: str, lines: list[str], codepage: str = "CP858") -> None:
    p.charcode(codepage)
    p.set(align="center")
    p.image(logo())
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.text(name + "\n")
    p.set(align="center", normal_textsize=True)
    for line in lines:
        p.text(line + "\n")
    p.set(align="left", normal_textsize=True)


def footer(p: Dummy, number: str, qr: str | None = None) -> None:
    p.set(align="center")
    if qr:
        p.qr(qr, native=True, size=4)
    p.barcode("{B" + number, "CODE128", function_type="B")
    p.text("Gracias por su compra\n")
    p.cut()


def supermercado() -> bytes:
    p = Dummy()
    header(p, "SUPER EL TRÉBOL", ["RUT 217654320018", "Av. Italia 2345 - Montevideo"])
    p.text("e-Ticket A 0001-00004521\n")
    p.text("Fecha: 20/11/2026 14:03\n")
    p.text("-" * WIDTH + "\n")
    p.text("7730241003258 Yerba Canarias 1kg\n")
    p.text(row("2 x 245,00", "490,00"))
    p.text("7790070410115 Café molido 250g\n")
    p.text(row("1 x 189,90", "189,90"))
    p.text("Bananas Ecuador\n")
    p.text(row("0,750 kg x 89,90", "67,43"))
    p.text("-" * WIDTH + "\n")
    p.set(bold=True, double_height=True)
    p.text(row("TOTAL", "747,33"))
    p.set(normal_textsize=True)
    p.text(row("IVA INCLUIDO 22%", "134,77"))
    p.text(row("EFECTIVO", "800,00"))
    p.text(row("SU VUELTO", "52,67"))
    p.text("Cliente Tel: 094 555 010\n")
    footer(p, "0001-00004521", "https://www.efactura.dgi.gub.uy/consultaQR/cfe?217654320018")
    return bytes(p.output)


def farmacia() -> bytes:
    p = Dummy()
    header(p, "FARMACIA SAN JOSÉ", ["RUT 211112220011", "18 de Julio 1500"], "CP1252")
    p.text("e-Ticket 0002-00000877\n")
    p.text("Fecha: 20/11/2026 14:10\n")
    p.text("Cliente CI: 4.567.890-1\n")
    p.text("-" * WIDTH + "\n")
    p.text(row("Ibuprofeno 400mg x20", "156,00"))
    p.text(row("Protector solar FPS50", "690,00"))
    p.text("-" * WIDTH + "\n")
    p.set(bold=True)
    p.text(row("TOTAL $", "846,00"))
    p.set(bold=False)
    p.text(row("TARJETA DEBITO ****1234", "846,00"))
    footer(p, "0002-00000877")
    return bytes(p.output)


def ropa() -> bytes:
    p = Dummy()
    header(p, "MODA ÑANDÚ", ["Tienda Pocitos"])
    p.text("Ticket 0003-00012001\n")
    p.text("Fecha: 20/11/2026 14:25\n")
    p.text("-" * WIDTH + "\n")
    p.text(row("Remera algodón M", "990,00"))
    p.text(row("Jean clásico 42", "2.490,00"))
    p.text("-" * WIDTH + "\n")
    p.text(row("SUBTOTAL", "3.480,00"))
    p.text(row("DESCUENTO 10%", "-348,00"))
    p.text(row("CUPON VERANO10", "-100,00"))
    p.set(bold=True, double_height=True)
    p.text(row("TOTAL A PAGAR", "3.032,00"))
    p.set(normal_textsize=True)
    p.text(row("TARJETA CREDITO VISA ****4321", "3.032,00"))
    p.text("WhatsApp: 099 123 456\n")
    footer(p, "0003-00012001")
    return bytes(p.output)


def cafe(number: str, time: str, items: list[tuple[str, str]], total: str) -> bytes:
    p = Dummy()
    header(p, "CAFÉ DEL PUERTO", ["Ciudad Vieja"])
    p.text(f"Ticket {number}\n")
    p.text(f"Fecha: 20/11/2026 {time}\n")
    p.text("-" * WIDTH + "\n")
    for description, amount in items:
        p.text(row(description, amount))
    p.text("-" * WIDTH + "\n")
    p.set(bold=True)
    p.text(row("TOTAL", total))
    p.set(bold=False)
    p.text(row("MERCADO PAGO", total))
    footer(p, number)
    return bytes(p.output)


def star() -> bytes:
    """A Star printer in Star Line Mode (ESC E bold, ESC i size, ESC GS t code page, ESC d
    cut), with a discount under its line and the customer's phone after other text."""
    esc, gs = b"\x1b", b"\x1d"
    body = "\n".join([
        "Ticket 0005-00000042", "Fecha: 20/11/2026 16:10", "-" * WIDTH,
        "Vino tinto", row("  2 x 450,00", "900,00").rstrip("\n"),
        row("  Bonif. 2da unidad 50%", "-225,00").rstrip("\n"),
        row("Pan flauta", "60,00").rstrip("\n"), "-" * WIDTH, ""])
    return (esc + b"@" + esc + gs + b"t\x20" + esc + gs + b"a\x01" + esc + b"E"
            + "ALMACÉN LA ESTRELLA\n".encode("cp1252") + esc + b"F" + esc + gs + b"a\x00"
            + body.encode("cp1252") + esc + b"i\x01\x00" + esc + b"E"
            + row("TOTAL", "735,00").encode("cp1252") + esc + b"F" + esc + b"i\x00\x00"
            + row("EFECTIVO", "735,00").encode("cp1252")
            + "Envío a domicilio - Tel: 099 876 543\n".encode("cp1252") + esc + b"d\x03")


def devolucion() -> bytes:
    p = Dummy()
    header(p, "SUPER EL TRÉBOL", ["RUT 217654320018"])
    p.set(bold=True)
    p.text("NOTA DE CREDITO e-Ticket\n")
    p.set(bold=False)
    p.text("Nro 0001-00000212\n")
    p.text("Fecha: 20/11/2026 15:02\n")
    p.text("Ref: e-Ticket A 0001-00004521\n")
    p.text(row("Café molido 250g", "189,90"))
    p.set(bold=True)
    p.text(row("TOTAL", "189,90"))
    p.set(bold=False)
    p.text(row("EFECTIVO", "189,90"))
    p.text("Tel: 094 555 010\n")
    footer(p, "0001-00000212")
    return bytes(p.output)


def scanned() -> bytes:
    """A POS that prints no item codes: the scanner's codes fill them in."""
    p = Dummy()
    header(p, "SUPER EL TRÉBOL", ["RUT 217654320018"])
    p.text("e-Ticket A 0001-00004530\n")
    p.text("Fecha: 20/11/2026 15:20\n")
    p.text(row("Leche entera 1L", "52,00"))
    p.text(row("Pan flauta", "45,00"))
    p.set(bold=True)
    p.text(row("TOTAL", "97,00"))
    p.set(bold=False)
    p.text(row("EFECTIVO", "97,00"))
    footer(p, "0001-00004530")
    return bytes(p.output)


# What the demo plays: each receipt with the codes scanned before it prints.
PLAN = [
    ("supermercado", supermercado, ["7730241003258", "7790070410115", "2000123067438"]),
    ("farmacia", farmacia, ["https://hellotext.com/c?hello_session=s_demo_farmacia01"]),
    ("ropa", ropa, []),
    (
        "cafe-1",
        lambda: cafe(
            "0004-00000101",
            "14:40",
            [("Café con leche", "120,00"), ("Medialuna x2", "90,00")],
            "210,00",
        ),
        [],
    ),
    ("devolucion", devolucion, []),
    (
        "cafe-2",
        lambda: cafe(
            "0004-00000102",
            "15:05",
            [("Cortado", "95,00"), ("Tostado jamón y queso", "240,00")],
            "335,00",
        ),
        ["tel:+59894555011"],
    ),
    ("scanned", scanned, ["7730100000015", "7730200000014"]),
    ("cafe-3", lambda: cafe("0004-00000103", "15:30", [("Té verde", "80,00")], "80,00"), []),
    ("star", star, []),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    plan = []
    for name, make, scans in PLAN:
        (OUT / f"{name}.bin").write_bytes(make())
        plan.append({"receipt": f"{name}.bin", "scans": scans})
    (OUT / "plan.json").write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(plan)} receipts to {OUT}")


if __name__ == "__main__":
    main()
