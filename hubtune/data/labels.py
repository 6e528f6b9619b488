"""Label maps: raw label strings -> class ids, fixed by the train split (or by names the user gives)."""

from __future__ import annotations

from hubtune.errors import ConfigError, DataError

from .files import fmt_list
from .records import Records
from .task import Split

__all__ = ["is_number", "label_map", "to_split"]


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
            f"(e.g. {fmt_list(train.labels[:3])}); hubtune trains classifiers and this looks like a continuous "
            "target or an id column. Check --label-column."
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
