"""The index form of text and the compiler of user queries, as pure functions.

The FTS5 checks use an in-memory table with the archive's own tokenizer, read from the schema
of a real archive, so that these tests follow the archive if its index changes.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_archiver import Archive, UsageError
from evidence_archiver.archive.text_index import (
    _CJK,
    compile_query,
    index_text,
    make_term,
    strip_accents,
    term_tokens,
)

HAN = "贷款逾期还款延期展期利息罚息本金合同协议催收通知账户银行转账客服经理律师"


@pytest.fixture(scope="module")
def fts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """An empty FTS5 table declared exactly as a real archive declares its index."""
    path = Path(tmp_path_factory.mktemp("fts")) / "archive.db"
    Archive(path).close()
    real = sqlite3.connect(path)
    try:
        (sql,) = real.execute("SELECT sql FROM sqlite_master WHERE name = 'items_fts'").fetchone()
    finally:
        real.close()
    conn = sqlite3.connect(":memory:")
    conn.execute(sql.replace("items_fts", "t"))
    yield conn
    conn.close()


def matches(conn: sqlite3.Connection, text: str, query: str) -> bool:
    """Index ``text`` alone and tell whether ``query`` finds it."""
    conn.execute("INSERT INTO t (t) VALUES ('delete-all')")
    conn.execute(
        "INSERT INTO t (rowid, title, body, people, attachments) VALUES (1, '', ?, '', '')",
        (index_text(text),),
    )
    compiled = compile_query(query)
    found = bool(
        compiled.match
        and conn.execute("SELECT 1 FROM t WHERE t MATCH ?", (compiled.match,)).fetchone()
    )
    if compiled.exclude:
        excluded = conn.execute("SELECT 1 FROM t WHERE t MATCH ?", (compiled.exclude,)).fetchone()
        return (found or not compiled.match) and not excluded
    return found


# -- index_text --------------------------------------------------------------------------------


def test_index_text_turns_a_chinese_run_into_bigrams_closed_by_its_last_character() -> None:
    assert index_text("您的贷款已逾期").split() == [
        "您的",
        "的贷",
        "贷款",
        "款已",
        "已逾",
        "逾期",
        "期",
    ]


def test_index_text_leaves_english_alone() -> None:
    assert index_text("Your loan is overdue.") == "Your loan is overdue."


def test_index_text_splits_mixed_scripts_and_keeps_punctuation_as_a_separator() -> None:
    assert index_text("请办理延期还款extension，谢谢").split() == [
        "请办", "办理", "理延", "延期", "期还", "还款", "款", "extension,", "谢谢", "谢",
    ]  # fmt: skip


def test_index_text_keeps_a_lone_character_as_itself() -> None:
    assert index_text("第3期").split() == ["第", "3", "期"]


def test_index_text_normalises_full_width_letters_and_compatibility_ideographs() -> None:
    assert index_text("ＡＢＣ１２３") == "ABC123"
    assert index_text("\uf900").strip() == "\u8c48"  # the compatibility 豈 is the unified 豈


def test_index_text_of_nothing_is_nothing() -> None:
    assert index_text("") == ""


def test_cjk_class_holds_only_letters_and_numbers() -> None:
    cls = re.compile(f"[{_CJK}]")
    for code in range(0x3000, 0x3100):
        ch = chr(code)
        if cls.match(ch):
            assert unicodedata.category(ch)[0] in "LN", hex(code)
    for punct in "。、，「」『』・〜":
        assert not cls.match(punct)


# -- term_tokens and make_term -----------------------------------------------------------------


def test_term_tokens_split_words_at_punctuation_and_scripts() -> None:
    assert term_tokens("555-0100") == ["555", "0100"]
    assert term_tokens("O'Brien") == ["O", "Brien"]
    assert term_tokens("还款plan") == ["还款", "plan"]
    assert term_tokens("*^()") == []


def test_make_term_of_a_chinese_word_is_its_bigrams() -> None:
    term = make_term("延期还款")
    assert term is not None
    assert (term.phrase, term.prefix) == ("延期 期还 还款", False)


def test_make_term_of_one_character_is_a_prefix() -> None:
    term = make_term("期")
    assert term is not None
    assert (term.phrase, term.prefix) == ("期", True)


def test_make_term_closes_inner_chinese_runs_and_keeps_the_text_as_typed() -> None:
    term = make_term("第3期")
    assert term is not None
    assert (term.phrase, term.prefix) == ("第 3 期", True)
    term = make_term("逾期3天")
    assert term is not None
    assert (term.phrase, term.prefix) == ("逾期 期 3 天", True)


def test_make_term_has_no_prefix_after_a_chinese_run_of_two() -> None:
    term = make_term("还款", prefix=True)
    assert term is not None
    assert term.prefix is False


def test_make_term_of_punctuation_is_none() -> None:
    assert make_term("-*()") is None
    assert make_term("") is None


def test_strip_accents() -> None:
    assert strip_accents("Café Zoë") == "Cafe Zoe"
    assert strip_accents("逾期") == "逾期"


# -- compile_query -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "match", "exclude"),
    [
        ("extension", '"extension"', ""),
        ("loan extension", '"loan" AND "extension"', ""),
        ("loan AND extension", '"loan" AND "extension"', ""),
        ("展期 OR extension", '("展期") OR ("extension")', ""),
        ("a b OR c", '("a" AND "b") OR ("c")', ""),
        ('"of the escrow"', '"of the escrow"', ""),
        ("exten*", '"exten" *', ""),
        ("extension -escrow", '("extension") NOT ("escrow")', ""),
        ("extension NOT escrow", '("extension") NOT ("escrow")', ""),
        ("-escrow", "", '"escrow"'),
        ("NOT escrow", "", '"escrow"'),
        ("555-0100", '"555-0100"', ""),
        ("O'Brien", '"O\'Brien"', ""),
        ('"unbalanced', '"unbalanced"', ""),
        ("NEAR(", '"NEAR("', ""),
        ("col:", '"col:"', ""),
        ("title:foo", '"title:foo"', ""),
        ("a\x00b", '"a" AND "b"', ""),
        ('say "hi', '"say" AND "hi"', ""),
        ('he said "x""y"', '"he" AND "said" AND "x" AND "y"', ""),
        ("逾期 -还款", '("逾期") NOT ("还款")', ""),
    ],
)
def test_compile_query(query: str, match: str, exclude: str) -> None:
    compiled = compile_query(query)
    assert (compiled.match, compiled.exclude) == (match, exclude)


@pytest.mark.parametrize(
    "query", ["", "   ", "*", "AND", "OR OR", "NOT", "(", ")", "^", "-", "--", '""', "😀", "_"]
)
def test_compile_query_refuses_a_query_with_nothing_to_search_for(query: str) -> None:
    with pytest.raises(UsageError, match="nothing to search for"):
        compile_query(query)


def test_compile_query_refuses_an_exclusion_alone_in_an_or() -> None:
    with pytest.raises(UsageError, match="needs a word beside it"):
        compile_query("extension OR -escrow")


def test_compile_query_refuses_too_many_terms_with_advice() -> None:
    with pytest.raises(UsageError, match="fewer words"):
        compile_query(" ".join(f"w{i}" for i in range(100)))


def test_compile_query_keeps_a_very_long_word_searchable() -> None:
    compiled = compile_query("x" * 100_000)
    assert compiled.match.startswith('"xxx')
    assert len(compiled.match) < 1000


def test_compile_query_gives_highlight_patterns_for_positive_terms_only() -> None:
    compiled = compile_query("逾期 extension -escrow")
    assert len(compiled.patterns) == 2
    assert compiled.words == ("逾期", "extension")


# -- query against the index: every term found where it occurs --------------------------------


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("您的贷款已逾期三天，请尽快还款。", "逾期"),  # inside a run
        ("您的贷款已逾期三天，请尽快还款。", "您的"),  # at the start of a run
        ("您的贷款已逾期三天，请尽快还款。", "还款"),  # at the end, before 。
        ("您的贷款已逾期三天，请尽快还款。", "逾期三天"),  # four characters
        ("您的贷款已逾期三天，请尽快还款。", "贷款已逾期三天"),  # seven characters
        ("您的贷款已逾期三天，请尽快还款。", "期"),  # one character, inside
        ("您的贷款已逾期三天，请尽快还款。", "款"),  # one character, ending a run
        ("关于延期还款(extension)的申请", "extension"),
        ("关于延期还款extension的申请", "延期还款extension"),
        ("请在2024年3月15日前还款", "2024年3月15日"),
        ("请在2024年3月15日前还款", "3月15日前"),
        ("请在2024年3月15日前还款", "月15日"),
        ("第3期还款已逾期", "第3期"),
        ("按第3期还款", "第3期还款"),
        ("已逾期3天后", "逾期3天"),
        ("Call 555-0100 now", "555-0100"),
        ("Ask for O'Brien please", "O'Brien"),
        ("The café is closed", "cafe"),
        ("ＡＢＣ银行的通知", "ABC银行"),
        ("ＡＢＣ银行的通知", "ＡＢＣ"),
        ("extensions granted", "extension*"),
        ("early payment", "pay*"),
        ("二〇二四年", "二〇二四"),
        ("「逾期」通知", "逾期"),
    ],
)
def test_a_term_is_found_where_it_occurs(fts: sqlite3.Connection, text: str, query: str) -> None:
    assert matches(fts, text, query)


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("您的贷款已逾期三天", "逾三"),  # characters not next to each other
        ("您的贷款已逾期三天", "还款"),
        ("第13期还款", "第3期"),  # 3 is not 13
        ("逾期了extension", '"逾期 extension"'),  # the phrase needs them side by side
        ("repayment plan", "pay"),  # whole words only
        ("repayment plan", "pay*"),  # a prefix starts a word
        ("extension granted", "extension -granted"),
    ],
)
def test_a_term_is_not_found_where_it_does_not_occur(
    fts: sqlite3.Connection, text: str, query: str
) -> None:
    assert not matches(fts, text, query)


# -- properties ---------------------------------------------------------------------------------

_HOSTILE = st.sampled_from(
    ['"', "'", "*", "-", "(", ")", "^", ":", "NEAR", "NOT", "AND", "OR", "+", "{", "}", "\x00",
     "\\", "%", "_", "逾期", "还", "ＡＢＣ", "😀", "\u0301", "\ue000", " ", "\t", "\n", "x",
     "\udcff"]
)  # fmt: skip


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(max_size=60),
        st.lists(_HOSTILE, max_size=25).map("".join),
        st.lists(_HOSTILE, max_size=12).map(" ".join),
    )
)
def test_every_query_compiles_to_valid_fts5_or_raises_a_usage_error(
    fts: sqlite3.Connection, query: str
) -> None:
    try:
        compiled = compile_query(query)
    except UsageError:
        return
    for expression in (compiled.match, compiled.exclude):
        if expression:
            fts.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone()


_TEXT_CHARS = st.sampled_from(
    list(HAN) + list("，。、「」：；！？ 　\n")
    + list("abcXYZ019") + list("ＡＢ１") + ["々", "〇", "ー", "カ", "ナ", "한", "국", "\U00020000"]
)  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_TEXT_CHARS, min_size=2, max_size=40).map("".join), st.data())
def test_every_cjk_substring_of_an_indexed_text_is_found(
    fts: sqlite3.Connection, text: str, data: st.DataObject
) -> None:
    runs = [m.group(0) for m in re.finditer(f"[{_CJK}]+", unicodedata.normalize("NFKC", text))]
    if not runs:
        return
    run = data.draw(st.sampled_from(runs))
    start = data.draw(st.integers(0, len(run) - 1))
    end = data.draw(st.integers(start + 1, len(run)))
    assert matches(fts, text, run[start:end]), (text, run[start:end])
