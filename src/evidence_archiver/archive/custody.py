"""The hash-chained custody log.

Each row holds the hash of the row before it, and its own hash covers its sequence number, time,
action, subject, details and that previous hash (canonical JSON, SHA-256). Changing, removing or
reordering any row breaks every hash after it, which :func:`verify_chain` reports. The first row's
previous hash is :data:`GENESIS`.

Appending happens inside the caller's transaction, so an event commits together with the change
it describes, or not at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..hashing import canonical_json, sha256_bytes, sha256_json
from ..i18n import _
from ..model import CustodyEvent
from .timeutil import format_utc, parse_utc

GENESIS = "0" * 64
INSERT_SQL = (
    "INSERT INTO custody (seq, at, action, subject, details, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def event_hash(seq: int, at: str, action: str, subject: str, details: Any, prev_hash: str) -> str:
    return sha256_json(
        {
            "seq": seq,
            "at": at,
            "action": action,
            "subject": subject,
            "details": details,
            "prev_hash": prev_hash,
        }
    )


_STRING = json.JSONEncoder(ensure_ascii=False).encode


def event_text(seq: int, at: str, action: str, subject: str, details: str, prev_hash: str) -> str:
    """The canonical JSON that :func:`event_hash` hashes, built around ``details`` already in
    canonical form: the writer encodes the details once, for the hash and for the row."""
    return (
        f'{{"action":{_STRING(action)},"at":{_STRING(at)},"details":{details},'
        f'"prev_hash":{_STRING(prev_hash)},"seq":{int(seq)},"subject":{_STRING(subject)}}}'
    )


class CustodyLog:
    """Appends to and reads the ``custody`` table of one connection.

    The last hash is cached between appends; it is re-read at the start of every transaction
    (``refresh``) because another process may have appended in between.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._head: tuple[int, str] | None = None

    def refresh(self) -> None:
        row = self._conn.execute(
            "SELECT seq, hash FROM custody ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        self._head = (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def append(self, at: datetime, action: str, subject: str, details: dict[str, Any]) -> str:
        """Append one event (inside the caller's transaction); return its hash."""
        row = self.next_row(format_utc(at), action, subject, details)
        self._conn.execute(INSERT_SQL, row)
        return row[-1]

    def next_row(
        self, at_text: str, action: str, subject: str, details: dict[str, Any]
    ) -> tuple[int, str, str, str, str, str, str]:
        """The next event's row, chained to the head, for the caller to insert (in order, in
        this transaction) with :data:`INSERT_SQL`; batch writers insert many with one call."""
        if self._head is None:
            self.refresh()
        assert self._head is not None
        seq = self._head[0] + 1
        prev = self._head[1]
        text = canonical_json(details)
        digest = sha256_bytes(event_text(seq, at_text, action, subject, text, prev).encode())
        self._head = (seq, digest)
        return (seq, at_text, action, subject, text, prev, digest)

    def forget_head(self) -> None:
        """Drop the cached head (after a rollback, the cached one may never have been written)."""
        self._head = None

    def head(self) -> str:
        self.refresh()
        assert self._head is not None
        return self._head[1]

    def events_about(self, subject: str) -> Iterator[CustodyEvent]:
        """The events whose subject is exactly ``subject`` (``"item:42"``, where a prefix
        would also match ``"item:420"``), in order. Read through the index on ``subject``
        (schema v8), which also gives them in ``seq`` order."""
        return self._read(" WHERE subject = ?", (subject,))

    def events(self, subject_prefix: str | None = None) -> Iterator[CustodyEvent]:
        """Every event, or those whose subject starts with ``subject_prefix`` (``"case:"``)."""
        if subject_prefix is None:
            return self._read("", ())
        if subject_prefix and ord(subject_prefix[-1]) < 0xD7FF:
            # The subjects starting with the prefix are exactly those from the prefix up to
            # (not including) the prefix with its last character one higher: a range the
            # index on subject answers, where LIKE would read the whole log.
            upper = subject_prefix[:-1] + chr(ord(subject_prefix[-1]) + 1)
            return self._read(" WHERE subject >= ? AND subject < ?", (subject_prefix, upper))
        pattern = subject_prefix.replace("%", "\\%").replace("_", "\\_") + "%"
        return self._read(" WHERE subject LIKE ? ESCAPE '\\'", (pattern,))

    def _read(self, where: str, args: tuple[str, ...]) -> Iterator[CustodyEvent]:
        sql = "SELECT seq, at, action, subject, details, prev_hash, hash FROM custody"
        for seq, at, action, subject, details, prev_hash, digest in self._conn.execute(
            sql + where + " ORDER BY seq", args
        ):
            yield CustodyEvent(
                seq=seq,
                at=parse_utc(at),
                action=action,
                subject=subject,
                details=json.loads(details),
                prev_hash=prev_hash,
                hash=digest,
            )


@dataclass(frozen=True)
class ChainBreak:
    """A custody row that does not fit the chain, and why."""

    seq: int
    reason: str


def verify_chain(conn: sqlite3.Connection) -> list[ChainBreak]:
    """Re-hash every custody row; return the rows that break the chain (empty list = intact)."""
    problems: list[ChainBreak] = []
    expected_prev = GENESIS
    expected_seq = 1
    for seq, at, action, subject, details, prev_hash, digest in conn.execute(
        "SELECT seq, at, action, subject, details, prev_hash, hash FROM custody ORDER BY seq"
    ):
        if seq != expected_seq:
            problems.append(
                ChainBreak(
                    seq,
                    _("sequence jumps from {value} to {seq}").format(
                        value=expected_seq - 1, seq=seq
                    ),
                )
            )
        if prev_hash != expected_prev:
            problems.append(ChainBreak(seq, _("previous-hash does not match the row before it")))
        try:
            recomputed = event_hash(seq, at, action, subject, json.loads(details), prev_hash)
        except ValueError:
            problems.append(ChainBreak(seq, _("details are not valid JSON")))
        else:
            if recomputed != digest:
                problems.append(ChainBreak(seq, _("row content does not match its hash")))
        expected_prev = digest
        expected_seq = seq + 1
    return problems
