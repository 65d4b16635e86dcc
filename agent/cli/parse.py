"""`hellotext-agent parse FILE...`: decode print jobs and show the receipts in them.

Works without any config file (store defaults UY / UYU / cp858 / generic template); when
`--config` is given, or the default config exists, its store country and currency, its
templates directory and its only printer's template and code pages are the defaults.
Exit 0 when every receipt was read, 1 otherwise with the reason on stderr. Receipts printed
as pictures are read by OCR (Tesseract) as the daemon reads them; `--image OUT.png` writes
the pictures the decoder assembled, so an installer can see what the printer got.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.cli.common import EXIT_FAILURE, EXIT_OK, Context, add_command
from agent.config import AppendSection, config_path
from agent.daemon.append import ReceiptAppender
from agent.daemon.ocr import OCR_TIMEOUT, ocr_document, tesseract_problem
from agent.errors import ConfigError, ReceiptError
from agent.receipts import Receipt, Template, explain, extract, load_template
from agent.receipts.numbers import money, quantity_text
from drivers.escpos.blocks import splice
from drivers.escpos.codepages import is_known_codec
from drivers.escpos.document import Document
from drivers.escpos.raster import stack
from drivers.escpos.select import COMMAND_SETS, cuts_of, decode_all


@dataclass(frozen=True)
class Settings:
    country: str = "UY"
    currency: str = "UYU"
    codepage: str = "cp858"
    codepage_map: dict[int, str] = field(default_factory=dict)
    command_set: str = "auto"
    template: str = "generic"
    templates_dir: Path | None = None
    append: AppendSection | None = None
    ocr: str = "auto"
    ocr_languages: str = "spa+por+eng"


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "parse",
        _parse,
        "decode ESC/POS print jobs and show the receipts read from them",
        description=(
            "Decode ESC/POS captures (files of printer-port bytes) and print each receipt "
            "read from them, as a table or as JSON. Needs no config file. Exit 0 when every "
            "receipt was read (a total found, or a void), 1 otherwise."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="capture(s) to read")
    parser.add_argument("--json", action="store_true", help='print {"receipts": [...]}')
    parser.add_argument(
        "--template", metavar="NAME|PATH", help="receipt template (default: generic)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="show each printed line and the rule that took it"
    )
    parser.add_argument("--codepage", metavar="CP", help="default code page (default: cp858)")
    parser.add_argument(
        "--command-set", choices=COMMAND_SETS,
        help="printer command set: auto (per job, the default), escpos or star",
    )
    parser.add_argument("--country", metavar="CC", help="store country (default: UY)")
    parser.add_argument("--currency", metavar="CUR", help="default currency (default: UYU)")
    parser.add_argument(
        "--image", metavar="OUT.png",
        help="write the pictures of a raster print job (OUT-2.png... for further jobs)",
    )
    parser.add_argument(
        "--ocr", choices=("auto", "off"), help="read raster receipts with Tesseract (default: auto)"
    )
    parser.add_argument(
        "--append", action="store_true",
        help="show the [printer.append] block each receipt would get (from the config)",
    )
    parser.add_argument(
        "--out", metavar="FILE", help="with --append: write the bytes the printer would get"
    )


def settings(args: argparse.Namespace, ctx: Context) -> Settings:
    base = Settings()
    if ctx.config_arg or config_path(None, os.environ).exists():
        config = ctx.config()
        printer = config.printer[0] if len(config.printer) == 1 else None
        base = Settings(
            country=config.store.country,
            currency=config.store.currency,
            codepage=printer.codepage if printer else base.codepage,
            codepage_map=dict(printer.codepage_map) if printer else {},
            command_set=printer.command_set if printer else base.command_set,
            template=printer.template if printer else base.template,
            templates_dir=Path(config.receipts.templates_dir),
            append=printer.append if printer else None,
            ocr=config.receipts.ocr,
            ocr_languages=config.receipts.ocr_languages,
        )
    codepage = (args.codepage or base.codepage).lower()
    if not is_known_codec(codepage):
        raise ReceiptError(f"--codepage: unknown code page {codepage!r}")
    return Settings(
        country=(args.country or base.country).upper(),
        currency=(args.currency or base.currency).upper(),
        codepage=codepage,
        codepage_map=base.codepage_map,
        command_set=args.command_set or base.command_set,
        template=args.template or base.template,
        templates_dir=base.templates_dir,
        append=base.append,
        ocr=args.ocr or base.ocr,
        ocr_languages=base.ocr_languages,
    )


def _parse(args: argparse.Namespace, ctx: Context) -> int:
    conf = settings(args, ctx)
    template = load_template(conf.template, templates_dir=conf.templates_dir)
    if args.out and not args.append:
        raise ConfigError([("--out", "needs --append")])
    if args.append:
        return _append(args, conf, template)
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    console = Console(highlight=False, soft_wrap=True)
    images_written = 0
    for name in args.files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            problems.append(f"{name}: cannot read: {exc.strerror}")
            continue
        if (why := not_a_print_job(data)) is not None:
            problems.append(f"{name}: does not look like a print job ({why})")
            continue
        decoded = decode_all(data, command_set=conf.command_set, codepage=conf.codepage,
                             codepage_map=conf.codepage_map)
        docs = [doc for doc in decoded if doc.has_content]
        if not docs:
            problems.append(f"{name}: no receipt in it (no text, barcode, QR code or picture)")
        for index, doc in enumerate(docs, 1):
            where = f"{name}" + (f" (receipt {index} of {len(docs)})" if len(docs) > 1 else "")
            if args.image and doc.images:
                images_written += 1
                _write_image(args.image, images_written, doc)
            receipt = extract(doc, template=template, country=conf.country, currency=conf.currency)
            if not receipt.ok and doc.has_raster:
                doc, why = _ocr(doc, conf)
                if why:
                    problems.append(f"{where}: a receipt printed as pictures, not read: {why}")
                else:
                    receipt = extract(
                        doc, template=template, country=conf.country, currency=conf.currency
                    )
            trace = (
                explain(doc, template=template, country=conf.country, currency=conf.currency)
                if args.explain
                else []
            )
            confidences = [line.confidence for line in doc.lines]
            if not receipt.ok:
                problems.append(f"{where}: {receipt.problem}")
            if args.json:
                item = receipt.to_json()
                if args.explain:
                    item["explain"] = [
                        {"line": line, "rule": rule, "ocr_confidence": conf_}
                        for (line, rule), conf_ in zip(trace, confidences, strict=False)
                    ]
                out.append(item)
            else:
                _show(console, where, receipt, trace, confidences)
    if args.json:
        print(json.dumps({"receipts": out}, ensure_ascii=False, indent=2))
    for problem in problems:
        print(f"hellotext-agent: {problem}", file=sys.stderr)
    return EXIT_FAILURE if problems else EXIT_OK


PRINT_COMMANDS = (b"\x1b", b"\x1d", b"\x1c")  # ESC, GS, FS: ESC/POS and Star alike
WIDEST_LINE = 64  # columns of an 80 mm printer in its smallest font (48 usually)


def not_a_print_job(data: bytes) -> str | None:
    """Why `data` is not what a POS sends a printer (a README, a log), else None. A plain
    text job without a command is possible, but never wider than the paper."""
    if any(code in data for code in PRINT_COMMANDS):
        return None
    widest = max((len(line) for line in data.splitlines()), default=0)
    if widest <= WIDEST_LINE:
        return None
    return (
        f"no printer command in it and lines of {widest} characters, wider than any"
        f" receipt ({WIDEST_LINE}): give the bytes the POS sent to the printer"
    )


def _ocr(doc: Document, conf: Settings) -> tuple[Document, str | None]:
    """The raster document read by OCR, or why it could not be."""
    if conf.ocr == "off":
        return doc, "OCR is off (receipts.ocr / --ocr)"
    problem = tesseract_problem(conf.ocr_languages)
    if problem:
        return doc, problem
    try:
        return ocr_document(doc, languages=conf.ocr_languages, timeout=OCR_TIMEOUT), None
    except RuntimeError as exc:  # pytesseract's timeout and Tesseract's own errors
        return doc, f"OCR failed: {exc}"


def _write_image(path: str, count: int, doc: Document) -> None:
    target = Path(path)
    if count > 1:
        target = target.with_name(f"{target.stem}-{count}{target.suffix or '.png'}")
    image = stack(doc.images)
    try:
        target.write_bytes(image.to_png())
    except OSError as exc:
        raise ReceiptError(f"--image: cannot write {target}: {exc.strerror}") from exc
    print(f"hellotext-agent: wrote {target} ({image.width} x {image.height} dots)", file=sys.stderr)


def _show(
    console: Console,
    where: str,
    receipt: Receipt,
    trace: list[tuple[str, str]],
    confidences: list[float | None],
) -> None:
    if trace:
        rules = Table(title=Text(f"{where}: how each line was read"))
        rules.add_column("rule", style="cyan", no_wrap=True)
        ocr = any(c is not None for c in confidences)
        if ocr:
            rules.add_column("OCR", justify="right")
        rules.add_column("printed line")
        for (printed, rule), conf in zip(trace, confidences, strict=False):
            if ocr:  # printed text is not markup
                shown = "printed" if conf is None else f"{conf:.0%}"
                rules.add_row(rule, shown, Text(printed))
            else:
                rules.add_row(rule, Text(printed))
        console.print(rules)
    when = receipt.issued_at.isoformat(sep=" ") if receipt.issued_at else "no date"
    title = f"{where}: {receipt.kind} {receipt.number or '(no number)'}, {when}, {receipt.currency}"
    table = Table(title=Text(title))
    for column in ("code", "description"):
        table.add_column(column)
    for column in ("qty", "unit price", "amount"):
        table.add_column(column, justify="right")
    for line in receipt.lines:
        qty = quantity_text(line.quantity) + (f" {line.unit}" if line.unit else "")
        price = money(line.unit_price) if line.unit_price is not None else ""
        table.add_row(line.code or "", Text(line.description), qty, price, money(line.amount))
    console.print(table)
    rows = [
        ("subtotal", money(receipt.subtotal) if receipt.subtotal is not None else "-"),
        ("discount", money(receipt.discount)),
        ("tax", money(receipt.tax)),
        ("total", money(receipt.total) if receipt.total is not None else "NOT FOUND"),
    ]
    rows += [(f"paid ({p.method})", money(p.amount)) for p in receipt.payments]
    rows += [(f"coupon {c.code}", money(c.amount)) for c in receipt.coupons]
    for key in ("phone", "email", "document"):
        value = getattr(receipt.customer, key)
        if value:
            rows.append((f"customer {key}", value))
    rows.append(("reconciled", "yes" if receipt.reconciled else "no"))
    for label, value in rows:
        console.print(f"  {label:<22} {value}", markup=False)
    for warning in receipt.warnings:
        console.print(Text.assemble("  ", ("warning:", "yellow"), f" {warning}"))
    console.print()


def _append(args: argparse.Namespace, conf: Settings, template: Template) -> int:
    """What the printer would get with [printer.append]: the daemon's own decision code."""
    if conf.append is None:
        raise ConfigError([("--append", "the config has no printer with [printer.append] "
                                        "(one printer, or use --config)")])
    if args.out and len(args.files) != 1:
        raise ConfigError([("--out", "takes exactly one FILE")])
    appender = ReceiptAppender(conf.append, template, country=conf.country,
                               currency=conf.currency)
    console = Console(highlight=False, soft_wrap=True)
    problems: list[str] = []
    for name in args.files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            problems.append(f"{name}: cannot read: {exc.strerror}")
            continue
        inserts: dict[int, bytes] = {}
        cuts = cuts_of(data, command_set=conf.command_set, codepage=conf.codepage,
                       codepage_map=conf.codepage_map)
        if not cuts:
            console.print(f"{name}: no cut: printed unchanged", markup=False)
        for index, cut in enumerate(cuts, 1):
            plan = appender.plan(cut)
            where = f"{name} (cut {index} of {len(cuts)}, byte {cut.start})"
            if isinstance(plan, str):
                console.print(f"{where}: no block: {plan}", markup=False)
                continue
            block = inserts[cut.start] = appender.block(plan, cut)
            console.print(f"{where}: block of {len(block)} bytes, QR {conf.append.qr_mode}:",
                          markup=False)
            for line in plan.lines:
                console.print(f"  | {line}", markup=False)
            console.print(f"  | [QR] {plan.qr.decode('utf-8')}", markup=False)
        if args.out:
            try:
                Path(args.out).write_bytes(splice(data, inserts))
            except OSError as exc:
                problems.append(f"{args.out}: cannot write: {exc.strerror}")
    for problem in problems:
        print(f"hellotext-agent: {problem}", file=sys.stderr)
    return EXIT_FAILURE if problems else EXIT_OK
