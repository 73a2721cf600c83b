"""The end of ``evidence demo``: export the demo case, timestamp it locally, verify it.

A throwaway timestamp authority (:mod:`.local_tsa`) runs on 127.0.0.1 only while the bundle is
being made; its CA certificate is kept beside the bundle (``demo-tsa-ca.pem``) so that the
bundle can be verified again later, with ``evidence verify`` or with ``openssl ts -verify``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..archive import Archive
from .bundle import ExportOptions, ExportResult, export_bundle
from .local_tsa import local_tsa
from .verify import VerifyReport, verify_bundle


@dataclass(frozen=True)
class DemoBundle:
    result: ExportResult
    report: VerifyReport
    ca_file: Path  # the demo TSA's CA certificate, for 'evidence verify --tsa-ca-file'


def demo_bundle(
    archive: Archive, case: str, folder: Path, *, now: datetime | None = None, pdf: bool = True
) -> DemoBundle:
    """Export ``case`` into ``folder`` with a local RFC 3161 timestamp, then verify it."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_copy = folder / "demo-tsa-ca.pem"
    with local_tsa() as tsa:
        result = export_bundle(
            archive,
            ExportOptions(
                case=case, out=folder, now=now, pdf=pdf, tsa_url=tsa.url, tsa_ca_file=tsa.ca_file
            ),
        )
        shutil.copyfile(tsa.ca_file, ca_copy)
    return DemoBundle(result, verify_bundle(result.path, tsa_ca_file=ca_copy), ca_copy)
