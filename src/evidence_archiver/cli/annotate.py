"""`evidence tag` and `evidence note`: a person's own marks on an item, kept in custody."""

from __future__ import annotations

from typing import Annotated

import typer

from ..i18n import _
from .common import ArchiveOption, JsonOption, console, handle_errors, open_archive, print_json


@handle_errors
def tag(
    item_id: Annotated[int, typer.Argument(help="The item's number (see 'evidence search').")],
    tags: Annotated[list[str], typer.Argument(help="One or more tags, e.g. promise threat.")],
    remove: Annotated[bool, typer.Option("--remove", help="Take the tags off instead.")] = False,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Tag an item, e.g. as a promise or a threat, to find and export it later.

    Example: evidence tag 42 promise
    """
    with open_archive(archive) as arch:
        changed = [t for t in tags if (arch.untag(item_id, t) if remove else arch.tag(item_id, t))]
        current = list(arch.item(item_id).tags)
    if json_:
        print_json({"id": item_id, "changed": changed, "tags": current})
        return
    message = (
        _("Removed {tags} on item {id}; its tags: {current}.")
        if remove
        else _("Added {tags} on item {id}; its tags: {current}.")
    )
    console.print(
        message.format(
            tags=", ".join(changed) or _("nothing"),
            id=item_id,
            current=", ".join(current) or _("none"),
        )
    )


@handle_errors
def note(
    item_id: Annotated[int, typer.Argument(help="The item's number.")],
    text: Annotated[str, typer.Argument(help="The note, in quotes.")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Add a note to an item (notes are kept with the time they were written).

    Example: evidence note 42 "agent 1234 promised 3 months"
    """
    with open_archive(archive) as arch:
        note_id = arch.add_note(item_id, text)
    if json_:
        print_json({"id": item_id, "note_id": note_id})
        return
    console.print(_("Noted on item {id}.").format(id=item_id))
