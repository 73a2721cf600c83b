"""Extract the interface's messages and merge them into the zh_CN catalogue, or check it.

    python scripts/update_catalogue.py            # extract and merge into evidence.po
    python scripts/update_catalogue.py --check    # exit 1 on missing, stale, fuzzy, untranslated
    python scripts/update_catalogue.py --pot out.pot   # also write the template

The messages come from three places, all in the ``evidence`` domain:

1. ``_()``, ``ngettext()``, ``N_()`` calls in ``src/evidence_archiver/**.py`` and in the Jinja2
   templates, as ``babel.cfg`` maps them (Babel's extractors);
2. the help texts of every command and option, read from the live Typer command tree
   (docstrings and ``help=`` need no marking; see ``evidence_archiver.cli.localize``).

After merging, new entries have an empty ``msgstr`` and entries whose English changed a little
are marked ``#, fuzzy`` with the old translation as a start: translate or confirm them (remove
the fuzzy mark), then run with ``--check``. The file is written sorted by msgid and without
source locations, so that two branches adding strings rarely touch the same lines and a merge
conflict in it is resolved by keeping both sides and running this script again.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import string
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

PROJECT = Path(__file__).resolve().parent.parent
BABEL_CFG = PROJECT / "babel.cfg"
PO_FILE = PROJECT / "src" / "evidence_archiver" / "locale" / "zh_CN" / "LC_MESSAGES" / "evidence.po"
WIDTH = 100


def _source_messages(
    root: Path,
) -> Iterable[tuple[str | tuple[str, ...], list[str], str | None]]:
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    for _filename, _lineno, message, comments, context in extract_from_dir(
        str(root),
        method_map,
        options_map,
        keywords=DEFAULT_KEYWORDS,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    ):
        yield message, comments, context


def _help_messages() -> Iterable[str]:
    # The tree as written in the source: build it in English.
    os.environ["EVIDENCE_LANG"] = "en"
    import typer.main

    from evidence_archiver.cli import app
    from evidence_archiver.cli.localize import help_texts

    yield from help_texts(typer.main.get_command(app))


def extract(root: Path = PROJECT) -> Catalog:
    """The template catalogue: every message the interface can show, without locations."""
    template = Catalog(domain="evidence", project="evidence-archiver", fuzzy=False)
    for message, comments, context in _source_messages(root):
        template.add(message, auto_comments=comments, context=context)
    for text in _help_messages():
        template.add(text)
    return template


def _fields(text: str) -> list[str]:
    """The {placeholders} of a brace-format string (empty for text that is not one)."""
    try:
        return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name)
    except ValueError:
        return []


# Rich markup: a style tag such as [bold red] or [/], which a translation must keep as it is.
STYLES = r"(?:bold|dim|italic|underline|reverse|strike|green|yellow|red|blue|cyan|magenta|white)"
MARKUP = re.compile(rf"\[/?{STYLES}(?: {STYLES})*\]|\[/\]")


def _strings(message: Message) -> list[str]:
    if isinstance(message.string, tuple | list):
        return list(message.string)
    return [message.string or ""]


def _ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple | list) else [message.id]


def problems(template: Catalog, po: Catalog) -> list[str]:
    """What is wrong with the catalogue against the template (empty = in step, all done)."""
    found: list[str] = []
    # A message is its msgid and its context (pgettext), as gettext looks it up.
    wanted = {(m.id, m.context) for m in template if m.id}
    have = {(m.id, m.context) for m in po if m.id}
    for mid, context in sorted(wanted - have, key=str):
        found.append(f"missing from evidence.po: {mid!r}" + (f" ({context})" if context else ""))
    for mid, context in sorted(have - wanted, key=str):
        found.append(
            f"stale (no longer in the source): {mid!r}" + (f" ({context})" if context else "")
        )
    for message in po:
        if not message.id or (message.id, message.context) not in wanted:
            continue
        if message.fuzzy:
            found.append(f"fuzzy (check the translation, then remove the mark): {message.id!r}")
        if not all(s.strip() for s in _strings(message)):
            found.append(f"untranslated: {message.id!r}")
            continue
        id_fields = sorted({f for mid in _ids(message) for f in _fields(mid)})
        for translated in _strings(message):
            if sorted(set(_fields(translated))) != id_fields:
                found.append(f"placeholders differ from {id_fields}: {message.id!r}")
            if sorted(MARKUP.findall(translated)) != sorted(MARKUP.findall(_ids(message)[0])):
                found.append(f"rich markup differs: {message.id!r}")
    return found


def read_catalogue(path: Path = PO_FILE) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale="zh_CN", domain="evidence")


def render(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(
        out,
        catalog,
        width=WIDTH,
        no_location=True,
        omit_header=False,
        sort_output=True,
        ignore_obsolete=True,
        include_previous=False,
    )
    return out.getvalue()


def update(path: Path = PO_FILE, template: Catalog | None = None) -> Catalog:
    """Merge the template into the catalogue at ``path`` and write it back, sorted."""
    template = template or extract()
    po = read_catalogue(path)
    template.creation_date = po.creation_date  # keep the header stable between runs
    po.update(template, update_header_comment=False)
    path.write_bytes(render(po))
    return po


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="check only; change nothing")
    parser.add_argument("--pot", type=Path, help="also write the template to this file")
    args = parser.parse_args(argv)
    template = extract()
    if args.pot:
        args.pot.write_bytes(render(template))
    if args.check:
        found = problems(template, read_catalogue())
        for line in found:
            print(line)
        print(f"{len(found)} problem(s) in {PO_FILE.relative_to(PROJECT)}")
        return 1 if found else 0
    po = update(template=template)
    todo = problems(template, po)
    print(f"{PO_FILE.relative_to(PROJECT)}: {len(po)} messages, {len(todo)} to translate or check")
    for line in todo:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
