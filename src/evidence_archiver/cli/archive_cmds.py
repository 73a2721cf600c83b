"""`evidence init` and `evidence status`: create an archive and say what it holds."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from ..archive import default_archive_path
from .common import (
    ArchiveOption,
    JsonOption,
    console,
    handle_errors,
    open_archive,
    print_json,
    show_time,
)


@handle_errors
def init(archive: ArchiveOption = None, json_: JsonOption = False) -> None:
    """Create the archive (nothing happens to an archive that exists already).

    Example: evidence init --archive ~/dispute/archive.db
    """
    path = archive or default_archive_path()
    existed = path.exists()
    with open_archive(path, create=True) as arch:
        status = arch.status()
    if json_:
        print_json({"archive": str(path), "created": not existed, "total": status["total"]})
        return
    if existed:
        console.print(
            f"The archive at {escape(str(path))} already exists and holds {status['total']} items."
        )
    else:
        console.print(f"[green]Created an empty archive[/] at {escape(str(path))}.")
        console.print("Next: 'evidence case new …' and 'evidence import mbox|eml|maildir …'.")


@handle_errors
def status(archive: ArchiveOption = None, json_: JsonOption = False) -> None:
    """What the archive holds, recent imports, and what failed to import and why.

    Example: evidence status --json
    """
    with open_archive(archive) as arch:
        summary = arch.status()
        runs = arch.imports(limit=5)
        failures = arch.import_failures(limit=20)
        broken = arch.verify_custody()
    if json_:
        print_json({**summary, "custody_intact": not broken})
        return
    console.print(f"[bold]Archive[/] {escape(summary['archive'])}")
    kinds = ", ".join(f"{n} {k}" for k, n in summary["items"].items()) or "nothing yet"
    console.print(
        f"{summary['total']} items ({kinds}) in {summary['cases']} case(s); "
        f"{summary['originals']} originals, {summary['originals_bytes'] / 1e6:.1f} MB."
    )
    console.print(
        "Custody log: "
        + (
            f"[green]intact[/] ({summary['custody_events']} events)"
            if not broken
            else f"[bold red]{len(broken)} rows do not fit the chain[/]"
        )
    )
    if runs:
        table = Table(title="Recent imports", show_lines=False)
        for col in ("#", "when", "from", "new", "already there", "failed", "state"):
            # Where it came from is never cut short: the end of it (a folder) matters most.
            table.add_column(col, overflow="fold" if col == "from" else "ellipsis")
        for run in runs:
            table.add_row(
                str(run.id),
                show_time(run.started_at),
                escape(run.container[-50:]),
                str(run.added),
                str(run.duplicates),
                str(run.failed),
                run.status,
            )
        console.print(table)
    if summary["running_imports"]:
        console.print(f"{summary['running_imports']} import(s) still running.")
    if summary["interrupted_imports"]:
        console.print(
            f"[yellow]{summary['interrupted_imports']} import(s) were interrupted[/] before they "
            "finished: run the same import again to finish it (nothing is stored twice)."
        )
    if failures:
        console.print(f"[yellow]{summary['import_errors']} problem(s) while importing:[/]")
        for failure in failures:
            console.print(f"  • {escape(failure.source)}: {escape(failure.reason)}")
