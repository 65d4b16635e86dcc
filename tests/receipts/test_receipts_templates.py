"""Site templates in TOML: extra labels and regexes, and errors that name the bad key."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from agent.errors import ReceiptError
from agent.receipts import GENERIC, Payment, ReceiptLine, explain, extract, load_template
from drivers.escpos.document import Document, TextLine

SITE = """
name = "super-x"
[labels]
total = ["NETO A COBRAR"]
[payments]
credito = ["CREDITEL"]
[patterns]
item = ['^#(?P<code>\\d{6}) (?P<description>.+?) {2,}(?P<quantity>\\d+)u (?P<amount>\\S+)$']
number = ['^TKT (?P<number>\\d+)$']
ignore = ['^PUNTOS ACUMULADOS']
"""

RECEIPT = """TKT 998877
#123456 Galletas María   3u 150,00
PUNTOS ACUMULADOS 150,00
NETO A COBRAR 150,00
CREDITEL 150,00"""


def doc(text: str) -> Document:
    return Document(lines=[TextLine(line) for line in text.split("\n")])


def test_a_site_template_adds_labels_and_patterns(tmp_path: Path) -> None:
    (tmp_path / "super-x.toml").write_text(SITE, encoding="utf-8")
    template = load_template("super-x", templates_dir=tmp_path)
    receipt = extract(doc(RECEIPT), template=template, country="UY", currency="UYU")
    assert receipt.number == "998877"
    assert receipt.lines == (ReceiptLine("Galletas María", D(3), None, D(150), "123456"),)
    assert receipt.total == D(150) and receipt.reconciled
    assert receipt.payments == (Payment("credito", D(150)),)
    rules = [
        rule for _, rule in explain(doc(RECEIPT), template=template, country="UY", currency="UYU")
    ]
    assert rules == ["number", "item (template)", "ignore (template)", "total", "payment credito"]
    # The generic template alone does not know these words.
    assert extract(doc(RECEIPT), template=GENERIC, country="UY", currency="UYU").total is None


def test_a_template_by_path_and_the_builtin_generic(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[labels]\ntotal = ["A ABONAR"]\n', encoding="utf-8")
    assert load_template(str(path)).name == "mine"
    assert load_template("generic") is GENERIC


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[labels]\ntotl = ["X"]', "labels.totl"),
        ('[payments]\nbitcoin = ["BTC"]', "payments"),
        ("[patterns]\nitem = ['(?P<description>.+)']", "patterns.item[0]"),
        ("[patterns]\ntotal = ['(unclosed']", "patterns.total[0]"),
        ('[labels]\ntotal = "TOTAL"', "labels.total"),
        ('extends = "other"', "extends"),
    ],
)
def test_a_bad_template_names_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ReceiptError) as info:
        load_template(str(path))
    assert f": {key}" in str(info.value)


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ReceiptError, match="not found"):
        load_template("nope", templates_dir=tmp_path)
    (tmp_path / "broken.toml").write_text("[labels\n", encoding="utf-8")
    with pytest.raises(ReceiptError, match="not valid TOML"):
        load_template("broken", templates_dir=tmp_path)


def test_a_site_can_make_a_bare_cel_line_the_customer(tmp_path: Path) -> None:
    text = "Tel: 2600 1234\nCel: 094 555 010\nPan   100,00\nTOTAL   100,00"
    # Generic: a phone in the header, outside a customer block, is the store's own.
    generic = extract(doc(text), template=GENERIC, country="UY", currency="UYU")
    assert generic.customer.phone is None
    path = tmp_path / "cel.toml"
    path.write_text('[labels]\ncustomer = ["Cel"]\n', encoding="utf-8")
    site = extract(doc(text), template=load_template(str(path)), country="UY", currency="UYU")
    assert site.customer.phone == "+59894555010"


def test_the_readme_template_example_loads_and_reads_its_layout(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Tuning a receipt template on site", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "mi-tienda.toml"
    path.write_text(example, encoding="utf-8")
    text = "TKT 4521\n123456 Yerba 1kg   245,00\nBONO AB12   -45,00\nNETO A COBRAR  200,00\nOCA 200"
    receipt = extract(doc(text), template=load_template(str(path)), country="UY", currency="UYU")
    assert receipt.number == "4521" and receipt.lines[0].code == "123456"
    assert receipt.coupons[0].code == "AB12" and receipt.total == D(200) and receipt.reconciled
    assert receipt.payments[0].method == "credito"
