"""``bundle.pdf``: the court-style bundle, made with fpdf2 and, for PDF exhibits, pypdf.

Layout: a cover page (case, counterparties, period, counts, export time, timestamp note); an
index of exhibits with a link to each and PDF bookmarks (the outline); then every exhibit in
time order, each starting with its number, date, parties, title, original file name and
SHA-256, followed by its text. Emails and documents start on a new page; short messages (SMS,
chat, calls) follow one another. Every page is numbered "n / N" from the cover.

The original pages of PDF exhibits are included as they are: fpdf2 lays out a numbered
placeholder page for each original page, and pypdf then draws the original page onto it,
scaled into the margins (vector content, text stays selectable). A PDF that cannot be read
(encrypted, broken) or is very large gets a note pointing to the file in ``originals/``.

Fonts: one CJK font renders Chinese and English alike and is embedded as a subset. The
package ships one, Evidence Sans SC (``fonts/``: a subset of Noto Sans CJK SC, SIL OFL, every
GBK character; ``tools/make_cjk_font.py`` builds it), so a bundle gets its PDF on a machine
with no Chinese font at all, and the same archive gives the same PDF on every machine. A
system font is used only for characters the shipped font lacks (CJK Extension A and beyond),
when one has them all; ``EVIDENCE_CJK_FONT`` overrides everything. :func:`find_cjk_font`
raises :class:`FontMissing` only when no font can be had: the export then leaves the PDF out
and says why. Reproducible: fixed creation date (the export time), file ID from the content.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import string
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.outline import OutlineSection

from ..archive import Archive
from ..errors import EvidenceError
from ..headline import item_headline
from ..i18n import _
from .exhibits import CONVERSATION_KINDS, LABELS, Exhibit, Labels, OriginalFile
from .key_facts import Chronology, breach_text, kind_label, money
from .render_html import when

PACKAGED_FONT = "EvidenceSansSC-Regular.ttf"
CJK_FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simsun.ttc",
]
MAX_EMBED_BYTES = 20 << 20  # larger PDFs are referred to, not copied into bundle.pdf
MAX_BODY_CHARS = 20000
MARGIN = 15.0
ROW_H = 5.5


class FontMissing(EvidenceError):
    """No font that can show Chinese can be had, not even the one the package ships."""


def packaged_font() -> Path | None:
    """The CJK font shipped inside the package, or None when the installation lacks it (a
    repackaged build may strip bundled fonts)."""
    path = Path(str(resources.files("evidence_archiver"))) / "fonts" / PACKAGED_FONT
    return path if path.is_file() else None


def system_cjk_fonts() -> list[Path]:
    """Fonts with Chinese glyphs installed on this machine: the usual places, then fontconfig."""
    found = [Path(c) for c in CJK_FONT_CANDIDATES if Path(c).is_file()]
    fc_list = shutil.which("fc-list")
    if fc_list:
        try:
            out = subprocess.run(
                [fc_list, ":lang=zh", "file"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        files = sorted(
            {
                line.split(":")[0].strip()
                for line in out.splitlines()
                if line.split(":")[0].strip().lower().endswith((".ttf", ".ttc", ".otf"))
            }
        )
        found += [Path(f) for f in files if Path(f) not in found]
    return found


@lru_cache(maxsize=16)
def _cmap(path: Path) -> frozenset[int]:
    """The code points a font file (its first face) has glyphs for; empty when unreadable."""
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    try:
        font = TTFont(str(path), fontNumber=0, lazy=True)
    except Exception:  # fontTools raises many types on a file that is not a font
        return frozenset()
    try:
        return frozenset(font.getBestCmap() or {})
    except Exception:  # a damaged cmap table: the font is of no use
        return frozenset()
    finally:
        font.close()


def _visible(chars: Iterable[str]) -> set[int]:
    """The code points that need a glyph: not controls, spaces or variation selectors."""
    return {
        ord(c)
        for c in chars
        if c.isprintable() and not c.isspace() and not 0xFE00 <= ord(c) <= 0xFE0F
    }


def find_cjk_font(chars: Iterable[str] = ()) -> Path:
    """The font for ``bundle.pdf``, given the characters it will show.

    ``EVIDENCE_CJK_FONT`` when set; else the packaged font, unless it lacks some of ``chars``
    and a system font has them all; else any system font with Chinese glyphs.
    """
    env = os.environ.get("EVIDENCE_CJK_FONT")
    if env:
        if Path(env).is_file() and _cmap(Path(env)):
            return Path(env)
        raise FontMissing(
            _("EVIDENCE_CJK_FONT points at {env}, which is not a font file").format(env=env)
        )
    packaged = packaged_font()
    needed = _visible(chars)
    if packaged is not None:
        if needed <= _cmap(packaged):
            return packaged
        # Characters beyond GBK: a system font may have them all (emoji, which no CJK font
        # has, make this search find nothing, and the packaged font is kept).
        for candidate in system_cjk_fonts():
            if needed <= _cmap(candidate):
                return candidate
        return packaged
    for candidate in system_cjk_fonts():
        if _cmap(candidate):
            return candidate
    raise FontMissing(
        _(
            "bundle.pdf needs a font that can show Chinese: the one that comes with "
            "evidence-archiver (fonts/{font}) is missing from this installation and no "
            "other was found. Reinstall evidence-archiver, or install one (Debian/Ubuntu: sudo apt "
            "install fonts-noto-cjk), or set EVIDENCE_CJK_FONT to a .ttf/.otf/.ttc file"
        ).format(font=PACKAGED_FONT)
    )


def prepare_font(exhibits: Sequence[Exhibit], texts: Sequence[str], folder: Path) -> Path:
    """The CJK font (:func:`find_cjk_font`) cut down to the characters this bundle uses,
    saved in ``folder``.

    Parsing a 5-17 MB CJK font takes seconds; done once per export instead of once per volume,
    and every volume then loads a small font. The characters are those of everything the PDF
    writes (printable ASCII, the labels, ``texts`` and every exhibit's fields), so nothing is
    missing; fpdf2 still embeds only what each volume uses.
    """
    from fontTools.subset import Options, Subsetter  # type: ignore[import-untyped]
    from fontTools.ttLib import TTFont

    chars = set(string.printable) | set("·–…/：，。、（）“”")
    for en, zh in LABELS.values():
        chars.update(en)
        chars.update(zh)
    for text in texts:
        chars.update(text)
    for e in exhibits:
        r = e.record
        chars.update(e.number)
        chars.update(r.title)
        chars.update(item_headline(r, "both"))  # the contents list calls and messages so
        chars.update(r.body[:MAX_BODY_CHARS])
        chars.update(r.sender)
        chars.update(r.sender_name)
        for value in (*r.recipients, *r.tags):
            chars.update(value)
        for f in [e.original, e.container, *(f for _role, f in e.attachments)]:
            if f is not None:
                chars.update(f.path)
    source = find_cjk_font(chars)
    font = TTFont(str(source), fontNumber=0, recalcTimestamp=False)
    try:
        subsetter = Subsetter(Options(notdef_outline=True, layout_features=[], hinting=False))
        subsetter.populate(unicodes=sorted(ord(c) for c in chars))
        subsetter.subset(font)
        target = folder / ("cjk-subset.otf" if "CFF " in font else "cjk-subset.ttf")
        font.save(str(target))
    finally:
        font.close()
    return target


@dataclass
class _Embed:
    page: int  # page number in bundle.pdf (1-based)
    source: OriginalFile
    index: int  # page index in the original


class _BundlePDF(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("cjk", size=8)
        self.cell(0, 6, f"{self.page_no()} / {{total-pages}}", align="C")


def _pdf_pages(archive: Archive, f: OriginalFile) -> int | None:
    """The number of pages of a PDF original, or None when it cannot be included."""
    if f.size > MAX_EMBED_BYTES:
        return None
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(archive.read_original(f.sha256)))
        if reader.is_encrypted:
            return None
        return len(reader.pages)
    except Exception:  # pypdf raises many types on a broken file; it is then referred to
        return None


def write_bundle_pdf(
    path: Path,
    *,
    archive: Archive,
    exhibits: Sequence[Exhibit],
    summary_rows: Sequence[tuple[str, str]],
    labels: Labels,
    now: datetime,
    timestamp_note: str = "",
    volume_note: str = "",
    font: Path | None = None,
    chronology: Chronology | None = None,
) -> int:
    """Write one volume of the court bundle to ``path``; return its page count.

    ``font`` is a TrueType or OpenType file to use (see :func:`prepare_font`); by default
    :func:`find_cjk_font`'s.
    """
    font = font or find_cjk_font()
    pdf = _BundlePDF(format="A4")
    pdf.set_creation_date(now)
    pdf.set_producer("evidence-archiver")
    pdf.set_title(f"{labels('bundle')}: {summary_rows[0][1] if summary_rows else ''}")
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.add_font("cjk", fname=str(font), collection_font_number=0)
    pdf.alias_nb_pages("{total-pages}")  # room for any page count

    try:
        # Cover.
        pdf.add_page()
        pdf.set_font("cjk", size=22)
        pdf.multi_cell(0, 12, labels("bundle"), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        pdf.set_font("cjk", size=11)
        for label, value in summary_rows:
            pdf.multi_cell(0, 7, f"{label}: {value}", align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        pdf.multi_cell(0, 7, timestamp_note, align="L", new_x="LMARGIN", new_y="NEXT")
        if volume_note:
            pdf.ln(4)
            pdf.multi_cell(0, 7, volume_note, align="L", new_x="LMARGIN", new_y="NEXT")

        # Key facts, right after the cover; exhibit numbers link to the exhibits' pages,
        # which are set as each exhibit is laid out.
        links: dict[str, int] = {}
        if chronology:
            in_volume = {e.number for e in exhibits}
            links = {n: pdf.add_link() for n in sorted(_cited_numbers(chronology) & in_volume)}
            pdf.add_page()
            _render_key_facts(pdf, chronology, labels, links)

        # Index, reserved now and drawn at the end when every exhibit's page is known.
        usable = pdf.h - MARGIN - 18 - 14
        per_page = max(1, int(usable // ROW_H))
        toc_pages = max(1, math.ceil(len(exhibits) / per_page))
        pdf.add_page()
        pdf.insert_toc_placeholder(
            lambda p, outline: _render_toc(p, outline, labels, per_page), toc_pages
        )

        embeds: list[_Embed] = []
        writer = _TextWriter(pdf)
        previous_flowed = False
        fresh_page = True  # the index placeholder ends with a page break
        for e in exhibits:
            r = e.record
            flows = r.kind in CONVERSATION_KINDS or r.kind == "call"
            if not (flows and previous_flowed):
                if not fresh_page:
                    pdf.add_page()
            elif pdf.y > pdf.h - 60:
                pdf.add_page()
            else:
                pdf.ln(3)
                pdf.line(MARGIN, pdf.y, pdf.w - MARGIN, pdf.y)
                pdf.ln(2)
            previous_flowed = flows
            fresh_page = False
            pdf.set_x(MARGIN)
            title = r.title or labels.kind(r.kind)
            pdf.start_section(_toc_name(e, labels), level=0)
            if e.number in links:
                pdf.set_link(links[e.number], y=pdf.y, page=pdf.page_no())
            pdf.set_font("cjk", size=14)
            writer.write(f"{e.number} · {title}", 8)
            pdf.set_font("cjk", size=9)
            for label, value in _meta(e, labels):
                writer.write(f"{label}: {value}", 5)
            pdf.ln(2)
            pdf.set_font("cjk", size=10)
            body = r.body if len(r.body) <= MAX_BODY_CHARS else r.body[:MAX_BODY_CHARS] + " […]"
            if body:
                writer.write(body, 5)
            pdfs = [f for f in [e.original, *(f for _role, f in e.attachments)] if f is not None]
            for f in pdfs:
                if f.media_type != "application/pdf":
                    continue
                count = _pdf_pages(archive, f)
                name = f.path.rsplit("/", 1)[-1]
                if count is None:
                    pdf.set_font("cjk", size=9)
                    pdf.multi_cell(
                        0,
                        5,
                        f"{labels('original')}: originals/{name}",
                        new_x="LMARGIN",
                        new_y="NEXT",
                    )
                    continue
                for index in range(count):
                    pdf.add_page()
                    pdf.set_font("cjk", size=8)
                    pdf.cell(
                        0,
                        5,
                        f"{e.number} · {labels('pages_of_original')} {index + 1}/{count} · {name}",
                    )
                    embeds.append(_Embed(pdf.page_no(), f, index))
                previous_flowed = False

        pdf.output(str(path))
    except BaseException:
        # output() closes the font files; on failure, close them here.
        for loaded in pdf.fonts.values():
            closer = getattr(loaded, "close", None)
            if closer is not None:
                closer()
        raise
    if embeds:
        _merge_originals(path, archive, embeds)
    return pdf.pages_count


class _TextWriter:
    """Left-aligned wrapped text, much faster than ``multi_cell`` for long bodies.

    fpdf2's line breaker re-measures the whole line for every character it adds; here every
    distinct character is measured once per font size, lines are broken greedily (at a space
    when there is one, anywhere in a run of Chinese text) and drawn with ``text`` (a bare text
    operator), breaking pages by hand.
    """

    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.sizes: dict[float, dict[str, float]] = {}

    def lines(self, text: str, limit: float) -> list[str]:
        widths = self.sizes.setdefault(self.pdf.font_size_pt, {})
        measure = self.pdf.get_string_width
        out: list[str] = []
        for paragraph in text.replace("\r\n", "\n").replace("\t", "    ").split("\n"):
            for c in paragraph:
                if c not in widths:
                    widths[c] = measure(c)
            if sum(map(widths.__getitem__, paragraph)) <= limit:
                out.append(paragraph)
                continue
            start = 0
            used = 0.0
            last_space = -1
            index = 0
            while index < len(paragraph):
                c = paragraph[index]
                w = widths[c]
                if used + w > limit and index > start:
                    if c == " ":
                        out.append(paragraph[start:index])
                        start = index + 1
                    elif last_space > start:
                        out.append(paragraph[start:last_space])
                        start = last_space + 1
                    else:
                        out.append(paragraph[start:index])
                        start = index
                    used = sum(map(widths.__getitem__, paragraph[start:index]))
                    last_space = -1
                    if start > index:
                        index = start
                        continue
                if c == " ":
                    last_space = index
                used += w
                index += 1
            out.append(paragraph[start:])
        return out

    def write(self, text: str, height: float) -> None:
        pdf = self.pdf
        limit = pdf.w - pdf.l_margin - pdf.r_margin - 0.5
        baseline = height / 2 + 0.3 * pdf.font_size
        for line in self.lines(text, limit):
            if pdf.y + height > pdf.page_break_trigger:
                pdf.add_page()
            if line:
                pdf.text(pdf.l_margin, pdf.y + baseline, line)
            pdf.y += height
        pdf.x = pdf.l_margin


def _cited_numbers(chron: Chronology) -> set[str]:
    numbers = {n for f in chron.facts for n in f.exhibits}
    numbers |= {n for b in chron.breaches for n in (*b.promise_exhibits, b.exhibit)}
    return numbers


def _render_key_facts(pdf: FPDF, chron: Chronology, labels: Labels, links: dict[str, int]) -> None:
    """The chronology as rows: date and kind, the fact, amount, due date and by, then the
    exhibit numbers (each a link to its exhibit when it is in this volume)."""
    writer = _TextWriter(pdf)
    pdf.set_font("cjk", size=16)
    pdf.cell(0, 10, labels("key_facts"), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    def exhibit_refs(numbers: Sequence[str]) -> None:
        pdf.set_font("cjk", size=9)
        pdf.set_x(MARGIN + 4)
        pdf.cell(pdf.get_string_width(labels("exhibits") + ": ") + 1, 5,
                 labels("exhibits") + ": ")  # fmt: skip
        for n in numbers:
            pdf.set_text_color(0, 0, 170)
            pdf.cell(pdf.get_string_width(n) + 3, 5, n, link=links.get(n, ""))
            pdf.set_text_color(0, 0, 0)
        pdf.ln(6)

    for f in chron.facts:
        if pdf.y > pdf.h - 45:
            pdf.add_page()
        pdf.set_font("cjk", size=10)
        head = " · ".join(x for x in (f.date or labels("no_date"), kind_label(f.kind, labels)) if x)
        writer.write(head, 5.5)
        pdf.set_font("cjk", size=10)
        writer.write(f.text, 5)
        pdf.set_font("cjk", size=9)
        details = [
            (labels("amount"), money(f)),
            (labels("due"), f.due),
            (labels("said_by"), f.by),
            ("Ref.", f.reference),
        ]
        line = "   ".join(f"{k}: {v}" for k, v in details if v)
        if line:
            writer.write(line, 5)
        if f.outside:
            writer.write(f"({f.outside} {labels('not_in_bundle')})", 5)
        exhibit_refs(f.exhibits)
    if chron.breaches:
        if pdf.y > pdf.h - 45:
            pdf.add_page()
        pdf.ln(2)
        pdf.set_font("cjk", size=13)
        pdf.cell(0, 8, labels("possible_breaches"), align="L", new_x="LMARGIN", new_y="NEXT")
        for b in chron.breaches:
            if pdf.y > pdf.h - 35:
                pdf.add_page()
            pdf.set_font("cjk", size=10)
            pdf.set_text_color(160, 0, 0)
            writer.write(breach_text(b, labels), 5)
            pdf.set_text_color(0, 0, 0)
            exhibit_refs((*b.promise_exhibits, b.exhibit))


def _toc_name(e: Exhibit, labels: Labels) -> str:
    r = e.record
    title = item_headline(r, labels.lang) or labels.kind(r.kind)
    date = r.occurred_at.date().isoformat() if r.occurred_at else labels("no_date")
    return f"{e.number} {date} {title}"[:120]


def _meta(e: Exhibit, labels: Labels) -> list[tuple[str, str]]:
    r = e.record
    rows = [
        (labels("date"), when(r.occurred_at, labels)),
        (labels("kind"), labels.kind(r.kind)),
        (labels("from"), " ".join(x for x in (r.sender_name, r.sender) if x)),
        (labels("to"), ", ".join(r.recipients)),
    ]
    for f, label in ((e.original, labels("original")), (e.container, labels("container"))):
        if f is not None:
            rows.append((label, f.path[5:]))
            rows.append((labels("sha256"), f.sha256))
    for n, (_role, f) in enumerate(e.attachments, 1):
        rows.append((f"{labels('attachments')} {n}", f"{f.path[5:]}  SHA-256 {f.sha256}"))
    if r.tags:
        rows.append((labels("tags"), ", ".join(r.tags)))
    return [(k, v) for k, v in rows if v]


def _render_toc(pdf: FPDF, outline: list[OutlineSection], labels: Labels, per_page: int) -> None:
    pdf.set_x(MARGIN)
    pdf.set_font("cjk", size=14)
    pdf.cell(0, 10, labels("contents"), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    width = pdf.w - 2 * MARGIN - 16
    for n, section in enumerate(outline):
        if n and n % per_page == 0:
            pdf.add_page()
        link = pdf.add_link(page=section.page_number)
        name = section.name
        while name and pdf.get_string_width(name) > width:
            name = name[:-2]
        pdf.cell(width, ROW_H, name, link=link)
        pdf.cell(16, ROW_H, str(section.page_number), align="R", link=link,
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip


def _merge_originals(path: Path, archive: Archive, embeds: list[_Embed]) -> None:
    from pypdf import PdfReader, PdfWriter, Transformation

    # Incremental: the pages fpdf2 wrote are kept as they are and only the changed pages are
    # appended, which is much quicker and lighter than re-writing the whole document.
    writer = PdfWriter(str(path), incremental=True)
    readers: dict[str, Any] = {}
    for embed in embeds:
        sha = embed.source.sha256
        if sha not in readers:
            readers[sha] = PdfReader(io.BytesIO(archive.read_original(sha)))
        page = readers[sha].pages[embed.index]
        target = writer.pages[embed.page - 1]
        tw, th = float(target.mediabox.width), float(target.mediabox.height)
        sw, sh = float(page.mediabox.width), float(page.mediabox.height)
        margin_x, top, bottom = 28.0, 34.0, 40.0
        scale = min((tw - 2 * margin_x) / sw, (th - top - bottom) / sh)
        x = (tw - sw * scale) / 2 - float(page.mediabox.left) * scale
        y = bottom + (th - top - bottom - sh * scale) / 2 - float(page.mediabox.bottom) * scale
        target.merge_transformed_page(page, Transformation().scale(scale).translate(x, y))
    merged = path.with_name(path.name + ".merged")
    with merged.open("wb") as out:
        writer.write(out)
    merged.replace(path)
