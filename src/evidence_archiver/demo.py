"""The demo: a throwaway archive filled from the bundled sample of a borrower's dispute, then
exported as a timestamped evidence bundle and verified.

The sample data ships inside the package (``demo_data``, copied from ``fixtures/`` when the wheel
is built: ``demo/`` mail, ``phone/`` SMS, calls and chat, ``documents/`` agreements and a
screenshot); in a source checkout it is read from ``fixtures/`` directly. The timestamp comes
from a throwaway RFC 3161 authority started on 127.0.0.1 for the demo (it needs the ``openssl``
command); without it the bundle is exported untimestamped and the demo says so.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

from .archive import Archive
from .connectors.sms import import_phone_export
from .documents import import_files, import_pdfs
from .errors import EvidenceError
from .export.bundle import ExportOptions, ExportResult, export_bundle
from .export.demo import demo_bundle
from .export.render_pdf import FontMissing, find_cjk_font
from .export.verify import VerifyReport, verify_bundle
from .i18n import _
from .importing import import_eml, import_mbox
from .model import ImportReport

DEMO_CASE = "Lender X extension"
DEMO_SLUG = "lender-x-extension"
# The lender writes from lenderx.com, texts from a mobile and the 95555 short code, and its
# name is in every document and chat.
DEMO_RULES = [
    ("domain", "lenderx.com"),
    ("phone", "+86 138 0013 8000"),
    ("phone", "95555"),
    ("keyword", "LenderX"),
]
PHONE_EXPORTS = [
    "sms-20240705.xml",
    "sms-20240820.xml",  # a newer backup overlapping the first: only new messages are added
    "calls-20240820.xml",
    "WhatsApp Chat with LenderX.txt",
]


def demo_data_dir() -> Path:
    """The folder holding ``demo/``, ``phone/`` and ``documents/``."""
    packaged = Path(str(resources.files("evidence_archiver"))) / "demo_data"
    if (packaged / "demo").is_dir():
        return packaged
    source_tree = Path(__file__).resolve().parents[2] / "fixtures"
    if (source_tree / "demo").is_dir():
        return source_tree
    raise EvidenceError(
        _("the demo's sample data is missing from this installation; reinstall evidence-archiver")
    )


@dataclass
class DemoResult:
    archive: Path
    case: str
    linked: int
    imports: dict[str, ImportReport] = field(default_factory=dict)
    export: ExportResult | None = None
    verify: VerifyReport | None = None
    timestamp_note: str = ""
    notes: list[str] = field(default_factory=list)


def run_demo(
    archive: Archive, *, bundle_dir: Path | None = None, now: datetime | None = None
) -> DemoResult:
    """Import the sample correspondence, create the demo case and, when ``bundle_dir`` is
    given, export it there as a timestamped bundle and verify it."""
    data = demo_data_dir()
    imports: dict[str, ImportReport] = {
        "mail (mbox)": import_mbox(archive, data / "demo" / "mail" / "lenderx.mbox", workers=0),
        "mail (saved .eml)": import_eml(archive, [data / "demo" / "mail" / "saved"], workers=0),
    }
    for name in PHONE_EXPORTS:
        report, _notes = import_phone_export(
            archive, data / "phone" / name, region="CN", zone="Asia/Shanghai"
        )
        imports[name] = report
    documents = data / "documents"
    imports["agreements (PDF)"] = import_pdfs(archive, sorted(documents.glob("*.pdf")))
    imports["screenshot"] = import_files(archive, sorted(documents.glob("*.png")))
    if DEMO_SLUG in {c.slug for c in archive.cases()}:
        slug, linked = DEMO_SLUG, archive.case(DEMO_SLUG).items
    else:
        slug, linked = archive.create_case(
            DEMO_CASE,
            rules=DEMO_RULES,
            description="Wang Xiaoming's repayment extension with LenderX (乐贷): agreed in "
            "writing, then charged late fees and threatened by collectors anyway.",
        )
    result = DemoResult(archive.path, slug, linked, imports)
    if bundle_dir is None:
        return result
    # A fresh machine may lack a Chinese font or openssl: the demo still makes and verifies a
    # bundle, and says what it left out and how to get it.
    pdf = True
    try:
        find_cjk_font()
    except FontMissing as exc:
        pdf = False
        result.notes.append(_("bundle.pdf left out: {reason}").format(reason=exc))
    if shutil.which("openssl"):
        made = demo_bundle(archive, slug, bundle_dir, now=now, pdf=pdf)
        result.export, result.verify = made.result, made.report
        result.timestamp_note = _(
            "timestamped by a throwaway local authority started for the demo (its CA is "
            "{ca_file} beside the bundle; a real bundle uses a public one: --tsa-url)"
        ).format(ca_file=made.ca_file.name)
    else:
        result.export = export_bundle(
            archive, ExportOptions(case=slug, out=bundle_dir, now=now, pdf=pdf)
        )
        result.verify = verify_bundle(result.export.path)
        result.timestamp_note = _("not timestamped: the openssl command is not installed")
    return result
