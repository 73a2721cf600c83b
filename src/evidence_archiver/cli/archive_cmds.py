"""`evidence init` and `evidence status`: create an archive and say what it holds."""

from __future__ import annotations

from rich.table import Table

from ..archive import default_archive_path
from ..i18n import _, ngettext, pgettext
from .common import (
    ArchiveOption,
    JsonOption,
    console,
    escape,
    handle_errors,
    import_state,
    kind_name,
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
            ngettext(
                "The archive at {path} already exists and holds {n} item.",
                "The archive at {path} already exists and holds {n} items.",
                status["total"],
            ).format(path=escape(str(path)), n=status["total"])
        )
    else:
        console.print(
            _("[green]Created an empty archive[/] at {path}.").format(path=escape(str(path)))
        )
        console.print(_("Next: 'evidence case new …' and 'evidence import mbox|eml|maildir …'."))


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
    console.print(_("[bold]Archive[/] {path}").format(path=escape(summary["archive"])))
    kinds = _(", ").join(
        _("{n} {kind}").format(n=n, kind=kind_name(k)) for k, n in summary["items"].items()
    ) or _("nothing yet")
    console.print(
        ngettext(
            "{total} items ({kinds}) in {cases} case; {originals} originals, {mb} MB.",
            "{total} items ({kinds}) in {cases} cases; {originals} originals, {mb} MB.",
            summary["cases"],
        ).format(
            total=summary["total"],
            kinds=kinds,
            cases=summary["cases"],
            originals=summary["originals"],
            mb=f"{summary['originals_bytes'] / 1e6:.1f}",
        )
    )
    if not broken:
        console.print(
            _("Custody log: [green]intact[/] ({n} events)").format(n=summary["custody_events"])
        )
    else:
        console.print(
            ngettext(
                "Custody log: [bold red]{n} row does not fit the chain[/]",
                "Custody log: [bold red]{n} rows do not fit the chain[/]",
                len(broken),
            ).format(n=len(broken))
        )
    if runs:
        table = Table(title=_("Recent imports"), show_lines=False)
        source = pgettext("import source", "from")
        for col in (
            "#", _("when"), source, _("new"), _("already there"), _("failed"), _("state"),
        ):  # fmt: skip
            # Where it came from is never cut short: the end of it (a folder) matters most.
            table.add_column(col, overflow="fold" if col == source else "ellipsis")
        for run in runs:
            table.add_row(
                str(run.id),
                show_time(run.started_at),
                escape(run.container[-50:]),
                str(run.added),
                str(run.duplicates),
                str(run.failed),
                import_state(run.status),
            )
        console.print(table)
    if summary["running_imports"]:
        n = summary["running_imports"]
        console.print(
            ngettext("{n} import still running.", "{n} imports still running.", n).format(n=n)
        )
    if summary["interrupted_imports"]:
        n = summary["interrupted_imports"]
        console.print(
            ngettext(
                "[yellow]{n} import was interrupted[/] before it finished: run the same import "
                "again to finish it (nothing is stored twice).",
                "[yellow]{n} imports were interrupted[/] before they finished: run the same "
                "import again to finish them (nothing is stored twice).",
                n,
            ).format(n=n)
        )
    if failures:
        n = summary["import_errors"]
        console.print(
            ngettext(
                "[yellow]{n} problem while importing:[/]",
                "[yellow]{n} problems while importing:[/]",
                n,
            ).format(n=n)
        )
        for failure in failures:
            console.print(f"  • {escape(failure.source)}: {escape(failure.reason)}")
