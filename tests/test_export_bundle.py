"""The evidence bundle: a valid BagIt bag with originals, renderings, machine-readable files."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import zipfile
from pathlib import Path

import bagit
import pytest

from evidence_archiver import Archive, UsageError
from evidence_archiver.export import ExportOptions, export_bundle, verify_bundle
from evidence_archiver.hashing import blob_from_bytes, sha256_bytes
from evidence_archiver.model import Capture, Item, SourceRef
from tsa import EXPORT_NOW, require_tool


def export(archive: Archive, out: Path, **kw: object) -> Path:
    options = ExportOptions(case="lenderx", out=out, now=EXPORT_NOW, **kw)  # type: ignore[arg-type]
    return export_bundle(archive, options).path


def unzip(bundle: Path, into: Path) -> Path:
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(into)
        (top,) = {n.split("/", 1)[0] for n in zf.namelist()}
    return into / top


def test_export_writes_a_valid_bagit_zip_that_sha256sum_accepts(
    case_archive: Archive, tmp_path: Path
) -> None:
    bundle = export(case_archive, tmp_path / "out.zip")
    assert bundle.name == "out.zip"
    bag_dir = unzip(bundle, tmp_path / "x")
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # raises BagValidationError with the reason
    assert bag.info["Case-Slug"] == "lenderx"
    assert len(bag.info["Custody-Chain-Head"]) == 64
    for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        proc = subprocess.run(
            [require_tool("sha256sum"), "-c", "--strict", manifest],
            cwd=bag_dir, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_originals_are_byte_identical_and_named_by_exhibit_not_by_sender(
    case_archive: Archive, tmp_path: Path
) -> None:
    bag_dir = unzip(export(case_archive, tmp_path / "b.zip"), tmp_path / "x")
    items = json.loads((bag_dir / "data/items.json").read_text(encoding="utf-8"))
    names = sorted(p.name for p in (bag_dir / "data/originals").iterdir())
    assert all(n.startswith("E-") for n in names)
    assert not any(".." in n or "\\" in n or "/" in n for n in names)
    assert "E-001-A1_合同 agreement.pdf" in names
    assert "E-001-A2_receipt.jpg" in names
    seen = 0
    for item in items:
        refs = [item["original"], item["container"]]
        refs += [{"path": a["path"], "sha256": a["sha256"]} for a in item["attachments"]]
        for ref in refs:
            if ref is None:
                continue
            data = (bag_dir / "data" / ref["path"]).read_bytes()
            assert sha256_bytes(data) == ref["sha256"]
            assert data == case_archive.read_original(ref["sha256"])
            seen += 1
    assert seen >= 8
    # The SMS backup is stored once, though three messages refer to it.
    assert len([n for n in names if n.endswith("backup.xml")]) == 1


def test_items_json_and_timeline_csv_hold_every_item_in_time_order(
    case_archive: Archive, tmp_path: Path
) -> None:
    bag_dir = unzip(export(case_archive, tmp_path / "b.zip"), tmp_path / "x")
    items = json.loads((bag_dir / "data/items.json").read_text(encoding="utf-8"))
    assert [i["exhibit"] for i in items] == [f"E-{n:03d}" for n in range(1, 8)]
    assert [i["kind"] for i in items].count("sms") == 3
    assert "private" not in {i["title"] for i in items}
    times = [i["occurred_at_utc"] for i in items]
    assert times == sorted(times)
    email = next(i for i in items if i["title"] == "还款提醒")
    assert email["tags"] == ["reminder"]
    assert email["notes"][0]["text"] == "first reminder 第一次提醒"
    raw = (bag_dir / "data/timeline.csv").read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["exhibit"] for r in rows] == [i["exhibit"] for i in items]
    assert rows[0]["snippet"]
    for item in items:
        assert (bag_dir / "data" / item["rendering"]).is_file()


def test_custody_log_covers_the_items_and_hides_other_cases(
    case_archive: Archive, tmp_path: Path
) -> None:
    bag_dir = unzip(export(case_archive, tmp_path / "b.zip"), tmp_path / "x")
    lines = [json.loads(x) for x in (bag_dir / "data/custody.jsonl").read_text().splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    info = bagit.Bag(str(bag_dir)).info
    assert lines[-1]["hash"] == info["Custody-Chain-Head"]
    full = [x for x in lines if not x.get("redacted")]
    assert {x["action"] for x in full} >= {"acquired", "linked", "case_created", "tagged"}
    # The item outside the case is present only as hashes.
    assert not any("other.eml" in json.dumps(x) for x in lines)
    assert any(x.get("redacted") for x in lines)


def test_the_same_state_and_now_give_a_byte_identical_bundle(
    case_archive: Archive, tmp_path: Path
) -> None:
    first = export(case_archive, tmp_path / "a.zip")
    second = export(case_archive, tmp_path / "sub" / "a.zip")
    assert first.read_bytes() == second.read_bytes()
    # Each export is recorded in the archive's custody log, after the bundle was written.
    exports = [e for e in case_archive.custody.events() if e.action == "exported"]
    assert len(exports) == 2
    assert exports[0].details["tagmanifest_sha256"] == exports[1].details["tagmanifest_sha256"]


def test_a_new_custody_event_changes_the_next_bundle(case_archive: Archive, tmp_path: Path) -> None:
    first = export(case_archive, tmp_path / "a.zip")
    case_archive.tag(2, "reply")
    second = export(case_archive, tmp_path / "b.zip")
    assert first.read_bytes() != second.read_bytes()


def test_binaries_are_stored_and_text_is_deflated(case_archive: Archive, tmp_path: Path) -> None:
    bundle = export(case_archive, tmp_path / "b.zip")
    with zipfile.ZipFile(bundle) as zf:
        kinds = {i.filename.split("/", 1)[1]: i.compress_type for i in zf.infolist()}
        times = {i.date_time for i in zf.infolist()}
    assert kinds["data/originals/E-001-A2_receipt.jpg"] == zipfile.ZIP_STORED
    assert kinds["data/originals/E-001-A1_合同 agreement.pdf"] == zipfile.ZIP_STORED
    assert kinds["data/items.json"] == zipfile.ZIP_DEFLATED
    assert kinds["data/index.html"] == zipfile.ZIP_DEFLATED
    assert times == {(2026, 5, 1, 12, 0, 0)}


def test_a_folder_bundle_is_a_valid_bag_too(case_archive: Archive, tmp_path: Path) -> None:
    bundle = export(case_archive, tmp_path / "bag", fmt="dir")
    bagit.Bag(str(bundle)).validate()
    assert verify_bundle(bundle).ok


def test_tag_filters_select_items(case_archive: Archive, tmp_path: Path) -> None:
    bag_dir = unzip(export(case_archive, tmp_path / "b.zip", tags=("reminder",)), tmp_path / "x")
    items = json.loads((bag_dir / "data/items.json").read_text(encoding="utf-8"))
    assert [i["title"] for i in items] == ["还款提醒"]
    bag_dir = unzip(
        export(case_archive, tmp_path / "c.zip", exclude_tags=("reminder",)), tmp_path / "y"
    )
    items = json.loads((bag_dir / "data/items.json").read_text(encoding="utf-8"))
    assert len(items) == 6


def test_export_refuses_to_overwrite_and_explains(case_archive: Archive, tmp_path: Path) -> None:
    export(case_archive, tmp_path / "b.zip")
    with pytest.raises(UsageError, match="already exists"):
        export(case_archive, tmp_path / "b.zip")


def test_default_name_carries_the_case_and_utc_time(
    case_archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = export_bundle(case_archive, ExportOptions(case="lenderx", now=EXPORT_NOW))
    assert result.path.name == "lenderx_20260501T120000Z.zip"
    assert result.items == 7
    assert result.originals == 7  # 2 emails, 2 attachments, the SMS backup, a PDF, a call log
    assert not list(tmp_path.glob("*.partial"))


def test_verify_txt_explains_sha256sum_and_openssl_in_both_languages(
    case_archive: Archive, tmp_path: Path
) -> None:
    bag_dir = unzip(export(case_archive, tmp_path / "b.zip"), tmp_path / "x")
    text = (bag_dir / "data/VERIFY.txt").read_text(encoding="utf-8")
    assert "sha256sum -c manifest-sha256.txt" in text
    assert "openssl ts -verify" in text
    assert "核验" in text


def test_renderings_show_each_kind_readably(case_archive: Archive, tmp_path: Path) -> None:
    bag_dir = unzip(export(case_archive, tmp_path / "b.zip"), tmp_path / "x")
    items = bag_dir / "data" / "items"
    email = (items / "E-001.html").read_text(encoding="utf-8")
    assert "还款提醒" in email
    assert "service@lenderx.com" in email
    assert 'href="../originals/E-001-A1_%E5%90%88%E5%90%8C%20agreement.pdf"' in email
    conversation = (items / "thread-001.html").read_text(encoding="utf-8")
    assert conversation.index("您的借款已逾期") < conversation.index("我申请延期还款")
    assert 'class="msg out"' in conversation
    call = (items / "E-006.html").read_text(encoding="utf-8")
    assert "65" in call
    document = (items / "E-007.html").read_text(encoding="utf-8")
    assert "<th>金额 amount</th>" in document
    assert "<td>2024-03-05</td>" in document


def test_a_large_case_gets_the_court_bundle_in_volumes(
    case_archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evidence_archiver.export import bundle as bundle_mod

    monkeypatch.setattr(bundle_mod, "VOLUME_SIZE", 3)
    folder = export(case_archive, tmp_path / "bag", fmt="dir")
    names = sorted(p.name for p in (folder / "data").glob("bundle*.pdf"))
    assert names == ["bundle-2.pdf", "bundle-3.pdf", "bundle.pdf"]
    cover = subprocess.run(
        [require_tool("pdftotext"), "-l", "1", str(folder / "data" / "bundle-2.pdf"), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "2 / 3" in cover
    assert "bundle-3.pdf: E-007" in cover
    assert verify_bundle(folder).ok


def test_lang_chooses_the_labels_and_no_timestamp_is_said_plainly(
    case_archive: Archive, tmp_path: Path
) -> None:
    folder = export(case_archive, tmp_path / "zh", fmt="dir", lang="zh", pdf=False)
    index = (folder / "data" / "index.html").read_text(encoding="utf-8")
    assert "时间线" in index
    assert "Timeline" not in index
    assert "没有可信时间戳" in index
    folder = export(case_archive, tmp_path / "en", fmt="dir", lang="en", pdf=False)
    index = (folder / "data" / "index.html").read_text(encoding="utf-8")
    assert "Timeline" in index
    assert "时间线" not in index
    assert "has no trusted timestamp" in index


def test_originals_with_alike_names_are_all_kept(archive: Archive, tmp_path: Path) -> None:
    # The item's own original is E-001_email.eml, and so would be its container's name.
    container = blob_from_bytes(b"From x\nSubject: x\n\nbody\n", "application/mbox")
    captures = [
        Capture(source=SourceRef("mbox", "email.eml"), original=container, item=None),
        Capture(
            source=SourceRef("mbox", "email.eml", "byte 0"),
            original=blob_from_bytes(b"Subject: x\r\n\r\nbody\r\n", "message/rfc822"),
            item=Item(kind="email", title="x", sender="service@lenderx.com"),
            container_sha256=container.sha256,
        ),
    ]
    archive.ingest(captures, connector="mbox", container="email.eml")
    archive.create_case("X", slug="lenderx", rules=[("domain", "lenderx.com")])
    folder = export(archive, tmp_path / "bag", fmt="dir", pdf=False)
    names = sorted(p.name for p in (folder / "data" / "originals").iterdir())
    assert names == ["E-001_email-2.eml", "E-001_email.eml"]
    assert verify_bundle(folder).ok
