"""Where the IMAP password (or OAuth2 token) comes from, and where it never goes.

Order, as the user expects it: an OAuth2 access token in ``EVIDENCE_IMAP_OAUTH2_TOKEN`` (Gmail
and Outlook no longer accept passwords); else the password stored in the system keyring by
``evidence imap login``; else a prompt when a person is at the terminal; else
``EVIDENCE_IMAP_PASSWORD``, with a warning (other programs of the same user can read a
process's environment). A password is never a command-line argument (visible in ``ps`` and the
shell history) and this module never writes it anywhere but the keyring: :class:`Password`
hides it from ``repr`` so that it cannot slip into a log line or an error message by accident.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import keyring
import keyring.errors
from keyring.backends import fail

from ..errors import SourceError
from ..i18n import N_, _

KEYRING_SERVICE = "evidence-archiver IMAP"
PASSWORD_ENV = "EVIDENCE_IMAP_PASSWORD"
OAUTH2_ENV = "EVIDENCE_IMAP_OAUTH2_TOKEN"


@dataclass(frozen=True)
class Password:
    """A password and where it came from (``keyring``, ``prompt`` or ``environment``)."""

    secret: str = field(repr=False)
    source: Literal["keyring", "prompt", "environment"]


@dataclass(frozen=True)
class OAuth2Token:
    """An OAuth2 access token, sent with the XOAUTH2 mechanism."""

    token: str = field(repr=False)
    source: Literal["environment"] = "environment"


Credentials = Password | OAuth2Token


def keyring_account(user: str, host: str) -> str:
    """The name a password is stored under in the keyring: ``user@host``."""
    return f"{user}@{host.lower()}"


def keyring_available() -> bool:
    """True when a real keyring backend is configured (not keyring's "fail" placeholder)."""
    try:
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring setup simply means "no keyring"
        return False
    return not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 1) > 0


def keyring_password(user: str, host: str) -> str | None:
    """The stored password, or None when there is no keyring or nothing stored for this account."""
    if not keyring_available():
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, keyring_account(user, host))
    except keyring.errors.KeyringError:
        # A locked or unreachable keyring (no D-Bus session, say): fall back to other sources.
        return None


def store_password(user: str, host: str, password: str) -> None:
    """Store the password in the system keyring (``evidence imap login``)."""
    if not keyring_available():
        raise SourceError(
            _(
                "no system keyring is available here (on Linux install and unlock a Secret "
                "Service such as GNOME Keyring or KWallet); otherwise set {PASSWORD_ENV} or let "
                "the import ask for the password"
            ).format(PASSWORD_ENV=PASSWORD_ENV)
        )
    try:
        keyring.set_password(KEYRING_SERVICE, keyring_account(user, host), password)
    except keyring.errors.KeyringError as exc:
        raise SourceError(
            _("the system keyring refused to store the password: {error}").format(error=exc)
        ) from exc


def forget_password(user: str, host: str) -> bool:
    """Remove a stored password; return False when none was stored."""
    if not keyring_available():
        return False
    try:
        keyring.delete_password(KEYRING_SERVICE, keyring_account(user, host))
    except keyring.errors.PasswordDeleteError:
        return False
    return True


def resolve_credentials(
    user: str,
    host: str,
    *,
    prompt: Callable[[str], str] | None = None,
    warn: Callable[[str], None] = lambda message: None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Find the credentials for ``user`` on ``host`` (see the module docstring for the order).

    ``prompt`` is given only when a person can answer (the CLI passes one when stdin is a
    terminal); it receives the question and returns the password typed.
    """
    env = os.environ if environ is None else environ
    token = env.get(OAUTH2_ENV, "").strip()
    if token:
        return OAuth2Token(token)
    stored = keyring_password(user, host)
    if stored:
        return Password(stored, "keyring")
    if prompt is not None:
        typed = prompt(_("IMAP password for {user} on {host}").format(user=user, host=host))
        if typed:
            return Password(typed, "prompt")
    from_env = env.get(PASSWORD_ENV, "")
    if from_env:
        warn(
            _(
                "using the password from {env}: other programs you run can read it; "
                "'evidence imap login --host {host} --user {user}' keeps it in the system keyring"
            ).format(env=PASSWORD_ENV, host=host, user=user)
        )
        return Password(from_env, "environment")
    raise SourceError(
        _(
            "no password for {user} on {host}: run 'evidence imap login --host {host} --user "
            "{user}' to store it in the system keyring, run the import in a terminal to be asked, "
            "or set {PASSWORD_ENV} (or {OAUTH2_ENV} with an OAuth2 access token for Gmail/Outlook)"
        ).format(user=user, host=host, PASSWORD_ENV=PASSWORD_ENV, OAUTH2_ENV=OAUTH2_ENV)
    )


_SOURCE_NAMES = {
    "keyring": N_("system keyring"),
    "prompt": N_("prompt"),
    "environment": N_("environment variable"),
}


def source_name(source: str) -> str:
    """Where a password came from, as a person reads it (the stored word stays English)."""
    return _(_SOURCE_NAMES[source]) if source in _SOURCE_NAMES else source
