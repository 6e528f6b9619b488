"""Command-line options generated from configuration dataclasses: each field's default and help are written once.

A field `max_steps: int | None = help_field(None, "training steps")` becomes `--max-steps N`; booleans become
`--flag` (default False) or `--no-flag` (default True; its help reads "skip <help>"); lists take comma-separated values. Each registered method
adds its own options under its prefix (`--lora-r`, `--freeze-layers`, `--probe-c`), with no default of their own:
an option not given keeps the method's default.

Every `--help` shows each option's default: `HelpParser` (the class of every hubtune parser and sub-parser) formats
help with `DefaultsHelpFormatter`, which appends "(default: X)" to each option with a default and "(default: off)" to
each flag.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import textwrap
import types
import typing
from collections.abc import Iterable
from typing import Any

from .methods import METHODS, MethodConfig, get_method, make_method

_MISSING_DEFAULT = object()


def int_list(text: str) -> list[int]:
    """Comma-separated integers: "1,2,3" -> [1, 2, 3]."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def str_list(text: str) -> list[str]:
    """Comma-separated names: "a, b" -> ["a", "b"]."""
    return [x.strip() for x in text.split(",") if x.strip()]


def _base_type(annotation: Any) -> Any:
    """`int | None` -> int; `list[int] | None` -> list[int]; other annotations unchanged."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else Any
    return annotation


def _converter(annotation: Any) -> Any:
    base = _base_type(annotation)
    if typing.get_origin(base) is list:
        (item,) = typing.get_args(base) or (str,)
        return int_list if item is int else str_list
    if base in (int, float, str):
        return base
    if base is Any:
        return str
    return None  # dicts, objects: not a command-line option


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return _MISSING_DEFAULT


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def default_text(action: argparse.Action) -> str | None:
    """What "(default: X)" says for an option: "off" for a flag, the value otherwise; None when nothing to show.

    Example:
        >>> default_text(argparse.ArgumentParser().add_argument("--seeds", default=[1, 2]))
        '1,2'
    """
    if not action.option_strings or action.default is argparse.SUPPRESS or action.help is argparse.SUPPRESS:
        return None
    if action.nargs == 0:  # --flag / --no-flag / counters: their default is not being given
        return "off"
    if action.default is None or action.default in ("", []):
        return None
    return _show(action.default)


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that states every option's default ("(default: X)"), also for options given no help text."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        shown = default_text(action)
        if shown is None or "(default" in help_text or "by default" in help_text:  # the help states it already
            return help_text
        suffix = f"(default: {shown})".replace("%", "%%")  # argparse %-formats help strings
        return f"{help_text} {suffix}" if help_text else suffix

    def _split_lines(self, text: str, width: int) -> list[str]:
        # Names and values ("tiny-nt", "runs/<task>-<method>") are never cut at their hyphens.
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)

    def _format_action(self, action: argparse.Action) -> str:
        if not action.help and default_text(action) is not None:
            action = copy.copy(action)
            action.help = ""  # formatted like any other help, so the default shows
            action.help = self._get_help_string(action)
        return super()._format_action(action)


class HelpParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose help shows defaults; its sub-parsers are of the same class.

    Example:
        >>> HelpParser(prog="hubtune").add_argument("--port", type=int, default=8765)  # doctest: +SKIP
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)


def add_dataclass_options(parser: argparse.ArgumentParser | Any, cls: type, *, only: Iterable[str] | None = None,
                          exclude: Iterable[str] = (), required: Iterable[str] = (), prefix: str = "",
                          keep_defaults: bool = True) -> list[str]:
    """Add one option per field of dataclass `cls`; returns the destination names added.

    Args:
        only / exclude: which fields become options.
        required: fields that must be given (argparse refuses the command line without them).
        prefix: option prefix (`--<prefix>-<field>`, dest `<prefix>_<field>`).
        keep_defaults: False: every option defaults to None (the config's own default then applies; help shows it).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_dataclass_options(parser, TrainConfig, only=["batch_size"])  # doctest: +SKIP
        ['batch_size']
    """
    hints = typing.get_type_hints(cls)
    wanted = set(only) if only is not None else None
    skip, must = set(exclude), set(required)
    added = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name in skip or (wanted is not None and f.name not in wanted):
            continue
        dest = f"{prefix}_{f.name}" if prefix else f.name
        flag = "--" + dest.replace("_", "-")
        help_text = f.metadata.get("help", "").replace("%", "%%")  # argparse formats help with %-style fields
        default = _default(f)
        annotation = hints.get(f.name, str)
        if _base_type(annotation) is bool:
            if default is True:
                parser.add_argument("--no-" + dest.replace("_", "-"), dest=dest, action="store_false",
                                    help=f"skip {help_text}" if help_text else None)
            else:
                parser.add_argument(flag, dest=dest, action="store_true", default=default if keep_defaults else None,
                                    help=help_text or None)
            added.append(dest)
            continue
        convert = _converter(annotation)
        if convert is None:
            continue
        kwargs: dict[str, Any] = {"type": convert, "dest": dest, "help": help_text or None}
        if f.name in must or default is _MISSING_DEFAULT:
            kwargs["required"] = True
        else:
            kwargs["default"] = default if keep_defaults else None
            if not keep_defaults and default not in (None, "", []):
                # The option itself defaults to None; the help states the default that then applies.
                kwargs["help"] = f"{help_text} (default: {_show(default)})".replace("%", "%%").lstrip()
        parser.add_argument(flag, **kwargs)
        added.append(dest)
    return added


def add_method_options(parser: argparse.ArgumentParser) -> None:
    """The options of every registered method, under its prefix (`--lora-r`, `--freeze-layers`, `--probe-c`)."""
    for cls in METHODS.values():
        if not cls.cli_prefix:
            continue
        group = parser.add_argument_group(f"{cls.name} method")
        add_dataclass_options(group, cls, only=cls.option_names(), prefix=cls.cli_prefix, keep_defaults=False)


def method_from_args(args: argparse.Namespace, name: str) -> MethodConfig:
    """The method `name` configured from the parsed method options (options of other methods are ignored)."""
    cls = get_method(name)
    options = {field: getattr(args, f"{cls.cli_prefix}_{field}", None) for field in cls.option_names()}
    return make_method(name, **options)


def config_from_args(args: argparse.Namespace, cls: type, **overrides: Any) -> Any:
    """An instance of dataclass `cls` from the parsed options that match its fields (plus `overrides`)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.init and hasattr(args, f.name)}
    values.update(overrides)
    return cls(**values)


__all__ = ["DefaultsHelpFormatter", "HelpParser", "add_dataclass_options", "add_method_options", "config_from_args",
           "default_text", "int_list", "method_from_args", "str_list"]
