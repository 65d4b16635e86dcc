"""Card numbers never leave the parser; item codes and masked numbers stay as printed."""

from __future__ import annotations

import pytest

from agent.redact import gtin_ok, luhn_ok, redact_card_numbers

VISA = "4111111111111111"
AMEX = "378282246310005"
DINERS = "30569309025904"


def test_luhn_and_gtin_checks() -> None:
    assert luhn_ok(VISA) and luhn_ok(AMEX) and not luhn_ok("4111111111111112")
    assert gtin_ok("7730241003258") and not gtin_ok("7730241003257")


@pytest.mark.parametrize(
    "printed",
    [
        "VISA 4111111111111111",
        "VISA 4111 1111 1111 1111",
        "VISA 4111-1111-1111-1111",
        "Tarjeta: 3782 822463 10005",
        "DINERS 30569309025904  1.234,50",
        "4111111111111111",
        "TARJ 5555555555554444 1 1.234,50",  # a number right after does not hide the card
    ],
)
def test_luhn_valid_card_numbers_are_redacted(printed: str) -> None:
    redacted = redact_card_numbers(printed)
    digits = "".join(ch for ch in redacted if ch.isdigit())
    for card in (VISA, AMEX, DINERS, "5555555555554444"):
        assert card not in digits
    assert "****" in redacted


def test_redaction_keeps_the_last_four_and_the_rest_of_the_line() -> None:
    assert redact_card_numbers("VISA 4111 1111 1111 1111   1.234,50") == "VISA ****1111   1.234,50"


@pytest.mark.parametrize(
    "printed",
    [
        "VISA ****1234",
        "MASTER XXXX-XXXX-XXXX-4444",
        "4111 11** **** 1111",
        "TOTAL 1.234.567,89",
        "P.V. 0003 Nro. 00001234",
        "Fecha: 20/11/2026 14:03",
        "CUIT 30-71234567-9",
        "4111111111111112",  # not Luhn-valid
    ],
)
def test_masked_numbers_and_other_digits_stay_as_printed(printed: str) -> None:
    assert redact_card_numbers(printed) == printed


def test_a_gtin_printed_as_item_code_is_kept_even_when_it_passes_luhn() -> None:
    code = "7730241000004"  # a valid EAN-13 that also passes Luhn (one in ten do)
    assert gtin_ok(code) and luhn_ok(code)
    line = f"{code} Lapiz Stabilo"
    assert redact_card_numbers(line) == line
    assert redact_card_numbers(f"   {code}   2 x 45,00   90,00", item_codes={code}).startswith(
        f"   {code}"
    )
    # The same digits after a card label are a card number.
    assert redact_card_numbers(f"VISA {code}") == "VISA ****0004"


@pytest.mark.parametrize("line", [
    "Harina 000 7790010316767",  # after the description, beside another number
    "Pan flauta 7500010950287     120,00",
    "  7700011108667   1 UN        424,50",
])
def test_a_gtin_anywhere_on_an_item_line_is_kept(line: str) -> None:
    assert redact_card_numbers(line) == line


def test_a_gtin_shaped_card_beside_its_brand_is_still_masked() -> None:
    assert redact_card_numbers("TARJETA 7790010316767") == "TARJETA ****6767"
    assert redact_card_numbers("VISA 4111 1111 1111 1111 Leche") == "VISA ****1111 Leche"
