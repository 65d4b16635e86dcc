"""Money and quantities as the region prints them; the store's country decides `12.990`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent.receipts.numbers import find_amounts, fold, parse_number


@pytest.mark.parametrize(
    ("token", "country", "value"),
    [
        ("1.234,50", "UY", "1234.50"),
        ("1.234,50", "MX", "1234.50"),  # both separators: the last one is the decimal mark
        ("1,234.50", "UY", "1234.50"),
        ("1,234.50", "MX", "1234.50"),
        ("12.990", "CL", "12990"),  # the only separator, three digits: the country decides
        ("12.990", "CO", "12990"),
        ("12.990", "MX", "12.990"),
        ("12,990", "MX", "12990"),
        ("12,99", "MX", "12.99"),  # two digits after it: a decimal mark anywhere
        ("12.99", "UY", "12.99"),
        ("1.234.567", "AR", "1234567"),
        ("1,234,567.5", "PE", "1234567.5"),
        ("1234,50", "AR", "1234.50"),  # Argentine tiques often omit thousands
        ("0,750", "MX", "0.750"),  # a leading zero is never a thousands group
        ("990", "CL", "990"),
    ],
)
def test_parse_number_by_country(token: str, country: str, value: str) -> None:
    assert parse_number(token, country) == Decimal(value)


@pytest.mark.parametrize("token", ["", "abc", "1.2.3,4,5", "12.34.5", ",50"])
def test_parse_number_refuses_what_is_not_a_number(token: str) -> None:
    assert parse_number(token, "UY") is None


def test_quantities_prefer_decimals() -> None:
    assert parse_number("2,000", "AR", prefer_decimal=True) == Decimal(2)
    assert parse_number("1.500", "MX", prefer_decimal=True) == Decimal("1.5")


@pytest.mark.parametrize(
    ("text", "country", "values"),
    [
        ("Total            $ 14.25", "UY", ["14.25"]),
        ("TOTAL $ 1.234", "CL", ["1234"]),
        ("DESCUENTO 10%   -50,00", "UY", ["-50.00"]),
        ("Bonificación      (50,00)", "AR", ["-50.00"]),
        ("Promo 2da unidad   50,00-", "AR", ["-50.00"]),
        ("TOTAL US$ 12.50", "UY", ["12.50"]),
        ("IVA 10,5%  21,00", "AR", ["21.00"]),
        ("Fecha: 20/11/2026 14:03", "UY", []),
        ("P.V. 0003 Nro 00001234", "AR", []),
    ],
)
def test_find_amounts_in_a_line(text: str, country: str, values: list[str]) -> None:
    assert [a.value for a in find_amounts(text, country)] == [Decimal(v) for v in values]


def test_printed_currency_is_recognised() -> None:
    assert find_amounts("TOTAL US$ 12.50", "UY")[-1].currency == "USD"
    assert find_amounts("TOTAL U$S 12,50", "UY")[-1].currency == "USD"
    assert find_amounts("TOTAL $ 12,50", "UY")[-1].currency is None


def test_fold_keeps_positions_and_drops_accents() -> None:
    for text in ("DEVOLUCIÓN Nº 12", "Crédito N° 3", "CUPÓN año"):
        assert len(fold(text)) == len(text)
    assert fold("DEVOLUCIÓN Nº 12") == "devolucion no 12"


def test_a_currency_sign_after_the_amount() -> None:
    (amount,) = find_amounts("TOTAL 12,50 €", "UY")
    assert (amount.value, amount.currency, amount.strong) == (Decimal("12.50"), "EUR", True)
