"""Addresses of people as the archive compares them: e-mail addresses lower-cased, phone numbers
in E.164 (+8613812345678) whatever way they were written (138 1234 5678, 0086 138…, +86-138…).

The default region for numbers written without a country code comes from ``EVIDENCE_REGION``
(e.g. ``CN``, ``US``), else from the user's locale, else ``US``.
"""

from __future__ import annotations

import locale
import os
import re
from functools import lru_cache

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_PHONE_CHARS = re.compile(r"^[+()\d\s.\-/]{3,}$")


@lru_cache(maxsize=1)
def default_region() -> str:
    region = os.environ.get("EVIDENCE_REGION", "").strip().upper()
    if region:
        return region
    lang = locale.getlocale()[0] or os.environ.get("LANG", "")
    match = re.search(r"_([A-Z]{2})", lang)
    return match.group(1) if match else "US"


@lru_cache(maxsize=65536)
def normalize_phone(text: str, region: str | None = None) -> str | None:
    """E.164 form of a phone number, or ``None`` when ``text`` is not one.

    >>> normalize_phone("0086 138 1234 5678")
    '+8613812345678'
    """
    text = text.strip()
    if not _PHONE_CHARS.match(text) or sum(c.isdigit() for c in text) < 3:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    # Imported at the first number, not with the module: e-mail imports never need it, and
    # loading its metadata is a tenth of the command's start-up.
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region or default_region())
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Short codes (95555, 10086) are how Chinese banks and carriers text: keep their digits.
    digits = re.sub(r"\D", "", text)
    return digits or None


def normalize_address(text: str, region: str | None = None) -> tuple[str, str]:
    """``(address, domain)`` as stored for matching; domain is "" for phone numbers.

    >>> normalize_address("Service@LenderX.com")
    ('service@lenderx.com', 'lenderx.com')
    """
    text = text.strip().strip("<>").strip()
    if _EMAIL.match(text):
        address = text.lower()
        return address, address.rsplit("@", 1)[1]
    phone = normalize_phone(text, region)
    if phone:
        return phone, ""
    return text.lower(), ""
