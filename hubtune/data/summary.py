"""A task at a glance: split sizes, class counts and sequence lengths per split."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from hubtune.problems import MULTI_LABEL, REGRESSION

from .task import TaskData

__all__ = ["describe"]


_COUNTS_KEY = {MULTI_LABEL: "label_counts", REGRESSION: "target_stats"}


def _label_summary(task: TaskData, labels: list[Any]) -> dict[str, Any]:
    """Rows per class (single-label), rows carrying each label (multi-label) or mean/sd/min/max per target."""
    names = list(task.label_names)
    if task.problem_type == MULTI_LABEL:
        return {name: sum(y[j] for y in labels) for j, name in enumerate(names)}
    if task.problem_type == REGRESSION:
        out = {}
        for j, name in enumerate(names):
            values = [y[j] for y in labels]
            out[name] = ({"mean": statistics.fmean(values), "sd": statistics.pstdev(values), "min": min(values),
                          "max": max(values)} if values else {})
        return out
    counts = Counter(labels)
    return {name: counts.get(i, 0) for i, name in enumerate(names)}


def describe(task: TaskData) -> dict[str, Any]:
    """Summary of a task: split sizes, class counts per split and sequence length min/median/max per split.

    Example:
        >>> info = describe(load_task("my_task/"))  # doctest: +SKIP
        >>> info["splits"]["train"]["class_counts"]  # doctest: +SKIP
        {'background': 400, 'promoter': 400}
    """
    splits: dict[str, Any] = {}
    for s, sp in task.splits.items():
        lengths = [len(x) for x in sp.sequences]
        splits[s] = {
            "n": len(sp),
            _COUNTS_KEY.get(task.problem_type, "class_counts"): _label_summary(task, sp.labels),
            "length": (
                {"min": min(lengths), "median": statistics.median(lengths), "max": max(lengths)}
                if lengths
                else {"min": 0, "median": 0, "max": 0}
            ),
        }
    return {
        "name": task.name,
        "source": task.source,
        "split_origin": task.split_origin,
        "problem_type": task.problem_type,
        "num_labels": task.num_labels,
        "label_names": list(task.label_names),
        "splits": splits,
        "warnings": list(task.warnings),
    }
