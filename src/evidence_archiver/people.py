"""Addresses of people as the archive compares them: e-mail addresses lower-cased, phone numbers
in E.164 (+8613812345678) whatever way they were written (138 1234 5678, 0086 138…, +86-138…).

The default region for numbers written without a country code comes from ``EVIDENCE_REGION``
(e.g. ``CN``, ``US``), else from the user's locale, else ``US``.

Chinese lenders text and call from **service numbers**, not mobiles: bank and platform hotlines
(95555, 95188), carriers and public lines (10086, 12378), toll-free 400/800 numbers and the SMS
gateways (``106…``, often with a long per-sender suffix). They are dialled the same from
anywhere in China and have no E.164 form a person recognises, so they are kept as their digits
(``95555``, ``4008001234``, ``10690001234567``), also when written ``+8695555``: phonenumbers
would otherwise make ``+8695555`` of 95555. Archives made before this rule hold the ``+86…``
form; :func:`phone_variants` gives both, so rules and matching work for old and new items.
"""

from __future__ import annotations

import locale
import os
import re
from functools import lru_cache

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_PHONE_CHARS = re.compile(r"^[+()\d\s.\-/]{3,}$")
# Chinese service numbers (MIIT numbering plan): 95xxx(x) hotlines of banks and platforms,
# 100xx carriers, 12xxx public services (12378: the banking regulator's complaint line),
# 1010xxxx carrier services, 400/800 toll-free, and 106… SMS gateways (106 + operator digit +
# the sender's code, then an optional suffix the sender chooses: 8 to 20 digits in all).
_CN_SERVICE = re.compile(r"^(?:95\d{3,6}|100\d{2,3}|12\d{3}|1010\d{4}|[48]00\d{7}|106\d{5,17})$")
_CN_TOLL_FREE = re.compile(r"^[48]00\d{7}$")
_CN_GATEWAY = re.compile(r"^106\d{5,17}$")


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
    region = region or default_region()
    service = cn_service_number(text, region)
    if service:
        return service
    # Imported at the first number, not with the module: e-mail imports never need it, and
    # loading its metadata is a tenth of the command's start-up.
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Short codes (95555, 10086) are how Chinese banks and carriers text: keep their digits.
    digits = re.sub(r"\D", "", text)
    return digits or None


def cn_service_number(text: str, region: str | None = None) -> str | None:
    """The digits of a Chinese service number or SMS gateway, or ``None`` when ``text`` is not one.

    ``+86`` / ``0086`` in front says it is Chinese whatever the region; without it, a 400/800
    number is Chinese only when the region is CN (``800 555 0100`` is a US toll-free number).

    >>> cn_service_number("+86 95555"), cn_service_number("400-820-8820", "CN")
    ('95555', '4008208820')
    >>> cn_service_number("13800138000", "CN") is None
    True
    """
    text = text.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    explicit = text.startswith("+86")
    if text.startswith("+") and not explicit:
        return None
    digits = re.sub(r"\D", "", text[3:] if explicit else text)
    if not _CN_SERVICE.match(digits):
        return None
    if _CN_TOLL_FREE.match(digits) and not explicit and (region or default_region()) != "CN":
        return None
    if explicit and len(digits) == 10 and digits.startswith("10"):
        return None  # +86 10 6552 9988 is a Beijing landline (010-6552 9988), not a gateway
    return digits


def is_sms_gateway(number: str) -> bool:
    """Whether a stored number is a ``106…`` SMS gateway (the lender's sender code + a suffix)."""
    return bool(_CN_GATEWAY.match(number))


def phone_variants(value: str) -> tuple[str, ...]:
    """Every form the archive may hold a stored phone number in, for matching.

    A service number is stored as its digits now and was stored as ``+86…`` before; any other
    number has one form.

    >>> phone_variants("95555"), phone_variants("+8695555"), phone_variants("+8613800138000")
    (('95555', '+8695555'), ('95555', '+8695555'), ('+8613800138000',))
    """
    value = value.strip()
    digits = value[3:] if value.startswith("+86") else value
    if digits is not value and len(digits) == 10 and digits.startswith("10"):
        return (value,)  # a Beijing landline (see cn_service_number)
    if _CN_SERVICE.match(digits):
        return (digits, "+86" + digits)
    return (value,)


def phone_key(value: str, region: str | None = None) -> str:
    """One comparison key for a number however it was stored or written ("" for none).

    >>> phone_key("+8695555") == phone_key("95555") == "95555"
    True
    """
    value = value.strip()
    if not value:
        return ""
    return phone_variants(normalize_phone(value, region) or value)[0].lower()


@lru_cache(maxsize=65536)
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
