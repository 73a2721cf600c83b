"""`evidence import imap` and `evidence imap login|logout`: thin calls into connectors.imap.

The password is never an option: it comes from the keyring (``evidence imap login`` puts it
there), a hidden prompt when a person is at the terminal, or ``EVIDENCE_IMAP_PASSWORD`` (with a
warning); ``EVIDENCE_IMAP_OAUTH2_TOKEN`` carries an OAuth2 access token for Gmail and Outlook.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ..connectors.imap_providers import PROVIDERS
from ..i18n import _, pgettext
from .common import (
    EXIT_SOME_FAILED,
    ArchiveOption,
    JsonOption,
    console,
    err_console,
    escape,
    handle_errors,
    open_archive,
    print_json,
    print_problems,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ..connectors import imap_auth
    from ..connectors.imap import FolderReport, ImapAccount, ImapImportReport, Security

# The connector (imapclient, ssl) and the keyring are imported by the commands that use them:
# every other command, e.g. 'evidence import mbox', starts without them (about 40 ms).

app = typer.Typer(help="Manage the IMAP password kept in the system keyring.", no_args_is_help=True)

HostOption = Annotated[
    str | None,
    typer.Option(
        "--host",
        help="The IMAP server, e.g. imap.163.com (default: your provider's, from --provider or "
        "from your address).",
    ),
]
ProviderOption = Annotated[
    str | None,
    typer.Option(
        "--provider",
        help="Your mail provider: qq, 163, 126, yeah, 188, sina, aliyun, 139, outlook or gmail "
        "(sets the server; found from your address when left out).",
        case_sensitive=False,
    ),
]
UserOption = Annotated[
    str, typer.Option("--user", help="The account name, usually your e-mail address.")
]
PortOption = Annotated[
    int | None,
    typer.Option("--port", help="Server port (default 993 for TLS, 143 with --starttls).", min=1),
]
StartTlsOption = Annotated[
    bool,
    typer.Option("--starttls", help="Connect to port 143 and require STARTTLS (never plain text)."),
]
CaFileOption = Annotated[
    Path | None,
    typer.Option(
        "--ca-file", help="Trust only this CA certificate (PEM), for a server with a private CA."
    ),
]
PlaintextOption = Annotated[
    bool,
    typer.Option(
        "--insecure-plaintext",
        help="No encryption at all: allowed only for a server on this machine (127.0.0.1).",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the server before retrying.", min=1)
]


def _security(starttls: bool, insecure_plaintext: bool) -> Security:
    if starttls and insecure_plaintext:
        raise typer.BadParameter(_("choose either --starttls or --insecure-plaintext"))
    if insecure_plaintext:
        return "plaintext"
    return "starttls" if starttls else "tls"


def _account(
    user: str,
    host: str | None,
    provider: str | None,
    port: int | None,
    security: Security,
    ca_file: Path | None,
    timeout: float,
) -> ImapAccount:
    """The account from the options; TLS flags given by the user win over a preset's."""
    from ..connectors.imap import resolve_account

    return resolve_account(
        user,
        host=host,
        provider=provider,
        port=port,
        security=None if security == "tls" else security,
        ca_file=ca_file,
        timeout=timeout,
    )


def _warn_if_password_refused(account: ImapAccount, credentials: imap_auth.Credentials) -> None:
    """Say before connecting when the provider is known to refuse every password."""
    from ..connectors import imap_auth

    preset = PROVIDERS.get(account.provider or "")
    if preset is not None and preset.oauth2 and isinstance(credentials, imap_auth.Password):
        _warn(
            _(
                "{provider} accepts only OAuth2 over IMAP, so the password will probably be "
                "refused: put an OAuth2 access token in {variable} instead"
            ).format(provider=_(preset.name), variable=imap_auth.OAUTH2_ENV)
        )


def _role_name(role: str) -> str:
    """A folder's role (``sent``, ``junk``…) as a person reads it; --json keeps the word."""
    names = {
        "inbox": pgettext("folder role", "inbox"),
        "sent": pgettext("folder role", "sent"),
        "drafts": pgettext("folder role", "drafts"),
        "junk": pgettext("folder role", "junk"),
        "trash": pgettext("folder role", "trash"),
        "archive": pgettext("folder role", "archive"),
        "all": pgettext("folder role", "all mail"),
        "flagged": pgettext("folder role", "flagged"),
    }
    return names.get(role, role)


def _prompt() -> Callable[[str], str] | None:
    """A hidden prompt when a person is at the terminal, None in scripts and CI."""
    if not sys.stdin.isatty():
        return None
    return lambda question: str(typer.prompt(question, hide_input=True, default=""))


def _warn(message: str) -> None:
    err_console.print(_("[yellow]Warning:[/] {message}").format(message=escape(message)))


class _Bars:
    """One progress bar per folder: messages, MB, rate and time left (on stderr)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.counts: dict[str, list[int]] = {}

    def folder_started(self, folder: str, messages: int, size: int) -> None:
        self.counts[folder] = [0, messages]
        self.tasks[folder] = self.progress.add_task(
            folder, total=size or None, messages=f"0/{messages}"
        )

    def advance(self, folder: str, messages: int, size: int) -> None:
        counts = self.counts[folder]
        counts[0] += messages
        self.progress.update(self.tasks[folder], advance=size, messages=f"{counts[0]}/{counts[1]}")

    def folder_finished(self, report: FolderReport) -> None:
        task = self.tasks.get(report.folder)
        if task is None:
            return
        self.progress.update(task, completed=report.bytes, total=report.bytes)
        if report.to_fetch == 0:
            self.progress.update(
                task, description=_("{folder} (nothing new)").format(folder=report.folder)
            )

    def warn(self, message: str) -> None:
        self.progress.console.print(
            _("[yellow]Warning:[/] {message}").format(message=escape(message))
        )


def _summary(report: ImapImportReport) -> None:
    table = Table(
        title=_("IMAP import from {account}").format(account=escape(report.account)),
        title_justify="left",
    )
    for column, justify in (
        (_("folder"), "left"),
        (_("new"), "right"),
        (_("already archived"), "right"),
        (_("failed"), "right"),
        (_("linked"), "right"),
        (_("notes"), "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for f in report.folders:
        notes = []
        if f.stopped:
            notes.append(_("[red]stopped: {reason}[/]").format(reason=escape(f.stopped)))
        notes += [f"[yellow]{escape(w)}[/]" for w in f.warnings]
        if f.reconnects:
            notes.append(_("reconnected {n}×").format(n=f.reconnects))
        table.add_row(
            escape(f.folder),
            str(f.added),
            str(f.duplicates),
            str(f.failed),
            str(f.linked),
            "\n".join(notes),
        )
    console.print(table)
    if report.not_imported:
        console.print(
            _(
                "Other folders, not imported: {folders}. Lenders' mail sometimes lands in the "
                "junk folder (垃圾邮件): add it with --folder NAME, or take everything with "
                "--all-folders."
            ).format(folders=escape(_(", ").join(report.not_imported)))
        )
    print_problems([(e["source"], e["reason"]) for f in report.folders for e in f.errors])
    if not report.complete:
        console.print(
            _(
                "[yellow]Not every folder was finished.[/] Everything fetched is saved; run the "
                "same command again to continue where it stopped."
            )
        )


@handle_errors
def import_imap_command(
    user: UserOption,
    host: HostOption = None,
    provider: ProviderOption = None,
    port: PortOption = None,
    starttls: StartTlsOption = False,
    ca_file: CaFileOption = None,
    insecure_plaintext: PlaintextOption = False,
    folder: Annotated[
        list[str] | None,
        typer.Option(
            "--folder",
            help="A folder to import, by the name shown (e.g. 垃圾邮件; repeatable; default: INBOX "
            "and the sent folder).",
        ),
    ] = None,
    all_folders: Annotated[
        bool, typer.Option("--all-folders", help="Import every folder of the account.")
    ] = False,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since", formats=["%Y-%m-%d"], help="Only messages received on or after this day."
        ),
    ] = None,
    case: Annotated[
        str | None,
        typer.Option("--case", help="Link every message found to this case (its slug)."),
    ] = None,
    timeout: TimeoutOption = 60.0,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
    workers: Annotated[
        int | None,
        typer.Option(help="Parser processes (default: one per core; 0 parses in this process)."),
    ] = None,
) -> None:
    """Import a mailbox over IMAP; run it again later to fetch only what is new.

    The server is never changed (folders are opened read-only). The server is found from
    your address for QQ, NetEase (163, 126, yeah.net, 188), Sina, Aliyun, 139, Outlook and
    Gmail; give --host for any other. The password comes from the keyring ('evidence imap
    login'), a prompt, or EVIDENCE_IMAP_PASSWORD. QQ and NetEase mail want the authorisation
    code (授权码) made in the web mailbox's settings, not the web password; for Gmail and
    Outlook put an OAuth2 access token in EVIDENCE_IMAP_OAUTH2_TOKEN.

    Example (163.com): evidence import imap --user wang@163.com --since 2024-01-01

    Example (QQ Mail): evidence import imap --provider qq --user 12345678@qq.com
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from ..connectors import imap_auth
    from ..connectors.imap import import_imap

    account = _account(
        user,
        host,
        provider,
        port,
        _security(starttls, insecure_plaintext),
        ca_file,
        timeout,
    )
    credentials = imap_auth.resolve_credentials(user, account.host, prompt=_prompt(), warn=_warn)
    _warn_if_password_refused(account, credentials)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn(_("{count} messages").format(count="{task.fields[messages]}")),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with (
        open_archive(archive, create=True) as arch,
        Progress(*columns, console=err_console.rich, disable=json_) as progress,
    ):
        report = import_imap(
            arch,
            account,
            credentials,
            folders=folder or (),
            all_folders=all_folders,
            since=since.date() if since else None,
            case=case,
            workers=workers,
            progress=_Bars(progress),
        )
    if json_:
        print_json(report.as_json())
    else:
        _summary(report)
    if report.failed or not report.complete:
        raise typer.Exit(EXIT_SOME_FAILED)


@app.command("login")
@handle_errors
def login(
    user: UserOption,
    host: HostOption = None,
    provider: ProviderOption = None,
    port: PortOption = None,
    starttls: StartTlsOption = False,
    ca_file: CaFileOption = None,
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Log in once to test the password first.")
    ] = True,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Store your IMAP password in the system keyring, so imports need not ask for it.

    For QQ and NetEase (163, 126, yeah.net, 188) mail this is the authorisation code (授权码)
    made in the web mailbox's settings, not the web password.

    Example (163.com): evidence imap login --user wang@163.com

    Example (QQ Mail): evidence imap login --provider qq --user 12345678@qq.com
    """
    from ..connectors import imap_auth
    from ..connectors.imap import connect

    account = _account(user, host, provider, port, _security(starttls, False), ca_file, timeout)
    host = account.host
    password = str(
        typer.prompt(
            _("IMAP password for {user} on {host}").format(user=user, host=host), hide_input=True
        )
    )
    if check:
        client = connect(account, imap_auth.Password(password, "prompt"))
        client.logout()
    imap_auth.store_password(user, host, password)
    console.print(
        _("[green]Password for {user} on {host} stored in the keyring.[/]").format(
            user=escape(user), host=escape(host)
        )
    )


@app.command("folders")
@handle_errors
def folders(
    user: UserOption,
    host: HostOption = None,
    provider: ProviderOption = None,
    port: PortOption = None,
    starttls: StartTlsOption = False,
    ca_file: CaFileOption = None,
    insecure_plaintext: PlaintextOption = False,
    timeout: TimeoutOption = 30.0,
    json_: JsonOption = False,
) -> None:
    """List the folders of an account, with the names to give to --folder.

    Example (163.com): evidence imap folders --user wang@163.com

    Example (QQ Mail): evidence imap folders --provider qq --user 12345678@qq.com
    """
    from ..connectors import imap_auth
    from ..connectors.imap import choose_folders, connect, list_folders

    account = _account(
        user, host, provider, port, _security(starttls, insecure_plaintext), ca_file, timeout
    )
    credentials = imap_auth.resolve_credentials(user, account.host, prompt=_prompt(), warn=_warn)
    client = connect(account, credentials)
    try:
        found = list_folders(client)
    finally:
        client.logout()
    default = set(choose_folders(found, provider=account.provider))
    rows = [
        {
            "folder": f.name,
            "server_name": f.raw or None,
            "role": f.role(account.provider),
            "flags": list(f.flags),
            "selectable": f.selectable,
            "imported_by_default": f.name in default,
        }
        for f in found
    ]
    if json_:
        print_json(rows)
        return
    for f in found:
        marks = escape(" ".join(f.flags))
        known = f.role(account.provider)
        role = "  " + _("({role})").format(role=_role_name(known)) if known else ""
        default_mark = "  " + _("[green](imported by default)[/]") if f.name in default else ""
        console.print(f"{escape(f.name)}{escape(role)}  [dim]{marks}[/]{default_mark}")


@app.command("logout")
@handle_errors
def logout(user: UserOption, host: HostOption = None, provider: ProviderOption = None) -> None:
    """Remove the stored IMAP password from the system keyring.

    Example: evidence imap logout --user wang@163.com
    """
    from ..connectors import imap_auth

    host = _account(user, host, provider, None, "tls", None, 30.0).host
    if imap_auth.forget_password(user, host):
        console.print(
            _("Password for {user} on {host} removed from the keyring.").format(
                user=escape(user), host=escape(host)
            )
        )
    else:
        console.print(
            _("No password was stored for {user} on {host}.").format(
                user=escape(user), host=escape(host)
            )
        )
