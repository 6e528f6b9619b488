"""Label maps: raw label strings -> class ids, fixed by the train split (or by names the user gives)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hubtune.errors import ConfigError, DataError

from .files import fmt_list
from .records import Records
from .task import Split

__all__ = ["is_number", "label_map", "parse_label_names", "to_split"]

LABEL_NAMES_OPTION = "--label-names"
_LABEL_NAMES_FORMS = "e.g. --label-names 0=non-promoter,1=promoter, or non-promoter,promoter in label-id order"


def is_number(text: str) -> bool:
    """True when ``text`` is a finite number (so labels like "10", "2" sort numerically).

    Example:
        >>> is_number("2.5"), is_number("nan"), is_number("promoter")
        (True, False, False)
    """
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "infinity")


def _label_id(key: Any) -> int:
    text = str(key).strip()
    if isinstance(key, bool) or not (text.isascii() and text.isdigit()):
        raise ConfigError(
            f"{LABEL_NAMES_OPTION}: {text!r} is not a label id; ids are the integers 0, 1, 2, ... "
            f"({_LABEL_NAMES_FORMS})."
        )
    return int(text)


def _from_ids(pairs: Sequence[tuple[Any, Any]]) -> list[str]:
    named: dict[int, str] = {}
    for key, name in pairs:
        i = _label_id(key)
        if i in named:
            raise ConfigError(f"{LABEL_NAMES_OPTION}: label id {i} is named twice ({named[i]!r} and {str(name)!r}).")
        named[i] = str(name)
    missing = [i for i in range(len(named)) if i not in named]
    if missing:
        raise ConfigError(
            f"{LABEL_NAMES_OPTION}: no name for label id {missing[0]} (given: {fmt_list(map(str, sorted(named)))}). "
            f"Name every id from 0 to {max(named)} ({_LABEL_NAMES_FORMS})."
        )
    return [named[i] for i in range(len(named))]


def parse_label_names(value: str | Sequence[Any] | Mapping[Any, Any] | None) -> list[str] | None:
    """Class names in label-id order from ``--label-names``: ``"0=non-promoter,1=promoter"``,
    ``"non-promoter,promoter"``, a list of names or a dict ``{id: name}``; None (or an empty string) means none given.

    Raises:
        ConfigError: a name is empty or repeated, an id is not a non-negative integer, is named twice or is missing
            (ids must be 0..k-1), the two forms are mixed, or fewer than two classes are named.

    Example:
        >>> parse_label_names("0=non-promoter,1=promoter")
        ['non-promoter', 'promoter']
        >>> parse_label_names({1: "promoter", 0: "background"})
        ['background', 'promoter']
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
        with_ids = ["=" in item for item in items]
        if any(with_ids) and not all(with_ids):
            raise ConfigError(
                f"{LABEL_NAMES_OPTION} {value!r} mixes id=name and plain names; use one form ({_LABEL_NAMES_FORMS})."
            )
        names = _from_ids([tuple(item.split("=", 1)) for item in items]) if all(with_ids) else items
    elif isinstance(value, Mapping):
        names = _from_ids(list(value.items()))
    elif isinstance(value, Sequence):
        names = [str(name) for name in value]
    else:
        raise ConfigError(
            f"{LABEL_NAMES_OPTION}: expected text, a list or a dict of names, got {type(value).__name__}."
        )
    names = [name.strip() for name in names]
    if any(not name for name in names):
        raise ConfigError(f"{LABEL_NAMES_OPTION}: label id {names.index('')} has an empty name ({_LABEL_NAMES_FORMS}).")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{LABEL_NAMES_OPTION}: the name {repeated[0]!r} is given to more than one label id; give "
                          "each class its own name.")
    if len(names) < 2:
        raise ConfigError(f"{LABEL_NAMES_OPTION}: only one class named ({fmt_list(names)}); a classifier needs at "
                          f"least two ({_LABEL_NAMES_FORMS}).")
    return names


def label_map(train: Records, label_names: list[str] | None) -> tuple[list[str], dict[str, int]]:
    """Return ``(names, raw -> id)`` from the train records: sorted order, numeric labels sorted numerically.

    ``label_names`` fixes the order instead: raw labels must be these names, or integer ids ``0..k-1`` (then the
    names are display names).

    Raises:
        ConfigError: ``label_names`` has duplicates.
        DataError: a train label is not among ``label_names``, or the labels look continuous (an id or a target).

    Example:
        >>> label_map(records, None)  # doctest: +SKIP
        (['1', '2', '10'], {'1': 0, '2': 1, '10': 2})
    """
    present = set(train.labels)
    if label_names is not None:
        names = [str(n) for n in label_names]
        if len(set(names)) != len(names):
            raise ConfigError(f"--label-names has duplicates: {fmt_list(names)}. Give each class one unique name.")
        if present <= set(names):
            return names, {n: i for i, n in enumerate(names)}
        ints = {str(i): i for i in range(len(names))}
        if present <= set(ints):
            return names, ints  # label ids given as 0..k-1, names are display names
        bad = sorted(present - set(names))[0]
        i = train.labels.index(bad)
        raise DataError(
            f"{train.where(i)}: label {bad!r} is not among the label names given ({fmt_list(names)}). "
            "Either list every label value in --label-names, or use integer labels 0..k-1."
        )
    if len(present) > 100 and len(present) > 0.5 * len(train.labels):
        # Almost one class per row: a continuous target or an id column, not class labels.
        raise DataError(
            f"{train.origin}: the label column has {len(present)} distinct values in {len(train.labels)} rows "
            f"(e.g. {fmt_list(train.labels[:3])}): almost one class per row, so this looks like an id column, not "
            "class labels. Check --label-column (numbers are read as a regression target; for label sets pass "
            "--problem-type multi_label)."
        )
    if all(is_number(x) for x in present):
        names = sorted(present, key=lambda x: (float(x), x))
    else:
        names = sorted(present)
    return names, {n: i for i, n in enumerate(names)}


def to_split(rec: Records, mapping: dict[str, int], label_desc: str) -> Split:
    """Turn records into a :class:`Split` with label ids from ``mapping``.

    Raises:
        DataError: a label does not occur in the train split (named with its file and line).

    Example:
        >>> to_split(test_records, {"a": 0, "b": 1}, "column 'label'").labels[:3]  # doctest: +SKIP
        [0, 1, 1]
    """
    try:
        labels = [mapping[x] for x in rec.labels]
    except KeyError as exc:
        bad = exc.args[0]
        i = rec.labels.index(bad)
        known = fmt_list(sorted(set(mapping)))
        raise DataError(
            f"{rec.where(i)}: label {bad!r} does not occur in the train split ({label_desc}), so a model could "
            f"never learn it. Known labels: {known}. Fix the label, add training rows for it, or remove the rows."
        ) from None
    return Split(list(rec.sequences), labels, list(rec.ids))
