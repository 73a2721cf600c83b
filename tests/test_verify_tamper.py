"""``verify_bundle`` finds every kind of tampering and names the file; an untouched bundle passes.

Each test changes a real exported bundle the way someone altering evidence would, without our
tool: rewriting zip entries, editing files in a folder, forging a manifest line.
"""

from __future__ import annotations

import hashlib
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.export import (
    ExportOptions,
    TimestampError,
    export_bundle,
    timestamp_bundle,
    verify_bundle,
)
from evidence_archiver.export.local_tsa import LocalTSA
from killing import kill_during_zip_append
from tsa import EXPORT_NOW, require_tool

ORIGINAL = "data/originals/E-001-A2_receipt.jpg"


@pytest.fixture
def bundle(case_archive: Archive, tmp_path: Path) -> Path:
    options = ExportOptions(case="lenderx", out=tmp_path / "bundle.zip", now=EXPORT_NOW, pdf=False)
    return export_bundle(case_archive, options).path


@pytest.fixture
def stamped(case_archive: Archive, tmp_path: Path, tsa: LocalTSA) -> Path:
    options = ExportOptions(
        case="lenderx",
        out=tmp_path / "stamped.zip",
        now=EXPORT_NOW,
        tsa_url=tsa.url,
        tsa_ca_file=tsa.ca_file,
        pdf=False,  # the views are tested elsewhere; this keeps the tamper suite quick
    )
    return export_bundle(case_archive, options).path


def rewrite(
    src: Path,
    dst: Path,
    change: Callable[[str, bytes], bytes | None] = lambda name, data: data,
    extra: list[tuple[zipfile.ZipInfo | str, bytes]] = (),  # type: ignore[assignment]
) -> Path:
    """Copy a zip entry by entry; ``change`` may alter (or, returning None, drop) each entry."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            name = info.filename.split("/", 1)[1]
            data = change(name, zin.read(info))
            if data is not None:
                zout.writestr(info, data)
        for target, data in extra:
            zout.writestr(target, data)
    return dst


def top(bundle: Path) -> str:
    with zipfile.ZipFile(bundle) as zf:
        return zf.namelist()[0].split("/", 1)[0]


def flip(data: bytes, at: int = 10) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def problems_for(path: Path, **kw: object) -> dict[str, list[str]]:
    report = verify_bundle(path, **kw)  # type: ignore[arg-type]
    found: dict[str, list[str]] = {}
    for p in report.problems:
        found.setdefault(p.file, []).append(p.message)
    return found


def test_an_untouched_bundle_passes(bundle: Path) -> None:
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert report.files_checked > 20
    assert "no trusted timestamp" in " ".join(report.notes)


@pytest.mark.parametrize(
    "target", [ORIGINAL, "data/items/E-001.html", "manifest-sha256.txt", "data/custody.jsonl"]
)
def test_a_flipped_byte_is_reported_with_its_file(
    bundle: Path, tmp_path: Path, target: str
) -> None:
    bad = rewrite(bundle, tmp_path / "bad.zip", lambda n, d: flip(d) if n == target else d)
    found = problems_for(bad)
    assert target in found, found


def test_a_removed_file_is_reported(bundle: Path, tmp_path: Path) -> None:
    bad = rewrite(bundle, tmp_path / "bad.zip", lambda n, d: None if n == ORIGINAL else d)
    found = problems_for(bad)
    assert any("missing" in m for m in found[ORIGINAL])


def test_an_added_file_is_reported(bundle: Path, tmp_path: Path) -> None:
    name = f"{top(bundle)}/data/originals/E-999_forged.pdf"
    bad = rewrite(bundle, tmp_path / "bad.zip", extra=[(name, b"%PDF-1.4 forged")])
    found = problems_for(bad)
    assert any("not listed" in m for m in found["data/originals/E-999_forged.pdf"])


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("{top}/../evil.txt", "outside the bag"),
        ("/etc/evil.txt", "absolute"),
        ("{top}\\data\\evil.txt", "backslash"),
    ],
)
def test_entries_that_escape_the_bag_are_reported(
    bundle: Path, tmp_path: Path, name: str, why: str
) -> None:
    entry = name.format(top=top(bundle))
    bad = rewrite(bundle, tmp_path / "bad.zip", extra=[(entry, b"x")])
    found = problems_for(bad)
    assert any(why in m for m in found[entry]), found


def test_a_duplicate_entry_is_reported(bundle: Path, tmp_path: Path) -> None:
    entry = f"{top(bundle)}/{ORIGINAL}"
    with pytest.warns(UserWarning, match="Duplicate name"):
        bad = rewrite(bundle, tmp_path / "bad.zip", extra=[(entry, b"a second copy")])
    found = problems_for(bad)
    assert any("2 times" in m for m in found[entry])


def test_a_symlink_entry_is_reported(bundle: Path, tmp_path: Path) -> None:
    link = zipfile.ZipInfo(f"{top(bundle)}/data/link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    bad = rewrite(bundle, tmp_path / "bad.zip", extra=[(link, b"/etc/passwd")])
    found = problems_for(bad)
    assert any("symbolic link" in m for m in found[f"{top(bundle)}/data/link"])


def test_a_symlink_in_a_folder_bundle_is_reported(case_archive: Archive, tmp_path: Path) -> None:
    options = ExportOptions(
        case="lenderx", out=tmp_path / "dir", fmt="dir", now=EXPORT_NOW, pdf=False
    )
    folder = export_bundle(case_archive, options).path
    (folder / "data" / "link").symlink_to("/etc/passwd")
    assert "data/link" in problems_for(folder)


def forge_original_and_manifests(src: Path, dst: Path) -> Path:
    """Replace an original and rewrite both manifests to match: only a timestamp catches it."""
    with zipfile.ZipFile(src) as zf:
        names = {i.filename.split("/", 1)[1]: zf.read(i) for i in zf.infolist()}
    # Same length, so that even Payload-Oxum in bag-info.txt still matches.
    forged = bytes(reversed(names[ORIGINAL]))
    manifest = names["manifest-sha256.txt"].decode()
    old = hashlib.sha256(names[ORIGINAL]).hexdigest()
    manifest = manifest.replace(old, hashlib.sha256(forged).hexdigest())
    tag = names["tagmanifest-sha256.txt"].decode()
    old_m = hashlib.sha256(names["manifest-sha256.txt"]).hexdigest()
    tag = tag.replace(old_m, hashlib.sha256(manifest.encode()).hexdigest())
    replaced = {
        ORIGINAL: forged,
        "manifest-sha256.txt": manifest.encode(),
        "tagmanifest-sha256.txt": tag.encode(),
    }
    return rewrite(src, dst, lambda n, d: replaced.get(n, d))


def test_a_forged_original_with_forged_manifests_passes_without_a_timestamp(
    bundle: Path, tmp_path: Path
) -> None:
    # The honest limit of hashes alone: this is what the timestamp is for.
    forged = forge_original_and_manifests(bundle, tmp_path / "forged.zip")
    assert verify_bundle(forged).ok


def test_a_timestamped_bundle_verifies_with_the_tsa_ca(stamped: Path, tsa: LocalTSA) -> None:
    report = verify_bundle(stamped, tsa_ca_file=tsa.ca_file)
    assert report.ok, report.problems
    assert report.timestamp is not None
    # Without the CA, the copy inside the bundle is used, and the report says so.
    report = verify_bundle(stamped)
    assert report.ok
    assert any("CA copy inside the bundle" in n for n in report.notes)


def test_a_forged_original_and_manifest_line_is_caught_by_the_timestamp(
    stamped: Path, tmp_path: Path, tsa: LocalTSA
) -> None:
    forged = forge_original_and_manifests(stamped, tmp_path / "forged.zip")
    found = problems_for(forged, tsa_ca_file=tsa.ca_file)
    assert list(found) == ["timestamp/manifest.tsr"]
    assert "changed after timestamping" in found["timestamp/manifest.tsr"][0]


def test_a_flipped_bit_in_the_token_is_reported(
    stamped: Path, tmp_path: Path, tsa: LocalTSA
) -> None:
    def change(name: str, data: bytes) -> bytes:
        return flip(data, len(data) - 40) if name == "timestamp/manifest.tsr" else data

    bad = rewrite(stamped, tmp_path / "bad.zip", change)
    found = problems_for(bad, tsa_ca_file=tsa.ca_file)
    assert list(found) == ["timestamp/manifest.tsr"], found


def test_a_token_from_another_ca_is_refused(stamped: Path, tmp_path: Path, bundle: Path) -> None:
    from evidence_archiver.export.local_tsa import make_tsa_certificates

    require_tool("openssl")
    other = tmp_path / "other-ca"
    make_tsa_certificates(other)
    found = problems_for(stamped, tsa_ca_file=other / "ca.crt")
    assert "timestamp/manifest.tsr" in found


def test_a_missing_token_fails_when_a_ca_is_given(bundle: Path, tsa: LocalTSA) -> None:
    assert "timestamp/manifest.tsr" in problems_for(bundle, tsa_ca_file=tsa.ca_file)


def test_openssl_ts_verify_accepts_the_token(stamped: Path, tmp_path: Path, tsa: LocalTSA) -> None:
    openssl = require_tool("openssl")
    with zipfile.ZipFile(stamped) as zf:
        zf.extractall(tmp_path / "x")
    bag = tmp_path / "x" / top(stamped)
    proc = subprocess.run(
        [openssl, "ts", "-verify", "-data", "tagmanifest-sha256.txt",
         "-in", "timestamp/manifest.tsr", "-CAfile", str(tsa.ca_file),
         "-untrusted", "timestamp/tsa-chain.pem"],
        cwd=bag, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verification: OK" in proc.stdout


def test_timestamp_can_be_added_later_to_a_zip_and_a_folder(
    case_archive: Archive, bundle: Path, tmp_path: Path, tsa: LocalTSA
) -> None:
    info = timestamp_bundle(bundle, tsa.url, ca_file=tsa.ca_file)
    assert info.checked_against_ca
    assert verify_bundle(bundle, tsa_ca_file=tsa.ca_file).ok
    options = ExportOptions(
        case="lenderx", out=tmp_path / "dir", fmt="dir", now=EXPORT_NOW, pdf=False
    )
    folder = export_bundle(case_archive, options).path
    timestamp_bundle(folder, tsa.url)
    assert (folder / "timestamp" / "manifest.tsr").is_file()
    assert verify_bundle(folder, tsa_ca_file=tsa.ca_file).ok


def test_a_timestamp_killed_while_written_is_undone_and_can_be_added_again(
    bundle: Path, tsa: LocalTSA
) -> None:
    sealed = bundle.read_bytes()
    kill_during_zip_append(bundle)
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(bundle)  # what a crash used to leave: no readable zip at all
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert any("interrupted" in note for note in report.notes)
    assert bundle.read_bytes() == sealed
    kill_during_zip_append(bundle)
    info = timestamp_bundle(bundle, tsa.url, ca_file=tsa.ca_file)
    assert info.checked_against_ca
    report = verify_bundle(bundle, tsa_ca_file=tsa.ca_file)
    assert report.ok, report.problems
    assert report.timestamp is not None
    assert not any("interrupted" in note for note in report.notes)


def test_a_tsa_answering_garbage_is_a_clear_error_and_adds_nothing(
    bundle: Path, garbage_tsa: str
) -> None:
    before = bundle.read_bytes()
    with pytest.raises(TimestampError, match="not an RFC 3161 timestamp"):
        timestamp_bundle(bundle, garbage_tsa)
    assert bundle.read_bytes() == before


def test_a_failing_or_absent_tsa_is_a_clear_error(bundle: Path, failing_tsa: str) -> None:
    with pytest.raises(TimestampError, match="HTTP 500"):
        timestamp_bundle(bundle, failing_tsa)
    with pytest.raises(TimestampError, match="cannot reach"):
        timestamp_bundle(bundle, "http://127.0.0.1:9/tsa", timeout=5)


def test_export_with_a_broken_tsa_keeps_the_bundle_and_says_how_to_retry(
    case_archive: Archive, tmp_path: Path, garbage_tsa: str
) -> None:
    options = ExportOptions(
        case="lenderx", out=tmp_path / "b.zip", now=EXPORT_NOW, tsa_url=garbage_tsa, pdf=False
    )
    with pytest.raises(TimestampError, match="evidence timestamp"):
        export_bundle(case_archive, options)
    assert verify_bundle(tmp_path / "b.zip").ok
    assert [e.action for e in case_archive.custody.events()][-1] == "exported"


def test_the_token_hash_goes_into_the_custody_log(case_archive: Archive, stamped: Path) -> None:
    event = list(case_archive.custody.events())[-1]
    assert event.action == "timestamped"
    with zipfile.ZipFile(stamped) as zf:
        token = zf.read(f"{top(stamped)}/timestamp/manifest.tsr")
    assert event.details["token_sha256"] == hashlib.sha256(token).hexdigest()


def test_a_byte_flipped_inside_the_zip_file_itself_is_reported_not_a_crash(
    bundle: Path, tmp_path: Path
) -> None:
    # Change the stored bytes in place, as a disk error or a careless hex editor would: the
    # entry's CRC no longer matches, and the verifier must say so, naming the file.
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo(f"{top(bundle)}/{ORIGINAL}")
    assert info.compress_type == zipfile.ZIP_STORED
    header = 30 + len(info.filename.encode()) + len(info.extra)
    data[info.header_offset + header + 100] ^= 0xFF
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    found = problems_for(bad)
    assert f"{top(bundle)}/{ORIGINAL}" in found, found
    assert "damaged" in found[f"{top(bundle)}/{ORIGINAL}"][0]


def test_a_timestamp_is_appended_to_a_zip_another_tool_shifted(
    bundle: Path, tmp_path: Path, tsa: LocalTSA
) -> None:
    # Bytes before the first entry (a self-extractor stub, say) move every entry away from
    # the offsets the directory records: our appender refuses such a zip and zipfile, which
    # allows for the shift, adds the token instead.
    shifted = tmp_path / "shifted.zip"
    shifted.write_bytes(b"#!/bin/sh\nexit 0\n" + bundle.read_bytes())
    timestamp_bundle(shifted, tsa.url, ca_file=tsa.ca_file)
    with zipfile.ZipFile(shifted) as zf:
        assert zf.testzip() is None
        assert f"{top(bundle)}/timestamp/manifest.tsr" in zf.namelist()
    report = verify_bundle(shifted, tsa_ca_file=tsa.ca_file)
    assert report.ok, report.problems
