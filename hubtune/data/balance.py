"""Class balance of a task's training split, and the warnings a skewed one deserves.

On skewed data accuracy flatters a model that predicts the majority class, and an unweighted loss lets training
settle there; the warnings say so and name the remedies (`--class-weights`, reading MCC or AUROC).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from hubtune.problems import MULTI_LABEL, REGRESSION

from .task import TaskData

__all__ = ["MAJORITY_WARN", "MINORITY_WARN", "class_shares", "imbalance_warnings"]

MAJORITY_WARN = 0.80  # a two-class task whose larger class holds at least this share of the rows
MINORITY_WARN = 0.05  # any class holding less than this share of the rows


def class_shares(labels: Sequence[int], n_classes: int) -> list[float]:
    """The share of each class id 0..n_classes-1 among `labels` (all 0.0 for no labels).

    Example:
        >>> class_shares([0, 0, 0, 1], 2)
        [0.75, 0.25]
    """
    counts = Counter(labels)
    total = len(labels)
    return [counts.get(i, 0) / total if total else 0.0 for i in range(n_classes)]


def imbalance_warnings(task: TaskData, split: str = "train", *, class_weights: bool = False) -> list[str]:
    """Warnings for a skewed class balance in `split`: a two-class task at 80/20 or worse, or any class under 5%.

    Each warning gives the counts, why accuracy misleads there, and the remedies (`--class-weights`, MCC/AUROC);
    with `class_weights` (the run already weights its loss by class) it says so instead of suggesting it.
    Empty when the split is balanced enough, empty or absent.

    Example:
        >>> from hubtune.data import Split, TaskData
        >>> task = TaskData("t", "t.csv", {"train": Split(["A"] * 10, [0] * 9 + [1], [""] * 10)}, ["neg", "pos"])
        >>> imbalance_warnings(task)[0][:53]
        'class imbalance in train: neg 9 (90.0%), pos 1 (10.0%'
    """
    rows = task.splits.get(split)
    if rows is None or len(rows) == 0 or task.problem_type == REGRESSION:
        return []
    names = list(task.label_names)
    if task.problem_type == MULTI_LABEL:
        shares = [sum(y[j] for y in rows.labels) / len(rows) for j in range(len(names))]
        rare = [f"{name} {share:.1%}" for name, share in zip(names, shares, strict=True) if share < MINORITY_WARN]
        if not rare:
            return []
        return [f"rare labels in {split} (carried by under {MINORITY_WARN:.0%} of the rows): {', '.join(rare)}; read "
                "AUPRC rather than accuracy, and expect wide intervals for those labels."]
    counts = Counter(rows.labels)
    shares = class_shares(rows.labels, len(names))
    majority = max(range(len(names)), key=lambda i: shares[i])
    small = [names[i] for i, share in enumerate(shares) if share < MINORITY_WARN]
    skewed = len(names) == 2 and shares[majority] >= MAJORITY_WARN
    if not (skewed or small):
        return []
    listing = ", ".join(f"{name} {counts.get(i, 0)} ({shares[i]:.1%})" for i, name in enumerate(names))
    reasons = []
    if skewed:
        reasons.append(f"{names[majority]} holds {shares[majority]:.0%} of the rows")
    if small:
        reasons.append(f"under {MINORITY_WARN:.0%}: {', '.join(small)}")
    remedy = ("the loss is weighted by inverse class frequency (--class-weights)" if class_weights else
              "consider --class-weights (weights the loss by inverse class frequency) so training does not settle "
              "on the majority class")
    return [
        f"class imbalance in {split}: {listing}; {'; '.join(reasons)}. Always predicting {names[majority]} would "
        f"score {shares[majority]:.0%} accuracy, so read MCC or AUROC rather than accuracy; {remedy}."
    ]
