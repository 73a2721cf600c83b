"""The demo: a throwaway archive filled from the bundled sample of a borrower's dispute, then
exported as a timestamped evidence bundle and verified.

The sample data ships inside the package (``demo_data``, copied from ``fixtures/`` when the wheel
is built: ``demo/`` mail, ``phone/`` SMS, calls, WhatsApp and WeChat chats and a Xiaomi phone's
call recording, ``documents/`` agreements and a screenshot); in a source checkout it is read from
``fixtures/`` directly. The timestamp comes from a throwaway RFC 3161 authority started on
127.0.0.1 for the demo (it needs the ``openssl`` command); without it the bundle is exported
untimestamped and the demo says so.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

from .archive import Archive, FactFields
from .connectors.sms import import_phone_export
from .documents import import_files, import_pdfs
from .errors import EvidenceError
from .export.bundle import ExportOptions, ExportResult, export_bundle
from .export.demo import demo_bundle
from .export.verify import VerifyReport, verify_bundle
from .i18n import N_, _
from .importing import import_eml, import_mbox
from .model import ImportReport

DEMO_CASE = "Lender X extension"
DEMO_SLUG = "lender-x-extension"
# The lender writes from lenderx.com, texts from a mobile and the 95555 short code, chats on
# WeChat as 乐贷客服 (wxid_lenderx_kf01), and its name is in every document and chat.
DEMO_RULES = [
    ("domain", "lenderx.com"),
    ("phone", "+86 138 0013 8000"),
    ("phone", "95555"),
    ("address", "wechat:wxid_lenderx_kf01"),
    ("keyword", "LenderX"),
]
# The borrower's phone is a Xiaomi: its recordings folder, copied as it is on the phone.
RECORDINGS = Path("phone", "MIUI", "sound_recorder", "call_rec")
PHONE_EXPORTS = [
    "sms-20240705.xml",
    "sms-20240820.xml",  # a newer backup overlapping the first: only new messages are added
    "calls-20240820.xml",
    "WhatsApp Chat with LenderX.txt",
    # The WeChat chat in which agent KF1234 promises the deferral, exported by MemoTrace twice:
    # an older 9-column CSV, then the whole chat in 12 columns (only new messages are added).
    "wechat-20240705/乐贷客服_utf8.csv",
    "wechat/乐贷客服/乐贷客服_utf8.csv",
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
    #: Each call recording's item id and the id of the call-log entry it was linked to.
    recordings: dict[int, int | None] = field(default_factory=dict)


def _find(archive: Archive, slug: str, kind: str, *words: str) -> int:
    """The first item of the case of ``kind`` whose text holds every one of ``words``: what a
    user finds with 'evidence search' before citing it."""
    for record in archive.timeline(slug, kind=kind):
        text = record.body + "".join(a.text for a in record.attachments)
        if all(w in text for w in words):
            return record.id
    raise EvidenceError(
        _("the demo's sample data has no {kind} saying {words}").format(
            kind=kind, words=" ".join(words)
        )
    )


def record_demo_facts(archive: Archive, slug: str) -> None:
    """The facts a borrower records for the demo case, through the same library calls the
    'evidence fact add' command makes: the promise of 3-4 July, the reminder and the late fees
    that contradict it, and the signed extension. The archive then flags the breaches."""
    promise = [
        _find(archive, slug, "sms", "同意第4至6期"),
        _find(archive, slug, "chat", "同意第4至6期"),
        _find(archive, slug, "email", "Agent 1234"),
    ]
    archive.add_fact(
        promise,
        FactFields(
            kind="promise",
            text="LenderX agreed in writing to defer instalments 4-6 by three months: "
            "instalment 4 now due 15 October 2024, no late fees. 乐贷同意第4至6期各顺延三个月，"
            "第4期延至2024年10月15日，期间不收取逾期费。",
            due=date(2024, 10, 15),
            amount=Decimal("5265.76"),
            currency="CNY",
            by="Agent 1234 / 第1234号客服",
            reference="LX-2024-0315-001",
        ),
        case=slug,
    )
    archive.add_fact(
        [_find(archive, slug, "sms", "第4期应还")],
        FactFields(
            kind="demand",
            text="Reminder to pay instalment 4 by 15 July anyway. 仍催还第4期（7月15日）。",
            amount=Decimal("5265.76"),
            currency="CNY",
        ),
        case=slug,
    )
    archive.add_fact(
        [_find(archive, slug, "sms", "逾期费用 50.02"), _find(archive, slug, "email", "52.66")],
        FactFields(
            kind="breach",
            text="Late fee charged during the deferral. 展期期间仍收取逾期费。",
            amount=Decimal("52.66"),
            currency="CNY",
        ),
        case=slug,
    )
    archive.add_fact(
        [_find(archive, slug, "email", "10,634.20")],
        FactFields(
            kind="demand",
            text="Final notice: pay instalments 4 and 5 plus late fees within 7 days or be "
            "reported to the credit bureau. 最后通知：7日内还清，否则上报征信。",
            amount=Decimal("10634.20"),
            currency="CNY",
        ),
        case=slug,
    )
    archive.add_fact(
        [_find(archive, slug, "document", "LX-2024-0315-001-E1")],
        FactFields(
            kind="promise",
            text="Extension agreement signed: the 4 July schedule, late fees waived. "
            "签订延期还款协议，免除逾期费。",
            reference="LX-2024-0315-001-E1",
        ),
        case=slug,
    )


def _link_screenshots(archive: Archive, slug: str, notes: list[str]) -> int:
    """Link the screenshot to the case by hand, as its owner would, when no rule linked it.

    With Tesseract the screenshot's text names the lender and the case's keyword rule links
    it; without, it has no text and no sender for a rule to match, so the demo does what a
    user does (``evidence case link``) and says in one line that OCR was skipped. The case,
    the timeline and the bundle are then the same with or without the optional tool.
    """
    in_case = set(archive.timeline_ids(slug))
    linked = 0
    for item in archive.timeline(kind="file"):
        if item.id in in_case:
            continue
        linked += archive.link(slug, [item.id])
        ocr = item.details.get("ocr") or {}
        if ocr.get("status") in ("unavailable", "failed", "skipped"):
            notes.append(
                _(
                    "OCR skipped for {title}, so its text is not searchable ({reason}); it was "
                    "linked to the case by hand, as 'evidence case link {case} {id}' does"
                ).format(
                    title=item.title,
                    reason=ocr.get("reason") or _("no reason given"),
                    case=slug,
                    id=item.id,
                )
            )
    return linked


def run_demo(
    archive: Archive, *, bundle_dir: Path | None = None, now: datetime | None = None
) -> DemoResult:
    """Import the sample correspondence, create the demo case and, when ``bundle_dir`` is
    given, export it there as a timestamped bundle and verify it."""
    data = demo_data_dir()
    imports: dict[str, ImportReport] = {
        N_("mail (mbox)"): import_mbox(archive, data / "demo" / "mail" / "lenderx.mbox", workers=0),
        N_("mail (saved .eml)"): import_eml(archive, [data / "demo" / "mail" / "saved"], workers=0),
    }
    for name in PHONE_EXPORTS:
        report, _notes = import_phone_export(
            archive, data / "phone" / name, region="CN", zone="Asia/Shanghai"
        )
        imports[name] = report
    # The phone's clock ran on Beijing time; its numbers are Chinese.
    imports[N_("call recording (Xiaomi)")] = import_files(
        archive, [data / RECORDINGS], ocr=None, zone="Asia/Shanghai", region="CN"
    )
    documents = data / "documents"
    imports[N_("agreements (PDF)")] = import_pdfs(archive, sorted(documents.glob("*.pdf")))
    imports[N_("screenshot")] = import_files(archive, sorted(documents.glob("*.png")))
    if DEMO_SLUG in {c.slug for c in archive.cases()}:
        slug, linked = DEMO_SLUG, archive.case(DEMO_SLUG).items
    else:
        slug, linked = archive.create_case(
            DEMO_CASE,
            rules=DEMO_RULES,
            description="Wang Xiaoming's repayment extension with LenderX (乐贷): agreed in "
            "writing, then charged late fees and threatened by collectors anyway.",
        )
        record_demo_facts(archive, slug)
    result = DemoResult(archive.path, slug, linked, imports)
    for record in archive.timeline(kind="file"):
        if "recording" in record.details:
            result.recordings[record.id] = record.details["recording"].get("call_item_id")
    result.linked += _link_screenshots(archive, slug, result.notes)
    if bundle_dir is None:
        return result
    # A fresh machine may lack openssl (and, with a stripped installation, every Chinese
    # font): the demo still makes and verifies a bundle, and says what it left out and why.
    if shutil.which("openssl"):
        made = demo_bundle(archive, slug, bundle_dir, now=now)
        result.export, result.verify = made.result, made.report
        result.timestamp_note = _(
            "timestamped by a throwaway local authority started for the demo (its CA is "
            "{ca_file} beside the bundle; a real bundle uses a public one: --tsa-url)"
        ).format(ca_file=made.ca_file.name)
    else:
        result.export = export_bundle(archive, ExportOptions(case=slug, out=bundle_dir, now=now))
        result.verify = verify_bundle(result.export.path)
        result.timestamp_note = _("not timestamped: the openssl command is not installed")
    if result.export.pdf_left_out:
        result.notes.append(
            _("bundle.pdf left out: {reason}").format(reason=result.export.pdf_left_out)
        )
    return result
