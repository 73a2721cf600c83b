"""Google Voice Takeout pages: texts, group texts, calls and voicemail, from the real samples."""

from __future__ import annotations

import shutil
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.connectors.sms import detect_format, import_phone_export

PACIFIC_DST = timezone(timedelta(hours=-7))

# page -> (items, kinds)
PSANFORD = {
    "testdata_missedcall.html": (1, {"call": 1}),
    "testdata_mms.html": (6, {"mms": 6}),
    "testdata_sms.html": (5, {"sms": 4, "mms": 1}),
    "testdata_sms2.html": (6, {"sms": 4, "mms": 2}),
    "testdata_voicemail.html": (1, {"call": 1}),
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(PSANFORD))
def test_every_psanford_page_imports_with_counts(corpus: Path, archive: Archive, name: str) -> None:
    path = corpus / "google-voice-takeout_psanford" / name
    assert detect_format(path) == "google-voice"
    added, kinds = PSANFORD[name]
    report, _ = import_phone_export(archive, path, region="US")
    assert (report.added, report.failed) == (added, 0)
    assert archive.status()["items"] == kinds
    again, _ = import_phone_export(archive, path, region="US")
    assert (again.added, again.duplicates) == (0, added)


@pytest.mark.corpus
def test_text_times_come_from_the_page_with_their_offset(corpus: Path, archive: Archive) -> None:
    import_phone_export(archive, corpus / "google-voice-takeout_psanford" / "testdata_sms.html")
    items = archive.timeline()
    assert items[0].occurred_at == datetime(2022, 6, 30, 18, 6, 39, 894000, tzinfo=PACIFIC_DST)
    assert items[0].direction == "out"
    assert items[0].recipients == ("+333",)
    assert items[2].direction == "in"
    assert items[2].sender_name == "Tony Smehrik"
    assert items[2].body == "💚"
    # The picture of message 2 is not in the sample: flagged, the text kept.
    assert items[1].body == "MMS Sent"
    assert "attachment-missing" in items[1].flags


@pytest.mark.corpus
def test_voicemail_keeps_transcript_and_missed_call_is_flagged(
    corpus: Path, archive: Archive
) -> None:
    folder = corpus / "google-voice-takeout_psanford"
    import_phone_export(archive, folder / "testdata_voicemail.html")
    import_phone_export(archive, folder / "testdata_missedcall.html")
    missed, voicemail = archive.timeline()
    assert missed.flags == ("missed",)
    assert missed.occurred_at == datetime(2009, 9, 17, 17, 26, 41, tzinfo=PACIFIC_DST)
    assert voicemail.body.startswith("Hi Peter, this is Sleve Mcdichael.")
    assert voicemail.details["duration_s"] == 18
    assert voicemail.details["call_type"] == "voicemail"


@pytest.mark.corpus
def test_whole_takeout_folder_with_media_found_without_extensions(
    corpus: Path, archive: Archive
) -> None:
    folder = corpus / "google-voice-takeout_wjcarpenter" / "test_data"
    assert detect_format(folder) == "google-voice"
    report, notes = import_phone_export(archive, folder, region="US")
    assert (report.added, report.failed) == (76, 0)
    assert notes.records == 20  # pages
    status = archive.status()
    assert status["items"] == {"call": 10, "mms": 38, "sms": 28}
    # Links omit the extension: "…-17-1" is the .jpg beside the page.
    sent = [i for i in archive.timeline() if i.body == "sure, right"][0]
    assert [a.filename for a in sent.attachments] == [
        "Edson Arantes do Nascimento - Text - 2023-09-20T14_41_11Z-17-1.jpg"
    ]
    assert [a.media_type for a in sent.attachments] == ["image/jpeg"]
    card = [i for i in archive.timeline() if i.body == "science guys's helper"][0]
    assert card.attachments[0].filename.endswith("-3-1.vcf")
    assert "Kierkegaard" in card.attachments[0].text
    recorded = [i for i in archive.timeline(kind="call") if "recorded" in i.flags][0]
    assert recorded.attachments[0].media_type == "audio/mpeg"
    assert recorded.details["duration_s"] == 29 * 60 + 46
    # The file name says 2016-11-22T22_27_58Z; the page says the same instant in Pacific time.
    received = [i for i in archive.timeline(kind="call") if i.details["call_type"] == "incoming"]
    assert received[0].occurred_at == datetime(2016, 11, 22, 22, 27, 58, tzinfo=UTC)
    again, _ = import_phone_export(archive, folder, region="US")
    assert (again.added, again.duplicates) == (0, 76)


@pytest.mark.corpus
def test_takeout_zip_gives_the_same_items_as_the_folder(
    corpus: Path, archive: Archive, tmp_path: Path
) -> None:
    folder = corpus / "google-voice-takeout_wjcarpenter" / "test_data"
    zipped = tmp_path / "takeout-20240415.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                z.write(file, file.relative_to(folder).as_posix())
    assert detect_format(zipped) == "google-voice"
    first, _ = import_phone_export(archive, zipped, region="US")
    assert first.added == 76
    from_folder, _ = import_phone_export(archive, folder, region="US")
    assert (from_folder.added, from_folder.duplicates) == (0, 76)


def test_a_page_that_is_not_google_voice_is_reported(tmp_path: Path, archive: Archive) -> None:
    calls = tmp_path / "Calls"
    calls.mkdir()
    (calls / "note.html").write_text("<html><body><p>hello</p></body></html>", encoding="utf-8")
    report, _ = import_phone_export(archive, calls)
    assert report.failed == 1
    assert "not a Google Voice conversation or call page" in report.errors[0].reason
    shutil.rmtree(calls)
