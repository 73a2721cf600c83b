"""The interface language: how it is chosen, how catalogues load, how dates and numbers read."""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evidence_archiver import i18n
from evidence_archiver.archive.timeutil import parse_user_date
from evidence_archiver.errors import UsageError

LOCALE_VARS = ("EVIDENCE_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in LOCALE_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),
        ({"EVIDENCE_LANG": "zh_CN"}, "zh_CN"),
        ({"EVIDENCE_LANG": "zh"}, "zh_CN"),
        ({"EVIDENCE_LANG": "zh-CN"}, "zh_CN"),
        ({"EVIDENCE_LANG": "zh_CN.UTF-8"}, "zh_CN"),
        ({"EVIDENCE_LANG": "en"}, "en"),
        ({"EVIDENCE_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"EVIDENCE_LANG": "zh_CN", "LC_ALL": "en_US.UTF-8"}, "zh_CN"),
        ({"LANG": "zh_CN.UTF-8"}, "zh_CN"),
        ({"LANG": "zh_TW.UTF-8"}, "zh_CN"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh_CN"),
        ({"LC_ALL": "en_GB.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "zh_CN.GB18030", "LANG": "en_US.UTF-8"}, "zh_CN"),
        # POSIX: the first locale variable that is set decides, even for a language we lack.
        ({"LC_ALL": "fr_FR.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        # An EVIDENCE_LANG we have no catalogue for leaves the choice to the locale.
        ({"EVIDENCE_LANG": "fr", "LANG": "zh_CN.UTF-8"}, "zh_CN"),
        ({"EVIDENCE_LANG": "", "LANG": "zh_CN.UTF-8"}, "zh_CN"),
    ],
)
def test_language_is_chosen_by_evidence_lang_then_the_locale(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert i18n.language() == expected


def test_english_needs_no_catalogue(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("EVIDENCE_LANG", "en")
    assert type(i18n.translations()) is gettext.NullTranslations
    assert i18n._("Anything at all") == "Anything at all"
    assert i18n.ngettext("{n} item", "{n} items", 2) == "{n} items"


def test_chinese_messages_come_from_the_catalogue(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("EVIDENCE_LANG", "zh_CN")
    clean_env.setenv("EVIDENCE_CACHE_DIR", str(tmp_path))
    i18n._translations_for.cache_clear()
    with pytest.raises(UsageError) as caught:
        parse_user_date("31/01/2024")
    assert str(caught.value) == "无法识别日期 '31/01/2024'：请使用 YYYY-MM-DD 格式，例如 2024-01-31"
    # The compiled catalogue was cached under the .po file's hash and is read from there next;
    # one compiled from an older catalogue is removed.
    assert [p.suffix for p in (tmp_path / "locale").iterdir()] == [".mo"]
    stale = tmp_path / "locale" / "zh_CN-0123456789abcdef.mo"
    stale.write_bytes(b"old")
    (next(p for p in (tmp_path / "locale").iterdir() if p != stale)).unlink()
    i18n._translations_for.cache_clear()
    assert i18n._("cannot read the date {text}: use YYYY-MM-DD, e.g. 2024-01-31").startswith(
        "无法识别日期"
    )
    assert not stale.exists()
    assert [p.suffix for p in (tmp_path / "locale").iterdir()] == [".mo"]
    clean_env.setenv("EVIDENCE_LANG", "en")
    with pytest.raises(UsageError, match="cannot read the date '31/01/2024'"):
        parse_user_date("31/01/2024")


def test_an_unwritable_cache_only_means_parsing_again(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    clean_env.setenv("EVIDENCE_LANG", "zh_CN")
    clean_env.setenv("EVIDENCE_CACHE_DIR", str(blocker))
    i18n._translations_for.cache_clear()
    try:
        assert i18n._("cannot read the date {text}: use YYYY-MM-DD, e.g. 2024-01-31").startswith(
            "无法识别日期"
        )
    finally:
        i18n._translations_for.cache_clear()


def test_compile_po_leaves_fuzzy_entries_out() -> None:
    po = (
        'msgid ""\nmsgstr ""\n"Language: zh_CN\\n"\n"Plural-Forms: nplurals=1; plural=0;\\n"\n'
        '"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Case"\nmsgstr "案件"\n\n'
        '#, fuzzy\nmsgid "Cases"\nmsgstr "案件列表"\n\n'
        'msgid "{n} item"\nmsgid_plural "{n} items"\nmsgstr[0] "{n} 条"\n'
    ).encode()
    import io

    catalogue = gettext.GNUTranslations(io.BytesIO(i18n.compile_po(po)))
    assert catalogue.gettext("Case") == "案件"
    assert catalogue.gettext("Cases") == "Cases"
    assert catalogue.ngettext("{n} item", "{n} items", 1) == "{n} 条"
    assert catalogue.ngettext("{n} item", "{n} items", 5) == "{n} 条"


MOMENT = datetime(2024, 7, 3, 6, 2, 30, tzinfo=UTC)


def test_dates_read_naturally_in_each_language(clean_env: pytest.MonkeyPatch) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    clean_env.setenv("EVIDENCE_LANG", "zh_CN")
    assert i18n.format_datetime(MOMENT, shanghai) == "2024年7月3日 14:02"
    assert i18n.format_datetime(MOMENT, shanghai, show_zone=True) == "2024年7月3日 14:02 CST"
    assert i18n.format_date(MOMENT, shanghai) == "2024年7月3日"
    clean_env.setenv("EVIDENCE_LANG", "en")
    assert i18n.format_datetime(MOMENT, shanghai) == "2024-07-03 14:02"
    assert i18n.format_datetime(MOMENT, shanghai, show_zone=True) == "2024-07-03 14:02 CST"
    assert i18n.format_date(MOMENT, shanghai) == "2024-07-03"


def test_dates_default_to_the_zone_in_evidence_tz(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("EVIDENCE_LANG", "zh_CN")
    clean_env.setenv("EVIDENCE_TZ", "Asia/Shanghai")
    assert i18n.format_datetime(MOMENT) == "2024年7月3日 14:02"
    clean_env.setenv("EVIDENCE_TZ", "America/New_York")
    assert i18n.format_datetime(MOMENT) == "2024年7月3日 02:02"
    # A bad zone name is the CLI's to report; formatting falls back to this computer's zone.
    clean_env.setenv("EVIDENCE_TZ", "Not/AZone")
    assert i18n.format_datetime(MOMENT) == i18n.format_datetime(MOMENT, MOMENT.astimezone().tzinfo)


def test_numbers_group_thousands() -> None:
    assert i18n.format_number(1234567) == "1,234,567"
    assert i18n.format_number(7) == "7"
    assert i18n.format_number(2.0) == "2"
    assert i18n.format_number(1234.56) == "1,234.6"


def _languages_seen(count: int) -> Iterator[str]:
    for _n in range(count):
        yield i18n.language()


def test_a_reader_process_speaks_its_parents_language(monkeypatch: pytest.MonkeyPatch) -> None:
    # From Python 3.12 children come from the fork server, whose environment is the one it
    # started with: the language has to be handed over, not inherited.
    from evidence_archiver.connectors.background import in_child_process

    list(in_child_process(_languages_seen, 1))  # the fork server (where used) starts in English
    monkeypatch.setenv("EVIDENCE_LANG", "zh_CN")
    assert list(in_child_process(_languages_seen, 2)) == ["zh_CN", "zh_CN"]
