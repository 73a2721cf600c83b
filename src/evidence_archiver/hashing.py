"""SHA-256 of bytes, files and canonical JSON; the one place that decides how we hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .model import Blob

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> tuple[str, int]:
    """Return ``(hex digest, size)`` of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# Made once: json.dumps with options builds a new encoder on every call, and the custody log
# hashes one event per item archived and per line verified.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant white space, so equal data hashes equal."""
    return _CANONICAL(value)


def sha256_json(value: Any) -> str:
    return sha256_bytes(canonical_json(value).encode("utf-8"))


def blob_from_bytes(data: bytes, media_type: str) -> Blob:
    return Blob(sha256=sha256_bytes(data), size=len(data), media_type=media_type, data=data)


def blob_from_file(path: Path, media_type: str) -> Blob:
    """A blob that is streamed from ``path`` when stored, never loaded whole."""
    digest, size = sha256_file(path)
    return Blob(sha256=digest, size=size, media_type=media_type, path=path)
