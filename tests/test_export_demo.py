"""The demo's last step: a bundle exported, timestamped by a local TSA, and verified."""

from __future__ import annotations

from pathlib import Path

from evidence_archiver import Archive
from evidence_archiver.export import verify_bundle
from evidence_archiver.export.demo import demo_bundle
from tsa import EXPORT_NOW, require_tool


def test_demo_bundle_is_timestamped_and_verifies_later(
    case_archive: Archive, tmp_path: Path
) -> None:
    require_tool("openssl")
    made = demo_bundle(case_archive, "lenderx", tmp_path / "out", now=EXPORT_NOW)
    assert made.report.ok, made.report.problems
    assert made.report.timestamp is not None
    assert made.result.path.parent == tmp_path / "out"
    assert made.result.path.name == "lenderx_20260501T120000Z.zip"
    # The local TSA is gone; the kept CA still verifies the token.
    assert verify_bundle(made.result.path, tsa_ca_file=made.ca_file).ok
