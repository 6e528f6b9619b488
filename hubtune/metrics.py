"""Classification metrics: MCC (the GUE headline metric), F1, accuracy, AUROC, per-class scores, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def compute_metrics(
    labels: Sequence[int] | np.ndarray, probs: np.ndarray, label_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """MCC, macro-F1, accuracy, macro precision/recall, AUROC, per-class table and confusion matrix.

    Args:
        labels: true label ids, shape (n,).
        probs: class probabilities, shape (n, n_classes).
        label_names: class names (index = label id).

    Example:
        >>> compute_metrics([0, 1, 1], np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))["accuracy"]
        0.6666666666666666
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        matthews_corrcoef,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    y = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    n_classes = probs.shape[1]
    names = list(label_names) if label_names is not None else [str(i) for i in range(n_classes)]
    pred = probs.argmax(axis=1)
    classes = list(range(n_classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=classes, average=None, zero_division=0
    )
    auroc: float | None
    try:
        if n_classes == 2:
            auroc = float(roc_auc_score(y, probs[:, 1]))
        else:
            auroc = float(roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=classes))
    except ValueError:  # a class absent from y: AUROC is undefined
        auroc = None
    return {
        "n": int(len(y)),
        "mcc": float(matthews_corrcoef(y, pred)),
        "f1_macro": float(f1_score(y, pred, labels=classes, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y, pred)),
        "precision_macro": float(np.mean(precision)),
        "recall_macro": float(np.mean(recall)),
        "auroc": auroc,
        "per_class": [
            {"label": names[c], "precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]),
             "support": int(support[c])}
            for c in classes
        ],
        "confusion_matrix": confusion_matrix(y, pred, labels=classes).tolist(),
    }


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a logits array.

    Example:
        >>> softmax(np.array([[0.0, 0.0]])).tolist()
        [[0.5, 0.5]]
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value).

    Example:
        >>> mean_sd([0.2, 0.4])
        (0.30000000000000004, 0.14142135623730953)
    """
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


__all__ = ["compute_metrics", "mean_sd", "softmax"]
