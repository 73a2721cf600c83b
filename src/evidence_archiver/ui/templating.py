"""Templates, translations and the small formatting helpers the pages share.

Every string a page shows is marked in its template as ``{{ _("…") }}`` (Jinja2's i18n
extension, new-style gettext: ``_("%(n)s items", n=3)`` formats and escapes). The translations
are those of the command line (``evidence_archiver.i18n``, zh-CN and English, following the
interface language) when that module is present, else the English strings as written.
Autoescaping is on for every template: text from an archive (a hostile mail's subject, a
file name) is always shown as text.
"""

from __future__ import annotations

import gettext
import importlib
import locale
import os
from datetime import datetime, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape


def _i18n_module() -> Any | None:
    try:
        return importlib.import_module("evidence_archiver.i18n")
    except ImportError:
        return None


def translations() -> gettext.NullTranslations:
    module = _i18n_module()
    if module is not None:
        return cast(gettext.NullTranslations, module.translations())
    return gettext.NullTranslations()


def language() -> str:
    """``zh`` or ``en``: the interface language (the i18n module's, else the environment's)."""
    module = _i18n_module()
    if module is not None:
        return "zh" if str(module.language()).lower().startswith("zh") else "en"
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    current = locale.getlocale()[0] or ""
    return "zh" if current.lower().startswith("zh") else "en"


def user_zone() -> tzinfo | None:
    """``EVIDENCE_TZ`` (e.g. Asia/Shanghai) when set and known, else the system's zone."""
    name = os.environ.get("EVIDENCE_TZ")
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def show_time(moment: datetime | None) -> str:
    """A moment in the user's zone, ``2024-03-05 09:30 CST``; empty when unknown."""
    if moment is None:
        return ""
    module = _i18n_module()
    if module is not None and hasattr(module, "format_datetime"):
        return str(module.format_datetime(moment))
    local = moment.astimezone(user_zone())
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or local.strftime("%z"))


def show_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def highlight(snippet: str) -> Markup:
    """A search snippet whose matches are wrapped in ``**`` (see ``SearchHit``) as escaped
    HTML with ``<mark>`` around the matches."""
    pieces = snippet.split("**")
    return Markup("").join(
        Markup("<mark>{}</mark>").format(p) if i % 2 else escape(p) for i, p in enumerate(pieces)
    )


def make_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("evidence_archiver.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    catalog = translations()
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        show_time=show_time,
        show_size=show_size,
        highlight=highlight,
        kind_label=lambda kind: catalog.gettext(KIND_NAMES[kind]) if kind in KIND_NAMES else kind,
        lang=language(),
    )
    return env


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, do not translate"
    return message


KIND_NAMES = {
    "email": N_("Email"),
    "sms": N_("Text message"),
    "mms": N_("Picture message"),
    "call": N_("Phone call"),
    "chat": N_("Chat message"),
    "document": N_("Document"),
    "file": N_("File"),
}
