"""NetEase-style mailboxes against a real Dovecot: the ID command before any folder is opened,
Chinese folder names without SPECIAL-USE, and what a refused login tells the user per provider.

:class:`dovecot.NetEaseProxy` refuses SELECT/EXAMINE with NetEase's own "Unsafe Login" answer
until the client has sent ID; the ``netease_dovecot`` server gives every account the folders a
163.com mailbox has (已发送, 草稿箱, 已删除, 垃圾邮件…), none flagged, with no SPECIAL-USE.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dovecot import (
    HOST,
    UNSAFE_LOGIN,
    FaultProxy,
    ImapUser,
    NetEaseProxy,
    fresh_loopback,
    make_message,
)
from evidence_archiver import Archive
from evidence_archiver.cli import app
from evidence_archiver.connectors.imap import (
    ImapAccount,
    ImapError,
    ImapUnsafeLoginError,
    connect,
    import_imap,
    list_folders,
)
from evidence_archiver.connectors.imap_auth import PASSWORD_ENV, Password


def through(proxy: NetEaseProxy | FaultProxy, user: ImapUser, **overrides: Any) -> ImapAccount:
    settings: dict[str, Any] = {
        "host": HOST,
        "user": user.name,
        "port": proxy.port,
        "security": "plaintext",
        "timeout": 10.0,
        "provider": "163",
    }
    settings.update(overrides)
    return ImapAccount(**settings)


def run(archive: Archive, user: ImapUser, account: ImapAccount, **options: Any) -> Any:
    options.setdefault("workers", 0)
    options.setdefault("backoff", 0.05)
    return import_imap(archive, account, Password(user.password, "prompt"), **options)


def test_id_is_sent_before_any_folder_is_opened_so_netease_lets_the_import_through(
    archive: Archive, netease_user: ImapUser
) -> None:
    inbox = [make_message(i, to=netease_user.name) for i in range(3)]
    sent = [make_message(10 + i, sender=netease_user.name) for i in range(2)]
    netease_user.append("INBOX", inbox)
    netease_user.append("已发送", sent, create=False)

    with NetEaseProxy(netease_user.server.imap_port) as proxy:
        report = run(archive, netease_user, through(proxy, netease_user))

    assert report.complete, [f.stopped for f in report.folders]
    assert [(f.folder, f.added) for f in report.folders] == [("INBOX", 3), ("已发送", 2)]
    first = proxy.commands[0]
    assert "ID" in first
    assert first.index("ID") < first.index("EXAMINE")
    assert first.index("LOGIN") < first.index("ID")
    assert b'"name" "evidence-archiver"' in proxy.id_arguments[0]
    assert re.search(rb'"version" "[0-9][^"]*"', proxy.id_arguments[0])


def test_without_id_netease_refuses_and_the_import_says_why(
    archive: Archive, netease_user: ImapUser
) -> None:
    netease_user.append("INBOX", [make_message(1)])

    with (
        NetEaseProxy(netease_user.server.imap_port) as proxy,
        pytest.raises(ImapUnsafeLoginError) as refused,
    ):
        run(archive, netease_user, through(proxy, netease_user, send_id=False))

    message = str(refused.value)
    assert UNSAFE_LOGIN.decode() in message  # what the server said, as it said it
    assert "IMAP ID command" in message
    assert "163.com" in message
    assert "send_id=False" in message
    assert "ID" not in proxy.commands[0]
    assert archive.status()["items"].get("email", 0) == 0


def test_a_server_that_hides_id_yet_demands_it_gets_advice_not_a_traceback(
    archive_path: Path, netease_user: ImapUser
) -> None:
    netease_user.append("INBOX", [make_message(1)])
    env = {"EVIDENCE_ARCHIVE": str(archive_path), PASSWORD_ENV: netease_user.password}

    with NetEaseProxy(netease_user.server.imap_port, hide_id=True) as proxy:
        result = CliRunner().invoke(
            app,
            ["import", "imap", "--user", netease_user.name, "--host", HOST,
             "--port", str(proxy.port), "--insecure-plaintext", "--workers", "0"],
            env=env,
        )  # fmt: skip

    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "Traceback" not in text
    assert "Unsafe Login" in text
    assert "did not offer it" in text
    assert "ID" not in proxy.commands[0]  # never sent to a server that does not offer it


def test_chinese_folders_without_special_use_are_decoded_and_sent_is_found(
    archive_path: Path, netease_user: ImapUser
) -> None:
    netease_user.append("INBOX", [make_message(1)])
    netease_user.append("已发送", [make_message(2, sender=netease_user.name)], create=False)
    netease_user.append(
        "垃圾邮件", [make_message(3, sender="collect@lender.example")], create=False
    )
    env = {"EVIDENCE_ARCHIVE": str(archive_path), PASSWORD_ENV: netease_user.password}
    runner = CliRunner()

    with NetEaseProxy(netease_user.server.imap_port) as proxy:
        base = ["--user", netease_user.name, "--host", HOST, "--port", str(proxy.port),
                "--insecure-plaintext", "--json"]  # fmt: skip
        listed = runner.invoke(app, ["imap", "folders", *base], env=env)
        imported = runner.invoke(app, ["import", "imap", *base, "--workers", "0"], env=env)
        summary = runner.invoke(app, ["import", "imap", *base[:-1], "--workers", "0"], env=env)

    assert listed.exit_code == 0, listed.output
    rows = {row["folder"]: row for row in json.loads(listed.stdout)}
    assert {"INBOX", "已发送", "草稿箱", "已删除", "垃圾邮件"} <= set(rows)
    assert rows["已发送"]["flags"] == ["\\HasNoChildren"] or "\\Sent" not in rows["已发送"]["flags"]
    assert rows["已发送"]["server_name"] == "&XfJT0ZAB-"
    assert (rows["已发送"]["role"], rows["垃圾邮件"]["role"]) == ("sent", "junk")
    assert (rows["草稿箱"]["role"], rows["已删除"]["role"]) == ("drafts", "trash")
    assert {n for n, r in rows.items() if r["imported_by_default"]} == {"INBOX", "已发送"}

    assert imported.exit_code == 0, imported.output
    result = json.loads(imported.stdout)
    assert [f["folder"] for f in result["folders"]] == ["INBOX", "已发送"]
    assert result["folders"][1]["container"].endswith("/已发送")
    assert "垃圾邮件" in result["not_imported"]

    assert summary.exit_code == 0, summary.output
    assert "已发送" in summary.stdout
    assert "垃圾邮件" in summary.stdout  # named among the folders left out
    assert "&XfJT0ZAB-" not in summary.stdout

    status = runner.invoke(app, ["status"], env=env)
    assert status.exit_code == 0, status.output
    assert "&XfJT0ZAB-" not in status.stdout
    assert "送" in status.stdout  # the folder's name, decoded, not cut off
    with Archive(archive_path) as archive:
        assert archive.status()["items"]["email"] == 2
        containers = {run.container for run in archive.imports(limit=5)}
    assert f"{netease_user.name}@127.0.0.1/已发送" in containers


def test_a_chinese_folder_named_on_the_command_line_is_imported(
    archive: Archive, netease_user: ImapUser
) -> None:
    netease_user.append("垃圾邮件", [make_message(7)], create=False)

    with NetEaseProxy(netease_user.server.imap_port) as proxy:
        report = run(archive, netease_user, through(proxy, netease_user), folders=["垃圾邮件"])

    assert [(f.folder, f.added) for f in report.folders] == [("垃圾邮件", 1)]
    (hit,) = archive.search("Repayment")
    assert archive.item(hit.id).details["imap"]["folder"] == "垃圾邮件"


def test_a_malformed_answer_to_id_does_not_stop_the_import(
    archive: Archive, netease_user: ImapUser
) -> None:
    netease_user.append("INBOX", [make_message(1)])

    def garble(chunk: bytes) -> bytes:
        return re.sub(rb"\* ID \([^\r\n]*\)", b'* ID ("name" ("nested" {3}) NIL "odd', chunk)

    with FaultProxy(netease_user.server.imap_port, rewrite=garble) as proxy:
        report = run(archive, netease_user, through(proxy, netease_user))

    assert report.complete
    assert report.added == 1


def test_a_refused_id_does_not_stop_the_import(archive: Archive, netease_user: ImapUser) -> None:
    netease_user.append("INBOX", [make_message(1)])

    def refuse(chunk: bytes) -> bytes:
        chunk = re.sub(rb"\* ID \([^\r\n]*\)\r\n", b"", chunk)
        return re.sub(rb"(\w+) OK ID completed\.?", rb"\1 BAD ID not today", chunk)

    with FaultProxy(netease_user.server.imap_port, rewrite=refuse) as proxy:
        report = run(archive, netease_user, through(proxy, netease_user))

    assert report.complete
    assert report.added == 1


def test_folder_names_a_hostile_server_sends_are_shown_and_the_rest_imports(
    archive: Archive, netease_user: ImapUser
) -> None:
    netease_user.append("INBOX", [make_message(1)])
    hostile = (
        b'* LIST (\\HasNoChildren) "/" "&!!-"\r\n'  # not modified UTF-7 at all
        b'* LIST (\\HasNoChildren) "/" "&AGE-"\r\n'  # "a", spelled the long way
        b'* LIST (\\HasNoChildren) "/" "a"\r\n'
        b'* LIST (\\HasNoChildren) "/" "&AAcABw-"\r\n'  # control characters
        + '* LIST (\\HasNoChildren) "/" "网易"\r\n'.encode()  # raw UTF-8, against the rules
        + '* LIST (\\HasNoChildren) "/" "乐贷"\r\n'.encode("gb18030")  # raw GBK
    )

    def inject(chunk: bytes) -> bytes:
        return re.sub(rb'(\* LIST \([^)]*\) "/" "?INBOX"?\r\n)', lambda m: hostile + m[1], chunk)

    with FaultProxy(netease_user.server.imap_port, rewrite=inject, faulty_connections=9) as proxy:
        account = through(proxy, netease_user)
        client = connect(account, Password(netease_user.password, "prompt"))
        try:
            names = [f.name for f in list_folders(client)]
        finally:
            client.logout()
        report = run(archive, netease_user, account)
        refused = run(archive, netease_user, account, folders=["&!!-"])

    assert {"&!!-", "a", "&AAcABw-", "网易", "乐贷"} <= set(names)
    assert [n for n in names if n.startswith("a [")] == ["a [a]"]  # decoded alike: kept apart
    assert report.complete
    assert report.added == 1
    assert {"&!!-", "网易", "乐贷"} <= set(report.not_imported)
    (folder,) = refused.folders
    assert folder.stopped is not None
    assert "refused to open &!!-" in folder.stopped


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--user", "wang@163.com"], ["授权码", "NetEase 163", "设置 (Settings) → POP3/SMTP/IMAP"]),
        (["--user", "wang@126.com"], ["授权码", "NetEase 126"]),
        (["--user", "wang@yeah.net"], ["授权码", "yeah.net"]),
        (["--user", "12345678@qq.com"], ["授权码", "QQ Mail", "生成授权码", "--provider qq"]),
        (["--user", "wang@foxmail.com"], ["授权码", "QQ Mail"]),
        (["--user", "wang@gmail.com"], ["app password", "EVIDENCE_IMAP_OAUTH2_TOKEN"]),
        (["--user", "wang@outlook.com"], ["OAuth2", "no longer accept any password"]),
        (["--user", "wang@hotmail.com"], ["OAuth2"]),
        (["--user", "wang@sina.cn"], ["Sina Mail", "授权码"]),
        (["--user", "wang@aliyun.com"], ["Aliyun Mail", "客户端专用密码"]),
        (["--user", "wang@139.com"], ["139 Mail", "客户端授权码"]),
        (["--provider", "qq", "--user", "someone"], ["QQ Mail", "授权码"]),
        (["--user", "wang@example.org"], ["Many providers want an app password"]),
    ],
)
def test_a_refused_login_says_what_the_provider_needs(
    archive_path: Path, dovecot: Any, options: list[str], expected: list[str]
) -> None:
    env = {"EVIDENCE_ARCHIVE": str(archive_path), PASSWORD_ENV: "the-web-password"}

    with FaultProxy(dovecot.imaps_port, faulty_connections=0, source=fresh_loopback()) as proxy:
        args = ["import", "imap", *options, "--host", HOST, "--port", str(proxy.port),
                "--ca-file", str(dovecot.ca_file), "--workers", "0"]  # fmt: skip
        result = CliRunner().invoke(app, args, env=env)

    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "refused the login" in text
    assert "Authentication failed" in text  # Dovecot's own words, passed on
    for words in expected:
        assert words in text, text
    assert "the-web-password" not in result.output
    assert "Traceback" not in result.output


def test_an_unknown_provider_is_a_usage_error_that_lists_the_known_ones(
    archive_path: Path,
) -> None:
    result = CliRunner().invoke(
        app,
        ["import", "imap", "--provider", "hotmale", "--user", "wang@163.com"],
        env={"EVIDENCE_ARCHIVE": str(archive_path)},
    )

    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "qq, 163, 126, yeah, 188, sina, aliyun, 139, outlook, gmail" in text


def test_an_address_on_an_unknown_domain_without_host_asks_for_one(archive_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["import", "imap", "--user", "wang@example.org"],
        env={"EVIDENCE_ARCHIVE": str(archive_path), PASSWORD_ENV: "x"},
    )

    assert result.exit_code == 2
    assert "--host" in result.output
    assert "--provider" in result.output


def test_login_check_against_a_server_that_refuses_explains_the_authorisation_code(
    dovecot: Any,
) -> None:
    with FaultProxy(dovecot.imaps_port, faulty_connections=0, source=fresh_loopback()) as proxy:
        account = ImapAccount(
            HOST, "wang@163.com", port=proxy.port, ca_file=dovecot.ca_file, provider="163"
        )
        with pytest.raises(ImapError, match="授权码"):
            connect(account, Password("wrong", "prompt"))
