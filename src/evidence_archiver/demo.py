"""The demo: a throwaway archive filled from the bundled sample of a borrower's dispute.

The sample data ships inside the package (``demo_data``, copied from ``fixtures/demo`` when the
wheel is built); in a source checkout it is read from ``fixtures/demo`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .archive import Archive
from .errors import EvidenceError
from .importing import import_eml, import_mbox
from .model import ImportReport

DEMO_CASE = "Lender X extension"
DEMO_COUNTERPARTIES = [("domain", "lenderx.com")]


def demo_data_dir() -> Path:
    packaged = Path(str(resources.files("evidence_archiver"))) / "demo_data"
    if packaged.is_dir():
        return packaged
    source_tree = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
    if source_tree.is_dir():
        return source_tree
    raise EvidenceError(
        "the demo's sample data is missing from this installation; reinstall evidence-archiver"
    )


@dataclass
class DemoResult:
    archive: Path
    case: str
    linked: int
    imports: dict[str, ImportReport] = field(default_factory=dict)


def run_demo(archive: Archive) -> DemoResult:
    """Import the sample correspondence and create the demo case in ``archive``."""
    data = demo_data_dir()
    imports = {
        "mbox": import_mbox(archive, data / "mail" / "lenderx.mbox", workers=0),
        "eml": import_eml(archive, [data / "mail" / "saved"], workers=0),
    }
    existing = {c.slug for c in archive.cases()}
    if "lender-x-extension" in existing:
        slug, linked = "lender-x-extension", archive.case("lender-x-extension").items
    else:
        slug, linked = archive.create_case(
            DEMO_CASE,
            rules=DEMO_COUNTERPARTIES,
            description="Wang Xiaoming's repayment extension with LenderX (乐贷): agreed in "
            "writing on 5 March 2024, then charged late fees anyway.",
        )
    return DemoResult(archive.path, slug, linked, imports)
