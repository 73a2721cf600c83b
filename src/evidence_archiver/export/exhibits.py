"""The plan of a bundle: which items, in which order, under which exhibit numbers and file names.

Exhibits are numbered in time order (``E-001``, ``E-002``…; more digits when a case has more
than 999 items). Every original gets a name made from its exhibit number and a *safe* name:
the kind of item, or the attachment's display name with anything that could act as a path,
a control character or a reserved character replaced. A name a sender chose is never used as a
path. An original shared by several items (the same attachment sent twice, one SMS backup
holding many messages) is written once, under the first exhibit that refers to it.

Labels for the readable views live here too, in English and Chinese, so the HTML and the PDF
say the same thing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

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


def exhibit_numbers(count: int) -> list[str]:
    width = max(3, len(str(count)))
    return [f"E-{n:0{width}d}" for n in range(1, count + 1)]


def relative(from_path: str, to_path: str) -> str:
    """A link from one bag file to another (both bag-relative), as a URL path."""
    start = PurePosixPath(from_path).parent
    target = PurePosixPath(to_path)
    up = len(start.parts)
    common = 0
    for a, b in zip(start.parts, target.parts, strict=False):
        if a != b:
            break
        common += 1
    parts = [".."] * (up - common) + list(target.parts[common:])
    return "/".join(parts)


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
