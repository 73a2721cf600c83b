"""`evidence import …`: one command per kind of source, each a thin call into the library.

Mail is imported here; phone exports, documents and IMAP have their commands in their own
modules (with the other commands about them). :func:`make_app` loads only the module of the
command that runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from .. import importing
from ..connectors.email import count_files, count_mbox
from ..i18n import _
from .common import (
    ArchiveOption,
    JsonOption,
    defined_in,
    handle_errors,
    open_archive,
    progress_bar,
    report_import,
)

WorkersOption = Annotated[
    int | None,
    typer.Option(help="Parser processes (default: one per core; 0 parses in this process)."),
]
BatchOption = Annotated[
    int, typer.Option(help="Items written per transaction.", min=1, hidden=True)
]


@handle_errors
def import_mbox(
    path: Annotated[Path, typer.Argument(help="An mbox file (Gmail Takeout, Thunderbird…).")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
    workers: WorkersOption = None,
    batch_size: BatchOption = 500,
) -> None:
    """Import every message of an mbox file.

    Example: evidence import mbox ~/Downloads/takeout.mbox
    """
    with open_archive(archive, create=True) as arch:
        # Counted only for the progress bar, which --json goes without.
        total = count_mbox(path) if path.is_file() and not json_ else None
        with progress_bar(
            _("Importing {name}").format(name=path.name), total, enabled=not json_
        ) as advance:
            report = importing.import_mbox(
                arch, path, progress=advance, workers=workers, batch_size=batch_size
            )
    report_import(report, str(path), as_json=json_)


@handle_errors
def import_eml(
    paths: Annotated[list[Path], typer.Argument(help=".eml files, or folders of them.")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
    workers: WorkersOption = None,
    batch_size: BatchOption = 500,
) -> None:
    """Import single messages saved as files (.eml), or whole folders of them.

    Example: evidence import eml ~/Desktop/lender-mails/ reply.eml
    """
    total = count_files(paths)
    with (
        open_archive(archive, create=True) as arch,
        progress_bar(_("Importing messages"), total, enabled=not json_) as advance,
    ):
        report = importing.import_eml(
            arch, paths, progress=advance, workers=workers, batch_size=batch_size
        )
    report_import(report, ", ".join(str(p) for p in paths), as_json=json_)


@handle_errors
def import_maildir(
    path: Annotated[Path, typer.Argument(help="A maildir folder (with cur/ and new/).")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
    workers: WorkersOption = None,
    batch_size: BatchOption = 500,
) -> None:
    """Import a maildir tree, including messages kept outside cur/ and new/.

    Example: evidence import maildir ~/Mail/lenderx
    """
    with open_archive(archive, create=True) as arch:
        total = count_files([path]) if path.is_dir() else None
        with progress_bar(
            _("Importing {name}").format(name=path.name), total, enabled=not json_
        ) as advance:
            report = importing.import_maildir(
                arch, path, progress=advance, workers=workers, batch_size=batch_size
            )
    report_import(report, str(path), as_json=json_)


#: Each `import` command: the module under ``cli/`` that defines it and its function there.
COMMANDS: dict[str, tuple[str, str]] = {
    "mbox": ("importing", "import_mbox"),
    "eml": ("importing", "import_eml"),
    "maildir": ("importing", "import_maildir"),
    # Phone exports (SMS, MMS, calls, chats); "phone" is an alias.
    "sms": ("phone", "import_sms"),
    "phone": ("phone", "import_sms"),
    "wechat": ("phone", "import_wechat"),
    # Documents (PDFs, screenshots, recordings, any file).
    "pdf": ("documents", "import_pdf"),
    "file": ("documents", "import_file"),
    # IMAP (incremental, resumable), beside `evidence imap login`.
    "imap": ("imap", "import_imap_command"),
}


def make_app(names: Iterable[str] | None = None) -> typer.Typer:
    """The `import` group with the commands ``names`` (every one when None)."""
    app = typer.Typer(
        help="Bring material into the archive. Importing the same thing again adds nothing.",
        no_args_is_help=True,
    )
    for name in COMMANDS if names is None else names:
        app.command(name)(defined_in(*COMMANDS[name]))
    return app
