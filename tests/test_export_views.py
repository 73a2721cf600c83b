"""The readable views: index.html in a real headless Chromium, bundle.pdf with poppler's tools."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from PIL import Image
from pypdf import PdfReader

from evidence_archiver import Archive
from evidence_archiver.documents import import_files
from evidence_archiver.export import ExportOptions, export_bundle
from evidence_archiver.export.verify import verify_bundle
from tsa import EXPORT_NOW, require_tool

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
]


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One exported folder bundle shared by the view tests (exporting takes a few seconds)."""
    import tsa

    root = tmp_path_factory.mktemp("views")
    with Archive(root / "archive.db") as archive:
        tsa.build_case(archive)
        options = ExportOptions(case="lenderx", out=root / "bag", fmt="dir", now=EXPORT_NOW)
        return export_bundle(archive, options).path


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        try:
            return require_tool(name)
        except pytest.skip.Exception:
            continue
    return require_tool("chromium")


def dump_dom(page: Path, fragment: str = "") -> str:
    proc = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, "--dump-dom", page.as_uri() + fragment],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class Rows(HTMLParser):
    """Collects the timeline rows (id, hidden) and every link target of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, bool]] = []
        self.links: list[str] = []
        self.shown = ""
        self._in_shown = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and (a.get("id") or "").startswith("E-"):
            self.rows.append((a["id"] or "", "hidden" in a))
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        self._in_shown = a.get("id") == "shown"

    def handle_data(self, data: str) -> None:
        if self._in_shown:
            self.shown += data
            self._in_shown = False


def parse(html: str) -> Rows:
    rows = Rows()
    rows.feed(html)
    return rows


def test_index_html_has_one_row_per_item_and_every_link_resolves(bag: Path) -> None:
    index = bag / "data" / "index.html"
    page = parse(dump_dom(index))
    items = json.loads((bag / "data" / "items.json").read_text(encoding="utf-8"))
    assert [r[0] for r in page.rows] == [i["exhibit"] for i in items]
    assert not any(hidden for _, hidden in page.rows)
    assert page.shown == str(len(items))
    assert page.links
    for href in page.links:
        parts = urlsplit(href)
        assert not parts.scheme, f"{href} leaves the bundle"
        target = (index.parent / unquote(parts.path)).resolve()
        assert target.is_file(), f"{href} does not resolve to a file"
        assert bag.resolve() in target.parents


def test_every_item_page_links_only_inside_the_bundle(bag: Path) -> None:
    for page in sorted((bag / "data" / "items").glob("*.html")):
        for href in parse(page.read_text(encoding="utf-8")).links:
            parts = urlsplit(href)
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.is_file(), f"{page.name}: {href} does not resolve"


def test_the_kind_filter_and_the_search_hide_rows_in_chromium(bag: Path) -> None:
    index = bag / "data" / "index.html"
    page = parse(dump_dom(index, "#kind=sms"))
    visible = [i for i, hidden in page.rows if not hidden]
    assert visible == ["E-002", "E-003", "E-004"]
    assert page.shown == "3"
    page = parse(dump_dom(index, "#q=" + "逾期"))
    visible = [i for i, hidden in page.rows if not hidden]
    assert visible == ["E-002", "E-007"]
    page = parse(dump_dom(index, "#tag=reminder"))
    assert [i for i, hidden in page.rows if not hidden] == ["E-001"]


def test_a_screenshot_of_index_html_is_taken(bag: Path, tmp_path: Path) -> None:
    shot = tmp_path / "index.png"
    proc = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--screenshot={shot}", "--window-size=1280,900",
         (bag / "data" / "index.html").as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000


def test_bundle_pdf_has_pages_bookmarks_embedded_fonts_and_chinese(bag: Path) -> None:
    pdf = bag / "data" / "bundle.pdf"
    reader = PdfReader(pdf)
    # cover, index, E-001 + its 2-page PDF attachment, SMS (one page), E-005, E-006,
    # E-007 + its 1-page original.
    assert len(reader.pages) == 10
    titles = [o.title for o in reader.outline if not isinstance(o, list)]
    assert [t.split()[0] for t in titles] == [f"E-00{n}" for n in range(1, 8)]
    fonts = subprocess.run(
        [require_tool("pdffonts"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert fonts
    for line in fonts:
        emb = line.split()[-5]
        assert emb == "yes", line
    text = subprocess.run(
        [require_tool("pdftotext"), "-layout", str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "还款提醒" in text
    assert "借款合同" in text  # from the original PDF's own page
    assert "逾期" in text
    pages = text.split("\f")
    assert re.search(r"\b1 / 10\b", pages[0])
    assert re.search(r"\b10 / 10\b", pages[9])


def test_bundle_pdf_index_links_point_at_the_exhibit_pages(bag: Path) -> None:
    reader = PdfReader(bag / "data" / "bundle.pdf")
    annots = reader.pages[1].get("/Annots")
    assert annots is not None
    assert len(annots) >= 7 * 2  # the title and the page number of each row are links


def test_pdf_text_wraps_within_the_margins_and_loses_nothing() -> None:
    from fpdf import FPDF

    from evidence_archiver.export.render_pdf import _TextWriter, find_cjk_font

    pdf = FPDF()
    pdf.add_font("cjk", fname=str(find_cjk_font()))
    pdf.set_font("cjk", size=10)
    pdf.add_page()
    writer = _TextWriter(pdf)
    english = "Please repay the overdue amount of 500 yuan before the tenth of March. " * 5
    chinese = "您的借款已逾期请尽快还款否则将产生罚息" * 10
    url = "https://lenderx.example/" + "a" * 300
    for text in (english, chinese, url, "short line", ""):
        lines = writer.lines(text, 100)
        assert all(pdf.get_string_width(line) <= 100 + 1e-6 for line in lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(not line.startswith(" ") for line in writer.lines(english, 100))
    assert len(writer.lines(english, 100)) > 5
    pdf.output()  # closes the font file


def test_photos_and_screenshots_get_a_thumbnail_on_their_page(
    archive: Archive, tmp_path: Path
) -> None:
    picture = tmp_path / "screenshot.png"
    Image.new("RGB", (1200, 800), (200, 30, 30)).save(picture)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    import_files(archive, [picture, broken], ocr=None)
    archive.create_case("Pictures", rules=[("keyword", "png")])
    archive.link("pictures", [1, 2])
    result = export_bundle(
        archive, ExportOptions(case="pictures", out=tmp_path / "b", fmt="dir", pdf=False)
    )
    data = result.path / "data"
    thumbs = sorted(p.name for p in (data / "thumbnails").iterdir())
    assert thumbs == ["E-001.png"]
    with Image.open(data / "thumbnails" / "E-001.png") as thumb:
        assert max(thumb.size) <= 400
    page = (data / "items" / "E-001.html").read_text()
    assert '<img class="thumb" src="../thumbnails/E-001.png"' in page
    assert (
        "thumb"
        not in (data / "items" / "E-002.html").read_text().split("<style>")[1].split("</style>")[1]
    )
    assert verify_bundle(result.path).ok
