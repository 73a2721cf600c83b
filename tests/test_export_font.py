"""bundle.pdf on a machine with no Chinese font: the packaged font, and the bundle without a PDF
when not even that can be had.

System fonts are hidden by emptying the list of usual font files and pointing fontconfig (the
real ``fc-list``, when installed) at a configuration whose only font folder is empty.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path

import bagit
import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from evidence_archiver import Archive
from evidence_archiver.cli import app
from evidence_archiver.export import render_pdf
from evidence_archiver.export.bagit import parse_bag_info
from evidence_archiver.export.render_pdf import FontMissing, find_cjk_font, packaged_font
from tsa import require_tool


@pytest.fixture
def no_system_fonts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Hide every font installed on this machine; return the (empty) font folder."""
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><dir>{empty}</dir><cachedir>{tmp_path / 'fc-cache'}</cachedir>"
        "</fontconfig>\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    monkeypatch.delenv("EVIDENCE_CJK_FONT", raising=False)
    monkeypatch.setattr(render_pdf, "CJK_FONT_CANDIDATES", [])
    assert render_pdf.system_cjk_fonts() == []
    return empty


def _export(archive: Archive, out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        ["export", "lenderx", "--out", str(out), "--now", "2026-05-01T12:00:00Z", *extra],
        env={"EVIDENCE_ARCHIVE": str(archive.path)},
    )
    return result.exit_code, result.output


def _embedded_fonts(reader: PdfReader) -> set[str]:
    names = set()
    for page in reader.pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            names.add(str(font["/BaseFont"]))
            for descendant in font.get("/DescendantFonts", []):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    return names


def test_the_package_ships_a_chinese_font_covering_gbk() -> None:
    from fontTools.ttLib import TTFont

    path = packaged_font()
    assert path is not None
    # A sane wheel size: GBK's characters in well under the size of a full CJK font.
    assert path.stat().st_size < 8 << 20
    assert (path.parent / "OFL.txt").read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE")
    with TTFont(str(path), lazy=True) as font:
        cmap = font.getBestCmap()
    gbk = set()
    for lead in range(0xB0, 0xF8):  # GB2312's 6,763 hanzi (rows 16-87)
        for trail in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                gbk.add(ord(bytes([lead, trail]).decode("gb2312")))
    assert len(gbk) == 6763
    assert gbk <= set(cmap)
    # Beyond GB2312: name characters, traditional Chinese, full-width and CJK punctuation.
    assert {ord(c) for c in "镕喆堃繁體還款對話，。：（）“”《》¥①℃"} <= set(cmap)


def test_export_with_no_system_font_still_writes_bundle_pdf_in_chinese(
    case_archive: Archive, tmp_path: Path, no_system_fonts: Path
) -> None:
    out = tmp_path / "b.zip"
    code, text = _export(case_archive, out, "--json")
    assert code == 0, text
    assert json.loads(text)["pdf_left_out"] is None
    with zipfile.ZipFile(out) as z:
        root = z.namelist()[0].split("/")[0]
        data = z.read(f"{root}/data/bundle.pdf")
        info = parse_bag_info(z.read(f"{root}/bag-info.txt"))
    assert "Bundle-PDF" not in info
    reader = PdfReader(io.BytesIO(data))
    fonts = _embedded_fonts(reader)
    assert any(name.endswith("+EvidenceSansSC") for name in fonts), fonts
    text = "".join(page.extract_text() for page in reader.pages)
    for words in ("证据包", "您的借款已逾期，请尽快还款", "我申请延期还款", "还款提醒"):
        assert words in text


def test_bundle_pdf_renders_chinese_with_the_packaged_font(
    case_archive: Archive, tmp_path: Path, no_system_fonts: Path
) -> None:
    """pdftotext (poppler) reads the same Chinese text, and pdffonts lists the embedded font."""
    import subprocess

    out = tmp_path / "b"
    code, text = _export(case_archive, out, "--format", "dir")
    assert code == 0, text
    pdf = out / "data" / "bundle.pdf"
    fonts = subprocess.run(
        [require_tool("pdffonts"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    assert "+EvidenceSansSC " in fonts
    shown = subprocess.run(
        [require_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "您的借款已逾期" in shown


def test_a_system_font_is_used_only_for_characters_the_packaged_font_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fontTools.fontBuilder import FontBuilder

    # A tiny real font that has one CJK Extension A character (not in GBK) and ASCII.
    rare = "\u3400"
    builder = FontBuilder(1000, isTTF=True)
    glyphs = [".notdef", "uni3400", *(f"c{n}" for n in range(0x20, 0x7F))]
    builder.setupGlyphOrder(glyphs)
    cmap = {0x3400: "uni3400", **{n: f"c{n}" for n in range(0x20, 0x7F)}}
    builder.setupCharacterMap(cmap)
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((500, 0))
    pen.lineTo((500, 500))
    pen.closePath()
    square = pen.glyph()
    builder.setupGlyf(dict.fromkeys(glyphs, square))
    builder.setupHorizontalMetrics(dict.fromkeys(glyphs, (600, 0)))
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Rare Test", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    rare_font = tmp_path / "rare.ttf"
    builder.save(str(rare_font))
    monkeypatch.delenv("EVIDENCE_CJK_FONT", raising=False)
    monkeypatch.setattr(render_pdf, "system_cjk_fonts", lambda: [rare_font])
    assert find_cjk_font("还款 repay") == packaged_font()
    assert find_cjk_font(f"{rare} abc") == rare_font
    # Nothing has everything (a character no font here has): the packaged font stays.
    assert find_cjk_font(f"{rare}还款") == packaged_font()


def test_with_no_font_at_all_the_bundle_comes_without_its_pdf_and_exit_1(
    case_archive: Archive, tmp_path: Path, no_system_fonts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render_pdf, "packaged_font", lambda: None)
    with pytest.raises(FontMissing):
        find_cjk_font()
    out = tmp_path / "b.zip"
    code, text = _export(case_archive, out)
    assert code == 1, text
    lines = [line for line in text.splitlines() if "bundle.pdf left out" in line]
    assert len(lines) == 1, text
    assert "Bundle written" in text
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        root = names[0].split("/")[0]
        info = parse_bag_info(z.read(f"{root}/bag-info.txt"))
    assert not any(n.endswith(".pdf") and "/data/bundle" in n for n in names)
    assert f"{root}/data/index.html" in names
    assert info["Bundle-PDF"][0].startswith("left out: bundle.pdf needs a font")
    # The bundle is whole: our verifier and bagit-python both accept it.
    code, text = CliRunner().invoke(app, ["verify", str(out)]).exit_code, ""
    assert code == 0
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as z:
        z.extractall(folder)
    assert bagit.Bag(str(folder / root)).is_valid()

    code, text = _export(case_archive, tmp_path / "c.zip", "--json")
    assert code == 1
    assert "needs a font that can show Chinese" in json.loads(text)["pdf_left_out"]
