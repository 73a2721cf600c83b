"""The exhibit plan kept in a temporary database reads back as the list of exhibits it was."""

from __future__ import annotations

import pytest

from evidence_archiver.archive.records import ItemRecord
from evidence_archiver.export import exhibits as exhibits_module
from evidence_archiver.export.exhibits import Exhibit, ExhibitPlan, exhibit_number


def no_load(item_id: int) -> ItemRecord:
    raise AssertionError("the plan must not load items by itself")


def build(count: int, every_third_in_thread: bool = True) -> ExhibitPlan:
    plan = ExhibitPlan(no_load)
    for n in range(1, count + 1):
        number = exhibit_number(n, count)
        e = Exhibit(number=number, item_id=100 + n, load=no_load)
        e.original = plan.file_for(f"sha-{n}", f"{number}_email.eml", "item", n, "message/rfc822")
        # Every exhibit also refers to one shared original (a phone backup, say).
        e.container = plan.file_for(
            "sha-backup", f"{number}_backup.xml", "container", 9, "text/xml"
        )
        if n % 2:
            e.attachments.append((n, plan.file_for(f"att-{n}", f"{number}-A1_a.pdf", "attachment",
                                                   1, "application/pdf")))  # fmt: skip
        if every_third_in_thread and n % 3 == 0:
            e.thread = plan.thread_for("+8613812345678")
        plan.add_exhibit(e)
    return plan


def test_the_plan_reads_back_in_order_with_its_files() -> None:
    plan = build(12)
    assert len(plan) == 12
    assert [e.number for e in plan] == [f"E-{n:03d}" for n in range(1, 13)]
    first = plan[0]
    assert first.item_id == 101
    assert first.original is not None
    assert first.original.path == "data/originals/E-001_email.eml"
    assert first.container is not None
    assert first.container.path == "data/originals/E-001_backup.xml"  # named once, first time
    assert plan[5].container == first.container
    assert [f.path for _, f in first.attachments] == ["data/originals/E-001-A1_a.pdf"]
    assert plan[1].attachments == []
    assert plan[-1].number == "E-012"
    with pytest.raises(IndexError):
        plan[12]
    paths = [f.path for f in plan.files()]
    assert paths == sorted(paths)
    assert plan.file_count() == len(paths) == 12 + 1 + 6
    plan.close()


def test_slices_are_views_as_the_pdf_volumes_use_them() -> None:
    plan = build(10)
    volume = plan[3:7]
    assert len(volume) == 4
    assert [e.number for e in volume] == ["E-004", "E-005", "E-006", "E-007"]
    assert volume[0].number == "E-004"
    assert volume[-1].number == "E-007"
    assert [e.number for e in volume[1:3]] == ["E-005", "E-006"]
    assert len(plan[20:]) == 0
    assert list(plan[8:]) == list(plan)[8:]
    plan.close()


def test_names_that_differ_only_in_case_are_kept_apart() -> None:
    plan = ExhibitPlan(no_load)
    a = plan.file_for("sha-a", "Receipt.pdf", "attachment", 1, "application/pdf")
    b = plan.file_for("sha-b", "receipt.pdf", "attachment", 1, "application/pdf")
    c = plan.file_for("sha-c", "RECEIPT", "attachment", 1, "application/octet-stream")
    d = plan.file_for("sha-d", "receipt", "attachment", 1, "application/octet-stream")
    assert [a.path, b.path, c.path, d.path] == [
        "data/originals/Receipt.pdf",
        "data/originals/receipt-2.pdf",
        "data/originals/RECEIPT",
        "data/originals/receipt-2",
    ]
    plan.close()


def test_threads_custody_lookups_and_thumbnails(monkeypatch: pytest.MonkeyPatch) -> None:
    # Batches of 4 so that the walks cross batch boundaries.
    monkeypatch.setattr(exhibits_module, "BATCH", 4)
    plan = build(40)
    assert [e.number for e in plan] == [f"E-{n:03d}" for n in range(1, 41)]
    assert list(plan.threads()) == ["items/thread-001.html"]
    members = [e.number for e in plan.thread_members("items/thread-001.html")]
    assert members == [f"E-{n:03d}" for n in range(3, 41, 3)]
    attached = {e.number: len(e.attachments) for e in plan.thread_members("items/thread-001.html")}
    assert attached["E-003"] == 1
    assert attached["E-006"] == 0
    assert plan.has_item(105)
    assert not plan.has_item(99)
    assert plan.has_original("att-3")
    assert not plan.has_original("att-4")
    plan.thumbnails.add("sha-1", "data/thumbnails/E-001.png")
    assert plan.thumbnails.get("sha-1") == "data/thumbnails/E-001.png"
    assert plan.thumbnails.get("sha-2") is None
    assert "sha-1" in plan.thumbnails
    assert dict(plan.thumbnails) == {"sha-1": "data/thumbnails/E-001.png"}
    plan.close()
