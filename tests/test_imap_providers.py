"""Provider presets, detection from the address, folder names and roles, and what a refused
login says: the pure rules, without a server (the server side is in test_imap_netease.py)."""

from __future__ import annotations

import doctest

import pytest

from evidence_archiver.connectors import imap
from evidence_archiver.connectors.imap import (
    Folder,
    ImapAccount,
    ImapError,
    choose_folders,
    decode_folder_name,
    login_refused_message,
    message_meta,
    resolve_account,
    server_text,
    unsafe_login_message,
)
from evidence_archiver.connectors.imap_auth import OAuth2Token, Password
from evidence_archiver.connectors.imap_providers import PROVIDERS, domain_of
from evidence_archiver.errors import SourceError


@pytest.mark.parametrize(
    ("provider", "host"),
    [
        ("qq", "imap.qq.com"),
        ("163", "imap.163.com"),
        ("126", "imap.126.com"),
        ("yeah", "imap.yeah.net"),
        ("188", "imap.188.com"),
        ("sina", "imap.sina.com"),
        ("aliyun", "imap.aliyun.com"),
        ("139", "imap.139.com"),
        ("outlook", "outlook.office365.com"),
        ("gmail", "imap.gmail.com"),
        ("QQ", "imap.qq.com"),
    ],
)
def test_a_provider_preset_sets_host_port_and_tls(provider: str, host: str) -> None:
    account = resolve_account("someone", provider=provider)

    assert (account.host, account.port, account.security) == (host, 993, "tls")
    assert account.provider == provider.lower()


@pytest.mark.parametrize(
    ("address", "provider", "host"),
    [
        ("12345678@qq.com", "qq", "imap.qq.com"),
        ("wang@foxmail.com", "qq", "imap.qq.com"),
        ("Wang@163.COM", "163", "imap.163.com"),
        ("wang@126.com", "126", "imap.126.com"),
        ("wang@yeah.net", "yeah", "imap.yeah.net"),
        ("wang@188.com", "188", "imap.188.com"),
        ("wang@sina.com", "sina", "imap.sina.com"),
        ("wang@sina.cn", "sina", "imap.sina.cn"),
        ("wang@aliyun.com", "aliyun", "imap.aliyun.com"),
        ("13800138000@139.com", "139", "imap.139.com"),
        ("wang@outlook.com", "outlook", "outlook.office365.com"),
        ("wang@hotmail.com", "outlook", "outlook.office365.com"),
        ("wang@live.com", "outlook", "outlook.office365.com"),
        ("wang@gmail.com", "gmail", "imap.gmail.com"),
    ],
)
def test_the_provider_is_found_from_the_address_when_host_is_left_out(
    address: str, provider: str, host: str
) -> None:
    account = resolve_account(address)

    assert (account.provider, account.host, account.port) == (provider, host, 993)


def test_host_given_overrides_the_preset_but_keeps_the_providers_advice() -> None:
    account = resolve_account("wang@163.com", host="127.0.0.1", port=1143, security="plaintext")

    assert (account.host, account.port, account.security) == ("127.0.0.1", 1143, "plaintext")
    assert account.provider == "163"


def test_an_explicit_provider_wins_over_the_address_domain() -> None:
    account = resolve_account("wang@163.com", provider="qq")

    assert (account.provider, account.host) == ("qq", "imap.qq.com")


def test_a_known_host_names_its_provider() -> None:
    account = resolve_account("me@my-company.cn", host="IMAP.QQ.COM")

    assert (account.provider, account.host) == ("qq", "IMAP.QQ.COM")


def test_starttls_with_a_preset_uses_the_starttls_port() -> None:
    account = resolve_account("wang@163.com", security="starttls")

    assert (account.host, account.port, account.security) == ("imap.163.com", 143, "starttls")


def test_an_unknown_domain_without_host_is_an_error_naming_both_options() -> None:
    with pytest.raises(ImapError, match="--host.*--provider"):
        resolve_account("wang@example.org")


def test_an_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(SourceError, match="qq, 163, 126, yeah, 188, sina, aliyun, 139"):
        resolve_account("wang@163.com", provider="netease2")


@pytest.mark.parametrize(
    ("user", "domain"),
    [("a@B.com", "b.com"), ("a@163.com.", "163.com"), ("user7", None), ("@163.com", None),
     ("a@", None), ("x@y@qq.com", "qq.com")],
)  # fmt: skip
def test_domain_of_an_address(user: str, domain: str | None) -> None:
    assert domain_of(user) == domain


def test_every_preset_has_advice_and_a_sent_folder_name() -> None:
    for provider in PROVIDERS.values():
        assert provider.login_help
        assert provider.sent_names
        assert provider.host.startswith(("imap.", "outlook."))


# -- what a refused login says ------------------------------------------------------------------


def refused(user: str, provider: str | None, credentials: Password | OAuth2Token) -> str:
    account = ImapAccount("imap.example", user, provider=provider)
    return login_refused_message(account, credentials, "[AUTHENTICATIONFAILED] failed")


def test_netease_and_qq_are_told_to_use_the_authorisation_code() -> None:
    for provider in ("163", "126", "yeah", "188", "qq"):
        text = refused("wang@x", provider, Password("x", "keyring"))
        assert "授权码" in text
        assert "not" in text  # … not the web password
        assert f"--provider {provider} --user wang@x" in text
        assert "AUTHENTICATIONFAILED" in text


def test_gmail_is_told_about_app_passwords_and_outlook_about_oauth2() -> None:
    gmail = refused("w@gmail.com", "gmail", Password("x", "prompt"))
    outlook = refused("w@outlook.com", "outlook", Password("x", "prompt"))

    assert "app password" in gmail
    assert "EVIDENCE_IMAP_OAUTH2_TOKEN" in gmail
    assert "OAuth2" in outlook
    assert "does not open a Microsoft sign-in page" in outlook


def test_a_refused_oauth2_token_is_called_expired_not_a_password_problem() -> None:
    text = refused("w@gmail.com", "gmail", OAuth2Token("t"))

    assert "token" in text
    assert "app password" not in text


def test_what_a_hostile_server_says_is_cut_short_and_cleaned() -> None:
    said = "NO \x1b[31mevil\x07\r\n* BYE " + "x" * 5000

    clean = server_text(said)

    assert len(clean) <= 200
    assert "\x1b" not in clean
    assert "\r" not in clean
    assert "\n" not in clean
    assert clean.startswith("NO [31mevil * BYE")


def test_unsafe_login_explains_the_id_command_and_what_to_check() -> None:
    account = ImapAccount("imap.163.com", "wang@163.com", provider="163")

    text = unsafe_login_message(
        account, "INBOX", "SELECT Unsafe Login. Please contact kefu@188.com"
    )

    assert "IMAP ID command" in text
    assert "SELECT Unsafe Login" in text
    assert "设置 (Settings) → POP3/SMTP/IMAP" in text


# -- folder names and roles ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"INBOX", "INBOX"),
        (b"&XfJT0ZAB-", "已发送"),
        (b"&V4NXPpCuTvY-", "垃圾邮件"),
        (b"&g0l6P3ux-", "草稿箱"),
        (b"&XfJSIJZk-", "已删除"),
        (b"&UXZO1mWHTvZZOQ-/&TlCNNw-", "其他文件夹/乐贷"),
        (b"Tom &- Jerry", "Tom & Jerry"),
        (b"&!!-", "&!!-"),  # not modified UTF-7: shown as sent
        (b"&AAc-", "&AAc-"),  # decodes to a control character: shown as sent
        ("网易".encode(), "网易"),  # raw UTF-8
        ("乐贷".encode("gb18030"), "乐贷"),  # raw GBK
        (b"\xff\xfe", "\ufffd\ufffd"),
    ],
)
def test_folder_names_are_decoded_for_people(raw: bytes, shown: str) -> None:
    assert decode_folder_name(raw) == shown


def folders(*names: str, flags: dict[str, tuple[str, ...]] | None = None) -> list[Folder]:
    return [Folder(n, (flags or {}).get(n, ())) for n in names]


def test_special_use_flags_win_over_names() -> None:
    listed = folders("INBOX", "已发送", "Outbox", flags={"Outbox": ("\\Sent",)})

    assert choose_folders(listed) == ["INBOX", "Outbox"]


def test_netease_sent_folder_found_without_special_use() -> None:
    listed = folders("INBOX", "草稿箱", "已发送", "已删除", "垃圾邮件", "病毒文件夹")

    assert choose_folders(listed, provider="163") == ["INBOX", "已发送"]
    assert choose_folders(listed) == ["INBOX", "已发送"]


def test_qq_sent_messages_found_without_special_use() -> None:
    listed = folders("INBOX", "Sent Messages", "Drafts", "Deleted Messages", "Junk")

    assert choose_folders(listed, provider="qq") == ["INBOX", "Sent Messages"]


def test_the_providers_own_name_wins_over_other_usual_names() -> None:
    listed = folders("INBOX", "Sent", "已发送")

    assert choose_folders(listed, provider="163") == ["INBOX", "已发送"]
    assert choose_folders(listed, provider="qq") == ["INBOX", "已发送"]  # QQ: 已发送, then Sent


def test_gmail_sent_mail_in_chinese_is_found() -> None:
    listed = folders("INBOX", "[Gmail]/已发邮件", "[Gmail]/垃圾邮件")

    assert choose_folders(listed, provider="gmail") == ["INBOX", "[Gmail]/已发邮件"]


@pytest.mark.parametrize(
    ("name", "role"),
    [("INBOX", "inbox"), ("已发送", "sent"), ("草稿箱", "drafts"), ("垃圾邮件", "junk"),
     ("已删除", "trash"), ("Deleted Messages", "trash"), ("其他文件夹/乐贷", None),
     ("病毒文件夹", None)],
)  # fmt: skip
def test_folder_roles_by_name(name: str, role: str | None) -> None:
    assert Folder(name, ()).role("163") == role


def test_folder_role_by_flag() -> None:
    assert Folder("Spam", ("\\Junk",)).role() == "junk"
    assert Folder("Whatever", ("\\Sent",)).role() == "sent"


def test_a_folder_asked_for_by_its_chinese_name_is_chosen() -> None:
    listed = folders("INBOX", "已发送", "垃圾邮件")

    assert choose_folders(listed, ["垃圾邮件"]) == ["垃圾邮件"]
    with pytest.raises(ImapError, match="已发送, 垃圾邮件"):
        choose_folders(listed, ["广告邮件"])


def test_a_folder_is_sent_back_by_the_name_the_server_gave() -> None:
    assert Folder("a", (), raw="&AGE-").wire_name == "&AGE-"
    assert Folder("已发送", ()).wire_name == "&XfJT0ZAB-"


def test_gmail_labels_in_chinese_are_decoded_like_folder_names() -> None:
    meta = message_meta(
        "INBOX", 7, 5, {b"X-GM-MSGID": 1, b"X-GM-LABELS": (b"\\Inbox", b"&TlCNNw-/&XfJT0ZAB-")}
    )

    assert meta["gmail"]["labels"] == ["\\Inbox", "乐贷/已发送"]


def test_the_examples_in_the_imap_docstrings_hold() -> None:
    results = doctest.testmod(imap)

    assert results.attempted >= 6
    assert results.failed == 0
