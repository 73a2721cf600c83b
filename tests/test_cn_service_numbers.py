"""Chinese lenders' service numbers and SMS gateways: kept as their digits, named by the
signature their texts carry, and matched by case rules in every written form, in new archives
and in archives made before (which hold 95555 as +8695555)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.archive.cases import rule_from_counterparty
from evidence_archiver.connectors.sms import import_phone_export
from evidence_archiver.connectors.sms.common import sms_signature
from evidence_archiver.people import normalize_phone, phone_key, phone_variants

MS = 1720000000000  # 2024-07-03 09:46:40 UTC


@pytest.mark.parametrize(
    ("written", "region", "stored"),
    [
        ("95555", "CN", "95555"),
        ("+8695555", "CN", "95555"),
        ("+86 95555", "US", "95555"),
        ("0086 95555", "US", "95555"),
        ("95555", "US", "95555"),
        ("400-820-8820", "CN", "4008208820"),
        ("+86 400 820 8820", "US", "4008208820"),
        ("800 555 0100", "US", "+18005550100"),  # a US toll-free number stays one
        ("10690001234567", "CN", "10690001234567"),
        ("+86 1069 0001 2345 6789 01", "CN", "10690001234567890" + "1"),
        ("10086", "CN", "10086"),
        ("12378", "CN", "12378"),
        ("138 0013 8000", "CN", "+8613800138000"),  # a mobile is still E.164
        ("+86 10 6552 9988", "US", "+861065529988"),  # a Beijing landline too
    ],
)
def test_service_numbers_keep_their_digits(written: str, region: str, stored: str) -> None:
    assert normalize_phone(written, region) == stored


def test_every_stored_form_of_a_service_number_compares_equal() -> None:
    assert phone_variants("95555") == ("95555", "+8695555")
    assert phone_variants("+8695555") == ("95555", "+8695555")
    assert phone_variants("+8613800138000") == ("+8613800138000",)
    assert phone_key("+8695555") == phone_key("95555") == phone_key("95555 ") == "95555"
    assert rule_from_counterparty("+86 95555") == ("phone", "95555")
    assert rule_from_counterparty("1069-0001-2345") == ("phone", "106900012345")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("【乐贷】您的借款已逾期3天。", "乐贷"),
        ("您的验证码是 123456，5分钟内有效。【乐贷】", "乐贷"),
        ("[乐贷]您本期应还 5,265.76 元", "乐贷"),
        ("Your loan is overdue. [LenderX]", "LenderX"),
        ("〖乐贷金融〗还款提醒", "乐贷金融"),
        ("您好，明天见", None),
        ("[图片]", None),
        ("【12345】not a name", None),
        ("中间的【乐贷】不算 not at either end", None),
    ],
)
def test_the_signature_is_read_at_the_start_or_end_of_a_text(text: str, name: str | None) -> None:
    assert sms_signature(text) == name


def sms(address: str, body: str, offset: int, kind: str = "1", contact: str = "null") -> str:
    return (
        f'  <sms protocol="0" address="{address}" date="{MS + offset * 1000}" type="{kind}" '
        f'body="{body}" read="1" status="-1" locked="0" date_sent="0" '
        f'readable_date="Jul 3, 2024 5:46:40 PM" contact_name="{contact}" />\n'
    )


def backup(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<smses count="{len(rows)}">\n' + "".join(rows) + "</smses>\n",
        encoding="utf-8",
    )
    return path


LENDER_TEXTS = [
    sms("95555", "【乐贷】您的借款 LX-2024-0315-001 第4期应还 5,265.76 元。", 0),
    sms("+8695555", "【乐贷】您已逾期1天。", 60),
    sms("1069000123456789", "您的借款已逾期，请尽快还款。[乐贷]", 120),  # gateway + suffix
    sms("10690001234", "还款提醒：明天是还款日。【乐贷】", 180),  # the same gateway, no suffix
    sms("10690009999", "【别家】广告", 240),  # another sender's code on the same operator
    sms("4008208820", "【乐贷客服】您的延期申请已受理", 300, contact="乐贷 LenderX"),
    sms("+8613800138000", "【乐贷】不是服务号", 360),  # a mobile: its text names no one
]


def test_texts_from_service_numbers_are_named_by_their_signature(
    tmp_path: Path, archive: Archive
) -> None:
    path = backup(tmp_path, "sms.xml", LENDER_TEXTS)
    report, _ = import_phone_export(archive, path, region="CN")
    assert (report.added, report.failed) == (7, 0)
    by_body = {r.body: r for r in archive.timeline(kind="sms")}
    first = by_body["【乐贷】您的借款 LX-2024-0315-001 第4期应还 5,265.76 元。"]
    assert (first.sender, first.sender_name) == ("95555", "乐贷")
    assert first.details["sms_signature"] == "乐贷"
    assert first.thread_key == "phone:95555"
    second = by_body["【乐贷】您已逾期1天。"]
    assert (second.sender, second.sender_name) == ("95555", "乐贷")
    gateway = by_body["您的借款已逾期，请尽快还款。[乐贷]"]
    assert (gateway.sender, gateway.sender_name) == ("1069000123456789", "乐贷")
    # The phone's own contact name wins; the signature is still kept.
    service = by_body["【乐贷客服】您的延期申请已受理"]
    assert (service.sender, service.sender_name) == ("4008208820", "乐贷 LenderX")
    assert service.details["sms_signature"] == "乐贷客服"
    mobile = by_body["【乐贷】不是服务号"]
    assert (mobile.sender, mobile.sender_name) == ("+8613800138000", "")
    assert "sms_signature" not in mobile.details
    assert archive.search("乐贷")  # the name is searchable (people column)
    again, _ = import_phone_export(archive, path, region="CN")
    assert (again.added, again.duplicates) == (0, 7)


def linked_bodies(archive: Archive, slug: str) -> set[str]:
    return {r.body for r in archive.timeline() if slug in archive.item(r.id).cases}


def test_rules_match_service_numbers_and_gateways_in_every_form(
    tmp_path: Path, archive: Archive
) -> None:
    import_phone_export(archive, backup(tmp_path, "sms.xml", LENDER_TEXTS), region="CN")
    for value in ("95555", "+86 95555", "0086-95555"):
        slug, linked = archive.create_case(f"short code {value}", rules=[("phone", value)])
        assert linked == 2, value
    slug, linked = archive.create_case("gateway", rules=[rule_from_counterparty("10690001234")])
    assert linked_bodies(archive, slug) == {
        "您的借款已逾期，请尽快还款。[乐贷]",
        "还款提醒：明天是还款日。【乐贷】",
    }
    slug, linked = archive.create_case("gateway exact", rules=[("phone", "1069000123456789")])
    assert linked_bodies(archive, slug) == {"您的借款已逾期，请尽快还款。[乐贷]"}
    _, linked = archive.create_case("toll free", rules=[("phone", "+86 400 820 8820")])
    assert linked == 1


def counterparty_first(key: str) -> str:
    """A phone key as versions before time-first keys wrote it (``kind|who|time|dir|digest``)."""
    head, _, rest = key.partition("|")
    kind, _, stamp = head.partition("@")
    counterparty, _, tail = rest.partition("|")
    return f"{kind}|{counterparty}|{stamp}|{tail}"


def make_legacy(archive: Archive) -> None:
    """Rewrite the archive as the version before this rule wrote it: +86 before short codes
    (and its keys with the counterparty first, as every version before time-first keys)."""
    with archive.transaction() as conn:
        keys = conn.execute("SELECT id, dedup_key FROM items WHERE dedup_key GLOB '*@*'")
        conn.executemany(
            "UPDATE items SET dedup_key = ? WHERE id = ?",
            [(counterparty_first(key), item_id) for item_id, key in keys.fetchall()],
        )
        conn.execute(
            "UPDATE item_people SET address = '+86' || address WHERE address GLOB '95*' "
            "OR address GLOB '106*'"
        )
        conn.execute(
            "UPDATE items SET sender = '+86' || sender, thread_key = 'phone:+86' || "
            "substr(thread_key, 7), dedup_key = replace(dedup_key, '|95555|', '|+8695555|') "
            "WHERE sender GLOB '95*' OR sender GLOB '106*'"
        )
        conn.execute(
            "UPDATE items SET dedup_key = replace(dedup_key, '|1069', '|+861069') "
            "WHERE sender GLOB '+86106*'"
        )
        conn.execute("UPDATE case_rules SET value = '+86' || value WHERE value GLOB '95*'")


def test_an_archive_holding_the_old_plus86_form_still_matches_and_dedups(
    tmp_path: Path, archive: Archive
) -> None:
    path = backup(tmp_path, "sms.xml", LENDER_TEXTS)
    import_phone_export(archive, path, region="CN")
    archive.create_case("Old case", slug="old", rules=[("phone", "95555")])
    make_legacy(archive)
    assert {r.sender for r in archive.timeline()} >= {"+8695555", "+861069000123456789"}
    # A new rule in the new form finds the old rows; the old rule still links new imports.
    _, linked = archive.create_case("New case", slug="new", rules=[("phone", "95555")])
    assert linked == 2
    _, linked = archive.create_case("Gateway", slug="gw", rules=[("phone", "10690001234")])
    assert linked == 2
    again, _ = import_phone_export(archive, path, region="CN")
    assert (again.added, again.duplicates) == (0, 7)  # the old keys are recognised
    later = backup(tmp_path, "later.xml", [sms("95555", "【乐贷】新的提醒", 900)])
    report, _ = import_phone_export(archive, later, region="CN")
    assert (report.added, report.linked) == (1, 2)  # linked to both cases by their rules
    # Removing the rule as the user writes it today removes the rule stored the old way.
    assert archive.remove_case_rule("old", "phone", "95555") is True
    assert archive.case("old").rules == ()


def test_a_beijing_landline_is_not_taken_for_a_gateway() -> None:
    assert phone_variants("+861065529988") == ("+861065529988",)
    assert phone_key("+86 10 6552 9988") == "+861065529988"
