"""`evidence import imap` and `evidence imap login` against a real Dovecot, and where the password
comes from (keyring, prompt, environment) and where it never goes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest
from typer.testing import CliRunner

from dovecot import HOST, FaultProxy, ImapUser, fresh_loopback, make_message
from evidence_archiver import Archive
from evidence_archiver.cli import app
from evidence_archiver.connectors.imap_auth import (
    OAUTH2_ENV,
    PASSWORD_ENV,
    OAuth2Token,
    Password,
    resolve_credentials,
)
from evidence_archiver.errors import SourceError


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that keeps passwords in memory (no desktop keyring in CI)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not stored")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def cli_args(user: ImapUser, *extra: str) -> list[str]:
    return [
        "import", "imap", "--host", HOST, "--user", user.name,
        "--port", str(user.server.imaps_port), "--ca-file", str(user.server.ca_file),
        "--workers", "0", "--json", *extra,
    ]  # fmt: skip


def test_import_with_the_password_from_the_environment_warns_and_reruns_cleanly(
    archive_path: Path, imap_user: ImapUser
) -> None:
    imap_user.append("INBOX", [make_message(1), make_message(2)])
    env = {"EVIDENCE_ARCHIVE": str(archive_path), PASSWORD_ENV: imap_user.password}
    runner = CliRunner()

    first = runner.invoke(app, cli_args(imap_user), env=env)

    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert (result["added"], result["complete"]) == (2, True)
    assert result["folders"][0]["folder"] == "INBOX"
    assert PASSWORD_ENV in first.stderr
    again = runner.invoke(app, cli_args(imap_user), env=env)
    assert json.loads(again.stdout)["folders"][0]["to_fetch"] == 0
    # The password is nowhere in the archive (database and write-ahead log).
    for path in archive_path.parent.glob(archive_path.name + "*"):
        assert imap_user.password.encode() not in path.read_bytes()


def test_human_summary_lists_each_folder(archive_path: Path, imap_user: ImapUser) -> None:
    imap_user.append("INBOX", [make_message(1)])
    imap_user.append("Sent", [make_message(2, sender="me@borrower.example")])
    args = [a for a in cli_args(imap_user) if a != "--json"]

    result = CliRunner().invoke(
        app, args, env={"EVIDENCE_ARCHIVE": str(archive_path), PASSWORD_ENV: imap_user.password}
    )

    assert result.exit_code == 0, result.output
    assert "INBOX" in result.stdout
    assert "Sent" in result.stdout
    assert "Traceback" not in result.output


def test_login_stores_the_password_in_the_keyring_and_import_uses_it(
    archive_path: Path, imap_user: ImapUser, memory_keyring: MemoryKeyring
) -> None:
    imap_user.append("INBOX", [make_message(1)])
    runner = CliRunner()
    login = runner.invoke(
        app,
        ["imap", "login", "--host", HOST, "--user", imap_user.name,
         "--port", str(imap_user.server.imaps_port), "--ca-file", str(imap_user.server.ca_file)],
        input=imap_user.password + "\n",
    )  # fmt: skip
    assert login.exit_code == 0, login.output
    assert list(memory_keyring.passwords.values()) == [imap_user.password]

    imported = runner.invoke(app, cli_args(imap_user), env={"EVIDENCE_ARCHIVE": str(archive_path)})

    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["added"] == 1
    assert PASSWORD_ENV not in imported.stderr
    logout = runner.invoke(app, ["imap", "logout", "--host", HOST, "--user", imap_user.name])
    assert logout.exit_code == 0
    assert memory_keyring.passwords == {}


def test_login_with_a_wrong_password_stores_nothing(
    imap_user: ImapUser, memory_keyring: MemoryKeyring
) -> None:
    result = CliRunner().invoke(
        app,
        ["imap", "login", "--host", HOST, "--user", imap_user.name,
         "--port", str(imap_user.server.imaps_port), "--ca-file", str(imap_user.server.ca_file)],
        input="not-the-password\n",
    )  # fmt: skip

    assert result.exit_code == 2
    assert "refused the login" in result.output
    assert memory_keyring.passwords == {}


def test_without_any_password_source_the_error_says_what_to_do(
    archive_path: Path, imap_user: ImapUser
) -> None:
    result = CliRunner().invoke(
        app, cli_args(imap_user), env={"EVIDENCE_ARCHIVE": str(archive_path)}
    )

    assert result.exit_code == 2
    assert "evidence imap login" in result.output
    assert "Traceback" not in result.output


def test_plaintext_to_a_remote_host_is_refused_on_the_command_line(archive_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["import", "imap", "--host", "imap.example.com", "--user", "me",
         "--insecure-plaintext"],
        env={"EVIDENCE_ARCHIVE": str(archive_path), PASSWORD_ENV: "x"},
    )  # fmt: skip

    assert result.exit_code == 2
    assert "refusing a plaintext connection" in result.output


def test_credential_order_is_token_then_keyring_then_prompt_then_environment(
    memory_keyring: MemoryKeyring,
) -> None:
    env = {PASSWORD_ENV: "from-env"}
    asked: list[str] = []

    def prompt(question: str) -> str:
        asked.append(question)
        return "typed"

    assert resolve_credentials("u", "h", environ=env) == Password("from-env", "environment")
    assert resolve_credentials("u", "h", prompt=prompt, environ=env) == Password("typed", "prompt")
    memory_keyring.set_password("evidence-archiver IMAP", "u@h", "stored")
    assert resolve_credentials("u", "h", prompt=prompt, environ=env) == Password(
        "stored", "keyring"
    )
    with_token = {**env, OAUTH2_ENV: "ya29.token"}
    assert resolve_credentials("u", "h", environ=with_token) == OAuth2Token("ya29.token")
    assert asked == ["IMAP password for u on h"]
    with pytest.raises(SourceError, match="evidence imap login"):
        resolve_credentials("x", "h", environ={})


def test_password_is_hidden_from_repr() -> None:
    assert "s3cret" not in repr(Password("s3cret", "prompt"))
    assert "ya29" not in repr(OAuth2Token("ya29.token"))


def test_case_option_links_every_message_found(archive_path: Path, imap_user: ImapUser) -> None:
    with Archive(archive_path) as archive:
        archive.create_case("Lender X extension", slug="lender-x")
    shared = make_message(1)
    imap_user.append("INBOX", [shared, make_message(2)])
    imap_user.append("Loans", [shared])
    env = {"EVIDENCE_ARCHIVE": str(archive_path), PASSWORD_ENV: imap_user.password}

    result = CliRunner().invoke(
        app, cli_args(imap_user, "--all-folders", "--case", "lender-x"), env=env
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["linked"] == 2
    with Archive(archive_path) as archive:
        assert len(archive.timeline("lender-x")) == 2


def test_unknown_case_fails_before_anything_is_fetched(
    archive_path: Path, imap_user: ImapUser
) -> None:
    imap_user.append("INBOX", [make_message(1)])
    env = {"EVIDENCE_ARCHIVE": str(archive_path), PASSWORD_ENV: imap_user.password}

    result = CliRunner().invoke(app, cli_args(imap_user, "--case", "nope"), env=env)

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    with Archive(archive_path) as archive:
        assert archive.status()["total"] == 0


def test_folders_lists_decoded_names_and_the_default_choice(imap_user: ImapUser) -> None:
    imap_user.append("收件箱/招商银行", [make_message(1)])

    result = CliRunner().invoke(
        app, folders_args(imap_user), env={PASSWORD_ENV: imap_user.password}
    )

    assert result.exit_code == 0, result.output
    rows = {row["folder"]: row for row in json.loads(result.stdout)}
    assert rows["收件箱/招商银行"]["selectable"] is True
    assert rows["INBOX"]["imported_by_default"] is True
    assert rows["Sent"]["imported_by_default"] is True
    assert "\\Sent" in rows["Sent"]["flags"]
    assert rows["收件箱/招商银行"]["imported_by_default"] is False
    human = CliRunner().invoke(
        app,
        [a for a in folders_args(imap_user) if a != "--json"],
        env={PASSWORD_ENV: imap_user.password},
    )
    assert "收件箱/招商银行" in human.stdout
    assert "(imported by default)" in human.stdout


def folders_args(user: ImapUser) -> list[str]:
    return [
        "imap", "folders", "--host", HOST, "--user", user.name, "--port",
        str(user.server.imaps_port), "--ca-file", str(user.server.ca_file), "--json",
    ]  # fmt: skip


def test_login_without_host_keeps_the_password_under_the_providers_server(
    memory_keyring: MemoryKeyring,
) -> None:
    runner = CliRunner()

    login = runner.invoke(
        app, ["imap", "login", "--user", "wang@163.com", "--no-check"], input="授权码-abc\n"
    )
    qq = runner.invoke(
        app, ["imap", "login", "--provider", "qq", "--user", "12345", "--no-check"], input="x\n"
    )

    assert login.exit_code == 0, login.output
    assert qq.exit_code == 0, qq.output
    assert memory_keyring.passwords == {
        ("evidence-archiver IMAP", "wang@163.com@imap.163.com"): "授权码-abc",
        ("evidence-archiver IMAP", "12345@imap.qq.com"): "x",
    }
    logout = runner.invoke(app, ["imap", "logout", "--user", "wang@163.com"])
    assert logout.exit_code == 0
    assert "imap.163.com" in logout.stdout
    assert list(memory_keyring.passwords) == [("evidence-archiver IMAP", "12345@imap.qq.com")]


def test_an_outlook_password_gets_a_warning_before_it_is_refused(
    archive_path: Path, dovecot: Any
) -> None:
    with FaultProxy(dovecot.imaps_port, faulty_connections=0, source=fresh_loopback()) as proxy:
        result = CliRunner().invoke(
            app,
            ["import", "imap", "--user", "wang@outlook.com", "--host", HOST,
             "--port", str(proxy.port), "--ca-file", str(dovecot.ca_file), "--workers", "0"],
            env={"EVIDENCE_ARCHIVE": str(archive_path), PASSWORD_ENV: "pw"},
        )  # fmt: skip

    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "accepts only OAuth2 over IMAP" in text
    assert "refused the login" in text
