"""Splits: seeded stratified partitions, per-split row caps, and the assembly of records into train/dev/test.

The same seed always gives the same splits: rows are grouped by class, each class is shuffled with
``random.Random(seed)`` and cut by the fractions, and every part keeps the original row order.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from hubtune.errors import ConfigError, DataError
from hubtune.problems import MULTI_LABEL, REGRESSION, SINGLE_LABEL

from .labels import label_map, to_split
from .records import Records
from .targets import infer_problem, label_layout, stratify_keys, to_target_split
from .task import SPLITS, Split, TaskData

__all__ = ["assemble", "cap_split", "check_fractions", "stratified_partition"]


def stratified_partition(labels: Sequence[int], fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Split row indices into ``len(fractions)`` parts, per class, seeded; each part keeps the original row order.

    Part 0 always gets at least one row of each class; with three or more rows of a class every part gets one.

    Example:
        >>> [len(p) for p in stratified_partition([0, 1] * 10, (0.8, 0.1, 0.1), seed=42)]
        [16, 2, 2]
    """
    rng = random.Random(seed)
    by_class: dict[int, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        by_class[lab].append(i)
    parts: list[list[int]] = [[] for _ in fractions]
    total = sum(fractions)
    for lab in sorted(by_class):
        idx = by_class[lab]
        rng.shuffle(idx)
        n = len(idx)
        sizes = [int(n * f / total + 0.5) for f in fractions[1:]]
        if n >= len(fractions):
            sizes = [max(1, s) for s in sizes]
        # Give back rows to part 0 until it keeps at least one.
        while sum(sizes) > n - 1 and any(sizes):
            j = max(range(len(sizes)), key=lambda k: sizes[k])
            sizes[j] -= 1
        start = n - sum(sizes)
        parts[0].extend(idx[:start])
        for j, s in enumerate(sizes, start=1):
            parts[j].extend(idx[start : start + s])
            start += s
    return [sorted(p) for p in parts]


def cap_split(split: Split, max_rows: int, seed: int, problem: str = SINGLE_LABEL) -> Split:
    """At most ``max_rows`` rows of ``split``, drawn stratified (`stratify_keys`) and seeded (the split itself when it
    is small enough).

    Example:
        >>> len(cap_split(Split(["A"] * 10, [0, 1] * 5, [str(i) for i in range(10)]), 4, seed=1))
        4
    """
    if len(split) <= max_rows:
        return split
    n = len(split)
    parts = stratified_partition(stratify_keys(split.labels, problem), (n - max_rows, max_rows), seed)
    keep = parts[1]
    if len(keep) != max_rows:  # rounding per class; trim or top up deterministically
        rest = sorted(set(range(n)) - set(keep))
        rng = random.Random(seed + 1)
        if len(keep) > max_rows:
            keep = sorted(rng.sample(keep, max_rows))
        else:
            keep = sorted(keep + rng.sample(rest, max_rows - len(keep)))
    return split.subset(keep)


def check_fractions(split_fractions: Sequence[float]) -> tuple[float, float, float]:
    """Validate train/dev/test fractions: three numbers in (0, 1) summing to 1.

    Raises:
        ConfigError: anything else.

    Example:
        >>> check_fractions([0.8, 0.1, 0.1])
        (0.8, 0.1, 0.1)
    """
    try:
        fr = tuple(float(x) for x in split_fractions)
    except (TypeError, ValueError):
        raise ConfigError(
            f"split_fractions must be three numbers (train, dev, test), got {split_fractions!r}."
        ) from None
    if len(fr) != 3 or any(not (0 < x < 1) for x in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise ConfigError(
            f"split_fractions must be three numbers between 0 and 1 that sum to 1 (train, dev, test), "
            f"got {split_fractions!r}; e.g. 0.8,0.1,0.1."
        )
    return fr  # type: ignore[return-value]


def _pct(fr: Sequence[float]) -> str:
    return "/".join(f"{x * 100:g}" for x in fr)


def assemble(
    name: str,
    source: str,
    given: dict[str, Records] | None,
    single: Records | None,
    *,
    seed: int,
    fractions: tuple[float, float, float],
    label_names: list[str] | None,
    max_rows: int | None,
    label_desc: str,
    warnings: list[str],
    problem_type: str | None = None,
    label_columns: list[str] | None = None,
) -> TaskData:
    """Build the task from given splits or from one source (split by its split column, or stratified and seeded).

    A missing dev split is carved from train with fraction dev/(train+dev); ``max_rows`` caps every split; the
    ``warnings`` list is extended with what was changed. The problem type is ``problem_type`` or read from the train
    labels (`hubtune.data.targets.infer_problem`); ``label_columns`` are the columns the labels came from.

    Raises:
        DataError: the split column lacks train or test, or train holds only one class.
        ConfigError: ``max_rows`` is not positive.

    Example:
        >>> task = assemble("t", "t.csv", None, records, seed=42, fractions=(0.8, 0.1, 0.1),  # doctest: +SKIP
        ...                 label_names=None, max_rows=None, label_desc="column 'label'", warnings=[])
    """
    if single is not None and single.splits is not None:
        # Honour the split column of a single table.
        groups: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(single.splits):
            groups[s].append(i)
        if "train" not in groups or "test" not in groups:
            found = ", ".join(sorted(groups)) or "none"
            raise DataError(
                f"{single.origin}: the split column names the splits {found}, but both train and test are needed "
                "(dev is optional). Fix the split values, or remove the column to have the rows split randomly."
            )
        given = {s: single.take(idx) for s, idx in groups.items()}
        single = None
        origin_text = "given (split column)"
    else:
        origin_text = "given"

    train_records = single if single is not None else given["train"]  # type: ignore[index]
    columns = list(label_columns or ["label"])
    problem = infer_problem(train_records, problem_type, columns)
    if problem == SINGLE_LABEL:
        names, mapping = label_map(train_records, label_names)

        def convert(rec: Records) -> Split:
            return to_split(rec, mapping, label_desc)
    else:
        names = label_layout(train_records, problem, columns, label_names)

        def convert(rec: Records) -> Split:
            return to_target_split(rec, problem, names, columns)

    def partition(split: Split, parts_fractions: Sequence[float]) -> list[list[int]]:
        return stratified_partition(stratify_keys(split.labels, problem), parts_fractions, seed)

    if single is not None:
        full = convert(single)
        parts = partition(full, fractions)
        splits = {s: full.subset(p) for s, p in zip(SPLITS, parts, strict=True)}
        split_origin = f"random stratified (seed {seed}, {_pct(fractions)})"
        train_origin = single.origin
    else:
        assert given is not None
        splits = {s: convert(rec) for s, rec in given.items()}
        split_origin = origin_text
        train_origin = given["train"].origin
        if "dev" not in splits:
            dev_frac = fractions[1] / (fractions[0] + fractions[1])
            tr = splits["train"]
            parts = partition(tr, (1 - dev_frac, dev_frac))
            splits["train"], splits["dev"] = tr.subset(parts[0]), tr.subset(parts[1])
            split_origin = (
                f"{origin_text} train/test; dev random stratified from train (seed {seed}, {dev_frac * 100:.3g}%)"
            )
        splits = {s: splits[s] for s in SPLITS}

    if max_rows is not None:
        if max_rows < 1:
            raise ConfigError(f"max_rows must be a positive integer, got {max_rows}.")
        capped = {s: cap_split(sp, max_rows, seed, problem) for s, sp in splits.items()}
        if any(len(capped[s]) < len(splits[s]) for s in splits):
            warnings.append(
                f"kept at most {max_rows} rows per split (seeded stratified sample): "
                + ", ".join(f"{s} {len(capped[s])}/{len(splits[s])}" for s in splits)
            )
        splits = capped

    _check_train_varies(splits["train"], problem, names, train_origin, label_desc)
    for s in ("dev", "test"):
        if len(splits[s]) == 0:
            warnings.append(f"the {s} split is empty")
    return TaskData(name, source, splits, names, warnings, split_origin, problem_type=problem)


def _check_train_varies(train: Split, problem: str, names: list[str], train_origin: str, label_desc: str) -> None:
    """A model can learn nothing from a train split whose labels never vary."""
    if problem != SINGLE_LABEL:
        columns = list(zip(*train.labels, strict=True)) if train.labels else [() for _ in names]
        constant = [name for name, values in zip(names, columns, strict=True) if len(set(values)) < 2]
        if problem == REGRESSION and constant:
            raise DataError(f"{train_origin}: the target {constant[0]!r} has the same value in every train row; there "
                            "is nothing to learn. Check --label-columns / --label-column.")
        if problem == MULTI_LABEL and len(constant) == len(names):
            raise DataError(f"{train_origin}: no label varies across the train rows ({', '.join(names)}); there is "
                            "nothing to learn.")
        return
    train_classes = set(train.labels)
    if len(train_classes) < 2:
        only = names[next(iter(train_classes))] if train_classes else "none"
        raise DataError(
            f"{train_origin}: the train split has only one class ({only!r}, {len(train)} rows) "
            f"in {label_desc}; a classifier needs at least two. Check that --label-column points at the label "
            "column and that the data holds more than one class."
        )
