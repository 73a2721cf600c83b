"""Mail providers by name or address: their IMAP server, what they accept for a login, folder names.

A borrower knows their address (``wang@163.com``), rarely their provider's IMAP host. So an
account is resolved from what the user gave, in this order:

- the **provider**: ``--provider`` if given, else the provider whose server ``--host`` names,
  else the provider of the address's domain (``qq.com`` and ``foxmail.com`` are QQ Mail,
  ``163.com`` NetEase…). An address on an unknown domain with an unknown host has none;
- the **host**: ``--host`` if given (it always wins: a proxy, a test server, an enterprise
  server), else the provider's server for that domain (``sina.cn`` has its own);
- **port and TLS**: as the user said, else the provider's (every preset is implicit TLS on 993).

The host names and ports are the ones the providers publish (and Thunderbird's ISPDB lists):
QQ ``imap.qq.com``, NetEase ``imap.163.com`` / ``imap.126.com`` / ``imap.yeah.net`` /
``imap.188.com``, Sina ``imap.sina.com`` (``imap.sina.cn`` for sina.cn), Aliyun
``imap.aliyun.com``, China Mobile 139 ``imap.139.com``, Outlook ``outlook.office365.com``,
Gmail ``imap.gmail.com``.

A provider also says, in plain words, what its login needs when the server refuses it (QQ and
NetEase: an authorisation code 授权码 made in the web mailbox, never the web password; Gmail:
an app password or OAuth2; Outlook: OAuth2 only), and what its sent folder is called where the
server does not flag it with SPECIAL-USE (NetEase, Sina and 139 say 已发送; QQ says
``Sent Messages``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import SourceError
from ..i18n import N_, _

Security = Literal["tls", "starttls", "plaintext"]


@dataclass(frozen=True)
class Provider:
    """One mail provider's IMAP settings and advice."""

    key: str  # what --provider takes
    name: str  # how the user knows it
    host: str
    domains: tuple[str, ...]
    login_help: str  # what to do when the server refuses the login with a password
    sent_names: tuple[str, ...]  # its sent folder, for servers without SPECIAL-USE
    port: int = 993
    security: Security = "tls"  # every preset: implicit TLS
    hosts_by_domain: tuple[tuple[str, str], ...] = ()  # domains served by another host
    oauth2: bool = False  # a password login is refused outright: only OAuth2 works

    def host_for(self, domain: str | None) -> str:
        return dict(self.hosts_by_domain).get(domain or "", self.host)

    @property
    def hosts(self) -> tuple[str, ...]:
        return (self.host, *(host for _, host in self.hosts_by_domain))


NETEASE_HELP = N_(
    "{name} does not take your web password over IMAP: it needs an authorisation code "
    "(授权码). Sign in to the web mailbox, open 设置 (Settings) → POP3/SMTP/IMAP, turn on "
    "“IMAP/SMTP服务”, add an authorisation code (新增授权密码) and use that code as the "
    "password: 'evidence imap login --provider {key} --user {user}' stores it"
)
NETEASE_SENT = ("已发送", "Sent Messages", "Sent")

PROVIDERS: dict[str, Provider] = {
    p.key: p
    for p in (
        Provider(
            "qq",
            N_("QQ Mail (QQ邮箱)"),
            "imap.qq.com",
            ("qq.com", "foxmail.com", "vip.qq.com"),
            N_(
                "QQ Mail does not take your QQ password over IMAP: it needs an authorisation code "
                "(授权码). Sign in to mail.qq.com, open 设置 (Settings) → 账号 (Account), under "
                "“POP3/IMAP/SMTP/Exchange/CardDAV/CalDAV服务” turn on “IMAP/SMTP服务” and generate "
                "an authorisation code (生成授权码), then use that code as the password: 'evidence "
                "imap login --provider qq --user {user}' stores it"
            ),
            ("Sent Messages", "已发送", "Sent"),
        ),
        Provider(
            "163",
            N_("NetEase 163 Mail (网易163邮箱)"),
            "imap.163.com",
            ("163.com",),
            NETEASE_HELP,
            NETEASE_SENT,
        ),  # fmt: skip
        Provider(
            "126",
            N_("NetEase 126 Mail (网易126邮箱)"),
            "imap.126.com",
            ("126.com",),
            NETEASE_HELP,
            NETEASE_SENT,
        ),  # fmt: skip
        Provider(
            "yeah",
            N_("NetEase yeah.net Mail (网易yeah.net邮箱)"),
            "imap.yeah.net",
            ("yeah.net",),
            NETEASE_HELP,
            NETEASE_SENT,
        ),  # fmt: skip
        Provider(
            "188",
            N_("NetEase 188 VIP Mail (网易188财富邮)"),
            "imap.188.com",
            ("188.com",),
            NETEASE_HELP,
            NETEASE_SENT,
        ),  # fmt: skip
        Provider(
            "sina",
            N_("Sina Mail (新浪邮箱)"),
            "imap.sina.com",
            ("sina.com", "sina.cn"),
            N_(
                "Sina Mail opens IMAP only once it is turned on in the web mailbox: open 设置 "
                "(Settings) → 客户端pop/imap/smtp, turn on the IMAP/SMTP service, and use the "
                "authorisation code (授权码) it shows as the password, not your web password: "
                "'evidence imap login --provider sina --user {user}' stores it"
            ),
            ("已发送", "Sent"),
            hosts_by_domain=(("sina.cn", "imap.sina.cn"),),
        ),
        Provider(
            "aliyun",
            N_("Aliyun Mail (阿里邮箱)"),
            "imap.aliyun.com",
            ("aliyun.com",),
            N_(
                "Aliyun Mail opens IMAP only once it is turned on in the web mailbox: open 设置 "
                "(Settings) → 账户与安全 / POP3/SMTP及IMAP, turn on IMAP, and if it gives you a "
                "client password (客户端专用密码) use that instead of your web password: 'evidence "
                "imap login --provider aliyun --user {user}' stores it"
            ),
            ("已发送", "Sent"),
        ),
        Provider(
            "139",
            N_("China Mobile 139 Mail (139邮箱)"),
            "imap.139.com",
            ("139.com",),
            N_(
                "139 Mail opens IMAP only once it is turned on in the web mailbox: open 设置 "
                "(Settings) → 客户端设置 (POP3/SMTP/IMAP), turn on IMAP, and use the client "
                "authorisation code (客户端授权码) it gives as the password: 'evidence imap login "
                "--provider 139 --user {user}' stores it"
            ),
            ("已发送", "Sent"),
        ),
        Provider(
            "outlook",
            "Outlook.com / Hotmail",
            "outlook.office365.com",
            ("outlook.com", "hotmail.com", "live.com", "msn.com", "live.cn"),
            N_(
                "Outlook.com and Hotmail no longer accept any password over IMAP: they need "
                "OAuth2. This tool signs in with an OAuth2 access token you get yourself (for "
                "example with Microsoft's sign-in for desktop apps) and put in "
                "EVIDENCE_IMAP_OAUTH2_TOKEN; it does not open a Microsoft sign-in page itself"
            ),
            ("Sent", "Sent Items", "已发送邮件"),
            oauth2=True,
        ),
        Provider(
            "gmail",
            "Gmail",
            "imap.gmail.com",
            ("gmail.com", "googlemail.com"),
            N_(
                "Gmail refuses your Google password over IMAP: turn on 2-Step Verification and "
                "make an app password (Google Account → Security → App passwords), then use it as "
                "the password ('evidence imap login --provider gmail --user {user}' stores it), or "
                "put an OAuth2 access token in EVIDENCE_IMAP_OAUTH2_TOKEN"
            ),
            ("[Gmail]/Sent Mail", "[Gmail]/已发邮件", "[Google Mail]/Sent Mail"),
        ),
    )
}

NETEASE = frozenset({"163", "126", "yeah", "188"})


def provider_keys() -> list[str]:
    return list(PROVIDERS)


def domain_of(user: str) -> str | None:
    """``"Wang@163.COM"`` -> ``"163.com"``; None when ``user`` is not an address."""
    local, at, domain = user.strip().rpartition("@")
    return domain.lower().rstrip(".") if at and local and domain else None


def provider_for_domain(domain: str | None) -> Provider | None:
    if not domain:
        return None
    return next((p for p in PROVIDERS.values() if domain in p.domains), None)


def provider_for_host(host: str | None) -> Provider | None:
    if not host:
        return None
    host = host.lower().rstrip(".")
    return next((p for p in PROVIDERS.values() if host in p.hosts), None)


def get_provider(key: str) -> Provider:
    found = PROVIDERS.get(key.strip().lower())
    if found is None:
        raise SourceError(
            _(
                "there is no mail provider called {key}: choose one of {providers}, or give "
                "the server with --host"
            ).format(key=repr(key), providers=", ".join(PROVIDERS))
        )
    return found


def login_help(provider: str | None, user: str) -> str | None:
    """What the provider needs for a login, in plain words; None for an unknown provider."""
    found = PROVIDERS.get(provider or "")
    if found is None:
        return None
    return _(found.login_help).format(name=_(found.name), key=found.key, user=user)


def sent_names(provider: str | None) -> tuple[str, ...]:
    """The provider's own names for its sent folder (empty for an unknown provider)."""
    found = PROVIDERS.get(provider or "")
    return found.sent_names if found else ()
