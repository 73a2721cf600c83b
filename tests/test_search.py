"""Search on real archives: Chinese and English terms, operators, filters, hostile queries,
snippets, and recall against a plain LIKE scan of the same text."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_archiver import Archive, UsageError
from evidence_archiver.archive import schema
from evidence_archiver.archive import search as search_module
from evidence_archiver.archive.search import matching_ids
from evidence_archiver.hashing import blob_from_bytes
from evidence_archiver.model import Attachment, Capture, Item, SourceRef

CST = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Doc:
    title: str = ""
    body: str = ""
    kind: str = "email"
    sender: str = "service@lenderx.com"
    sender_name: str = ""
    recipients: tuple[str, ...] = ("me@example.com",)
    when: datetime = datetime(2024, 3, 1, 9, 30, tzinfo=CST)
    attachment: tuple[str, str] | None = None  # (filename, text)


def capture(key: str, doc: Doc) -> Capture:
    attachments: tuple[Attachment, ...] = ()
    if doc.attachment:
        filename, text = doc.attachment
        attachments = (
            Attachment(
                blob=blob_from_bytes(f"pdf of {key}".encode(), "application/pdf"),
                filename=filename,
                media_type="application/pdf",
                text=text,
            ),
        )
    return Capture(
        source=SourceRef("test", "search-test", key),
        original=blob_from_bytes(f"{key}\n{doc.title}\n{doc.body}".encode(), "message/rfc822"),
        item=Item(
            kind=doc.kind,  # type: ignore[arg-type]
            occurred_at=doc.when,
            direction="in",
            sender=doc.sender,
            sender_name=doc.sender_name,
            recipients=doc.recipients,
            title=doc.title,
            body=doc.body,
        ),
        attachments=attachments,
    )


DOCS: dict[str, Doc] = {
    "overdue": Doc(
        title="逾期通知",
        body="您的贷款已逾期三天，请尽快还款。",
        when=datetime(2024, 1, 5, 10, 0, tzinfo=CST),
    ),
    "mixed": Doc(
        title="Re: 延期申请",
        body="关于延期还款(extension)的申请：请在2024年3月15日前还款。"
        "Call 555-0100 and ask for O'Brien.",
        when=datetime(2024, 2, 10, 10, 0, tzinfo=CST),
    ),
    "long_run": Doc(
        title="协商结果",
        body="根据双方协商一致同意将本期还款日期延后三个月并免除全部罚息和滞纳金",
        when=datetime(2024, 3, 1, 10, 0, tzinfo=CST),
    ),
    "fullwidth": Doc(
        title="ＡＢＣ银行「重要」通知",
        body="尊敬的客户：您的账户（尾号１２３４）已开通自动还款。",
        sender="notice@abcbank.example",
        when=datetime(2024, 3, 20, 10, 0, tzinfo=CST),
    ),
    "english": Doc(
        title="Loan extension approved",
        body="We agree to an extension of the escrow until March. Your repayment plan is "
        "attached; payments start in April.",
        when=datetime(2024, 4, 2, 10, 0, tzinfo=CST),
    ),
    "escrow": Doc(
        title="Escrow closed",
        body="The escrow account is closed. No further payment is due.",
        when=datetime(2024, 4, 20, 10, 0, tzinfo=CST),
    ),
    "collector": Doc(
        title="Payment reminder",
        body="Hello, this is a reminder about your overdue balance.",
        sender="collector@quickcash.example",
        sender_name="王经理",
        when=datetime(2024, 5, 1, 10, 0, tzinfo=CST),
    ),
    "statement": Doc(
        title="Your statement",
        body="See the attached schedule.",
        sender="billing@quickcash.example",
        attachment=(
            "repayment-schedule.pdf",
            "还款计划表：第3期 应还金额 1,200.00 元，逾期利息另计。",
        ),
        when=datetime(2024, 5, 15, 10, 0, tzinfo=CST),
    ),
    "sms": Doc(
        kind="sms",
        body="【快借】您本期账单已逾期，请立即处理",
        sender="+8613800138000",
        recipients=("+8613900139000",),
        when=datetime(2024, 6, 1, 10, 0, tzinfo=CST),
    ),
    "cafe": Doc(
        title="Meeting",
        body="Meet me at the Café Zoë on Friday.",
        sender="friend@mail.example",
        when=datetime(2024, 6, 10, 10, 0, tzinfo=CST),
    ),
}


@dataclass
class Fixture:
    archive: Archive
    ids: dict[str, int]

    def names(self, hits: list[int]) -> set[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return {by_id[i] for i in hits}

    def search(self, query: str, **filters: object) -> set[str]:
        return self.names([h.id for h in self.archive.search(query, **filters)])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    path = Path(tmp_path_factory.mktemp("search")) / "archive.db"
    with Archive(path) as archive:
        archive.ingest(
            [capture(k, d) for k, d in DOCS.items()], connector="test", container="search-test"
        )
        ids = {
            key: int(row[0])
            for key in DOCS
            for row in archive.conn.execute("SELECT id FROM items WHERE source_locator = ?", (key,))
        }
        archive.create_case("Quick Cash", rules=[("domain", "quickcash.example")])
        archive.tag(ids["english"], "promise")
        archive.tag(ids["overdue"], "promise")
        yield Fixture(archive, ids)


# -- Chinese ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("逾期", {"overdue", "statement", "sms"}),  # two characters, title, body, attachment
        ("还款", {"overdue", "mixed", "long_run", "fullwidth", "statement"}),
        ("已逾期", {"overdue", "sms"}),  # three
        ("逾期三天", {"overdue"}),  # four
        ("延期还款", {"mixed"}),  # mixed with English in the same text
        ("还款日期延后三个月", {"long_run"}),  # inside a long run without punctuation
        ("根据", {"long_run"}),  # at the start of a run
        ("滞纳金", {"long_run"}),  # at the end of the text
        ("重要", {"fullwidth"}),  # between full-width brackets
        ("尾号", {"fullwidth"}),  # after a full-width parenthesis
        ("快借", {"sms"}),  # inside 【】
        ("王经理", {"collector"}),  # a name in the people column
        ("经理", {"collector"}),
        ("还款计划表", {"statement"}),  # attachment text only
        ("第3期", {"statement"}),  # Chinese with a digit between
        ("2024年3月15日", {"mixed"}),  # a date written in Chinese
        ("3月15日前", {"mixed"}),
        ("ＡＢＣ银行", {"fullwidth"}),  # full-width letters, either way round
        ("ABC银行", {"fullwidth"}),
        ("1234", {"fullwidth"}),  # full-width digits
        ("期", {"overdue", "mixed", "long_run", "statement", "sms"}),  # one character
        ("逾三", set()),  # characters that never touch
        ("还款申请", set()),  # split by "(extension)的"
    ],
)
def test_a_chinese_term_is_found_wherever_it_occurs(
    fx: Fixture, query: str, expected: set[str]
) -> None:
    assert fx.search(query) == expected


# -- English and operators ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("extension", {"mixed", "english"}),
        ("EXTENSION", {"mixed", "english"}),
        ("escrow", {"english", "escrow"}),
        ("payment", {"escrow", "collector"}),  # whole words: not "payments", no stemming
        ("payment*", {"english", "escrow", "collector"}),
        ("pay*", {"english", "escrow", "collector"}),  # not "repayment"
        ("repay*", {"english", "statement"}),  # attachment file name too
        ('"extension of the escrow"', {"english"}),
        ('"escrow of the extension"', set()),
        ("loan extension", {"english"}),
        ("loan AND extension", {"english"}),
        ("escrow OR 逾期", {"english", "escrow", "overdue", "statement", "sms"}),
        ("展期 OR extension", {"mixed", "english"}),
        ("extension -escrow", {"mixed"}),
        ("extension NOT escrow", {"mixed"}),
        ("逾期 -还款", {"sms"}),
        ("cafe", {"cafe"}),  # accents ignored
        ("zoe", {"cafe"}),
        ("quickcash", {"collector", "statement"}),  # the sender's address is indexed
        ("lenderx", {"overdue", "mixed", "long_run", "english", "escrow"}),
    ],
)
def test_english_words_phrases_prefixes_and_operators(
    fx: Fixture, query: str, expected: set[str]
) -> None:
    assert fx.search(query) == expected


def test_an_exclusion_alone_lists_the_newest_items_without_it(fx: Fixture) -> None:
    hits = fx.archive.search("-escrow")
    assert fx.names([h.id for h in hits]) == set(DOCS) - {"english", "escrow"}
    times = [h.occurred_at for h in hits]
    assert times == sorted(times, key=lambda t: t or datetime.min.replace(tzinfo=UTC), reverse=True)


def test_the_title_ranks_above_the_body(fx: Fixture) -> None:
    hits = fx.archive.search("escrow")
    assert [h.id for h in hits][0] == fx.ids["escrow"]


def test_results_page_with_limit_and_offset(fx: Fixture) -> None:
    everything = [h.id for h in fx.archive.search("还款")]
    pages = [h.id for h in fx.archive.search("还款", limit=2)] + [
        h.id for h in fx.archive.search("还款", limit=2, offset=2)
    ]
    assert pages == everything[:4]
    assert len(everything) == 5


# -- filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "filters", "expected"),
    [
        ("逾期", {"case": "quick-cash"}, {"statement"}),
        ("payment", {"case": "quick-cash"}, {"collector"}),
        ("逾期", {"kind": "sms"}, {"sms"}),
        ("逾期", {"kind": "email"}, {"overdue", "statement"}),
        ("逾期", {"sender": "quickcash"}, {"statement"}),
        ("reminder", {"sender": "王经理"}, {"collector"}),  # --from matches the name too
        ("逾期", {"sender": "+86138"}, {"sms"}),
        ("extension", {"since": datetime(2024, 3, 1, tzinfo=UTC)}, {"english"}),
        ("extension", {"until": datetime(2024, 3, 1, tzinfo=UTC)}, {"mixed"}),
        (
            "还款",
            {"since": datetime(2024, 2, 1, tzinfo=UTC), "until": datetime(2024, 3, 31, tzinfo=UTC)},
            {"mixed", "long_run", "fullwidth"},
        ),
        ("extension OR 逾期", {"tag": "promise"}, {"english", "overdue"}),
        ("escrow", {"tag": "no-such-tag"}, set()),
        (
            "逾期 OR payment",
            {"case": "quick-cash", "kind": "email", "since": datetime(2024, 5, 10, tzinfo=UTC)},
            {"statement"},
        ),
        ("逾期 OR reminder", {"case": "quick-cash", "sender": "collector"}, {"collector"}),
        ("-escrow", {"kind": "sms"}, {"sms"}),
        ("-逾期", {"case": "quick-cash"}, {"collector"}),
    ],
)
def test_filters_narrow_the_results(
    fx: Fixture, query: str, filters: dict[str, object], expected: set[str]
) -> None:
    assert fx.search(query, **filters) == expected


def test_filters_with_bytes_that_are_not_utf8_find_nothing_and_do_not_crash(fx: Fixture) -> None:
    assert fx.search("逾期", sender="\udcff") == set()
    assert fx.search("逾期", tag="\udcff", kind="\udcff") == set()


def test_a_sender_filter_treats_wildcards_literally(fx: Fixture) -> None:
    assert fx.search("逾期", sender="%") == set()
    assert fx.search("逾期", sender="_") == set()


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (20, -1)])
def test_a_page_out_of_range_is_a_usage_error(fx: Fixture, limit: int, offset: int) -> None:
    with pytest.raises(UsageError, match="page"):
        fx.archive.search("逾期", limit=limit, offset=offset)


def test_since_after_until_is_a_usage_error(fx: Fixture) -> None:
    with pytest.raises(UsageError, match="swap"):
        fx.archive.search(
            "逾期", since=datetime(2024, 5, 1, tzinfo=UTC), until=datetime(2024, 1, 1, tzinfo=UTC)
        )


def test_an_unknown_case_is_reported(fx: Fixture) -> None:
    with pytest.raises(Exception, match="no case 'nope'"):
        fx.archive.search("逾期", case="nope")


# -- hostile queries ----------------------------------------------------------------------------

HOSTILE = [
    '"unbalanced',
    "NEAR(",
    "NEAR(a b)",
    "-escrow",
    "555-0100",
    "O'Brien",
    "*",
    "a\x00b",
    "\x00",
    "AND",
    "OR OR",
    "NOT",
    "(",
    ")",
    "^",
    "col:",
    "title:foo",
    "body:逾期",
    "{title body}: x",
    "x" * 100_000,
    "逾期" * 5_000,
    " ".join(["word"] * 500),
    "😀",
    "逾期😀",
    '"',
    "'",
    "''",
    "\\",
    "%",
    "_",
    "-",
    "--",
    "*逾期*",
    "逾期*",
    "a OR",
    "OR a",
    "NOT NOT escrow",
    "extension OR -escrow",
    "+escrow",
    "escrow^2",
    "\u0301",
    "\ue000",
    "\ud7ff",
    "\udcff",  # a byte that is not UTF-8, as Python decodes it from a command line
    "逾期\udce9\udcb8",
    "\t\n",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_a_hostile_query_gives_results_or_a_clear_usage_error(fx: Fixture, query: str) -> None:
    problem = ""
    try:
        hits = fx.archive.search(query)
    except UsageError as exc:
        problem, hits = str(exc), []
    assert isinstance(hits, list)
    # A refusal reads as advice to a person, never as the database's own error.
    assert "fts5" not in problem
    assert "sqlite" not in problem.lower()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("555-0100", {"mixed"}),
        ("O'Brien", {"mixed"}),
        ('"unbalanced', set()),
        ('"extension of', {"english"}),
        ("NEAR(", set()),
        ("body:逾期", set()),  # no column syntax: 'body' must be a word of the text
        ("逾期😀", {"overdue", "statement", "sms"}),
        ("a\x00b", set()),
    ],
)
def test_hostile_queries_are_read_as_plain_words(
    fx: Fixture, query: str, expected: set[str]
) -> None:
    assert fx.search(query) == expected


@pytest.mark.parametrize("query", ["*", "\x00", "AND", "OR OR", "NOT", "(", ")", "^", "😀"])
def test_a_query_with_nothing_to_search_for_says_so(fx: Fixture, query: str) -> None:
    with pytest.raises(UsageError, match="nothing to search for"):
        fx.archive.search(query)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(max_size=80),
        st.lists(
            st.sampled_from(
                [
                    '"',
                    "'",
                    "*",
                    "-",
                    "(",
                    ")",
                    "^",
                    ":",
                    "NEAR",
                    "NOT",
                    "AND",
                    "OR",
                    "\x00",
                    "逾期",
                    "期",
                    "ＡＢＣ",
                    "escrow",
                    "😀",
                    " ",
                    "555-0100",
                    "{",
                    "}",
                    "+",
                ]
            ),  # fmt: skip
            max_size=20,
        ).map("".join),
    ),
    st.sampled_from([{}, {"kind": "sms"}, {"case": "quick-cash"}, {"tag": "promise"}]),
)
def test_no_query_ever_raises_anything_but_a_usage_error(
    fx: Fixture, query: str, filters: dict[str, object]
) -> None:
    with contextlib.suppress(UsageError):
        fx.archive.search(query, **filters)  # type: ignore[arg-type]


# -- snippets ----------------------------------------------------------------------------------


def snippet_of(fx: Fixture, query: str, key: str) -> str:
    return next(h.snippet for h in fx.archive.search(query) if h.id == fx.ids[key])


def test_a_snippet_highlights_english_words(fx: Fixture) -> None:
    snippet = snippet_of(fx, "escrow extension", "english")
    assert "**extension**" in snippet
    assert "**escrow**" in snippet


def test_a_snippet_highlights_chinese_terms_and_keeps_full_width_punctuation(fx: Fixture) -> None:
    assert snippet_of(fx, "逾期", "overdue") == "您的贷款已**逾期**三天，请尽快还款。"


def test_a_snippet_highlights_a_phrase_as_one(fx: Fixture) -> None:
    assert "**extension of the escrow**" in snippet_of(fx, '"extension of the escrow"', "english")


def test_a_snippet_highlights_a_prefix_as_the_whole_word(fx: Fixture) -> None:
    snippet = snippet_of(fx, "pay*", "english")
    assert "**payments**" in snippet
    assert "re**pay" not in snippet


def test_a_snippet_highlights_full_width_text_for_a_half_width_query(fx: Fixture) -> None:
    assert "**ＡＢＣ**" in snippet_of(fx, "ABC", "fullwidth") or "**１２３４**" in snippet_of(
        fx, "1234", "fullwidth"
    )
    assert "**１２３４**" in snippet_of(fx, "1234", "fullwidth")


def test_a_snippet_highlights_accented_text_for_a_plain_query(fx: Fixture) -> None:
    assert snippet_of(fx, "cafe", "cafe") == "Meet me at the **Café** Zoë on Friday."


def test_a_snippet_comes_from_the_attachment_when_only_it_matches(fx: Fixture) -> None:
    snippet = snippet_of(fx, "还款计划表", "statement")
    assert snippet.startswith("[repayment-schedule.pdf] **还款计划表**")


def test_a_snippet_of_a_digit_phrase_highlights_it_whole(fx: Fixture) -> None:
    assert "**555-0100**" in snippet_of(fx, "555-0100", "mixed")
    assert "**O'Brien**" in snippet_of(fx, "O'Brien", "mixed")
    assert "**2024年3月15日**" in snippet_of(fx, "2024年3月15日", "mixed")


def test_a_snippet_of_a_long_text_is_a_window_around_the_match(archive: Archive) -> None:
    body = "开头" + "无关内容。" * 200 + "对方承诺延期三个月。" + "结尾内容。" * 200
    archive.ingest([capture("long", Doc(body=body))], connector="t", container="t")
    (hit,) = archive.search("承诺延期")
    assert hit.snippet.startswith("…")
    assert hit.snippet.endswith("…")
    assert "**承诺延期**" in hit.snippet
    assert len(hit.snippet) < 200


def test_a_snippet_collapses_line_breaks(archive: Archive) -> None:
    archive.ingest(
        [capture("lines", Doc(body="Dear customer,\n\n  your loan\r\nis overdue."))],
        connector="t",
        container="t",
    )
    (hit,) = archive.search("overdue")
    assert hit.snippet == "Dear customer, your loan is **overdue**."


# -- the index follows changes -----------------------------------------------------------------


def test_new_attachment_text_is_searchable_and_the_old_text_is_not(archive: Archive) -> None:
    archive.ingest(
        [capture("pdf", Doc(body="see attached", attachment=("a.pdf", "旧的文本 oldword")))],
        connector="t",
        container="t",
    )
    (hit,) = archive.search("旧的文本")
    attachment_id = archive.item(hit.id).attachments[0].id
    archive.set_attachment_text(attachment_id, "新的还款协议 newword")
    assert [h.id for h in archive.search("还款协议")] == [hit.id]
    assert [h.id for h in archive.search("newword")] == [hit.id]
    assert archive.search("旧的文本") == []
    assert archive.search("oldword") == []


def test_an_archive_indexed_by_the_first_schema_is_reindexed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    schema.MIGRATIONS[0](db)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO items (id, kind, acquired_at, dedup_key, source_connector, title, body, "
        "sender, sender_name, recipients) VALUES (7, 'email', '2024-01-01T00:00:00.000000Z', "
        "'k', 'eml', '付款通知', '请在2024年3月15日前还款 payments due', 'a@lenderx.com', "
        "'王经理', ?)",
        (json.dumps(["me@example.com"]),),
    )
    conn.execute(
        "INSERT INTO attachments (item_id, position, original_sha256, filename, media_type, "
        "text) VALUES (7, 0, 'x', 'plan.pdf', 'application/pdf', '第3期')"
    )
    # The first schema stemmed words and had no closing characters: pay* missed "payments".
    conn.execute(
        "INSERT INTO items_fts (rowid, title, body, people, attachments) VALUES "
        "(7, '付款 款通 通知', '请在 2024 年 3 月 15 日前 前还 还款 payments due', "
        "'王经 经理 a@lenderx.com me@example.com', 'plan.pdf 第 3 期')"
    )
    conn.close()
    with Archive(path) as archive:
        for query in ("pay*", "2024年3月15日", "第3期", "经理", "期", "通知"):
            assert [h.id for h in archive.search(query)] == [7], query
        archive.set_attachment_text(1, "新文本")
        assert [h.id for h in archive.search("新文本")] == [7]
        assert archive.search("第3期") == []


# -- recall: the index finds exactly what a LIKE scan finds ------------------------------------

RECALL_CHARS = "贷款逾期还延展利息罚本金合同协议催收通知账户银行转客服经理律师您的请尽快已三天"


def _random_text(rng: random.Random, length: int) -> str:
    out = []
    for _ in range(length):
        r = rng.random()
        if r < 0.78:
            out.append(rng.choice(RECALL_CHARS))
        elif r < 0.86:
            out.append(rng.choice("，。、：「」（）！ \n"))
        elif r < 0.94:
            out.append(rng.choice(["loan", " extension ", "3", "2024", "-", "x"]))
        else:
            out.append(rng.choice("ＡＢ１々〇"))
    return "".join(out)


@pytest.fixture(scope="module")
def recall_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    rng = random.Random(7)
    path = Path(tmp_path_factory.mktemp("recall")) / "archive.db"
    docs = {
        f"r{i}": Doc(
            title=_random_text(rng, rng.randint(0, 12)),
            body=_random_text(rng, rng.randint(0, 80)),
            sender_name=_random_text(rng, rng.randint(0, 4)),
            recipients=(_random_text(rng, 3) + "@example.com",),
            attachment=(
                ("附件.pdf", _random_text(rng, rng.randint(1, 40))) if rng.random() < 0.2 else None
            ),
        )
        for i in range(150)
    }
    with Archive(path) as archive:
        archive.ingest([capture(k, d) for k, d in docs.items()], connector="t", container="t")
        yield archive


def like_scan(archive: Archive, term: str) -> set[int]:
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return {
        int(r[0])
        for r in archive.conn.execute(
            "SELECT id FROM items WHERE title LIKE :p ESCAPE '\\' OR body LIKE :p ESCAPE '\\' "
            "OR sender LIKE :p ESCAPE '\\' OR sender_name LIKE :p ESCAPE '\\' "
            "OR recipients LIKE :p ESCAPE '\\' OR id IN (SELECT item_id FROM attachments "
            "WHERE text LIKE :p ESCAPE '\\' OR filename LIKE :p ESCAPE '\\')",
            {"p": pattern},
        )
    }


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=RECALL_CHARS, min_size=1, max_size=6))
def test_chinese_search_finds_exactly_what_a_like_scan_finds(
    recall_archive: Archive, term: str
) -> None:
    expected = like_scan(recall_archive, term)
    assert set(matching_ids(recall_archive.conn, term)) == expected
    page = recall_archive.search(term, limit=1000)
    assert {h.id for h in page} == expected


def test_recall_holds_for_every_chinese_substring_of_the_archive(recall_archive: Archive) -> None:
    """Exhaustive over the bodies: every substring of 2 to 5 characters of every CJK run."""
    terms: set[str] = set()
    for (body,) in recall_archive.conn.execute("SELECT body FROM items"):
        for run in "".join(c if c in RECALL_CHARS else " " for c in body).split():
            for n in range(2, 6):
                terms.update(run[i : i + n] for i in range(len(run) - n + 1))
    assert len(terms) > 1000
    misses = {
        t
        for t in terms
        if set(matching_ids(recall_archive.conn, t)) != like_scan(recall_archive, t)
    }
    assert not misses


# -- ranking is bounded on very large result sets -----------------------------------------------


def test_ranking_covers_every_match_up_to_the_window_and_the_newest_beyond(
    archive: Archive,
) -> None:
    docs = [Doc(title="逾期通知", body="逾期 逾期 逾期")] + [
        Doc(
            title=f"message {i}",
            body=f"第{i}条：很长的一段话，其中提到一次逾期，还有许多别的内容。",
        )
        for i in range(5)
    ]
    archive.ingest([capture(f"w{i}", d) for i, d in enumerate(docs)], connector="t", container="t")
    ids = [h.id for h in archive.search("逾期", limit=100)]
    best = ids[0]
    assert len(ids) == 6
    assert archive.item(best).title == "逾期通知"  # the title and three mentions win
    newest_three = sorted(ids)[-3:]
    page = search_module.search(archive.conn, "逾期", limit=2, rank_window=3)
    assert {h.id for h in page} <= set(newest_three)
    assert best not in {h.id for h in page}
    # A page reaching past the window widens it: every match is reachable by paging.
    deep = search_module.search(archive.conn, "逾期", limit=6, rank_window=3)
    assert {h.id for h in deep} == set(ids)


def test_a_filter_outside_the_newest_matches_still_fills_the_page(archive: Archive) -> None:
    docs = [Doc(kind="sms", body="短信：已逾期")] + [
        Doc(title=f"email {i}", body=f"邮件{i}：已逾期") for i in range(7)
    ]
    archive.ingest([capture(f"f{i}", d) for i, d in enumerate(docs)], connector="t", container="t")
    oldest = min(h.id for h in archive.search("逾期", limit=100))
    archive.tag(oldest, "promise")
    for filters in ({"kind": "sms"}, {"tag": "promise"}):
        page = search_module.search(archive.conn, "逾期", rank_window=2, **filters)  # type: ignore[arg-type]
        assert [h.id for h in page] == [oldest], filters
    emails = search_module.search(archive.conn, "逾期", kind="email", limit=5, rank_window=2)
    assert len(emails) == 5
