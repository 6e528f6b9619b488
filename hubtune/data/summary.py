"""A task at a glance: split sizes, class counts and sequence lengths per split."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from .task import TaskData

__all__ = ["describe"]


def describe(task: TaskData) -> dict[str, Any]:
    """Summary of a task: split sizes, class counts per split and sequence length min/median/max per split.

    Example:
        >>> info = describe(load_task("my_task/"))  # doctest: +SKIP
        >>> info["splits"]["train"]["class_counts"]  # doctest: +SKIP
        {'background': 400, 'promoter': 400}
    """
    splits: dict[str, Any] = {}
    for s, sp in task.splits.items():
        counts = Counter(sp.labels)
        lengths = [len(x) for x in sp.sequences]
        splits[s] = {
            "n": len(sp),
            "class_counts": {name: counts.get(i, 0) for i, name in enumerate(task.label_names)},
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
        "num_labels": task.num_labels,
        "label_names": list(task.label_names),
        "splits": splits,
        "warnings": list(task.warnings),
    }
