"""Who the receipt is for: the customer's phone, e-mail and document, and the store's own.

Part of the reader (`agent.receipts.reader.Reader` mixes this in): contact data counts in a
block opened by a customer label (`Cliente:`, also later on a line: `DNI: ...   Cliente:
...`), and outside one a labelled phone or an e-mail anywhere below the store's header is
the customer's. The store's own contacts sit in the header above the receipt's number and
date; the same numbers seen again later are still the store's, and so are adverts below
the items (`Pedidos por WhatsApp ...`). Pure.
"""

from __future__ import annotations

import re

from agent.receipts import fields
from agent.receipts.templates import Template

# Words of a store advertising its own number below the items.
_ADVERT = re.compile(
    r"\b(pedidos?|seguinos|siguenos|siganos|follow|consultas|reservas|encargos|llamanos|"
    r"visitanos|informes|atencion al cliente|ventas|escribinos|escribenos|delivery)\b"
)
_DELIVERY = re.compile(r"\b(envio|domicilio|entrega|destinatario|ship to|deliver to)\b")
# A line that opens an order's block (`Pedido 4521`, `Orden #88`, `Delivery: ...`): the
# contacts printed in it, a delivery phone included, are the customer's.
ORDER_LINE = re.compile(
    r"^[\W_]*(?:pedido|orden|order|comanda|delivery|domicilio|entrega|envio)\b"
    r"[^\d\n]{0,12}?(?:n[o°º]?\.?|nro\.?|#|:)?\s*\d"
)
# The store's other branches or offices, printed anywhere: not the customer's.
_STORE_WORDS = re.compile(r"\b(sucursal|casa central|tienda|local|oficina|store|branch|matriz)\b")

class ContactRules:
    """The customer rules of the line-by-line reader; the state is the reader's."""

    t: Template
    country: str
    zone: str
    number: str | None
    date_found: bool
    in_customer: bool
    in_order: bool
    customer: dict[str, str]
    store_contacts: set[str]

    def _customer(self, text: str, folded: str, label: str, strong: bool) -> str | None:
        """Contact data counts only in a block opened by a customer label (Cliente:, Sr/a,
        Consumidor...): the store's own Tel/RUT/e-mail in the header do not. Below the items a
        line that is only `Tel/Cel/WhatsApp: <mobile>` is the customer's (a landline there is
        the store's)."""
        phone = None if self.zone == "head" else fields.footer_phone(folded, self.country)
        if phone and "phone" not in self.customer and phone not in self.store_contacts:
            self.customer["phone"], self.in_customer = phone, False
            return "customer phone (below the items)"
        marker = self.t.label_match("customer", label)
        opens = bool(marker and marker.start() < 12 and not strong)
        if not opens:  # `DNI: 12345678   Cliente: Ana Ríos`: a labelled field later on
            later = self.t.label_match("customer", folded)
            opens = bool(later and folded[later.end() : later.end() + 2].strip().startswith(":"))
        if not opens and (not self.in_customer or strong):
            self.in_customer = False
            return self._contact_anywhere(text, folded)
        contact = fields.find_contact(text, folded, self.t, self.country)
        for key in ("phone", "email", "document"):
            value = getattr(contact, key)
            if value and key not in self.customer:
                self.customer[key] = value
                self.in_customer = True
                return f"customer {key}"
        self.in_customer = opens
        return "customer" if opens else None

    def _store_block(self) -> bool:
        """The header above the receipt's number and date: the store's name, tax id and
        contacts. Below it a labelled mobile or an e-mail is the customer's."""
        return self.zone == "head" and self.number is None and not self.date_found

    def _contact_anywhere(self, text: str, folded: str) -> str | None:
        """A labelled phone or an e-mail outside a customer block, after other text too."""
        store = self._store_block()
        email = fields.find_email(text)
        if email:
            if store:
                self.store_contacts.add(email)
                return "store e-mail"
            if email not in self.store_contacts and "email" not in self.customer:
                self.customer["email"] = email
                return "customer email"
        # Below the store's header, in the receipt's own header (`Tel: 11 3333-4444` under
        # the customer's name) or an order's block (`Delivery cel.: ...`), a phone is the
        # customer's; below the items, adverts (`Pedidos por WhatsApp ...`) are the store's
        # and a landline is the store's unless the line says the order goes there.
        block = not store and (self.zone == "head" or self.in_order)
        if not store and not block and _ADVERT.search(folded):
            return None
        if not store and _STORE_WORDS.search(folded):
            return None
        mobile_only = not store and not block and not _DELIVERY.search(folded)
        phone = fields.labelled_phone(text, folded, self.t, self.country, mobile_only=mobile_only)
        if phone is None:
            return None
        if store:
            self.store_contacts.add(phone)
            return "store phone"
        if phone not in self.store_contacts and "phone" not in self.customer:
            self.customer["phone"] = phone
            return "customer phone"
        return None
