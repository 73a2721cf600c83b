"""The plan of a bundle: which items, in which order, under which exhibit numbers and file names.

Exhibits are numbered in time order (``E-001``, ``E-002``…; more digits when a case has more
than 999 items). Every original gets a name made from its exhibit number and a *safe* name:
the kind of item, or the attachment's display name with anything that could act as a path,
a control character or a reserved character replaced. A name a sender chose is never used as a
path. An original shared by several items (the same attachment sent twice, one SMS backup
holding many messages) is written once, under the first exhibit that refers to it.

The plan of a whole case (:class:`ExhibitPlan`) lives in a private temporary SQLite database,
not in Python objects: the renderers walk it in order, and each :class:`Exhibit` is made when it
is reached and dropped after, so the memory an export needs does not grow with the case.

Labels for the readable views live here too, in English and Chinese, so the HTML and the PDF
say the same thing.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from ..archive.records import ItemRecord

_UNSAFE = re.compile(r"[^\w.\-()\[\] ]+", re.UNICODE)

EXTENSIONS = {
    "message/rfc822": ".eml",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/csv": ".csv",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "application/json": ".json",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/amr": ".amr",
    "video/mp4": ".mp4",
    "application/zip": ".zip",
}


def safe_name(name: str, default: str = "file", limit: int = 80) -> str:
    """A file name that is only a name: no folders, no control or reserved characters.

    >>> safe_name("../../etc/passwd")
    'passwd'
    >>> safe_name("C:\\\\Users\\\\me\\\\合同 (final).pdf")
    '合同 (final).pdf'
    """
    text = unicodedata.normalize("NFC", name)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip(" ._")
    if not text:
        return default
    if len(text) > limit:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: limit - len(ext) - 1].rstrip(" ._") + "." + ext
        else:
            text = text[:limit].rstrip(" ._")
    return text


def extension_for(media_type: str) -> str:
    return EXTENSIONS.get(media_type.split(";")[0].strip().lower(), ".bin")


@dataclass(frozen=True)
class OriginalFile:
    """One original as it is written into ``data/originals/``."""

    path: str  # "data/originals/E-001_email.eml"
    sha256: str
    size: int
    media_type: str
    role: str  # "item", "container" or "attachment"


@dataclass
class Exhibit:
    """One numbered item of a bundle. The item itself is loaded when a renderer asks for it
    (``record``), through a small shared cache, so that a case of any size is never held in
    memory at once: the renderers each walk the exhibits in order."""

    number: str  # "E-001"
    item_id: int
    load: Callable[[int], ItemRecord] = field(repr=False, compare=False)
    original: OriginalFile | None = None
    container: OriginalFile | None = None
    attachments: list[tuple[int, OriginalFile]] = field(default_factory=list)  # (attachment id,)
    thread: str | None = None  # "items/thread-001.html" for messages shown as a conversation

    @property
    def record(self) -> ItemRecord:
        return self.load(self.item_id)

    @property
    def rendering(self) -> str:
        return f"data/items/{self.number}.html"

    def attachment_file(self, attachment_id: int) -> OriginalFile | None:
        for aid, f in self.attachments:
            if aid == attachment_id:
                return f
        return None


def exhibit_number(n: int, count: int) -> str:
    """The number of the ``n``-th exhibit (from 1) of ``count``: ``E-001``, or wider."""
    return f"E-{n:0{max(3, len(str(count)))}d}"


def exhibit_numbers(count: int) -> list[str]:
    return [exhibit_number(n, count) for n in range(1, count + 1)]


_SCHEMA = """
CREATE TABLE files (
    sha256 TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE, folded TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL, media_type TEXT NOT NULL, role TEXT NOT NULL
);
CREATE TABLE exhibits (
    n INTEGER PRIMARY KEY, number TEXT NOT NULL, item_id INTEGER NOT NULL,
    original TEXT, container TEXT, thread TEXT
);
CREATE INDEX exhibits_item ON exhibits (item_id);
CREATE INDEX exhibits_thread ON exhibits (thread, n);
CREATE TABLE attachments (
    n INTEGER NOT NULL, pos INTEGER NOT NULL, attachment_id INTEGER NOT NULL,
    sha256 TEXT NOT NULL, PRIMARY KEY (n, pos)
);
CREATE TABLE threads (key TEXT PRIMARY KEY, path TEXT NOT NULL);
CREATE TABLE thumbnails (sha256 TEXT PRIMARY KEY, path TEXT NOT NULL);
"""

_FILE_COLUMNS = "path, sha256, size, media_type, role"
BATCH = 500


class ExhibitPlan(Sequence[Exhibit]):
    """Every exhibit of a bundle, in order, kept in a temporary database (see the module
    docstring). A slice (``plan[1000:2000]``) is a view on the same database. Build one with
    :meth:`add_exhibit`, then read it as a sequence; :meth:`close` deletes it."""

    def __init__(self, load: Callable[[int], ItemRecord]) -> None:
        # "" is SQLite's private temporary database: a file, deleted on close, that stays in
        # the page cache while it is small.
        self.db = sqlite3.connect("")
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        self.load = load
        self._count = 0
        self._start = 0
        self._stop: int | None = None  # None: the whole plan, as it grows
        self.thumbnails = _Thumbnails(self.db)

    # Building.

    def file_for(self, sha: str, name: str, role: str, size: int, media_type: str) -> OriginalFile:
        """The file an original is written to: the first name it was given, made unique even
        on a case-blind file system (a second "a.pdf" becomes "a-2.pdf")."""
        known = self.db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE sha256 = ?", (sha,)
        ).fetchone()
        if known is not None:
            return OriginalFile(*known)
        path = f"data/originals/{name}"
        n = 1
        while self._folded_taken(path.casefold()):
            n += 1
            stem, dot, ext = name.rpartition(".")
            path = f"data/originals/{stem}-{n}.{ext}" if dot else f"data/originals/{name}-{n}"
        self.db.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
            (sha, path, path.casefold(), size, media_type, role),
        )
        return OriginalFile(path, sha, size, media_type, role)

    def _folded_taken(self, folded: str) -> bool:
        row = self.db.execute("SELECT 1 FROM files WHERE folded = ?", (folded,)).fetchone()
        return row is not None

    def thread_for(self, key: str) -> str:
        """The conversation page of a thread key (``items/thread-001.html``…, in order met)."""
        row = self.db.execute("SELECT path FROM threads WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return str(row[0])
        (count,) = self.db.execute("SELECT count(*) FROM threads").fetchone()
        path = f"items/thread-{count + 1:03d}.html"
        self.db.execute("INSERT INTO threads VALUES (?, ?)", (key, path))
        return path

    def add_exhibit(self, e: Exhibit) -> None:
        self._count += 1
        self.db.execute(
            "INSERT INTO exhibits VALUES (?, ?, ?, ?, ?, ?)",
            (
                self._count,
                e.number,
                e.item_id,
                e.original.sha256 if e.original else None,
                e.container.sha256 if e.container else None,
                e.thread,
            ),
        )
        self.db.executemany(
            "INSERT INTO attachments VALUES (?, ?, ?, ?)",
            [(self._count, pos, aid, f.sha256) for pos, (aid, f) in enumerate(e.attachments)],
        )

    # Reading.

    def __len__(self) -> int:
        stop = self._count if self._stop is None else self._stop
        return max(0, stop - self._start)

    @overload
    def __getitem__(self, index: int) -> Exhibit: ...

    @overload
    def __getitem__(self, index: slice) -> ExhibitPlan: ...

    def __getitem__(self, index: int | slice) -> Exhibit | ExhibitPlan:
        length = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(length)
            if step != 1:
                raise ValueError("an exhibit plan is sliced without a step")
            view = ExhibitPlan.__new__(ExhibitPlan)
            view.__dict__.update(self.__dict__)
            view._start, view._stop = self._start + start, self._start + max(start, stop)
            return view
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError(index)
        n = self._start + index + 1
        return next(self._exhibits("e.n BETWEEN ? AND ?", (n, n)))

    def __iter__(self) -> Iterator[Exhibit]:
        first = self._start + 1
        last = self._start + len(self)
        for low in range(first, last + 1, BATCH):
            yield from self._exhibits("e.n BETWEEN ? AND ?", (low, min(last, low + BATCH - 1)))

    def _exhibits(self, where: str, args: tuple[Any, ...]) -> Iterator[Exhibit]:
        # One query for the exhibits of a batch and one for their attachments, not one per
        # exhibit: the renderers walk the whole plan several times.
        rows = self.db.execute(
            "SELECT e.n, e.number, e.item_id, e.thread, "
            "o.path, o.sha256, o.size, o.media_type, o.role, "
            "c.path, c.sha256, c.size, c.media_type, c.role "
            "FROM exhibits e LEFT JOIN files o ON o.sha256 = e.original "
            f"LEFT JOIN files c ON c.sha256 = e.container WHERE {where} ORDER BY e.n",
            args,
        ).fetchall()
        if not rows:
            return
        attachments: dict[int, list[tuple[int, OriginalFile]]] = {}
        for n, aid, *f in self.db.execute(
            "SELECT a.n, a.attachment_id, f.path, f.sha256, f.size, f.media_type, f.role "
            "FROM attachments a JOIN files f ON f.sha256 = a.sha256 "
            f"WHERE a.n IN (SELECT e.n FROM exhibits e WHERE {where}) ORDER BY a.n, a.pos",
            args,
        ):
            attachments.setdefault(n, []).append((aid, OriginalFile(*f)))
        for n, number, item_id, thread, *files in rows:
            yield Exhibit(
                number=number,
                item_id=item_id,
                load=self.load,
                original=OriginalFile(*files[:5]) if files[0] is not None else None,
                container=OriginalFile(*files[5:]) if files[5] is not None else None,
                attachments=attachments.get(n, []),
                thread=thread,
            )

    def files(self) -> Iterator[OriginalFile]:
        """Every original once, in path order."""
        cursor = self.db.execute(f"SELECT {_FILE_COLUMNS} FROM files ORDER BY path")
        while rows := cursor.fetchmany(BATCH):
            yield from (OriginalFile(*row) for row in rows)

    def file_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM files").fetchone()[0])

    def has_item(self, item_id: int) -> bool:
        row = self.db.execute("SELECT 1 FROM exhibits WHERE item_id = ?", (item_id,)).fetchone()
        return row is not None

    def number_of(self, item_id: int) -> str | None:
        """The exhibit number of an item, or None when it is not in the bundle."""
        row = self.db.execute(
            "SELECT number FROM exhibits WHERE item_id = ? ORDER BY n LIMIT 1", (item_id,)
        ).fetchone()
        return str(row[0]) if row is not None else None

    def has_original(self, sha: str) -> bool:
        row = self.db.execute("SELECT 1 FROM files WHERE sha256 = ?", (sha,)).fetchone()
        return row is not None

    def threads(self) -> Iterator[str]:
        """The conversation pages, in path order."""
        rows = self.db.execute("SELECT path FROM threads ORDER BY path").fetchall()
        yield from (str(path) for (path,) in rows)

    def thread_members(self, path: str) -> Iterator[Exhibit]:
        """The exhibits shown on one conversation page, in order."""
        last = 0
        while True:
            numbers = [
                n
                for (n,) in self.db.execute(
                    "SELECT n FROM exhibits WHERE thread = ? AND n > ? ORDER BY n LIMIT ?",
                    (path, last, BATCH),
                )
            ]
            if not numbers:
                return
            yield from self._exhibits(f"e.n IN ({','.join('?' * len(numbers))})", tuple(numbers))
            last = numbers[-1]

    def close(self) -> None:
        self.db.close()


class _Thumbnails(Mapping[str, str]):
    """``original sha256 -> thumbnail path`` of an :class:`ExhibitPlan`."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def add(self, sha: str, path: str) -> None:
        self.db.execute("INSERT INTO thumbnails VALUES (?, ?)", (sha, path))

    def __getitem__(self, sha: str) -> str:
        row = self.db.execute("SELECT path FROM thumbnails WHERE sha256 = ?", (sha,)).fetchone()
        if row is None:
            raise KeyError(sha)
        return str(row[0])

    def __iter__(self) -> Iterator[str]:
        for (sha,) in self.db.execute("SELECT sha256 FROM thumbnails ORDER BY sha256"):
            yield str(sha)

    def __len__(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM thumbnails").fetchone()[0])


def relative(from_path: str, to_path: str) -> str:
    """A link from one bag file to another (both bag-relative), as a URL path."""
    # Plain string parts, not PurePosixPath: pathlib interns every part it parses, and the
    # interned-string table would grow with the number of files linked.
    start = from_path.split("/")[:-1]
    target = to_path.split("/")
    common = 0
    for a, b in zip(start, target, strict=False):
        if a != b:
            break
        common += 1
    return "/".join([".."] * (len(start) - common) + target[common:])


CONVERSATION_KINDS = ("sms", "mms", "chat")

LABELS: dict[str, tuple[str, str]] = {
    "bundle": ("Evidence bundle", "证据包"),
    "case": ("Case", "案件"),
    "period": ("Period", "期间"),
    "items": ("Items", "条目"),
    "exported": ("Exported", "导出时间"),
    "counterparties": ("Counterparties", "对方"),
    "timeline": ("Timeline", "时间线"),
    "exhibit": ("Exhibit", "证据编号"),
    "date": ("Date", "日期"),
    "kind": ("Kind", "类型"),
    "from": ("From", "发件人"),
    "to": ("To", "收件人"),
    "parties": ("Parties", "相关方"),
    "title": ("Title", "标题"),
    "subject": ("Subject", "主题"),
    "snippet": ("Snippet", "摘要"),
    "tags": ("Tags", "标签"),
    "notes": ("Notes", "备注"),
    "all": ("all", "全部"),
    "search": ("Search", "搜索"),
    "shown": ("shown", "条显示"),
    "original": ("Original", "原件"),
    "attachments": ("Attachments", "附件"),
    "rendering": ("Readable view", "阅读视图"),
    "sha256": ("SHA-256", "SHA-256"),
    "source": ("Source", "来源"),
    "acquired": ("Acquired", "获取时间"),
    "direction": ("Direction", "方向"),
    "in": ("received", "收到"),
    "out": ("sent", "发出"),
    "unknown": ("unknown", "未知"),
    "no_date": ("no date", "无日期"),
    "conversation": ("Conversation", "对话"),
    "contents": ("Contents", "目录"),
    "page": ("page", "页"),
    "container": ("Contained in", "所在文件"),
    "message_id": ("Message-ID", "邮件标识"),
    "call": ("Call", "通话"),
    "duration": ("duration", "时长"),
    "details": ("Details", "详细信息"),
    "tables": ("Tables", "表格"),
    "volume": ("Volume", "分册"),
    "sent_as": ("named by the sender", "发送方所用文件名"),
    "body": ("Text", "正文"),
    "timestamp": ("Trusted timestamp", "可信时间戳"),
    "no_timestamp": (
        "This bundle has no trusted timestamp (RFC 3161). One added later with "
        "'evidence timestamp' is in timestamp/ beside data/ (see VERIFY.txt).",
        "本证据包没有可信时间戳（RFC 3161）。之后用 'evidence timestamp' 添加的时间戳"
        "位于 data/ 旁边的 timestamp/ 文件夹中（见 VERIFY.txt）。",
    ),
    "timestamp_requested": (
        "A trusted timestamp (RFC 3161) over the manifests was requested when this bundle was "
        "made; it is in timestamp/manifest.tsr beside data/ (see VERIFY.txt).",
        "本证据包生成时已为清单申请可信时间戳（RFC 3161），保存在 data/ 旁边的 "
        "timestamp/manifest.tsr 中（见 VERIFY.txt）。",
    ),
    "unparsed": ("could not be read; the original is kept as it was", "无法解析；原件原样保留"),
    "kind_email": ("email", "电子邮件"),
    "kind_sms": ("SMS", "短信"),
    "kind_mms": ("MMS", "彩信"),
    "kind_call": ("call", "通话"),
    "kind_chat": ("chat", "聊天"),
    "kind_document": ("document", "文件"),
    "kind_file": ("file", "文件"),
    "pages_of_original": ("Original page", "原件页"),
    "key_facts": ("Key facts", "关键事实"),
    "fact": ("Fact", "事实"),
    "amount": ("Amount", "金额"),
    "due": ("Due", "到期日"),
    "said_by": ("By", "经办人"),
    "exhibits": ("Exhibits", "证据"),
    "not_in_bundle": ("cited item(s) not in this bundle", "项引用条目不在本证据包中"),
    "possible_breaches": ("Possible breaches", "可能的违约"),
    "breach_line": (
        "{exhibit} ({date}) contradicts the promise in {promise} (due {due}): {reason}",
        "{exhibit}（{date}）与 {promise} 中的承诺（{due} 到期）相矛盾：{reason}",
    ),
    "fact_promise": ("promise", "承诺"),
    "fact_demand": ("demand", "催款"),
    "fact_payment": ("payment", "付款"),
    "fact_breach": ("breach", "违约"),
    "fact_other": ("other", "其他"),
}


class Labels:
    """Labels in the language asked for: ``en``, ``zh`` or ``both`` ("Case / 案件")."""

    def __init__(self, lang: str = "both") -> None:
        self.lang = lang

    def __call__(self, key: str) -> str:
        en, zh = LABELS[key]
        if self.lang == "en" or en == zh:
            return en
        if self.lang == "zh":
            return zh
        return f"{en} / {zh}"

    def kind(self, kind: str) -> str:
        return self(f"kind_{kind}") if f"kind_{kind}" in LABELS else kind
