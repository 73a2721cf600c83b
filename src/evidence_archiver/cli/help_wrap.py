"""Chinese help text that wraps at 80 columns in Typer's rich help screens.

Loaded with ``typer.rich_utils`` (see :mod:`.localize`), i.e. only when a help screen is shown.
"""

from __future__ import annotations

import functools
from typing import Any

from rich.cells import cell_len
from rich.columns import Columns
from rich.console import Console
from rich.containers import Lines
from rich.text import Text

from .. import i18n

# Chinese breaks between any two characters, but not before a closing mark (，。、）…) nor
# after an opening one (（「…); a run of Latin letters, digits and signs (wechat-html,
# EVIDENCE_TZ, --since) stays whole and breaks only at its spaces.
_NO_BREAK_BEFORE = frozenset("，。、；：？！）」』》〉】”’…·,.;:?!)]}%")
_NO_BREAK_AFTER = frozenset("（「『《〈【“‘([{")


def _can_break_before(text: str, i: int) -> bool:
    before, here = text[i - 1], text[i]
    if here.isspace():
        return False  # break after the spaces, not in front of them
    if before.isspace():
        return True
    if here in _NO_BREAK_BEFORE or before in _NO_BREAK_AFTER:
        return False
    return cell_len(before) == 2 or cell_len(here) == 2


def break_offsets(text: str, width: int) -> list[int]:
    """Where to break one line of mixed Chinese and Latin text to fit ``width`` cells."""
    offsets: list[int] = []
    start = used = 0
    last = 0  # the latest place after ``start`` where the line may break (0: none yet)
    for i, char in enumerate(text):
        if i > start and _can_break_before(text, i):
            last = i
        cells = cell_len(char)
        if used + cells > width and i > start:
            cut = last if last > start else i  # no break place: fold the word
            offsets.append(cut)
            start, used = cut, cell_len(text[cut:i].lstrip())
            last = max((j for j in range(cut + 1, i) if _can_break_before(text, j)), default=0)
        used += cells
    return offsets


class ChineseText(Text):
    """Text that wraps as Chinese does (:func:`break_offsets`) instead of only at spaces."""

    def wrap(
        self,
        console: Console,
        width: int,
        *,
        justify: Any = None,
        overflow: Any = None,
        tab_size: int = 8,
        no_wrap: bool | None = None,
    ) -> Lines:
        lines = Lines()
        for line in self.split(allow_blank=True):
            for piece in line.divide(break_offsets(line.plain, width)):
                piece.rstrip()
                piece.truncate(width, overflow="fold")
                lines.append(piece)
        return lines


def foldable_parameter_help(get_parameter_help: Any) -> Any:
    """Wrap typer.rich_utils._get_parameter_help: Chinese help that wraps at 80 columns.

    Typer lays an option's help, default and env var out as rich Columns, which crop an item
    wider than the column with "…". English wraps at its spaces, but a run of Chinese has none,
    so most of a Chinese help text was cut off at 80 columns. In Chinese the parts are joined
    into one Text that wraps as Chinese text does (:class:`ChineseText`).
    """
    if getattr(get_parameter_help, "_evidence_localized", False):
        return get_parameter_help

    @functools.wraps(get_parameter_help)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        found = get_parameter_help(*args, **kwargs)
        if i18n.language() == i18n.ENGLISH or not isinstance(found, Columns):
            return found
        parts = [part for part in found.renderables if isinstance(part, Text)]
        if not parts or len(parts) != len(found.renderables):
            return found
        joined = ChineseText(overflow="fold")
        for i, part in enumerate(parts):
            if i:
                joined.append(" ")
            joined.append_text(part)
        return joined

    wrapper._evidence_localized = True  # type: ignore[attr-defined]
    return wrapper
