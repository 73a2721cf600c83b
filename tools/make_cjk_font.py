"""Build the Chinese font that ships with evidence-archiver, so that ``bundle.pdf`` can be made
on a machine with no CJK font installed (every fresh Linux install).

    python tools/make_cjk_font.py [NotoSansCJK-Regular.ttc] [OUTDIR]

Source: Noto Sans CJK SC Regular (SIL Open Font License 1.1), face 2 of
``NotoSansCJK-Regular.ttc`` from Debian's ``fonts-noto-cjk`` (``apt-get download
fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb x`` gives it without installing it). Output:
``src/evidence_archiver/fonts/EvidenceSansSC-Regular.ttf``; its licence, which must travel
with it, is ``OFL.txt`` beside it.

Coverage, and why: every character of GBK (21,886 code points: all 20,902 CJK Unified
Ideographs of U+4E00-U+9FA5, simplified *and* traditional, plus GB2312's and GBK's symbols,
Greek, Cyrillic, kana and bopomofo), printable ASCII, Latin-1 and Latin Extended-A, general
punctuation, currency, number forms, enclosed numbers, arrows, shapes, CJK and full-width
punctuation. That is what Chinese phones, WeChat, QQ and 163.com mail write, and it is
enough for the rare characters in people's and companies' names that GB2312's 6,763 hanzi
miss (朱镕基's 镕, 喆, 堃) and for traditional-Chinese messages. GB2312 alone would be a 1.6 MB
font, GBK is 5 MB (4.3 MB in the wheel); CJK Extension A would add 1.6 MB more for characters
almost never seen in correspondence, which a system font covers when one is installed (see
``render_pdf.find_cjk_font``). No hinting and no layout features: the PDF writer uses neither.

The family is renamed "Evidence Sans SC" because a subset is a Modified Version under the OFL;
the copyright, licence and the credit to Noto Sans CJK stay in the name table. The output is
deterministic: the same source gives the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.subset import Options, Subsetter
from fontTools.ttLib import TTFont, newTable

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
OUT = HERE.parent / "src" / "evidence_archiver" / "fonts"
FAMILY = "Evidence Sans SC"
POSTSCRIPT = "EvidenceSansSC-Regular"
BLOCKS = [
    (0x0020, 0x007E),  # printable ASCII
    (0x00A0, 0x017F),  # Latin-1 Supplement, Latin Extended-A
    (0x2000, 0x206F),  # General Punctuation
    (0x20A0, 0x20CF),  # Currency Symbols
    (0x2100, 0x218F),  # Letterlike Symbols, Number Forms (℃ № Ⅳ)
    (0x2190, 0x21FF),  # Arrows
    (0x2460, 0x24FF),  # Enclosed Alphanumerics (① ⑴)
    (0x2500, 0x25FF),  # Box Drawing, Block Elements, Geometric Shapes
    (0x2600, 0x26FF),  # Miscellaneous Symbols (★ ☆)
    (0x3000, 0x303F),  # CJK Symbols and Punctuation
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x3200, 0x33FF),  # Enclosed CJK, CJK Compatibility (㈠ ㎡)
    (0xFE10, 0xFE1F),  # Vertical Forms
    (0xFE30, 0xFE6F),  # CJK Compatibility Forms, Small Form Variants
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
]


def gbk_characters() -> set[int]:
    """Every code point that GBK (a superset of GB2312) encodes, from Python's own codec."""
    points: set[int] = set()
    for lead in range(0x81, 0xFF):
        for trail in range(0x40, 0xFF):
            try:
                text = bytes([lead, trail]).decode("gbk")
            except UnicodeDecodeError:
                continue
            points.update(ord(c) for c in text)
    return points


def wanted() -> set[int]:
    points = gbk_characters()
    for low, high in BLOCKS:
        points.update(range(low, high + 1))
    return points


def rename(font: TTFont) -> None:
    name = font["name"]
    credit = (
        "Evidence Sans SC is a subset of Noto Sans CJK SC Regular (version 2.004), made for "
        "evidence-archiver by tools/make_cjk_font.py."
    )
    for record in list(name.names):
        if record.nameID in (1, 4, 16, 17, 18, 21, 22):
            name.removeNames(nameID=record.nameID)
    for platform in ((3, 1, 0x409), (1, 0, 0)):
        name.setName(FAMILY, 1, *platform)
        name.setName(FAMILY, 4, *platform)
        name.setName("Regular", 2, *platform)
        name.setName(POSTSCRIPT, 6, *platform)
        name.setName(f"{POSTSCRIPT};subset of NotoSansCJKsc-Regular 2.004", 3, *platform)
        name.setName(credit, 10, *platform)


def to_truetype(font: TTFont) -> None:
    """Replace the CFF outlines with TrueType (quadratic) ones.

    fpdf2 embeds a CFF font with a custom encoding CMap that pypdf and pdfminer cannot read
    back (the text of such a bundle.pdf extracts as nothing or as garbage); with TrueType
    outlines it writes the plain Identity-H font every PDF reader understands.
    """
    order = font.getGlyphOrder()
    source = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(source)
        # Cubic to quadratic within 1 unit of the 1000-unit em, the outline direction reversed
        # as TrueType wants it.
        source[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.numGlyphs = len(order)
    for field in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    font["maxp"] = maxp  # the point and contour counts are recalculated on save
    font["post"].formatType = 3.0  # no glyph names: the PDF writer goes by code point
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def build(source: Path, out: Path) -> Path:
    font = TTFont(str(source), fontNumber=2, recalcTimestamp=False)
    family = font["name"].getDebugName(1)
    if family != "Noto Sans CJK SC":
        raise SystemExit(f"{source}: face 2 is {family}, not Noto Sans CJK SC")
    options = Options(
        notdef_outline=True, layout_features=[], hinting=False, name_IDs=["*"], name_languages=["*"]
    )
    subsetter = Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted()))
    subsetter.subset(font)
    rename(font)
    to_truetype(font)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{POSTSCRIPT}.ttf"
    font.save(str(target))
    return target


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else OUT
    target = build(source, out)
    check = TTFont(str(target))
    print(f"{target}: {target.stat().st_size:,} bytes, {len(check.getBestCmap()):,} characters")


if __name__ == "__main__":
    main()
