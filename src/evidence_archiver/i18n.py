"""The interface language: Simplified Chinese (zh_CN) or English, from gettext catalogues.

Every user-facing string is written in English in the code and marked for translation::

    from evidence_archiver.i18n import _, ngettext, N_

    _("The archive is locked by another program.")
    _("cannot read the date {text}: use YYYY-MM-DD").format(text=repr(text))
    ngettext("{n} item", "{n} items", n).format(n=format_number(n))
    pgettext("period", "from")       # the same English word, another meaning
    HELP = N_("Show the version.")     # module level: marked now, translated where it is used

Messages are whole sentences with named ``{placeholders}`` (never sentence fragments joined
together), so a translator can move the parts around. The catalogue is
``locale/zh_CN/LC_MESSAGES/evidence.po`` (gettext domain ``evidence``), built with Babel.

Choosing the language (:func:`language`): ``EVIDENCE_LANG`` (``zh_CN``, ``zh``, ``zh-CN``,
``en``…) first; then the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set, as POSIX
orders them; else English. It is read on every call, so a test (or a long-lived web UI) may
change it between calls.

Loading: the ``.po`` file is the one source, shipped in the wheel as package data. Parsing it
with Babel costs a few tens of milliseconds, so the compiled ``.mo`` is kept in the user cache
folder under the ``.po`` file's SHA-256 and read from there with the standard library's gettext
afterwards. This works the same for an editable install, a wheel and ``pip install .``, and
needs no build step; a stale cache cannot be used because its name is the hash of the source.

Jinja2 templates (the web UI) use the same catalogue::

    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    env.install_gettext_callables(gettext=_, ngettext=ngettext, newstyle=True)
    # in a template: {{ _("Cases") }}, {{ ngettext("%(num)d item", "%(num)d items", n) }}

Catalogue workflow after adding or changing strings (see also the README, "Development")::

    python scripts/update_catalogue.py            # extract, merge into evidence.po (sorted)
    # translate the new entries in evidence.po (empty msgstr or marked "#, fuzzy")
    python scripts/update_catalogue.py --check    # fails on missing, stale, fuzzy, untranslated
"""

from __future__ import annotations

import gettext
import hashlib
import io
import os
from datetime import date, datetime, tzinfo
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DOMAIN = "evidence"
LOCALE_DIR = Path(__file__).parent / "locale"
SUPPORTED = ("zh_CN", "en")
ENGLISH = "en"
CHINESE = "zh_CN"


def _normalise(value: str) -> str | None:
    """``zh_CN.UTF-8``, ``zh-Hans-CN``, ``zh`` → ``zh_CN``; ``en_GB``, ``C``, ``POSIX`` → ``en``.

    None for a language we have no catalogue for (``fr_FR``), so the caller can decide.
    """
    code = value.strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_").lower()
    if not code:
        return None
    if code in ("c", "posix") or code == "en" or code.startswith("en_"):
        return ENGLISH
    if code == "zh" or code.startswith("zh_"):
        # Every Chinese locale gets the Simplified catalogue: for a reader of Traditional
        # characters it is still far closer than English.
        return CHINESE
    return None


def language() -> str:
    """``"zh_CN"`` or ``"en"``: ``EVIDENCE_LANG``, then ``LC_ALL``, ``LC_MESSAGES``, ``LANG``.

    An ``EVIDENCE_LANG`` we have no catalogue for is ignored (the locale decides). Of the
    locale variables the first one set decides, as in POSIX: ``LC_ALL=fr_FR.UTF-8`` means
    English here even when ``LANG=zh_CN.UTF-8``.
    """
    chosen = os.environ.get("EVIDENCE_LANG", "")
    if chosen and (lang := _normalise(chosen)):
        return lang
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return _normalise(value) or ENGLISH
    return ENGLISH


def catalogue_path(lang: str = CHINESE) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_po(po_bytes: bytes) -> bytes:
    """The ``.mo`` form of a ``.po`` file's text (fuzzy entries left out, as msgfmt does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(io.BytesIO(po_bytes), domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def _cache_dir() -> Path:
    override = os.environ.get("EVIDENCE_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("evidence-archiver", appauthor=False))


def _load_mo(po_path: Path) -> bytes:
    po_bytes = po_path.read_bytes()
    digest = hashlib.sha256(po_bytes).hexdigest()[:32]
    cached = _cache_dir() / "locale" / f"{po_path.parent.parent.name}-{digest}.mo"
    try:
        return cached.read_bytes()
    except OSError:
        pass
    mo = compile_po(po_bytes)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(mo)
        partial.replace(cached)  # atomic: a reader never sees half a file
        for old in cached.parent.glob(f"{po_path.parent.parent.name}-*.mo"):
            if old != cached:
                old.unlink(missing_ok=True)  # compiled from an older catalogue
    except OSError:
        pass  # a read-only home is fine: the catalogue is simply parsed again next time
    return mo


@cache
def _translations_for(lang: str) -> gettext.NullTranslations:
    if lang == ENGLISH:
        return gettext.NullTranslations()
    po_path = catalogue_path(lang)
    try:
        mo = _load_mo(po_path)
    except OSError:
        return gettext.NullTranslations()  # no catalogue shipped: English rather than a crash
    return gettext.GNUTranslations(io.BytesIO(mo))


def translations() -> gettext.NullTranslations:
    """The translations for the current :func:`language` (loaded once per language)."""
    return _translations_for(language())


def _(message: str) -> str:
    """``message`` in the current language (English text is the message id)."""
    return translations().gettext(message)


gettext_ = _


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for ``n`` (Chinese has one form; English two)."""
    return translations().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` where the same English word means different things (a column "from" holds
    a sender in one table and the start of a period in another): the context tells them apart.
    """
    return translations().pgettext(context, message)


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext_noop name
    """Mark a string for extraction without translating it yet (module-level constants)."""
    return message


def translations_of(message: str) -> set[str]:
    """The message in every language we have (for recognising a stored marker, not showing)."""
    return {_translations_for(lang).gettext(message) for lang in SUPPORTED}


def is_chinese() -> bool:
    return language() == CHINESE


def display_zone() -> tzinfo | None:
    """The zone times are shown in: ``EVIDENCE_TZ`` if it names a zone, else the system's."""
    name = os.environ.get("EVIDENCE_TZ")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return None


def format_datetime(
    moment: datetime, zone: tzinfo | None = None, *, show_zone: bool = False
) -> str:
    """A time in the user's zone: ``2024年7月3日 14:02`` in Chinese, ``2024-07-03 14:02`` in
    English; with ``show_zone`` the zone's abbreviation follows (``2024-07-03 14:02 CST``).

    ``zone`` defaults to :func:`display_zone` (``EVIDENCE_TZ``, else this computer's).
    """
    local = moment.astimezone(zone if zone is not None else display_zone())
    if is_chinese():
        text = f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    else:
        text = f"{local:%Y-%m-%d %H:%M}"
    if show_zone:
        text += " " + (local.tzname() or local.strftime("%z"))
    return text


def format_date(moment: datetime, zone: tzinfo | None = None) -> str:
    """A calendar day in the user's zone: ``2024年7月3日`` or ``2024-07-03``."""
    local = moment.astimezone(zone if zone is not None else display_zone())
    if is_chinese():
        return f"{local.year}年{local.month}月{local.day}日"
    return f"{local:%Y-%m-%d}"


def format_day(day: date) -> str:
    """A calendar day that has no zone (a due date): ``2024年10月15日`` or ``2024-10-15``."""
    if is_chinese():
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()


def format_number(n: int | float) -> str:
    """``12,345`` (both languages group thousands with commas); floats to one decimal."""
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.1f}"
    return f"{int(n):,}"
