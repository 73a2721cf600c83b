"""Connection security against a real Dovecot: verified TLS, STARTTLS or nothing, no plaintext."""

from __future__ import annotations

import pytest

from dovecot import HOST, FaultProxy, ImapUser, make_message, need_tool
from evidence_archiver import Archive
from evidence_archiver.connectors.imap import ImapAccount, ImapError, connect, import_imap
from evidence_archiver.connectors.imap_auth import Password


def password(user: ImapUser) -> Password:
    return Password(user.password, "prompt")


def test_implicit_tls_with_the_private_ca_file_imports(
    archive: Archive, imap_user: ImapUser
) -> None:
    imap_user.append("INBOX", [make_message(1)])
    account = ImapAccount(
        HOST, imap_user.name, port=imap_user.server.imaps_port, ca_file=imap_user.server.ca_file
    )

    report = import_imap(archive, account, password(imap_user), workers=0)

    assert report.added == 1


def test_certificate_from_an_unknown_ca_is_refused_before_login(imap_user: ImapUser) -> None:
    account = ImapAccount(HOST, imap_user.name, port=imap_user.server.imaps_port)

    with pytest.raises(ImapError, match="cannot be verified.*--ca-file"):
        connect(account, password(imap_user))


def test_certificate_for_another_host_name_is_refused(imap_user: ImapUser) -> None:
    # The certificate names localhost and 127.0.0.1; reach the same server under a name it
    # does not carry (an IPv4-mapped spelling resolves to 127.0.0.1 on the wire).
    account = ImapAccount(
        "127.1", imap_user.name, port=imap_user.server.imaps_port, ca_file=imap_user.server.ca_file
    )

    with pytest.raises(ImapError, match="cannot be verified"):
        connect(account, password(imap_user))


def test_starttls_upgrades_then_logs_in(archive: Archive, imap_user: ImapUser) -> None:
    imap_user.append("INBOX", [make_message(1), make_message(2)])
    account = ImapAccount(
        HOST,
        imap_user.name,
        port=imap_user.server.imap_port,
        security="starttls",
        ca_file=imap_user.server.ca_file,
    )

    report = import_imap(archive, account, password(imap_user), workers=0)

    assert report.added == 2


def test_stripped_starttls_is_refused_and_the_password_never_crosses(
    imap_user: ImapUser,
) -> None:
    with FaultProxy(imap_user.server.imap_port, strip_starttls=True) as proxy:
        account = ImapAccount(
            HOST,
            imap_user.name,
            port=proxy.port,
            security="starttls",
            ca_file=imap_user.server.ca_file,
        )
        with pytest.raises(ImapError, match="does not offer STARTTLS"):
            connect(account, password(imap_user))
    assert imap_user.password.encode() not in bytes(proxy.from_client)
    assert b"LOGIN" not in bytes(proxy.from_client).upper()


def test_plaintext_is_refused_for_a_remote_host(imap_user: ImapUser) -> None:
    account = ImapAccount("imap.example.com", imap_user.name, security="plaintext")

    with pytest.raises(ImapError, match="refusing a plaintext connection to imap.example.com"):
        connect(account, password(imap_user))


def test_plaintext_is_allowed_on_loopback_when_asked_for(
    archive: Archive, imap_user: ImapUser
) -> None:
    imap_user.append("INBOX", [make_message(1)])
    account = ImapAccount(
        HOST, imap_user.name, port=imap_user.server.imap_port, security="plaintext"
    )

    report = import_imap(archive, account, password(imap_user), workers=0)

    assert report.added == 1


def test_wrong_password_is_a_clear_error(imap_user: ImapUser) -> None:
    account = ImapAccount(
        HOST, imap_user.name, port=imap_user.server.imaps_port, ca_file=imap_user.server.ca_file
    )

    with pytest.raises(ImapError, match=f"refused the login for {imap_user.name}"):
        connect(account, Password("wrong", "environment"))


def test_missing_ca_file_is_a_clear_error(imap_user: ImapUser) -> None:
    account = ImapAccount(
        HOST,
        imap_user.name,
        port=imap_user.server.imaps_port,
        ca_file=imap_user.server.root / "nope.pem",
    )

    with pytest.raises(ImapError, match="CA file .*nope.pem does not exist"):
        connect(account, password(imap_user))


def test_a_missing_server_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="not installed"):
        need_tool("dovecot-that-is-not-there")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        need_tool("dovecot-that-is-not-there")
