"""Evidence bundles: export a case as a BagIt bag, timestamp it (RFC 3161), verify it."""

from __future__ import annotations

from .bundle import ExportOptions, ExportResult, export_bundle
from .timestamp import TimestampError, TimestampInfo, timestamp_bundle
from .verify import Problem, VerifyReport, verify_bundle

__all__ = [
    "ExportOptions",
    "ExportResult",
    "Problem",
    "TimestampError",
    "TimestampInfo",
    "VerifyReport",
    "export_bundle",
    "timestamp_bundle",
    "verify_bundle",
]
