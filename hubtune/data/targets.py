"""What the labels of a task are: one class, a label set, or numbers; decided from the train rows or stated.

* one label column of class names (or a few integer ids) -> ``single_label``;
* one column of label sets (``CTCF;GATA``), or several 0/1 columns -> ``multi_label``;
* one column with a non-integer number, or several numeric columns -> ``regression`` (one target per column).

Labels of a split become ints (single-label, via `hubtune.data.labels.label_map`), tuples of 0/1 ints (multi-label,
one per label name) or tuples of floats (regression, one per target name).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hubtune.errors import ConfigError, DataError
from hubtune.problems import MULTI_LABEL, PROBLEMS, REGRESSION, SINGLE_LABEL

from .files import fmt_list
from .labels import is_number
from .records import Records
from .task import Split

__all__ = ["LABEL_SET_SEPARATOR", "MAX_INTEGER_CLASSES", "infer_problem", "label_layout", "parse_label_columns",
           "stratify_keys", "to_target_split"]

LABEL_SET_SEPARATOR = ";"
# Integer labels with at most this many distinct values are class ids; more are read as numbers (regression).
MAX_INTEGER_CLASSES = 20
MISSING_SET = frozenset({"", "none", "-"})  # an empty label set in a label-set column


def parse_label_columns(value: str | Sequence[str] | None) -> list[str] | None:
    """``--label-columns a,b,c`` as a list of column names (None when not given).

    Raises:
        ConfigError: an empty or repeated name.

    Example:
        >>> parse_label_columns("developmental, housekeeping")
        ['developmental', 'housekeeping']
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    names = [n.strip() for n in (value.split(",") if isinstance(value, str) else value)]
    if any(not n for n in names):
        raise ConfigError(f"--label-columns {value!r} has an empty column name; give names separated by commas.")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"--label-columns names the column {repeated[0]!r} twice.")
    return names


def _cells(rec: Records) -> list[tuple[str, ...]]:
    return [lab if isinstance(lab, tuple) else (lab,) for lab in rec.labels]


def infer_problem(train: Records, stated: str | None, columns: Sequence[str]) -> str:
    """The problem type of a task from its train rows (or `stated`, checked against them).

    Raises:
        DataError: the labels do not fit the stated type, or mix kinds (the message names the file and line and the
            option that fixes it).

    Example:
        >>> infer_problem(records, None, ["activity"])  # doctest: +SKIP
        'regression'
    """
    if stated is not None and stated not in PROBLEMS:
        raise ConfigError(f"--problem-type must be one of {', '.join(PROBLEMS)}, got {stated!r}.")
    cells = _cells(train)
    several = len(columns) > 1
    if stated == SINGLE_LABEL and several:
        raise ConfigError(f"--problem-type single_label takes one label column, but --label-columns names "
                          f"{len(columns)} ({fmt_list(columns)}). Use --label-column for one column, or "
                          "--problem-type multi_label / regression.")
    if not several:
        values = [c[0] for c in cells]
        with_sets = [i for i, v in enumerate(values) if LABEL_SET_SEPARATOR in v]
        if stated in (None, SINGLE_LABEL) and with_sets:
            i = with_sets[0]
            raise DataError(
                f"{train.where(i)}: the label {values[i]!r} is a label set ('{LABEL_SET_SEPARATOR}'-separated). For "
                "several labels per sequence pass --problem-type multi_label."
            )
        if stated is not None:
            return stated
        numbers = all(is_number(v) for v in values)
        if numbers:
            integers = all(float(v).is_integer() for v in values)
            if not integers or len(set(values)) > MAX_INTEGER_CLASSES:
                return REGRESSION
        return SINGLE_LABEL
    if stated is not None:
        return stated
    for i, row in enumerate(cells):
        for column, value in zip(columns, row, strict=True):
            if not is_number(value):
                raise DataError(
                    f"{train.where(i)}, column {column!r}: {value!r} is not a number. Several label columns hold "
                    "numbers: 0/1 per label (multi-label) or a value per target (regression)."
                )
    binary = all(float(v) in (0.0, 1.0) for row in cells for v in row)
    return MULTI_LABEL if binary else REGRESSION


def label_layout(train: Records, problem: str, columns: Sequence[str],
                 label_names: list[str] | None) -> list[str]:
    """The output names of a multi-label or regression task: the label names (sorted union of the train label sets,
    or the columns) or the target names (the columns; a one-column target keeps its column's name).

    Raises:
        ConfigError: `label_names` does not match the number of columns.

    Example:
        >>> label_layout(records, "regression", ["developmental", "housekeeping"], None)  # doctest: +SKIP
        ['developmental', 'housekeeping']
    """
    if len(columns) > 1 or problem == REGRESSION:
        if label_names is not None and len(label_names) != len(columns):
            raise ConfigError(f"--label-names gives {len(label_names)} names for {len(columns)} label column(s) "
                              f"({fmt_list(columns)}); give one per column or leave it out.")
        return list(label_names) if label_names is not None else list(columns)
    found = sorted({name for c in _cells(train) for name in _label_set(c[0])})
    if label_names is not None:
        return list(label_names)
    return found


def _label_set(value: str) -> list[str]:
    if value.strip().lower() in MISSING_SET:
        return []
    return [part.strip() for part in value.split(LABEL_SET_SEPARATOR) if part.strip()]


def to_target_split(rec: Records, problem: str, names: Sequence[str], columns: Sequence[str]) -> Split:
    """Records -> a split whose labels are 0/1 tuples (multi-label) or float tuples (regression).

    Raises:
        DataError: a non-number in a regression column, a value other than 0/1 in a multi-label column, or a label
            unknown to the train split (each names the file and line).

    Example:
        >>> to_target_split(records, "multi_label", ["CTCF", "GATA"], ["labels"]).labels[0]  # doctest: +SKIP
        (1, 0)
    """
    labels: list[tuple[Any, ...]] = []
    index = {name: j for j, name in enumerate(names)}
    for i, row in enumerate(_cells(rec)):
        if problem == MULTI_LABEL and len(columns) == 1:
            present = _label_set(row[0])
            unknown = [p for p in present if p not in index]
            if unknown:
                raise DataError(
                    f"{rec.where(i)}: label {unknown[0]!r} does not occur in the train split (labels: "
                    f"{fmt_list(names)}). Fix the label, or add training rows carrying it."
                )
            labels.append(tuple(int(name in present) for name in names))
            continue
        values: list[float] = []
        for column, value in zip(columns, row, strict=True):
            number = float(value) if is_number(value) else math.nan
            if problem == REGRESSION and math.isnan(number):
                raise DataError(f"{rec.where(i)}, column {column!r}: {value!r} is not a number; a regression target "
                                "must be numeric. Fix the value or remove the row.")
            if problem == MULTI_LABEL and number not in (0.0, 1.0):
                raise DataError(f"{rec.where(i)}, column {column!r}: {value!r} is not 0 or 1; each column of a "
                                "multi-label task says whether the sequence carries that label.")
            values.append(number)
        labels.append(tuple(int(v) for v in values) if problem == MULTI_LABEL else tuple(values))
    return Split(list(rec.sequences), labels, list(rec.ids))


def stratify_keys(labels: Sequence[Any], problem: str) -> list[int]:
    """Group ids used to stratify splits and samples: the class (single-label), the label set (multi-label) or the
    quintile of the mean target (regression).

    Example:
        >>> stratify_keys([(0.1,), (5.0,), (2.0,), (3.0,), (4.0,)], "regression")
        [0, 4, 1, 2, 3]
    """
    if problem == SINGLE_LABEL:
        return [int(y) for y in labels]
    if problem == MULTI_LABEL:
        sets = {s: i for i, s in enumerate(sorted(set(labels)))}
        return [sets[y] for y in labels]
    means = [sum(y) / len(y) for y in labels]
    order = sorted(range(len(means)), key=lambda i: means[i])
    keys = [0] * len(means)
    for rank, i in enumerate(order):
        keys[i] = rank * 5 // max(1, len(means))
    return keys
