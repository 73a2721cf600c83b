"""Templates, translations and the small formatting helpers the pages share.

Every string a page shows is marked in its template as ``{{ _("…") }}`` (Jinja2's i18n
extension, new-style gettext: ``_("%(n)s items", n=3)`` formats and escapes), and translated
by the command line's own catalogue (:mod:`evidence_archiver.i18n`, zh-CN and English). The
gettext callables are installed rather than one translations object, so each page follows the
interface language as it is when the page is made. Autoescaping is on for every template:
text from an archive (a hostile mail's subject, a file name) is always shown as text.
"""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from .. import i18n
from ..i18n import N_


def language() -> str:
    """``zh`` or ``en``: the interface language, for the page's ``lang`` attribute."""
    return "zh" if i18n.is_chinese() else "en"


def show_time(moment: datetime | None) -> str:
    """A moment in the user's zone and language, ``2024年3月5日 09:30 CST``; empty if unknown."""
    if moment is None:
        return ""
    return i18n.format_datetime(moment, show_zone=True)


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


def kind_label(kind: str) -> str:
    return i18n._(KIND_NAMES[kind]) if kind in KIND_NAMES else kind


def make_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("evidence_archiver.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n._, ngettext=i18n.ngettext, newstyle=True
    )
    env.globals.update(
        show_time=show_time,
        show_size=show_size,
        highlight=highlight,
        kind_label=kind_label,
        format_number=i18n.format_number,
    )
    return env


KIND_NAMES = {
    "email": N_("Email"),
    "sms": N_("Text message"),
    "mms": N_("Picture message"),
    "call": N_("Phone call"),
    "chat": N_("Chat message"),
    "document": N_("Document"),
    "file": N_("File"),
}
