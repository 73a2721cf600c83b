"""Our own exception types. Each message is written for the person running the tool: it says
what went wrong and, where possible, what to do next. The CLI prints it as one red line."""

from __future__ import annotations


class EvidenceError(Exception):
    """Base of every error the library raises on purpose."""


class ArchiveError(EvidenceError):
    """The archive itself cannot be used (missing, locked, corrupt, from a newer version)."""


class NotFound(EvidenceError):
    """A case, item or file the user named does not exist."""


class UsageError(EvidenceError):
    """The request cannot be carried out as given (bad query, bad option value)."""


class SourceError(EvidenceError):
    """A whole source cannot be read (not a mailbox, not found, not readable)."""
