"""Progress bars and console output shared by the library and the CLI."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_enabled() -> bool:
    """Bars are shown on an interactive terminal unless HUBTUNE_NO_PROGRESS is set."""
    return not os.environ.get("HUBTUNE_NO_PROGRESS") and sys.stderr.isatty()


def progress_bar(items: Iterable[T], *, desc: str, total: int | None = None, disable: bool = False) -> Iterator[T]:
    """Wrap `items` in a tqdm bar on stderr (a no-op when disabled or not a terminal)."""
    if disable or not progress_enabled():
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, total=total, leave=False, dynamic_ncols=True)


def info(message: str) -> None:
    """One line of progress for people: on stderr so stdout stays machine-readable."""
    print(message, file=sys.stderr, flush=True)
