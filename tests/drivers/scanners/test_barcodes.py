"""What scanned codes mean. Check digits are from published examples, not recomputed here."""

from __future__ import annotations

from decimal import Decimal

import pytest

from drivers.scanners.barcodes import (
    CustomerPhone,
    CustomerSession,
    LoyaltyCard,
    Product,
    Unknown,
    VariableMeasure,
    VariableMeasureLayout,
    classify,
    is_gtin,
    price_check_digit,
)

# (valid code, its GTIN-14): GTIN-8, UPC-A (GTIN-12), EAN-13, GTIN-14.
GTINS = [
    ("96385074", "00000096385074"),
    ("036000291452", "00036000291452"),
    ("4006381333931", "04006381333931"),
    ("10012345678902", "10012345678902"),
]


@pytest.mark.parametrize(("code", "gtin"), GTINS)
def test_gtin_with_valid_check_digit_is_a_product(code: str, gtin: str) -> None:
    assert is_gtin(code)
    assert classify(code) == Product(code, gtin)


@pytest.mark.parametrize("code", [c for c, _ in GTINS])
def test_gtin_with_a_wrong_check_digit_is_not_a_product(code: str) -> None:
    for wrong in {str((int(code[-1]) + k) % 10) for k in (1, 3, 7)}:
        bad = code[:-1] + wrong
        assert not is_gtin(bad)
        assert classify(bad, symbology="EAN13") == Unknown(bad)


def test_not_gtin_lengths_and_characters() -> None:
    assert not is_gtin("1234567")  # 7 digits
    assert not is_gtin("400638133393１")  # a full-width digit is not a digit here
    assert not is_gtin("40063813339a")


GS1_GTIN = "07032069804988"


@pytest.mark.parametrize(
    ("code", "symbology"),
    [
        ("0107032069804988" + "3103000525" + "10LOT7", "GS1-128"),
        ("010703206980498810LOT7\x1d3103000525", "GS1-128"),
        ("010703206980498815250807", None),  # no AIM id: 16+ digits starting with (01)
        ("(01)07032069804988(3103)000525", None),  # human-readable form
        ("https://id.gs1.org/01/07032069804988/10/LOT7", "QR"),  # GS1 Digital Link
        ("0107032069804988", "GS1-DATAMATRIX"),
    ],
)
def test_gs1_element_strings_with_a_gtin_are_products(code: str, symbology: str | None) -> None:
    assert classify(code, symbology=symbology) == Product(code, GS1_GTIN)


@pytest.mark.parametrize(
    ("code", "symbology"),
    [
        ("0107032069804987" + "3103000525", "GS1-128"),  # (01) with a bad check digit
        ("00340123450000000000", "GS1-128"),  # an SSCC: a pallet, not a product
        ("(01)07032069804987", None),
        ("https://example.com/01/07032069804987", "QR"),
    ],
)
def test_gs1_without_a_valid_gtin_is_unknown(code: str, symbology: str | None) -> None:
    assert classify(code, symbology=symbology) == Unknown(code)


def test_variable_measure_price_default_layout() -> None:
    # 20 | PLU 01234 | price 012.34 | check 8
    assert classify("2001234012348") == VariableMeasure(
        "2001234012348", plu="01234", price=Decimal("12.34"), weight=None
    )


def test_variable_measure_weight_layout_with_three_decimals() -> None:
    layouts = (
        VariableMeasureLayout(prefixes=("20",)),
        VariableMeasureLayout(prefixes=("21",), value="weight", decimals=3),
    )
    got = classify("2112345015002", layouts=layouts)
    assert got == VariableMeasure("2112345015002", "12345", price=None, weight=Decimal("1.500"))
    assert classify("2001234012348", layouts=layouts) == VariableMeasure(
        "2001234012348", "01234", Decimal("12.34"), None
    )


def test_variable_measure_with_inner_price_check_digit() -> None:
    # 22 | PLU 1234 | price check 6 | 146.85 | check 6 (price check digit: GS1 example)
    layout = VariableMeasureLayout(prefixes=("22",), plu_digits=4, price_check=True)
    got = classify("2212346146856", layouts=[layout])
    assert got == VariableMeasure("2212346146856", "1234", Decimal("146.85"), None)
    # The same with a wrong inner digit is not read as a price (still a store GTIN-13).
    assert classify("2212345146857", layouts=[layout]) == Product("2212345146857", "02212345146857")


def test_variable_measure_needs_a_valid_check_digit_and_a_configured_prefix() -> None:
    assert classify("2001234012349") == Unknown("2001234012349")
    # 28 is not in the default layout's prefixes: a store item code, kept as a product.
    assert classify("2812345000007") == Product("2812345000007", "02812345000007")


def test_price_check_digits_from_the_gs1_examples() -> None:
    assert price_check_digit("2875") == 9
    assert price_check_digit("14685") == 6
    with pytest.raises(ValueError):
        price_check_digit("123")


def test_layouts_that_do_not_make_13_digits_are_refused() -> None:
    with pytest.raises(ValueError, match="EAN-13"):
        VariableMeasureLayout(plu_digits=6)
    with pytest.raises(ValueError, match="EAN-13"):
        VariableMeasureLayout(prefixes=("30",))
    with pytest.raises(ValueError, match="4 or 5"):
        VariableMeasureLayout(value_digits=3, plu_digits=6, price_check=True)
    with pytest.raises(ValueError, match="price"):
        VariableMeasureLayout(value="volume")
    # A one-digit prefix leaves room for a six-digit PLU: 2 PPPPPP VVVVV C is accepted, and
    # reads the whole PLU (the default layout would cut it to five digits).
    wide = VariableMeasureLayout(prefixes=("2",), plu_digits=6)
    assert classify("2123456012347", layouts=[wide]) == VariableMeasure(
        "2123456012347", "123456", Decimal("12.34"), None
    )


@pytest.mark.parametrize(
    ("code", "session"),
    [
        ("https://hellotext.com/c/abc?hello_session=S3ss-1_x&utm=qr", "S3ss-1_x"),
        ("https://shop.uy/#hello_session=abc%2D9", "abc-9"),
        ("hello_session=plain123", "plain123"),
    ],
)
def test_session_qr_or_url(code: str, session: str) -> None:
    assert classify(code, symbology="QR") == CustomerSession(code, session)


def test_not_a_session() -> None:
    for code in ("https://x.uy/?hello_session=", "https://x.uy/?xhello_session=1"):
        assert classify(code) == Unknown(code)


@pytest.mark.parametrize(
    ("code", "country", "e164"),
    [
        ("tel:+59899123456", "UY", "+59899123456"),
        ("TEL:+598-99-123-456;ext=2", "UY", "+59899123456"),
        ("tel:099%20123%20456", "UY", "+59899123456"),
        ("099 123 456", "UY", "+59899123456"),
        ("2400 1234", "UY", "+59824001234"),
        ("+54 9 11 2345-6789", "UY", "+5491123456789"),
        ("11 2345-6789", "AR", "+541123456789"),
    ],
)
def test_phone_numbers_become_e164(code: str, country: str, e164: str) -> None:
    assert classify(code, symbology="QR", country=country) == CustomerPhone(code, e164)


def test_phone_rules() -> None:
    assert classify("tel:12") == Unknown("tel:12")
    assert classify("tel:099123456") == CustomerPhone("tel:099123456", "+59899123456")
    assert classify("+59899123456") == CustomerPhone("+59899123456", "+59899123456")
    # National form only from a 2D code: from a linear code (or no AIM id) it may be an item.
    assert classify("099123456", symbology="QR") == CustomerPhone("099123456", "+59899123456")
    assert classify("24001234") == Unknown("24001234")
    assert classify("099123456", symbology="CODE128") == Unknown("099123456")
    assert classify("+59899123456", symbology="EAN13") == Unknown("+59899123456")
    assert classify("12345") == Unknown("12345")
    phone = classify("tel:+59899123456")
    assert "99123456" not in repr(phone) and repr(phone).endswith("456')")


def test_loyalty_pattern_wins_even_over_store_ean13() -> None:
    pattern = r"299\d{10}|LOY-\d{6}"
    assert classify("LOY-004211", loyalty_pattern=pattern) == LoyaltyCard(
        "LOY-004211", "LOY-004211"
    )
    assert classify("2990000123459", loyalty_pattern=pattern) == LoyaltyCard(
        "2990000123459", "2990000123459"
    )
    assert classify("LOY-42", loyalty_pattern=pattern) == Unknown("LOY-42")
    assert classify("LOY-004211") == Unknown("LOY-004211")  # no pattern configured


@pytest.mark.parametrize("code", ["hello world", "ABC-123", "", "https://example.com/x", "]]"])
def test_anything_else_is_unknown_and_kept(code: str) -> None:
    assert classify(code) == Unknown(code)
