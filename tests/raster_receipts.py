"""Raster receipts of our own, as Windows drivers, web POS and Star TSP100 print them.

A receipt's text (the lines a text receipt would print, with bold and double height) is drawn
with a TrueType font (fonts-liberation, fonts-dejavu) the way a driver lays out a page: the
left part of a line at the margin, the amount column right-aligned at the paper's edge. The
1-bit page is then sent in one of the raster encodings:

    gs_v0      GS v 0 bands of 24..256 rows           (Epson APD, "POS-80" drivers)
    gs_v0_one  one GS v 0 of the whole page           (web and tablet POS)
    esc_star   ESC * 33 24-dot bands + ESC J 24 / LF  (older Windows drivers)
    esc_star8  ESC * 1 8-dot bands                    (the oldest drivers)
    gs_l       GS ( L function 112 + 50, in bands     (newer Epson drivers)
    gs_8l      GS 8 L function 112 + 50, in bands
    star       ESC * r A, b n1 n2 rows, ESC * r Y skips, ESC * r B, ESC FF EOT  (TSP100)

`sample(seed)` draws one receipt (store layout, basket, customer, font, size, width,
encoding, logo) and returns its print job with the text that was drawn, so a test knows the
truth. Also a tool: `python tests/raster_receipts.py OUT_DIR [N]` writes jobs to look at.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import phonenumbers
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/liberation"), Path("/usr/share/fonts/truetype/dejavu"))
FONTS = {  # regular, bold
    "liberation-sans": ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
    "liberation-mono": ("LiberationMono-Regular.ttf", "LiberationMono-Bold.ttf"),
    "liberation-serif": ("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf"),
    "liberation-narrow": ("LiberationSansNarrow-Regular.ttf", "LiberationSansNarrow-Bold.ttf"),
    "dejavu-sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "dejavu-mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
    "dejavu-condensed": ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
}
# The skip reason of a test that draws receipts on a machine without these fonts.
FONTS_MISSING = (
    "the receipt fonts are missing:"
    " apt-get install fonts-liberation fonts-dejavu-core fonts-dejavu-extra"
)
ENCODINGS = ("gs_v0", "gs_v0_one", "esc_star", "esc_star8", "gs_l", "gs_8l", "star")
ESC, GS = b"\x1b", b"\x1d"


def font_path(name: str) -> Path:
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"font {name}: {FONTS_MISSING}")


def fonts_available() -> bool:
    try:
        for regular, bold in FONTS.values():
            font_path(regular), font_path(bold)
    except FileNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class Line:
    text: str
    bold: bool = False
    double: bool = False  # double height (drawn 1.6x)
    center: bool = False


# -- drawing --------------------------------------------------------------------------------


def _segments(text: str) -> list[tuple[int, str]]:
    """A fixed-column line split where it has 2+ spaces: (column, text) pieces."""
    out: list[tuple[int, str]] = []
    col = 0
    for piece in text.split("  "):
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            out.append((col + lead, piece.strip()))
        col += len(piece) + 2
    return out


def render(
    lines: list[Line], *, font: str = "liberation-sans", size: int = 22, width: int = 576,
    columns: int = 42, logo: Image.Image | None = None, margin: int = 8,
) -> Image.Image:
    """Draw receipt lines on a 1-bit page `width` dots wide, as a printer driver would."""
    regular, bold = FONTS[font]
    cache: dict[tuple[bool, int], ImageFont.FreeTypeFont] = {}

    def face(is_bold: bool, px: int) -> ImageFont.FreeTypeFont:
        key = (is_bold, px)
        if key not in cache:
            cache[key] = ImageFont.truetype(str(font_path(bold if is_bold else regular)), px)
        return cache[key]

    rows = [(line, int(size * (1.6 if line.double else 1))) for line in lines]
    height = margin + (logo.height + 12 if logo else 0)
    height += sum(int(px * 1.25) for _, px in rows) + margin
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    y = margin
    if logo is not None:
        page.paste(logo.convert("L"), ((width - logo.width) // 2, y))
        y += logo.height + 12
    usable = width - 2 * margin
    for line, px in rows:
        f = face(line.bold, px)
        pieces = _segments(line.text)
        total = sum(f.getlength(t) for _, t in pieces) + 12 * (len(pieces) - 1)
        while total > usable and px > 12:  # a driver shrinks what does not fit
            px -= 1
            f = face(line.bold, px)
            total = sum(f.getlength(t) for _, t in pieces) + 12 * (len(pieces) - 1)
        if line.center or len(pieces) == 1 and line.center:
            text = line.text.strip()
            draw.text((margin + (usable - f.getlength(text)) / 2, y), text, font=f, fill=0)
        else:
            right_edge = margin
            for k, (col, text) in enumerate(pieces):
                w = f.getlength(text)
                if k == len(pieces) - 1 and k > 0:
                    x = margin + usable - w
                else:
                    x = margin + usable * col / columns
                x = max(x, right_edge + (12 if k else 0))
                draw.text((x, y), text, font=f, fill=0)
                right_edge = x + w
        y += int(px * 1.25)
    return page.point(lambda v: 0 if v < 128 else 255, "1")


def dithered_logo(width: int, rng: random.Random) -> Image.Image:
    """A gray-scale logo dithered (Floyd-Steinberg) to 1 bit, as drivers send photos."""
    w, h = min(width - 40, rng.choice((160, 200, 256, 320))), rng.choice((48, 64, 96))
    image = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(image)
    for k in range(0, w, 4):
        draw.line((k, 0, k - h, h), fill=int(255 * k / w))
    draw.ellipse((4, 4, h - 4, h - 4), fill=rng.randint(40, 160))
    return image.convert("1")  # Pillow dithers by default


# -- encodings ------------------------------------------------------------------------------


def _rows(page: Image.Image) -> tuple[int, int, bytes]:
    """(width in bytes, height, data) with 1 = black."""
    inverted = Image.eval(page.convert("L"), lambda v: 255 - v).convert("1")
    return (page.width + 7) // 8, page.height, inverted.tobytes()


def gs_v0(page: Image.Image, band: int = 128) -> bytes:
    wb, h, data = _rows(page)
    out = bytearray(ESC + b"@")
    for y in range(0, h, band):
        rows = min(band, h - y)
        out += GS + b"v0\x00" + bytes([wb & 255, wb >> 8, rows & 255, rows >> 8])
        out += data[y * wb : (y + rows) * wb]
    return bytes(out)


def esc_star(page: Image.Image, *, dots: int = 24, lf: bool = False) -> bytes:
    """ESC * 33 (24 dots) or ESC * 1 (8 dots, each 3 rows tall: the page is sampled)."""
    gray = page.convert("1")
    w, h = gray.size
    px = gray.load()
    assert px is not None
    step = 1 if dots == 24 else 3
    band_rows = 24 if dots == 24 else 8
    out = bytearray(ESC + b"@" + ESC + b"3\x18")
    y = 0
    while y < h:
        cols = bytearray()
        for x in range(w):
            for k in range(band_rows // 8):
                byte = 0
                for b in range(8):
                    yy = y + (k * 8 + b) * step
                    if yy < h and px[x, yy] == 0:
                        byte |= 0x80 >> b
                cols.append(byte)
        m = 33 if dots == 24 else 1
        out += ESC + b"*" + bytes([m, w & 255, w >> 8]) + cols
        out += b"\n" if lf else ESC + b"J\x18"
        y += 24
    return bytes(out)


def gs_l(page: Image.Image, band: int = 96, *, eight: bool = False) -> bytes:
    wb, h, data = _rows(page)
    out = bytearray(ESC + b"@")
    for y in range(0, h, band):
        rows = min(band, h - y)
        body = b"0p0\x01\x011" + bytes([page.width & 255, page.width >> 8, rows & 255, rows >> 8])
        body += data[y * wb : (y + rows) * wb]
        if eight:
            out += GS + b"8L" + len(body).to_bytes(4, "little") + body
            out += GS + b"(L\x02\x0002"
        else:
            out += GS + b"(L" + len(body).to_bytes(2, "little") + body
            out += GS + b"(L\x02\x0002"
    return bytes(out)


def star(page: Image.Image) -> bytes:
    wb, h, data = _rows(page)
    out = bytearray(ESC + b"@" + ESC + b"*rR" + ESC + b"*rA" + ESC + b"*rQ2\x00")
    out += ESC + b"*rE13\x00" + ESC + b"*rP0\x00"
    blank = 0
    for y in range(h):
        row = data[y * wb : (y + 1) * wb]
        if not any(row):
            blank += 1
            continue
        if blank:
            out += ESC + b"*rY" + str(blank).encode() + b"\x00"
            blank = 0
        out += b"b" + bytes([wb & 255, wb >> 8]) + row
    out += ESC + b"\x0c\x04" + ESC + b"*rB"  # EOT mode (cut), back to line mode
    return bytes(out)


def encode(page: Image.Image, encoding: str, rng: random.Random | None = None) -> bytes:
    rng = rng or random.Random(0)
    if encoding == "gs_v0":
        return gs_v0(page, rng.choice((24, 64, 128, 255))) + GS + b"V\x01"
    if encoding == "gs_v0_one":
        return gs_v0(page, page.height) + GS + b"VA\x00"
    if encoding == "esc_star":
        return esc_star(page, lf=rng.random() < 0.5) + GS + b"V\x01"
    if encoding == "esc_star8":
        return esc_star(page, dots=8) + GS + b"V\x01"
    if encoding in ("gs_l", "gs_8l"):
        return gs_l(page, rng.choice((64, 96, 128)), eight=encoding == "gs_8l") + GS + b"V\x01"
    if encoding == "star":
        return star(page)
    raise ValueError(encoding)


# -- receipts -------------------------------------------------------------------------------

PRODUCTS = [
    "Yerba Canarias 1kg", "Leche Conaprole 1L", "Pan flauta", "Queso colonia", "Aceite Optimo",
    "Arroz Blue Patna", "Cafe Bracafe 170g", "Galletas Maria", "Jabon Nevex", "Detergente Hurra",
    "Fideos Adria 500g", "Tomate perita", "Banana Ecuador", "Manzana roja", "Agua Salus 2L",
    "Cerveza Pilsen", "Vino tinto Tannat", "Azucar Bella Union", "Harina Canuelas",
    "Dulce de leche",
    "Remera algodon", "Jean slim azul", "Medias pack x3", "Campera nylon", "Gorra negra",
    "Ibuprofeno 400mg", "Paracetamol 500mg", "Protector solar", "Shampoo Sedal", "Crema Nivea",
    "Cafe con leche", "Medialuna", "Tostado jamon queso", "Jugo de naranja", "Torta de chocolate",
]
NAMES = ["Juan Perez", "Ana Lopez", "Maria Gomez", "Carlos Silva", "Lucia Fernandez",
         "Pedro Rodriguez", "Sofia Martinez", "Diego Sosa"]
STORES = {  # name, country, currency, money style
    "uy": ("SUPERMERCADO EL TREBOL", "UY", "UYU", "uy"),
    "ar": ("FARMACIA SAN MARTIN", "AR", "ARS", "ar"),
    "mx": ("MODA LUNA", "MX", "MXN", "mx"),
    "cl": ("CAFE DEL ANGEL", "CL", "CLP", "cl"),
}


@dataclass(frozen=True)
class Truth:
    kind: str
    total: Decimal
    lines: tuple[tuple[str, Decimal], ...]  # (description, amount)
    phone: str | None
    email: str | None
    card: str | None  # a full card number printed on the receipt (it must not leak)


@dataclass(frozen=True)
class Sample:
    job: bytes
    truth: Truth
    country: str
    currency: str
    font: str
    size: int
    width: int
    encoding: str
    lines: tuple[Line, ...]


def money(value: Decimal, style: str) -> str:
    """uy 1.234,50 / ar 1234,50 / mx 1,234.50 / cl 12.990, as those tills print money."""
    if style == "cl":
        return f"{value:,.0f}".replace(",", ".")
    text = f"{value:,.2f}"
    if style == "uy":
        return text.replace(",", "_").replace(".", ",").replace("_", ".")
    if style == "ar":
        return text.replace(",", "").replace(".", ",")
    return text


def _phone(rng: random.Random, country: str) -> str:
    """A mobile number valid in `country` (phonenumbers agrees), as its tills print them."""
    sub = random.Random(rng.random())  # retries do not shift the rest of the receipt

    def digits(n: int) -> str:
        return "".join(str(sub.randint(0, 9)) for _ in range(n))

    while True:
        if country == "UY":
            text = f"09{sub.randint(1, 9)} {digits(3)} {digits(3)}"
        elif country == "AR":
            text = f"11 {sub.randint(2, 6)}{digits(3)}-{digits(4)}"
        elif country == "MX":
            text = f"55 {sub.randint(1, 9)}{digits(3)} {digits(4)}"
        else:
            text = f"+56 9 {sub.randint(5, 9)}{digits(3)} {digits(4)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(text, country)):
            return text


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        v = int(ch) * (1 if i % 2 else 2)
        total += v - 9 if v > 9 else v
    return body + str((10 - total % 10) % 10)


def receipt_lines(rng: random.Random, store: str, width_cols: int, *,
                  contacts: bool = False) -> tuple[list[Line], Truth]:
    """One receipt's lines (kind sale or refund, items, totals, maybe a customer; with
    `contacts` always a customer with a phone and an e-mail, the draws otherwise the same)."""
    name, country, _currency, style = STORES[store]
    cents = style != "cl"
    refund = rng.random() < 0.2
    row = lambda left, right: Line(  # noqa: E731
        left + " " * max(2, width_cols - len(left) - len(right)) + right)
    lines = [Line(name, bold=True, double=True, center=True),
             Line("Av. 18 de Julio 1234", center=True),
             Line(f"RUT 21{rng.randint(1000000, 9999999)}0019", center=True)]
    number = f"{rng.randint(1, 9999):06d}"
    if refund:
        lines += [Line(f"NOTA DE CREDITO {number}"), Line("DEVOLUCION")]
    else:
        lines += [Line(f"Ticket {number}")]
    day, hour, minute = rng.randint(1, 28), rng.randint(8, 21), rng.randint(0, 59)
    lines += [Line(f"Fecha: {day:02d}/11/2026 {hour:02d}:{minute:02d}"), Line("-" * width_cols)]
    items: list[tuple[str, Decimal]] = []
    for _ in range(rng.randint(1, 8)):
        desc = rng.choice(PRODUCTS)
        if cents:
            price = Decimal(rng.randint(50, 99999)) / 100
        else:
            price = Decimal(rng.randint(5, 2500) * 10)
        quantity = rng.choice((1, 1, 1, 2, 3))
        amount = price * quantity
        if quantity > 1:
            lines.append(Line(desc))
            lines.append(row(f"  {quantity} x {money(price, style)}", money(amount, style)))
        else:
            lines.append(row(desc[: width_cols - 12], money(amount, style)))
        items.append((desc[: width_cols - 12] if quantity == 1 else desc, amount))
    total = sum((a for _, a in items), Decimal(0))
    lines.append(Line("-" * width_cols))
    lines.append(Line(row("TOTAL $", money(total, style)).text, bold=True, double=True))
    card = None
    if rng.random() < 0.3:
        card = _luhn("4" + "".join(str(rng.randint(0, 9)) for _ in range(14)))
        lines.append(Line(f"VISA {card}"))
    lines.append(row(rng.choice(("EFECTIVO", "TARJETA DEBITO", "CONTADO")), money(total, style)))
    phone = email = None
    if rng.random() < 0.6 or contacts:
        customer = rng.choice(NAMES)
        lines.append(Line(f"Cliente: {customer}"))
        if rng.random() < 0.8 or contacts:
            phone = _phone(rng, country)
            lines.append(Line(f"{rng.choice(('Cel', 'Tel', 'Celular', 'WhatsApp'))}: {phone}"))
        if rng.random() < 0.5 or contacts:
            domain = rng.choice(("gmail.com", "hotmail.com", "correo.com.uy"))
            email = customer.lower().replace(" ", ".") + "@" + domain
            lines.append(Line(f"Email: {email}"))
    lines.append(Line("Gracias por su compra", center=True))
    kind = "refund" if refund else "sale"
    return lines, Truth(kind, total, tuple(items), phone, email, card)


def sample(seed: int, *, encoding: str | None = None, width: int | None = None,
           mixed: bool | None = None) -> Sample:
    """One raster receipt drawn from `seed` (the same seed gives the same bytes)."""
    rng = random.Random(seed)
    store = rng.choice(sorted(STORES))
    _, country, currency, _ = STORES[store]
    width = width or rng.choice((384, 576, 576))
    cols = 32 if width == 384 else 42
    font = rng.choice(sorted(FONTS))
    size = rng.randint(18, 22) if width == 384 else rng.randint(20, 28)
    # 8-dot columns (68 dpi down the page) come from the oldest drivers only: a few of them
    encoding = encoding or rng.choice([*ENCODINGS, *ENCODINGS[:3], "star", "gs_v0"])
    lines, truth = receipt_lines(rng, store, cols)
    logo = dithered_logo(width, rng) if rng.random() < 0.5 else None
    mixed = rng.random() < 0.25 if mixed is None else mixed
    head = b""
    body_lines = lines
    if mixed:  # a text header over a raster body
        header = "\n".join(line.text for line in lines[:3]).encode("cp858")
        head = b"\x1b@\x1ba\x01" + header + b"\n\x1ba\x00"
        body_lines = lines[3:]
    page = render(body_lines, font=font, size=size, width=width, columns=cols, logo=logo)
    job = encode(page, encoding, rng)
    if head:
        job = head + job.removeprefix(b"\x1b@")
    return Sample(job, truth, country, currency, font, size, width, encoding, tuple(lines))


if __name__ == "__main__":  # write jobs to look at: OUT_DIR [N]
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for seed in range(int(sys.argv[2]) if len(sys.argv) > 2 else 8):
        s = sample(seed)
        (out / f"r{seed:03d}-{s.encoding}.bin").write_bytes(s.job)
        print(seed, s.encoding, s.font, s.size, s.width, s.truth.kind, s.truth.total)


# -- scoring ----------------------------------------------------------------------------------


def text_receipt(s: Sample) -> Any:
    """What the reader makes of the same receipt printed as text (the phone in E.164 as
    the reader normalises it, e.g. Argentine mobiles with their 9)."""
    from agent.receipts import GENERIC, extract
    from drivers.escpos.document import Document, TextLine

    lines = [TextLine(line.text, bold=line.bold, double_height=line.double) for line in s.lines]
    return extract(Document(lines=lines), template=GENERIC, country=s.country,
                   currency=s.currency)


@dataclass
class Scores:
    """How OCR'd raster receipts compare with what was drawn (the issue's targets)."""

    receipts: int = 0
    totals: int = 0
    kinds: int = 0
    lines: int = 0
    lines_read: int = 0
    phones: int = 0
    phones_read: int = 0
    emails: int = 0
    emails_read: int = 0
    cards_leaked: int = 0
    seconds: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def add(self, s: Sample, receipt: Any, seconds: float) -> None:
        from difflib import SequenceMatcher

        truth = s.truth
        where = f"{s.encoding} {s.font} {s.size}px {s.width}"
        self.receipts += 1
        self.seconds.append(seconds)
        self.totals += receipt.total == truth.total
        self.kinds += receipt.kind == truth.kind
        if receipt.total != truth.total or receipt.kind != truth.kind:
            self.misses.append(f"{where}: {truth.kind} {truth.total} read as "
                               f"{receipt.kind} {receipt.total}")
        left = list(receipt.lines)
        for description, amount in truth.lines:
            self.lines += 1
            for line in left:
                similar = SequenceMatcher(None, line.description.lower(), description.lower())
                if line.amount == amount and similar.ratio() >= 0.8:
                    self.lines_read += 1
                    left.remove(line)
                    break
            else:
                self.misses.append(f"{where}: line {description!r} {amount} not read")
        if truth.phone:
            self.phones += 1
            self.phones_read += receipt.customer.phone == text_receipt(s).customer.phone
        if truth.email:
            self.emails += 1
            self.emails_read += receipt.customer.email == truth.email
            if receipt.customer.email != truth.email:
                self.misses.append(f"{where}: e-mail {truth.email} read as "
                                   f"{receipt.customer.email}")
        if truth.card and truth.card in str(receipt.to_json()):
            self.cards_leaked += 1

    def report(self) -> list[tuple[str, float, str]]:
        """(figure, value, target) lines; value in percent, or seconds for time."""
        def pct(a: int, b: int) -> float:
            return 100.0 * a / b if b else 100.0

        times = sorted(self.seconds) or [0.0]
        return [
            ("totals", pct(self.totals, self.receipts), ">= 93 %"),
            ("lines", pct(self.lines_read, self.lines), ">= 85 %"),
            ("kind", pct(self.kinds, self.receipts), ">= 95 %"),
            ("phones", pct(self.phones_read, self.phones), ">= 85 %"),
            ("e-mails", pct(self.emails_read, self.emails), ">= 90 %"),
            ("cards leaked", float(self.cards_leaked), "0"),
            ("OCR s/receipt (mean)", sum(times) / len(times), "<= 2 s"),
            ("OCR s/receipt (p90)", times[int(0.9 * (len(times) - 1))], ""),
        ]
