"""The bundle's own zip writer and reader: plain zips any tool reads, in memory that does not
grow with the number of entries."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from evidence_archiver.export import zipio
from evidence_archiver.export.zipio import ZipWriter, iter_central_directory, open_member
from killing import kill_during_zip_append
from tsa import require_tool

WHEN = (2026, 5, 1, 12, 0, 0)


def write_sample(path: Path) -> dict[str, bytes]:
    files = {
        "bag/data/empty.txt": b"",
        "bag/data/合同 agreement.pdf": b"%PDF-1.4 " + os.urandom(3000),
        "bag/data/items.json": "还款提醒 reminder\n".encode() * 5000,
        "bag/data/photo.jpg": os.urandom(70_000),
    }
    with ZipWriter.create(path, WHEN) as zw:
        for name, data in files.items():
            zw.write_bytes(name, data, compress=name.endswith((".txt", ".json")))
        with zw.open("bag/data/streamed.html", compress=True) as entry:
            for n in range(2000):
                entry.write(f"<p>line {n} 第{n}行</p>\n".encode())
    files["bag/data/streamed.html"] = "".join(
        f"<p>line {n} 第{n}行</p>\n" for n in range(2000)
    ).encode()
    return files


def test_the_standard_library_reads_every_entry_back(tmp_path: Path) -> None:
    files = write_sample(tmp_path / "a.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert zf.testzip() is None
        assert zf.namelist() == list(files)
        for name, data in files.items():
            assert zf.read(name) == data
        kinds = {i.filename: i.compress_type for i in zf.infolist()}
        infos = {i.filename: i for i in zf.infolist()}
    assert kinds["bag/data/photo.jpg"] == zipfile.ZIP_STORED
    assert kinds["bag/data/items.json"] == zipfile.ZIP_DEFLATED
    chinese = infos["bag/data/合同 agreement.pdf"]
    assert chinese.flag_bits & 0x800  # UTF-8 name flag
    assert not infos["bag/data/photo.jpg"].flag_bits & 0x800
    assert chinese.date_time == WHEN
    assert chinese.external_attr >> 16 == 0o100644
    assert infos["bag/data/items.json"].compress_size < len(files["bag/data/items.json"]) // 10


def test_unzip_tests_the_archive_clean(tmp_path: Path) -> None:
    unzip = require_tool("unzip")
    write_sample(tmp_path / "a.zip")
    proc = subprocess.run([unzip, "-t", str(tmp_path / "a.zip")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No errors detected" in proc.stdout


def test_our_reader_streams_every_entry_back(tmp_path: Path) -> None:
    files = write_sample(tmp_path / "a.zip")
    with (tmp_path / "a.zip").open("rb") as f:
        members = list(iter_central_directory(f))
        assert [m.name for m in members] == list(files)
        for m in members:
            with open_member(f, m) as stream:
                assert stream.read() == files[m.name]


def test_the_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    def make(path: Path) -> bytes:
        with ZipWriter.create(path, WHEN) as zw:
            zw.write_bytes("a/b.txt", b"same text " * 100, compress=True)
            zw.write_bytes("a/c.bin", bytes(range(256)), compress=False)
        return path.read_bytes()

    assert make(tmp_path / "1.zip") == make(tmp_path / "2.zip")


def test_entries_are_appended_after_the_existing_ones(tmp_path: Path) -> None:
    files = write_sample(tmp_path / "a.zip")
    with ZipWriter.append(tmp_path / "a.zip", (2026, 6, 1, 0, 0, 0)) as zw:
        zw.write_bytes("bag/timestamp/manifest.tsr", b"\x30\x82token", compress=False)
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert zf.testzip() is None
        assert zf.namelist() == [*files, "bag/timestamp/manifest.tsr"]
        assert zf.read("bag/timestamp/manifest.tsr") == b"\x30\x82token"
        assert zf.getinfo("bag/timestamp/manifest.tsr").date_time == (2026, 6, 1, 0, 0, 0)


def test_a_zip_comment_survives_an_append(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as zf:
        zf.writestr("x.txt", b"x")
        zf.comment = b"made elsewhere"
    with ZipWriter.append(tmp_path / "c.zip", WHEN) as zw:
        zw.write_bytes("y.txt", b"y", compress=True)
    with zipfile.ZipFile(tmp_path / "c.zip") as zf:
        assert zf.comment == b"made elsewhere"
        assert zf.read("x.txt") == b"x"
        assert zf.read("y.txt") == b"y"


def test_appending_to_something_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    (tmp_path / "n.zip").write_bytes(b"not a zip at all" * 10)
    with pytest.raises(zipfile.BadZipFile):
        ZipWriter.append(tmp_path / "n.zip", WHEN)


def test_zip64_fields_are_written_and_read_when_limits_are_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Writing 4 GiB in a test is too slow: lower the limits the writer and reader use, so
    # that offsets, sizes and the entry count all take the ZIP64 path on a small file.
    monkeypatch.setattr(zipio, "ZIP64_LIMIT", 1000)
    monkeypatch.setattr(zipio, "COUNT_LIMIT", 5)
    data = {f"z/{n}.bin": os.urandom(700 + n) for n in range(8)}
    with ZipWriter.create(tmp_path / "z.zip", WHEN) as zw:
        for name, blob in data.items():
            zw.write_bytes(name, blob, compress=False)
        with zw.open("z/streamed.txt", compress=True) as entry:
            entry.write(b"stream " * 1000)
    data["z/streamed.txt"] = b"stream " * 1000
    raw = (tmp_path / "z.zip").read_bytes()
    assert b"PK\x06\x06" in raw  # the ZIP64 end record
    assert b"PK\x06\x07" in raw  # and its locator
    with (tmp_path / "z.zip").open("rb") as f:
        members = list(iter_central_directory(f))
        assert [m.name for m in members] == list(data)
        assert members[-1].header_offset > 1000
        for m in members:
            with open_member(f, m) as stream:
                assert stream.read() == data[m.name]
    monkeypatch.undo()
    # The standard library reads the same file with the real limits: only the fields that
    # needed it are ZIP64, which any reader follows.
    with zipfile.ZipFile(tmp_path / "z.zip") as zf:
        assert zf.testzip() is None
        assert [zf.read(n) for n in data] == list(data.values())


def test_a_changed_byte_is_caught_by_the_crc(tmp_path: Path) -> None:
    write_sample(tmp_path / "a.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        info = zf.getinfo("bag/data/photo.jpg")
    raw = bytearray((tmp_path / "a.zip").read_bytes())
    raw[info.header_offset + 30 + len(info.filename) + 500] ^= 0x01
    (tmp_path / "a.zip").write_bytes(bytes(raw))
    with (tmp_path / "a.zip").open("rb") as f:
        member = next(m for m in iter_central_directory(f) if m.name == "bag/data/photo.jpg")
        with pytest.raises(zipfile.BadZipFile, match="CRC"), open_member(f, member) as s:
            s.read()


def test_a_deflated_bomb_is_read_in_bounded_pieces(tmp_path: Path) -> None:
    with ZipWriter.create(tmp_path / "b.zip", WHEN) as zw, zw.open("b.txt", compress=True) as e:
        for _ in range(64):
            e.write(bytes(1 << 20))
    with (tmp_path / "b.zip").open("rb") as f:
        (member,) = iter_central_directory(f)
        assert member.compressed < 1 << 20
        digest = hashlib.sha256()
        with open_member(f, member) as stream:
            while chunk := stream.read(1 << 16):
                assert len(chunk) <= 1 << 16
                digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(bytes(64 << 20)).hexdigest()


def _traced_peak(entries: int, path: Path) -> int:
    tracemalloc.start()
    try:
        with ZipWriter.create(path, WHEN) as zw:
            for n in range(entries):
                zw.write_bytes(f"bag/data/items/E-{n:06d}.html", b"<p>x</p>", compress=True)
        with path.open("rb") as f:
            for member in iter_central_directory(f):
                with open_member(f, member) as stream:
                    stream.read()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_entries(tmp_path: Path) -> None:
    small = _traced_peak(2_000, tmp_path / "small.zip")
    large = _traced_peak(20_000, tmp_path / "large.zip")
    # zipfile would hold ~20,000 ZipInfo objects (several MB) here; we hold none of them.
    assert large < small + 256 * 1024, (small, large)
    assert large < 4 << 20


def test_the_central_directory_lists_names_as_written(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # a zip made by another tool
        zf.writestr("päth/ö.txt", b"1")
        zf.writestr("plain.txt", b"2")
    buf.seek(0)
    assert [m.name for m in iter_central_directory(buf)] == ["päth/ö.txt", "plain.txt"]


def test_an_entry_compressed_with_a_method_bundles_never_use_is_refused_by_name(
    tmp_path: Path,
) -> None:
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bag/data/a.txt", b"plain", compress_type=zipfile.ZIP_STORED)
        zf.writestr("bag/data/b.txt", b"squeezed" * 100, compress_type=zipfile.ZIP_BZIP2)
    with path.open("rb") as f:
        plain, squeezed = list(iter_central_directory(f))
        with open_member(f, plain) as stream:
            assert stream.read() == b"plain"
        with pytest.raises(zipio.UnreadableEntry, match="b.txt uses compression method 12"):
            open_member(f, squeezed)


def test_a_finished_zip_is_synced_to_disk_before_it_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Power loss cannot be staged here; what can be checked is that the bytes are handed to
    # the disk (fsync of the zip itself) once it is whole, after a create and after an append.
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(zipio.os, "fsync", spy)
    path = tmp_path / "a.zip"
    write_sample(path)
    assert synced == [path.stat().st_ino]
    synced.clear()
    with ZipWriter.append(path, (2026, 6, 1, 0, 0, 0)) as zw:
        # Before the zip is touched, its journal (and the folder that lists it) is on disk.
        journal = zipio.journal_path(path)
        assert synced == [journal.stat().st_ino, tmp_path.stat().st_ino]
        zw.write_bytes("bag/timestamp/manifest.tsr", b"\x30\x82token", compress=False)
    # Then the finished zip, then the folder once the journal is gone.
    assert synced[2:] == [path.stat().st_ino, tmp_path.stat().st_ino]
    assert not journal.exists()


def test_an_append_that_fails_midway_leaves_the_zip_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    write_sample(path)
    before = path.read_bytes()
    with (  # noqa: PT012 - the failure happens inside the append
        pytest.raises(RuntimeError, match="disk full"),
        ZipWriter.append(path, WHEN) as zw,
    ):
        zw.write_bytes("bag/timestamp/manifest.tsr", b"token" * 20_000, compress=False)
        raise RuntimeError("disk full")
    assert path.read_bytes() == before
    assert not zipio.journal_path(path).exists()


def test_an_append_killed_midway_is_undone_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    entries = write_sample(path)
    before = path.read_bytes()
    kill_during_zip_append(path)
    assert path.read_bytes() != before
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(path)
    assert zipio.restore_interrupted_append(path)
    assert path.read_bytes() == before
    assert not zipio.journal_path(path).exists()
    assert not zipio.restore_interrupted_append(path)  # nothing left to undo
    # And the next append starts from the restored zip.
    kill_during_zip_append(path)
    with ZipWriter.append(path, WHEN) as zw:
        zw.write_bytes("bag/timestamp/manifest.tsr", b"token", compress=False)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert zf.read("bag/timestamp/manifest.tsr") == b"token"
        assert {name: zf.read(name) for name in entries} == entries


def test_a_journal_cut_short_is_dropped_and_the_zip_left_alone(tmp_path: Path) -> None:
    # Killed while it wrote its journal, the append had not touched the zip yet.
    path = tmp_path / "a.zip"
    write_sample(path)
    with ZipWriter.append(path, WHEN):  # adds nothing; just to see a whole journal
        whole = zipio.journal_path(path).read_bytes()
    before = path.read_bytes()
    for cut in (0, 10, len(whole) - 1):
        zipio.journal_path(path).write_bytes(whole[:cut])
        assert not zipio.restore_interrupted_append(path)
        assert path.read_bytes() == before
        assert not zipio.journal_path(path).exists()
