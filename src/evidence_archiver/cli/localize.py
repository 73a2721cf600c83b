"""The command line in the user's language: help texts, panel titles and Click's own messages.

Typer keeps each help text (a command's docstring, an option's ``help=``) as English and copies
it into a fresh Click command tree every time the app runs. :class:`LocalizedGroup`, the root
group's class, translates that tree in place just before the arguments are parsed, so help
texts need no marking in the source: ``scripts/update_catalogue.py`` reads the msgids from the
same tree (:func:`help_texts`) and a test fails when one is missing from the catalogue.

Typer and its Click print messages of their own ("Usage:", "Missing
argument 'query'.", "No such option: --bogus", "Try 'evidence --help' for help.", the "Options"
and "Commands" panels). Typer's own modules call the standard library's ``gettext`` through a
name ``_`` bound at import, which :func:`install_click_translations` points at ours; its panel
titles are module constants computed at import, set again in the current language on every
run. Which Click that is depends on Typer's version: from 0.2x Typer carries its own copy
(``typer._click``), which writes its messages as plain English f-strings; older ones use the
standalone ``click`` package, whose messages go through the standard ``gettext`` of its own
modules (no catalogue: English). Either way an error reaches us as English text, so the shapes
of those messages are listed here (:data:`CLICK_MESSAGES`, marked for the catalogue: Typer
0.29's, which checks values with pydantic, and the Click-style ones of 0.28 and standalone
Click) and an error's text is matched against them when it is printed and rebuilt from the
translated shape; the values in it (option names, file names) are kept, and a nested message
("Invalid value for '--since': …") is translated in turn. An upgrade of Typer that rewords one
shows up as an English error in the tests that run every kind of usage error in Chinese.
"""

from __future__ import annotations

import functools
import importlib.machinery
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import typer.core

if TYPE_CHECKING:
    from importlib.abc import Loader

try:  # Typer >= 0.2x carries its own Click ...
    from typer import _click
except ImportError:  # pragma: no cover - ... older ones use the standalone package
    import click as _click  # type: ignore[no-redef]

from .. import i18n
from ..i18n import N_

# Typer's fixed strings, translated once at import time in typer.rich_utils: the originals.
_RICH_CONSTANTS = {
    "DEPRECATED_STRING": N_("(deprecated) "),
    "DEFAULT_STRING": N_("[default: {}]"),
    "ENVVAR_STRING": N_("[env var: {}]"),
    "REQUIRED_LONG_STRING": N_("[required]"),
    "ARGUMENTS_PANEL_TITLE": N_("Arguments"),
    "OPTIONS_PANEL_TITLE": N_("Options"),
    "COMMANDS_PANEL_TITLE": N_("Commands"),
    "ERRORS_PANEL_TITLE": N_("Error"),
    "ABORTED_TEXT": N_("Aborted."),
    "RICH_HELP": N_("Try [blue]'{command_path} {help_option}'[/] for help."),
}
# The help of the --help option, which Click makes only when help is shown.
HELP_OPTION_HELP = N_("Show this message and exit.")

# The messages the bundled Click and Typer's argument parsing write, most specific first.
# {message} is itself a message (translated in turn), {kind} a word from CLICK_WORDS; any other
# placeholder is a value copied as it is.
CLICK_MESSAGES = (
    N_("No such command {name}. Did you mean {suggestions}?"),
    N_("No such command {name}."),
    N_("Missing command."),
    N_("Missing {kind} {name}. {message}"),
    N_("Missing {kind} {name}."),
    N_("Missing parameter: {name}"),
    N_("No such option: {name} (Possible options: {choices})"),
    N_("No such option: {name}"),
    N_("No such option {name}."),
    N_("Invalid value for {name}: {message}"),
    N_("Invalid value: {message}"),
    N_("Got unexpected extra argument(s) ({values})"),
    N_("Got unexpected extra argument ({values})"),
    N_("Got unexpected extra arguments ({values})"),
    N_("Option {name} requires an argument."),
    N_("Option {name} requires {count} arguments."),
    N_("Option {name} does not take a value."),
    N_("Argument {name} takes {count} values."),
    N_("Takes {count} values but {given} given."),
    N_("{count} values are required, but {given} given."),
    N_("Could not open file {name}: {message}"),
    N_("{kind} {name} does not exist."),
    N_("{kind} {name} is a file."),
    N_("{kind} {name} is a directory."),
    N_("{kind} {name} is not readable."),
    N_("{kind} {name} is not writable."),
    N_("Value error, {value} does not match the formats {formats}."),
    N_("Value error, {value} does not match the format {formats}."),
    # Typer 0.28's Click and standalone Click check values themselves.
    N_("{value} does not match the formats {formats}."),
    N_("{value} does not match the format {formats}."),
    N_("{value} is not a valid int."),
    N_("{value} is not a valid integer."),
    N_("{value} is not a valid int range."),
    N_("{value} is not a valid integer range."),
    N_("{value} is not a valid float."),
    N_("{value} is not a valid float range."),
    N_("{value} is not a valid boolean. Recognized values: {states}"),
    N_("{value} is not a valid boolean."),
    N_("{value} is not a valid UUID."),
    N_("{value} is not in the range x>={limit}."),
    N_("{value} is not in the range x>{limit}."),
    N_("{value} is not in the range x<={limit}."),
    N_("{value} is not in the range x<{limit}."),
    N_("{value} is not in the range {range}."),
    N_("{value} is not one of {choices}."),
    N_("Input should be a valid integer, unable to parse string as an integer"),
    N_("Input should be a valid number, unable to parse string as a number"),
    N_("Input should be a valid boolean, unable to interpret input"),
    N_("Input should be greater than or equal to {limit}"),
    N_("Input should be less than or equal to {limit}"),
    N_("Input should be greater than {limit}"),
    N_("Input should be less than {limit}"),
    N_("Value must be an iterable."),
    N_("Choose from:{choices}"),
    N_("Aborted!"),
)
CLICK_WORDS = {
    "argument": N_("argument"),
    "option": N_("option"),
    "parameter": N_("parameter"),
    "file": N_("file"),
    "dir": N_("dir"),
    "directory": N_("directory"),
    "path": N_("path"),
}


@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(regex + r"\Z", re.DOTALL)


def translate_click_message(text: str) -> str:
    """A message the bundled Click wrote in English, in the current language (or unchanged)."""
    if i18n.language() == i18n.ENGLISH:
        return text
    for template in CLICK_MESSAGES:
        match = _pattern(template).match(text)
        if match is None:
            continue
        values = match.groupdict()
        if "kind" in values:
            # Typer 0.29 writes "file", 0.28 and Click "File" (the type's name, title-cased).
            word = CLICK_WORDS.get(values["kind"].lower())
            if word is None:
                continue
            values["kind"] = i18n._(word)
        if "message" in values:
            values["message"] = translate_click_message(values["message"])
        return i18n._(template).format(**values)
    return i18n._(text)


def _translated_errors(print_error: Any) -> Any:
    """Wrap typer.rich_utils.rich_format_error: the message in the current language."""
    if getattr(print_error, "_evidence_localized", False):
        return print_error

    @functools.wraps(print_error)
    def wrapper(exc: Any) -> None:
        english = exc.format_message()
        exc.format_message = lambda: translate_click_message(english)
        print_error(exc)

    wrapper._evidence_localized = True  # type: ignore[attr-defined]
    return wrapper


def _translated_usage(write_usage: Any) -> Any:
    """Wrap HelpFormatter.write_usage: "Usage: " in the current language."""
    if getattr(write_usage, "_evidence_localized", False):
        return write_usage

    @functools.wraps(write_usage)
    def wrapper(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        if prefix is None:
            prefix = i18n._("Usage:") + " "
        write_usage(self, prog, args, prefix)

    wrapper._evidence_localized = True  # type: ignore[attr-defined]
    return wrapper


N_("Usage:")


def _translated_help_option(get_help_option: Any) -> Any:
    """Wrap Command.get_help_option: the --help option's own help in the current language."""
    if getattr(get_help_option, "_evidence_localized", False):
        return get_help_option

    @functools.wraps(get_help_option)
    def wrapper(self: Any, ctx: Any) -> Any:
        option = get_help_option(self, ctx)
        if option is not None and option.help == HELP_OPTION_HELP:
            option.help = i18n._(HELP_OPTION_HELP)
        return option

    wrapper._evidence_localized = True  # type: ignore[attr-defined]
    return wrapper


def _localize_rich_utils(rich_utils: ModuleType) -> None:
    """Typer's rich help and error screens (``typer.rich_utils``) in the current language."""
    from .help_wrap import foldable_parameter_help

    rich_utils._ = i18n._  # type: ignore[attr-defined]
    for constant, english in _RICH_CONSTANTS.items():
        setattr(rich_utils, constant, i18n._(english))
    rich_utils.rich_format_error = _translated_errors(rich_utils.rich_format_error)  # type: ignore[attr-defined]
    rich_utils._get_parameter_help = foldable_parameter_help(rich_utils._get_parameter_help)  # type: ignore[attr-defined]


class _AfterImport:
    """Runs ``then(module)`` right after the module ``name`` is first imported.

    Typer imports ``typer.rich_utils`` (and with it most of rich: 40-60 ms) only to show a help
    screen or an error; a command that runs as asked never needs it. So it is localized when
    Typer imports it, not imported by us at every start to be localized in advance.

    A finder on ``sys.meta_path`` and the loader of the one module it finds (the protocols of
    ``importlib.abc``, whose import would load importlib.resources for nothing).
    """

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.then = then
        self.loader: Loader | None = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)  # once is enough: the module stays imported
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        self.loader, spec.loader = spec.loader, cast("Loader", self)
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        assert self.loader is not None
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        assert self.loader is not None
        # Tracebacks and inspect read the source through the module's own loader.
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.then(module)


_rich_utils_hook = _AfterImport("typer.rich_utils", _localize_rich_utils)


def install_click_translations() -> None:
    """Make Typer and its Click look their messages up in our catalogue (idempotent)."""
    typer.core._ = i18n._  # type: ignore[attr-defined]
    rich_utils = sys.modules.get("typer.rich_utils")
    if rich_utils is not None:
        _localize_rich_utils(rich_utils)
    elif _rich_utils_hook not in sys.meta_path:
        sys.meta_path.insert(0, _rich_utils_hook)
    command = _click.core.Command
    command.get_help_option = _translated_help_option(command.get_help_option)  # type: ignore[method-assign]
    formatter = _click.formatting.HelpFormatter
    formatter.write_usage = _translated_usage(formatter.write_usage)  # type: ignore[method-assign]


def walk(command: Any) -> Iterator[Any]:
    """The command and every command under it, depth first."""
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from walk(sub)


_COMMAND_TEXTS = ("help", "short_help", "epilog", "rich_help_panel")
_PARAM_TEXTS = ("help", "rich_help_panel")


def help_texts(command: Any) -> Iterator[str]:
    """Every help text of a command tree as written in the source (the catalogue's msgids)."""
    for cmd in walk(command):
        for attr in _COMMAND_TEXTS:
            value = getattr(cmd, attr, None)
            if isinstance(value, str) and value.strip():
                yield value
        for param in cmd.params:
            for attr in _PARAM_TEXTS:
                value = getattr(param, attr, None)
                if isinstance(value, str) and value.strip():
                    yield value


def localize(command: Any) -> None:
    """Translate a freshly built command tree in place into the current language."""
    install_click_translations()
    if i18n.language() == i18n.ENGLISH:
        return
    for cmd in walk(command):
        _translate_attrs(cmd, _COMMAND_TEXTS)
        for param in cmd.params:
            _translate_attrs(param, _PARAM_TEXTS)


def _translate_attrs(obj: Any, attrs: tuple[str, ...]) -> None:
    for attr in attrs:
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value.strip():
            setattr(obj, attr, i18n._(value))


class LocalizedGroup(typer.core.TyperGroup):
    """The root group: translates the whole tree, then runs as usual."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        localize(self)
        return super().main(*args, **kwargs)
