"""Text as the search index sees it, and user queries turned into safe FTS5 expressions.

SQLite's ``unicode61`` tokenizer keeps a run of Han characters as one token, so 逾期 inside
"您的贷款已逾期三天" would never match. Like Lucene's CJK analyzer, we rewrite every run of CJK
characters as overlapping bigrams ("已逾 逾期 期三 三天") before it is indexed, and rewrite each
query term the same way into an FTS5 phrase of bigrams. A term of two or more characters is then
found wherever it occurs, mixed freely with English.

A user's query never reaches FTS5 as written. :func:`compile_query` reads a small, forgiving
language (words, "phrases", prefix*, OR, AND, NOT, -word) and emits only quoted strings joined by
the operators it recognised, so quotes, dashes, ``NEAR(``, a lone ``*`` or a NUL byte cannot break
the statement or inject syntax.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..errors import UsageError

# Han ideographs (with extensions and compatibility forms), kana and Hangul: scripts written
# without spaces between words.
_CJK = (
    "\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK_RUN = re.compile(f"[{_CJK}]+")
_IS_CJK = re.compile(f"[{_CJK}]")
# What unicode61 treats as token characters, roughly: letters, digits, marks.
_WORD = re.compile(r"[^\W_]+|[" + _CJK + "]+", re.UNICODE)


def _bigrams(run: str) -> str:
    if len(run) == 1:
        return run
    return " ".join(run[i : i + 2] for i in range(len(run) - 1))


def index_text(text: str) -> str:
    """Rewrite text for the index: NFKC-normalised, CJK runs as space-separated bigrams.

    >>> index_text("请办理延期还款 extension").split()
    ['请办', '办理', '理延', '延期', '期还', '还款', 'extension']
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    if not _IS_CJK.search(text):
        return text
    return _CJK_RUN.sub(lambda m: f" {_bigrams(m.group(0))} ", text)


def term_tokens(term: str) -> list[str]:
    """The index tokens a query term stands for, in order ("555-0100" -> ["555", "0100"])."""
    tokens: list[str] = []
    for match in _WORD.finditer(unicodedata.normalize("NFKC", term)):
        piece = match.group(0)
        # A word may mix scripts ("还款plan"); split it where the script changes.
        for part in re.split(f"([{_CJK}]+)", piece):
            if not part:
                continue
            if _IS_CJK.match(part):
                tokens.extend(_bigrams(part).split(" "))
            else:
                tokens.append(part.lower())
    return tokens


@dataclass(frozen=True)
class Term:
    tokens: tuple[str, ...]
    prefix: bool = False
    negated: bool = False

    def fts(self) -> str:
        phrase = " ".join(self.tokens).replace('"', '""')
        return f'"{phrase}"' + (" *" if self.prefix else "")


@dataclass(frozen=True)
class CompiledQuery:
    """``match`` is the FTS5 expression of the positive part ("" when there is none);
    ``exclude`` the expression whose matches must be left out ("" when nothing is excluded).
    ``words`` are the plain terms, for highlighting snippets."""

    match: str
    exclude: str
    words: tuple[str, ...]


_QUERY_PIECE = re.compile(r'"([^"]*)"?|(\S+)')


def _split_query(query: str) -> list[tuple[str, bool]]:
    """Pieces of a query as ``(text, quoted)``; an unbalanced quote runs to the end."""
    return [
        (m.group(1), True) if m.group(1) is not None else (m.group(2), False)
        for m in _QUERY_PIECE.finditer(query)
    ]


def compile_query(query: str) -> CompiledQuery:
    """Turn a user's query into a safe FTS5 expression.

    Terms next to each other must all match; ``OR`` between terms offers alternatives; ``NOT x``
    or ``-x`` leaves out items containing x. Words are matched by the same rules as the index,
    so ``延期还款`` finds the four characters in a row and ``O'Brien`` finds "O'Brien".

    >>> compile_query('展期 OR extension').match
    '("展期") OR ("extension")'

    Raises :class:`UsageError` when nothing searchable is left (``*``, ``--``, ``""``).
    """
    query = query.replace("\x00", " ")
    clauses: list[list[Term]] = [[]]
    negate_next = False
    for raw, quoted in _split_query(query):
        if not quoted and raw in ("OR", "|"):
            if clauses[-1]:
                clauses.append([])
            negate_next = False
            continue
        if not quoted and raw == "AND":
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
        tokens = term_tokens(text)
        if not tokens:
            continue
        # A prefix only makes sense on a word; on CJK bigrams it would match unrelated text.
        prefix = prefix and not _IS_CJK.search(tokens[-1])
        clauses[-1].append(Term(tuple(tokens), prefix, negated))
    clauses = [c for c in clauses if c]
    if not clauses:
        raise UsageError(
            f"nothing to search for in {query.strip()!r}: give at least one word "
            "(Chinese terms need two or more characters for best results)"
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
                "a term with NOT or '-' needs a word beside it to exclude it from, "
                f"e.g. 'extension -{clause[0].tokens[0]}'"
            )
    words = tuple(
        dict.fromkeys(
            " ".join(t.tokens) if not _IS_CJK.search(t.tokens[0]) else _join_bigrams(t.tokens)
            for c in clauses
            for t in c
            if not t.negated
        )
    )
    return CompiledQuery(" OR ".join(positives), " OR ".join(negatives), words)


def _join_bigrams(tokens: tuple[str, ...]) -> str:
    """Undo the bigram split for highlighting: ("延期", "期还") -> "延期还"."""
    return tokens[0] + "".join(t[-1] for t in tokens[1:])
