"""`hellotext-agent parse`: JSON shape, tables, --explain, exit codes, no config needed."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from escpos.printer import Dummy

from agent.cli import main
from tests.receipt_layouts import Item, clothing, supermarket

BASKET = [Item("Yerba Canarias 1kg", D("245.00"), D(2), "7730241003258"), Item("Pan", D("40"))]


def job(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # python-escpos chatters on stdout while the test prints a job
    code = main(["parse", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_the_documented_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = job(tmp_path, "super.bin", supermarket(BASKET, customer_phone="094 555 010"))
    code, out, err = run(capsys, path, "--json")
    assert code == 0, err
    (receipt,) = json.loads(out)["receipts"]
    assert receipt == {
        "kind": "sale",
        "number": "A-1234567",
        "issued_at": "2026-11-20T14:03:00",
        "currency": "UYU",
        "subtotal": "530.00",
        "discount": "0.00",
        "tax": "95.57",
        "total": "530.00",
        "lines": [
            {"description": "Yerba Canarias 1kg", "quantity": "2", "unit_price": "245.00",
             "amount": "490.00", "code": "7730241003258", "unit": None},
            {"description": "Pan", "quantity": "1", "unit_price": None, "amount": "40.00",
             "code": None, "unit": None},
        ],
        "payments": [{"method": "efectivo", "amount": "530.00"}],
        "coupons": [],
        "customer": {"phone": "+59894555010", "email": None, "document": None},
        "reconciled": True,
        "warnings": [],
    }  # fmt: skip


def test_table_for_a_person_and_explain(
    escpos_fixtures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(escpos_fixtures / "escpos-php-receipt-with-logo.bin")
    code, out, _ = run(capsys, path, "--explain")
    assert code == 0
    assert "Example item #1" in out and "14.25" in out and "reconciled             yes" in out
    assert "subtotal" in out and "Subtotal" in out  # the rule and the printed line
    explained = [line for line in out.splitlines() if "A local tax" in line]
    assert explained and "tax" in explained[0].split("A local tax")[0]


def test_a_job_without_total_exits_1_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = Dummy()
    p.text("KIOSCO LUZ\nAlfajor              45,00\n")
    p.cut()
    path = job(tmp_path, "no-total.bin", bytes(p.output))
    code, out, err = run(capsys, path, "--json")
    assert code == 1
    assert json.loads(out)["receipts"][0]["total"] is None
    assert f"{path}: no total found" in err


def test_unreadable_file_and_empty_job_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, str(tmp_path / "missing.bin"))
    assert code == 1 and "cannot read" in err
    code, _, err = run(capsys, job(tmp_path, "empty.bin", b"\x1b@\x1dV\x00"))
    assert code == 1 and "no receipt" in err


def test_country_and_currency_from_options_or_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = job(tmp_path, "moda.bin", clothing([Item("Jeans", D("1234.50"))], coupon=None))
    code, out, _ = run(capsys, path, "--json", "--country", "MX", "--currency", "MXN")
    receipt = json.loads(out)["receipts"][0]
    assert code == 0 and (receipt["total"], receipt["currency"]) == ("1111.05", "MXN")
    config = tmp_path / "agent.toml"
    config.write_text('[store]\ncountry = "MX"\ncurrency = "MXN"\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["--config", str(config), "parse", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["receipts"][0]["currency"] == "MXN"


def test_card_numbers_never_reach_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = Dummy()
    p.text("Regalo              10,00\nTOTAL               10,00\n")
    p.text("VISA 4111 1111 1111 1111  10,00\n")
    p.cut()
    path = job(tmp_path, "card.bin", bytes(p.output))
    for extra in ([], ["--json"], ["--explain"], ["--json", "--explain"]):
        code, out, err = run(capsys, path, *extra)
        assert code == 0
        assert "4111" not in out + err
        assert ("****1111" in out) == ("--explain" in extra)  # the table shows no card line


def test_bad_template_and_codepage_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = job(tmp_path, "super.bin", supermarket(BASKET))
    assert main(["parse", path, "--template", str(tmp_path / "nope.toml")]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["parse", path, "--codepage", "klingon"]) == 1
    assert "unknown code page" in capsys.readouterr().err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["parse", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--json", "--template", "--explain", "--codepage", "--country", "--currency"):
        assert option in out


def test_explain_in_json_lists_every_line_with_its_rule(
    escpos_fixtures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(escpos_fixtures / "escpos-php-receipt-with-logo.bin")
    code, out, _ = run(capsys, path, "--json", "--explain")
    (receipt,) = json.loads(out)["receipts"]
    rules = {step["line"].split("  ")[0]: step["rule"] for step in receipt["explain"]}
    assert code == 0 and rules["Example item #1"] == "item" and rules["Subtotal"] == "subtotal"
    assert rules["A local tax"] == "tax" and rules["Total"] == "total"


def test_command_set_star_and_auto_read_a_star_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    esc = b"\x1b"
    data = (esc + b"@" + b"Pan flauta                    120,00\n" + esc + b"E"
            + b"TOTAL                         120,00\n" + esc + b"F" + esc + b"d\x03")
    path = job(tmp_path, "star.bin", data)
    for flag in ("star", "auto"):
        code, out, err = run(capsys, path, "--json", "--command-set", flag)
        assert code == 0, err
        (receipt,) = json.loads(out)["receipts"]
        assert receipt["total"] == "120.00"
    code, out, _ = run(capsys, path, "--json", "--command-set", "escpos")
    assert json.loads(out)["receipts"][0]["total"] != "120.00"  # ESC E ate the T of TOTAL
    with pytest.raises(SystemExit):
        run(capsys, path, "--command-set", "epson")


def test_a_text_file_is_not_read_as_a_receipt(capsys: pytest.CaptureFixture[str]) -> None:
    """`parse README.md` once reported a "refund 300": text that is not a print job says so."""
    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert main(["parse", str(readme)]) == 1
    captured = capsys.readouterr()
    assert "does not look like a print job" in captured.err
    assert "refund" not in captured.out.lower()
