"""Phone numbers to E.164: one place for the rules, three strictness levels.

- "possible" (sending, `track`): the length fits the country; phonenumbers' metadata lags new
  number ranges, and Hellotext has the last word.
- "valid" (reading a receipt): a real number there, so other digit runs are not taken.
- "mobile" (a receipt line with no phone label): only a number that can receive a WhatsApp.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import phonenumbers

Check = Literal["possible", "valid", "mobile"]
_MOBILE = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


@lru_cache(maxsize=1024)
def to_e164(raw: str, country: str | None, *, check: Check = "possible") -> str | None:
    """'099 123 456' in 'UY' -> '+59899123456'; None when it fails `check`. With country
    None the number must already carry its country code."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    if check == "possible":
        ok = phonenumbers.is_possible_number(number)
    else:
        ok = phonenumbers.is_valid_number(number) and (
            check == "valid" or phonenumbers.number_type(number) in _MOBILE
        )
    return (
        str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)) if ok else None
    )
