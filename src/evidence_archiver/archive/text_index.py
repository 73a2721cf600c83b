"""Text as the search index sees it, and user queries turned into safe FTS5 expressions.

SQLite's ``unicode61`` tokenizer keeps a run of Han characters as one token, so 逾期 inside
"您的贷款已逾期三天" would never match. Like Lucene's CJK analyzer, :func:`index_text` rewrites
every run of CJK letters as overlapping bigrams before it is indexed, and ends the run with its
last character on its own::

    您的贷款已逾期三天  ->  您的 的贷 贷款 款已 已逾 逾期 期三 三天 天

A query term is rewritten the same way into an FTS5 phrase, so a term of two or more characters
is found wherever it occurs, mixed freely with English. The lone last character says "the run
ends here", which keeps phrases that cross from Chinese into digits or Latin letters exact
(第3期 is ``第 3 期*``: 第 ends a run, 3 follows, then a run starting with 期), and lets a single
character be searched as a prefix (期 is ``期*``: every bigram starting with 期, and 期 ending a
run, i.e. every place the character occurs).

The index has no stemmer: a word matches that word (case and accents ignored), and ``word*``
matches every word beginning with it. (The Porter stemmer also stems the prefix, so ``pay*``
became ``pai*`` and missed "payment"; exact, predictable matching is worth more here.)

What :func:`index_text` produces is part of the archive format: the index is contentless and
forgets a row only when given exactly the tokens it indexed, so a change here needs a migration
that rebuilds ``items_fts`` (as ``schema._v2_search_index`` does).

A user's query never reaches FTS5 as written. :func:`compile_query` reads a small, forgiving
language (words, "phrases", prefix*, OR, AND, NOT, -word) and emits only quoted strings joined by
the operators it recognised, so quotes, dashes, ``NEAR(``, ``col:``, a lone ``*`` or a NUL byte
cannot break the statement or inject syntax.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from ..errors import UsageError
from ..i18n import _

# Letters and numbers of the scripts written without spaces between words: Han (with its
# extensions and compatibility forms, 々 and 〇), kana and Hangul. Punctuation of these blocks
# (。、「」・) is left out on purpose: it separates words like any other punctuation.
_CJK = (
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c\u3041-\u3096\u309d-\u309f"
    "\u30a1-\u30fa\u30fc-\u30ff\u3105-\u312f\u3192-\u3195\u31a0-\u31bf\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uf900-\ufa6d\ufa70-\ufad9"
    "\U00020000-\U0002a6df\U0002a700-\U0002b738\U0002b740-\U0002b81d\U0002b820-\U0002cea1"
    "\U0002ceb0-\U0002ebe0\U0002f800-\U0002fa1d\U00030000-\U0003134a"
)
# Compiling a class this large takes milliseconds (the re compiler marks each of its 40,000
# BMP characters in Python): the one pattern every import needs is compiled here, once; it also
# answers "is there any CJK" (search) and "does this start with CJK" (match).
_CJK_RUN = re.compile(f"[{_CJK}]+")
# What unicode61 treats as token characters: letters and digits of every script (roughly).
_WORD = re.compile(r"[^\W_]+")


@functools.cache
def _script_parts() -> re.Pattern[str]:
    """Runs of CJK and runs of anything else (for queries: compiled at the first one)."""
    return re.compile(f"[{_CJK}]+|[^{_CJK}]+")

# A letter or digit that is not CJK: what must not touch a word for it to stand alone.
_NON_CJK_WORD = f"[^\\W_{_CJK}]"
# Longest query term kept (in characters); longer ones are cut, nobody types more.
MAX_TERM = 200
MAX_TERMS = 64


def _run_tokens(run: str, *, final: bool) -> str:
    """Index form of one CJK run: its bigrams then its last character (unless ``final``)."""
    if len(run) == 1:
        return run
    grams = " ".join(map(str.__add__, run[:-1], run[1:]))  # each character and the next
    return grams if final else f"{grams} {run[-1]}"


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Text safe to hand to SQLite: no NUL, and no lone surrogates (what Python makes of bytes
    that are not UTF-8 on a command line) -- each becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", " "))


def normalize(text: str) -> str:
    """The form both the index and queries are made from (NFKC: full-width ＡＢＣ is ABC)."""
    return unicodedata.normalize("NFKC", text)


def index_text(text: str) -> str:
    """Rewrite text for the index: NFKC-normalised, CJK runs as bigrams plus their last character.

    >>> index_text("请办理延期还款 extension").split()
    ['请办', '办理', '理延', '延期', '期还', '还款', '款', 'extension']
    """
    if not text or text.isascii():
        return text  # ASCII is its own NFKC form and holds no CJK: most messages, no work
    text = normalize(text)
    if not _CJK_RUN.search(text):
        return text
    return _CJK_RUN.sub(lambda m: f" {_run_tokens(m.group(0), final=False)} ", text)


def term_tokens(term: str) -> list[str]:
    """The words and CJK runs of a query term, in order ("555-0100" -> ["555", "0100"]).

    A word that mixes scripts ("还款plan") is split where the script changes.
    """
    tokens: list[str] = []
    for match in _WORD.finditer(normalize(term)):
        tokens.extend(_script_parts().findall(match.group(0)))
    return tokens


@dataclass(frozen=True)
class Term:
    """One query term: the words as typed (normalised), the FTS5 phrase it becomes and the
    regex that highlights it in snippets."""

    text: str
    phrase: str
    prefix: bool
    negated: bool
    pattern: str

    def fts(self) -> str:
        return '"' + self.phrase.replace('"', '""') + '"' + (" *" if self.prefix else "")


def make_term(text: str, *, prefix: bool = False, negated: bool = False) -> Term | None:
    """The term for ``text`` as typed (without its ``-`` or ``*``); None if it has no word.

    The phrase keeps the text as typed, for FTS5 to split into words exactly as it split the
    indexed text; only CJK runs are rewritten, the last one without its closing character
    when nothing follows it (so 逾期 still matches inside 已逾期三天).
    """
    text = normalize(text[:MAX_TERM]).strip()
    tokens = term_tokens(text)
    if not tokens:
        return None
    last = tokens[-1]
    ends_cjk = bool(_CJK_RUN.match(last))
    if ends_cjk:
        # A prefix of a CJK run means nothing (its bigrams match anywhere already), except for
        # a lone character: it must match the start of any bigram, so it is a prefix.
        prefix = len(last) == 1
    final_start = list(_CJK_RUN.finditer(text))[-1].start() if ends_cjk else -1

    def rewrite(run: re.Match[str]) -> str:
        return f" {_run_tokens(run.group(0), final=run.start() == final_start)} "

    phrase = _CJK_RUN.sub(rewrite, text).strip()
    return Term(text, phrase, prefix, negated, _highlight_pattern(tokens, text, prefix, ends_cjk))


def _highlight_pattern(tokens: list[str], text: str, prefix: bool, ends_cjk: bool) -> str:
    """A regex finding the term in normalised, accent-free text, for snippets.

    Words must stand alone (``pay`` does not light up inside "repayment"); parts in different
    scripts may touch ("还款plan") or be split by punctuation, as the index allows.
    """
    words = []
    for match in _WORD.finditer(strip_accents(text)):
        parts = [re.escape(p) for p in _script_parts().findall(match.group(0))]
        words.append(r"[\W_]*".join(parts))
    pattern = r"[\W_]+".join(words)
    if not _CJK_RUN.match(tokens[0]):
        pattern = f"(?<!{_NON_CJK_WORD})" + pattern
    if prefix and not ends_cjk:
        pattern += f"{_NON_CJK_WORD}*"
    elif not ends_cjk:
        pattern += f"(?!{_NON_CJK_WORD})"
    return pattern


def strip_accents(text: str) -> str:
    """``café`` -> ``cafe``, as the index's ``remove_diacritics`` sees it."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


@dataclass(frozen=True)
class CompiledQuery:
    """``match`` is the FTS5 expression of the positive part ("" when there is none);
    ``exclude`` the expression whose matches must be left out ("" when nothing is excluded).
    ``words`` are the positive terms as typed and ``patterns`` the regexes that highlight them
    in snippets (see :func:`evidence_archiver.archive.search.snippet`)."""

    match: str
    exclude: str
    words: tuple[str, ...]
    patterns: tuple[str, ...] = ()


_QUERY_PIECE = re.compile(r'"([^"]*)"?|([^\s"]+)')


def _split_query(query: str) -> list[tuple[str, bool]]:
    """Pieces of a query as ``(text, quoted)``; an unbalanced quote runs to the end."""
    return [
        (m.group(1), True) if m.group(1) is not None else (m.group(2), False)
        for m in _QUERY_PIECE.finditer(query)
    ]


def compile_query(query: str) -> CompiledQuery:
    """Turn a user's query into a safe FTS5 expression.

    Terms next to each other must all match; ``OR`` between terms offers alternatives (``a b OR
    c`` is "a and b, or c"); ``NOT x`` or ``-x`` leaves out items containing x; ``"a b"`` is a
    phrase and ``word*`` a prefix. Words are matched by the same rules as the index, so
    ``延期还款`` finds the four characters in a row and ``O'Brien`` finds "O'Brien".

    >>> compile_query('展期 OR extension').match
    '("展期") OR ("extension")'

    Raises :class:`UsageError` when nothing searchable is left (``*``, ``--``, ``""``).
    """
    query = clean(query)
    clauses: list[list[Term]] = [[]]
    negate_next = False
    count = 0
    for raw, quoted in _split_query(query):
        if not quoted and raw in ("OR", "|", "||"):
            if clauses[-1]:
                clauses.append([])
            negate_next = False
            continue
        if not quoted and raw in ("AND", "&&", "+"):
            continue
        if not quoted and raw == "NOT":
            negate_next = True
            continue
        negated = negate_next
        negate_next = False
        text = raw
        prefix = False
        if not quoted:
            if text.startswith("-") and len(text) > 1:
                negated = True
                text = text.lstrip("-")
            if text.endswith("*"):
                prefix = True
                text = text.rstrip("*")
        term = make_term(text, prefix=prefix, negated=negated)
        if term is None:
            continue
        count += 1
        if count > MAX_TERMS:
            raise UsageError(
                _(
                    "the query has more than {MAX_TERMS} terms; search for fewer words at a time"
                ).format(MAX_TERMS=MAX_TERMS)
            )
        clauses[-1].append(term)
    clauses = [c for c in clauses if c]
    if not clauses:
        raise UsageError(
            _("nothing to search for in {value}: give at least one word or Chinese term").format(
                value=repr(query.strip()[:80])
            )
        )
    positives: list[str] = []
    negatives: list[str] = []
    for clause in clauses:
        pos = [t.fts() for t in clause if not t.negated]
        neg = [t.fts() for t in clause if t.negated]
        if pos and neg:
            positives.append(f"({' AND '.join(pos)}) NOT ({' OR '.join(neg)})")
        elif pos:
            positives.append(" AND ".join(pos) if len(clauses) == 1 else f"({' AND '.join(pos)})")
        elif len(clauses) == 1:
            negatives.extend(neg)
        else:
            raise UsageError(
                _(
                    "a term with NOT or '-' needs a word beside it to exclude it from, e.g. "
                    "'extension -{value}'"
                ).format(value=clause[0].phrase.split()[0])
            )
    kept = [t for c in clauses for t in c if not t.negated]
    return CompiledQuery(
        " OR ".join(positives),
        " OR ".join(negatives),
        tuple(dict.fromkeys(t.text for t in kept)),
        tuple(dict.fromkeys(t.pattern for t in kept)),
    )
