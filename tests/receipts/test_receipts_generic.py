"""The generic template on layouts typed as the decoder hands them over (hand-built Documents):
one behaviour per test, the way an installer would notice it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

from agent.receipts import GENERIC, Payment, Receipt, ReceiptLine, extract
from drivers.escpos.document import Document, TextLine


def read(text: str, country: str = "UY", currency: str = "UYU") -> Receipt:
    doc = Document(lines=[TextLine(line) for line in text.strip("\n").split("\n")])
    return extract(doc, template=GENERIC, country=country, currency=currency)


def test_columns_with_quantity_after_the_description() -> None:
    receipt = read("""
DESCRIPCION          CANT   P.UNIT   IMPORTE
Yerba 1kg               2   245,00    490,00
Azúcar Bella Unión      1    62,50     62,50
TOTAL                                 552,50
""")
    assert receipt.lines == (
        ReceiptLine("Yerba 1kg", D(2), D("245.00"), D("490.00")),
        ReceiptLine("Azúcar Bella Unión", D(1), D("62.50"), D("62.50")),
    )
    assert receipt.reconciled


def test_tax_added_to_the_subtotal_is_counted_once() -> None:
    receipt = read("""
FACTURA A 0001-00000077
Servicio técnico                   1.000,00
SUBTOTAL                           1.000,00
IVA 22%                              220,00
TOTAL A PAGAR                      1.220,00
""")
    assert (receipt.subtotal, receipt.tax, receipt.total) == (D(1000), D(220), D(1220))
    assert receipt.number == "A-0001-00000077" and receipt.reconciled


def test_per_rate_taxes_add_up_and_a_total_of_taxes_replaces_them() -> None:
    per_rate = read("""
Pan                    100,00
Vino                   122,00
TOTAL                  222,00
IVA 10%                  9,09
IVA 22%                 22,00
""")
    assert per_rate.tax == D("31.09") and per_rate.reconciled
    with_total = read("""
Pan                    100,00
TOTAL                  100,00
IVA 10%                  9,09
TOTAL IVA                9,09
""")
    assert with_total.tax == D("9.09") and with_total.reconciled


def test_a_receipt_that_does_not_add_up_keeps_its_total_and_says_why() -> None:
    receipt = read("""
Pan                    100,00
TOTAL                  150,00
""")
    assert receipt.total == D(150) and receipt.ok and not receipt.reconciled
    assert receipt.warnings == (
        "lines add up to 100.00 (discount 0.00, tax 0.00) but the total is 150.00",
    )


def test_no_total_is_not_ok() -> None:
    receipt = read("Pan                    100,00\nGracias")
    assert not receipt.ok and receipt.total is None
    assert receipt.problem == "no total found"


def test_printed_currency_overrides_the_default() -> None:
    assert read("Camisa   25,00\nTOTAL US$   25,00").currency == "USD"
    assert read("Camisa   25,00\nTOTAL $   25,00").currency == "UYU"
    assert read("Camisa   25,00\nTOTAL ARS 25,00").currency == "ARS"
    assert read("Camisa   25,00\nTOTAL IVA 25,00").currency == "UYU"  # not a currency


def test_labels_are_accent_and_case_insensitive() -> None:
    receipt = read("""
Remera                 500,00
Descuento Socio       (50,00)
Cupón: HOLA2026        -20,00
Total a Pagar          430,00
Tarjeta de Crédito     430,00
""")
    assert receipt.discount == D(70) and receipt.coupons[0].code == "HOLA2026"
    assert receipt.payments == (Payment("credito", D(430)),) and receipt.reconciled


def test_payment_methods_are_normalised() -> None:
    receipt = read("""
Item                   300,00
TOTAL                  300,00
MERCADO PAGO           100,00
Transferencia          100,00
NEQUI                   50,00
Efectivo                50,00
""")
    assert [p.method for p in receipt.payments] == [
        "mercado_pago",
        "transferencia",
        "nequi",
        "efectivo",
    ]


def test_a_payment_printed_without_amount_pays_the_total() -> None:
    receipt = read("Item   300,00\nTOTAL  300,00\nForma de pago: Efectivo")
    assert receipt.payments == (Payment("efectivo", D(300)),)


def test_trailing_minus_discount_and_item_voided_on_the_ticket() -> None:
    receipt = read("""
Pan                      100,00
Leche                     45,00
ANULACION ITEM Leche      45,00
Promo 2da unidad          10,00-
TOTAL                     90,00
""")
    assert [line.description for line in receipt.lines] == ["Pan"]
    assert receipt.discount == D(10) and receipt.reconciled


def test_store_phone_and_tax_ids_are_not_the_customer() -> None:
    receipt = read("""
TIENDA SOL
RUT 21.234.567.0019  Tel: 2600 1234
Item                     100,00
TOTAL                    100,00
Cliente: Juana
CI: 1.234.567-8
E-mail: Juana.P@example.com
WhatsApp: 099 123 456
""")
    assert receipt.customer.phone == "+59899123456"
    assert receipt.customer.document == "CI 1.234.567-8"
    assert receipt.customer.email == "juana.p@example.com"


def test_dates_in_common_formats() -> None:
    def when(line: str, country: str = "UY") -> datetime | None:
        return read(f"{line}\nItem 10,00\nTOTAL 10,00", country).issued_at

    assert when("Fecha: 20-11-26 Hora: 9:05") == datetime(2026, 11, 20, 9, 5)
    assert when("2026-11-20 18:45:10") == datetime(2026, 11, 20, 18, 45, 10)
    assert when("20.11.2026") == datetime(2026, 11, 20)
    assert when("11/20/2026 02:56 PM", "US") == datetime(2026, 11, 20, 14, 56)
    assert when("20 de noviembre de 2026 14:03") == datetime(2026, 11, 20, 14, 3)


def test_english_layout_with_change() -> None:
    receipt = read(
        """
Coffee                      3.50
Bagel                       2.25
TOTAL                       5.75
CASH                       10.00
CHANGE                      4.25
""",
        "US",
        "USD",
    )
    assert [line.amount for line in receipt.lines] == [D("3.50"), D("2.25")]
    assert receipt.payments == (Payment("efectivo", D("10.00")),) and receipt.reconciled


def test_footer_about_returns_does_not_make_a_refund() -> None:
    receipt = read("Pan 10,00\nTOTAL 10,00\nNo se aceptan devoluciones sin este ticket")
    assert receipt.kind == "sale"


def test_peruvian_boleta_with_igv_and_taxable_base() -> None:
    receipt = read("""
BOLETA DE VENTA ELECTRONICA B001-00012345
Inca Kola 500ml                  3.50
Papas fritas                     9.00
OP. GRAVADA                     10.59
IGV 18%                          1.91
IMPORTE TOTAL S/                12.50
YAPE                            12.50
""", "PE", "PEN")
    assert (receipt.total, receipt.tax, receipt.number) == (D("12.50"), D("1.91"), "B001-00012345")
    assert receipt.payments == (Payment("yape", D("12.50")),) and receipt.reconciled


def test_colombian_factura_pos_without_cents_and_change() -> None:
    receipt = read("""
FACTURA POS No. 7788
Empanada x3                    $ 6.500
Tinto                          $ 2.000
TOTAL A PAGAR                  $ 8.500
INC 8%                             630
Efectivo                      $ 10.000
Cambio                         $ 1.500
""", "CO", "COP")
    assert [line.amount for line in receipt.lines] == [D(6500), D(2000)]
    assert (receipt.total, receipt.number) == (D(8500), "7788") and receipt.reconciled
    assert receipt.payments == (Payment("efectivo", D(10000)),)


def test_paraguayan_guaranies_and_rounding() -> None:
    receipt = read("""
Chipa                         Gs. 5.000
Cocido                        Gs. 3.500
Redondeo                            -50
TOTAL                         Gs. 8.450
""", "PY", "PYG")
    assert receipt.total == D(8450) and receipt.currency == "PYG" and receipt.reconciled


def test_refund_printed_with_negative_amounts() -> None:
    receipt = read("""
NOTA DE CREDITO A 0001-00000012
Campera                      -2.500,00
TOTAL                        -2.500,00
""")
    assert receipt.kind == "refund"
    assert receipt.lines == (ReceiptLine("Campera", D(1), None, D(2500)),)
    assert receipt.total == D(2500) and receipt.reconciled


def test_exchange_titled_cambio_is_a_refund() -> None:
    assert read("CAMBIO\nRemera   500,00\nTOTAL   500,00").kind == "refund"


def test_item_discount_repeated_in_a_summary_and_rounding_after_the_total() -> None:
    receipt = read("""
Serie: A   Nro: 0012345
----------------------------------------
7790070012050 GALLETITAS OREO 118G
   3 x 52,00                      156,00
0000000002341 BANANA ECUADOR
   1,235 kg x 89,00 $/kg          109,92
DESC. OFERTA OREO                 -26,00
----------------------------------------
SUBTOTAL                          265,92
DESCUENTOS                        -26,00
TOTAL A PAGAR $                   239,92
Redondeo                            0,08
Débito MAESTRO ****4432           240,00
Socio: 4.567.890-1
""")
    assert receipt.number == "A-0012345"
    assert receipt.lines[1] == ReceiptLine(
        "BANANA ECUADOR", D("1.235"), D("89.00"), D("109.92"), "0000000002341", "kg"
    )
    assert receipt.discount == D(26) and receipt.total == D("239.92") and receipt.reconciled
    assert receipt.customer.phone is None  # a membership number is not a phone


def test_a_discount_after_the_total_then_the_amount_to_pay() -> None:
    receipt = read("""
Pan                      100,00
TOTAL                    100,00
Ley 19.210 dto. IVA       -1,64
TOTAL A PAGAR             98,36
""")
    assert (receipt.total, receipt.discount) == (D("98.36"), D("1.64")) and receipt.reconciled


def test_quantity_first_without_unit_price() -> None:
    receipt = read("""
1 Latte Grande        $3.990
2 Croissant           $5.980
Total                 $9.970
""", "CL", "CLP")
    assert [(line.description, line.quantity, line.amount) for line in receipt.lines] == [
        ("Latte Grande", 1, 3990),
        ("Croissant", 2, 5980),
    ]


def test_columns_with_a_quantity_but_no_unit_price() -> None:
    receipt = read("""
DESCRIPCION           CANT  VALOR
ARROZ DIANA 1KG          2  7.800
HUEVOS AA X30            1 16.900
TOTAL                      $24.700
""", "CO", "COP")
    assert [(line.description, line.quantity, line.amount) for line in receipt.lines] == [
        ("ARROZ DIANA 1KG", 2, 7800),
        ("HUEVOS AA X30", 1, 16900),
    ]
    assert receipt.reconciled


def test_us_layout_with_codes_after_the_description_and_tax_flags() -> None:
    receipt = read("""
MILK 2% GAL      007874235187 F   3.48 N
PAPER TOWELS     003700087654     9.97 X
                    SUBTOTAL     13.45
          TAX 1  7.000 %          0.70
                    TOTAL        14.15
           VISA TEND             14.15
""", "US", "USD")
    assert receipt.lines == (
        ReceiptLine("MILK 2% GAL", D(1), None, D("3.48"), "007874235187"),
        ReceiptLine("PAPER TOWELS", D(1), None, D("9.97"), "003700087654"),
    )
    assert receipt.tax == D("0.70") and receipt.reconciled


def test_brazilian_nfce_columns_with_item_number_and_cpf() -> None:
    receipt = read("""
NFC-e  Nº 000123  Série 001
CPF do consumidor: 123.456.789-09
ITEM COD DESCRICAO QTD UN VL UNIT VL TOTAL
001 7891000100103 LEITE INTEGRAL 1L 2 UN 4,99 9,98
QTD. TOTAL DE ITENS 2
VALOR TOTAL R$ 9,98
Cartao de Debito 9,98
""", "BR", "BRL")
    assert receipt.lines == (
        ReceiptLine("LEITE INTEGRAL 1L", D(2), D("4.99"), D("9.98"), "7891000100103"),
    )
    assert receipt.customer.document == "CPF 123.456.789-09"
    assert receipt.payments == (Payment("debito", D("9.98")),) and receipt.reconciled


def test_restaurant_service_charge_is_part_of_the_total_and_the_tip_is_not() -> None:
    receipt = read("""
Mesa: 12  Mozo: Carlos
2  Milanesa napolitana     3.200,00
Subtotal                   3.200,00
Servicio de mesa             400,00
TOTAL                      3.600,00
Propina sugerida 10%         360,00
""", "AR", "ARS")
    assert receipt.total == D(3600) and receipt.reconciled


def test_a_one_letter_word_ending_a_description_is_kept() -> None:
    assert read("Vitamina C          120,00\nTOTAL 120,00").lines[0].description == "Vitamina C"


def test_a_label_spaced_out_for_emphasis() -> None:
    assert read("Pan   100,00\nT O T A L    100,00").total == D(100)


def test_euro_amounts_printed_after_the_number() -> None:
    receipt = read("Café con leche     1,80 €\nTOTAL              1,80 €")
    assert receipt.lines[0].amount == D("1.80") and receipt.currency == "EUR"


def test_absurdly_long_numbers_are_not_money() -> None:
    nines = "9" * 40
    receipt = read(f"Pan {nines},00\n2 x {nines} 5,00\nPan 10,00\nTOTAL {nines},00\nTOTAL 15,00")
    assert receipt.total == D(15) and receipt.to_json()["total"] == "15.00"


def test_a_bold_or_double_height_total_wins_over_an_earlier_plain_one() -> None:
    lines = [
        TextLine("TOTAL FIT barrita           45,00"),
        TextLine("TOTAL                      145,00", bold=True, double_height=True),
    ]
    receipt = extract(Document(lines=lines), template=GENERIC, country="UY", currency="UYU")
    assert receipt.total == D(145)
