"""Classification metrics: MCC (the GUE headline metric), F1, accuracy, AUROC, per-class scores, confusion matrix."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np


def compute_metrics(
    labels: Sequence[int] | np.ndarray, probs: np.ndarray, label_names: Sequence[str] | None = None, *,
    interval: bool = True,
) -> dict[str, Any]:
    """MCC (with its 95% bootstrap interval), macro-F1, accuracy, macro precision/recall, AUROC, per-class table and
    confusion matrix.

    Args:
        labels: true label ids, shape (n,).
        probs: class probabilities, shape (n, n_classes).
        label_names: class names (index = label id).
        interval: False skips the bootstrap (`mcc_ci95` is None) where only the point values are used, such as
            model selection inside a loop.

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
        "mcc_ci95": bootstrap_mcc_ci(y, pred, n_classes) if interval else None,
    }


BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def mcc_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Matthews correlation (multi-class form) of one or a stack of confusion matrices, shape (..., k, k).

    Equals scikit-learn's `matthews_corrcoef`; 0 where it is undefined (a constant prediction or label).

    Example:
        >>> float(mcc_from_confusion(np.array([[5, 0], [0, 5]])))
        1.0
    """
    c = np.asarray(confusion, dtype=np.float64)
    t = c.sum(axis=-1)  # true counts per class
    p = c.sum(axis=-2)  # predicted counts per class
    correct = np.trace(c, axis1=-2, axis2=-1)
    n = c.sum(axis=(-2, -1))
    cov_ytyp = correct * n - (t * p).sum(axis=-1)
    cov_ypyp = n * n - (p * p).sum(axis=-1)
    cov_ytyt = n * n - (t * t).sum(axis=-1)
    denom = np.sqrt(cov_ytyt * cov_ypyp)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denom > 0, cov_ytyp / np.where(denom > 0, denom, 1.0), 0.0)
    return out


def bootstrap_mcc_ci(labels: Sequence[int] | np.ndarray, predictions: Sequence[int] | np.ndarray, n_classes: int,
                     *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> list[float] | None:
    """95% percentile bootstrap interval of the MCC of `predictions` against `labels` (resampling sequences).

    Deterministic (fixed resampling seed), so the same predictions always give the same interval. None for fewer
    than two sequences.

    Example:
        >>> lo, hi = bootstrap_mcc_ci([0, 1] * 50, [0, 1] * 45 + [1, 0] * 5, 2)
        >>> lo < 0.8 < hi
        True
    """
    y = np.asarray(labels, dtype=np.int64)
    pred = np.asarray(predictions, dtype=np.int64)
    n = len(y)
    if n < 2:
        return None
    rng = np.random.default_rng(seed)
    cell = y * n_classes + pred
    confusion = np.empty((resamples, n_classes * n_classes), dtype=np.int64)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        picks = cell[rng.integers(0, n, size=(stop - start, n))]
        offsets = (np.arange(stop - start) * n_classes * n_classes)[:, None]
        confusion[start:stop] = np.bincount((picks + offsets).ravel(),
                                            minlength=(stop - start) * n_classes * n_classes).reshape(stop - start, -1)
    values = mcc_from_confusion(confusion.reshape(resamples, n_classes, n_classes))
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


_RESAMPLE_CHUNK_CELLS = 100_000  # resampled cells per bootstrap chunk: small arrays stay in cache and bound the memory


def bootstrap_resample_counts(n: int, resamples: int = BOOTSTRAP_RESAMPLES,
                              seed: int = BOOTSTRAP_SEED) -> Iterator[np.ndarray]:
    """How often each of `n` rows is drawn in each bootstrap resample, as (chunk, n) float arrays in resample order:
    the resamples of the regression and multi-label intervals.

    Resample b takes the rows ``rng.integers(0, n, size=n)`` of the b-th draw from ``np.random.default_rng(seed)``,
    so the draws do not depend on how the resamples are chunked.

    Example:
        >>> [c.sum(axis=1).tolist() for c in bootstrap_resample_counts(3, 2)]
        [[3.0, 3.0]]
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, _RESAMPLE_CHUNK_CELLS // max(n, 1))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        picks = np.stack([rng.integers(0, n, size=n) for _ in range(size)])
        offsets = (np.arange(size) * n)[:, None]
        yield np.bincount((picks + offsets).ravel(), minlength=size * n).reshape(size, n).astype(np.float64)


def seed_summary(test_scores: Sequence[dict[str, Any]], seeds: Sequence[int], best_seed: int,
                 metric: str = "mcc") -> dict[str, Any]:
    """The one test statistic of a run, used by the terminal summary, metrics.json, the card and its model-index.

    `metric` is the problem's headline metric (`hubtune.problems.Problem.metric`: "mcc", "auprc_macro",
    "spearman"). One seed: that seed's test value with its 95% bootstrap interval. Several seeds: mean ± sample sd
    over the seeds (the shipped best-on-dev seed is named separately, never reported as the run's result).

    Example:
        >>> seed_summary([{"mcc": 0.5, "mcc_ci95": [0.4, 0.6]}], [42], 42)["statistic"]
        'single seed, 95% bootstrap CI'
    """
    values = [float(s[metric]) for s in test_scores]
    mean, sd = mean_sd(values)
    best = dict(zip(seeds, values, strict=True))[best_seed]
    single = len(values) == 1
    return {
        "metric": metric,
        "statistic": "single seed, 95% bootstrap CI" if single else f"mean ± sd over {len(values)} seeds",
        "n_seeds": len(values),
        "test_score": mean,
        "test_score_ci95": test_scores[0].get(f"{metric}_ci95") if single else None,
        "test_score_sd": None if single else sd,
        "test_score_mean": mean,
        "test_score_per_seed": values,
        "best_seed": best_seed,
        "best_seed_test_score": best,
    }


def upgrade_summary(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """A `seed_summary` as written by any hubtune version (runs before problem types named MCC in every key).

    Example:
        >>> upgrade_summary({"test_mcc": 0.5, "n_seeds": 1})["test_score"]
        0.5
    """
    if not summary or "test_score" in summary or "test_mcc" not in summary:
        return summary
    renamed = {key.replace("test_mcc", "test_score"): value for key, value in summary.items()}
    renamed.setdefault("metric", "mcc")
    return renamed


def format_score(value: float | None, *, ci95: Sequence[float] | None = None, sd: float | None = None,
                 n_seeds: int = 1) -> str:
    """One score as text with what its uncertainty is: ``0.510 (95% CI 0.430–0.590)`` or ``0.193 ± 0.113 (3 seeds)``.

    Example:
        >>> format_score(0.5, ci95=[0.41, 0.59])
        '0.500 (95% CI 0.410–0.590)'
        >>> format_score(0.2, sd=0.1, n_seeds=3)
        '0.200 ± 0.100 (mean ± sd, 3 seeds)'
    """
    if value is None:
        return "-"
    if n_seeds > 1 and sd is not None:
        return f"{value:.3f} ± {sd:.3f} (mean ± sd, {n_seeds} seeds)"
    if ci95:
        return f"{value:.3f} (95% CI {ci95[0]:.3f}–{ci95[1]:.3f})"
    return f"{value:.3f}"


def summary_text(summary: dict[str, Any]) -> str:
    """`format_score` of a `seed_summary` (the run's headline test value).

    Example:
        >>> summary_text(seed_summary([{"mcc": 0.5, "mcc_ci95": [0.4, 0.6]}], [42], 42))
        '0.500 (95% CI 0.400–0.600)'
    """
    summary = upgrade_summary(summary) or {}
    return format_score(summary.get("test_score", summary.get("test_score_mean")), ci95=summary.get("test_score_ci95"),
                        sd=summary.get("test_score_sd"), n_seeds=int(summary.get("n_seeds") or 1))


def intervals_overlap(a: Sequence[float] | None, b: Sequence[float] | None) -> bool | None:
    """Whether two intervals overlap (None when either is missing).

    Example:
        >>> intervals_overlap([0.1, 0.3], [0.25, 0.4]), intervals_overlap([0.1, 0.2], [0.3, 0.4])
        (True, False)
    """
    if not a or not b:
        return None
    return bool(a[0] <= b[1] and b[0] <= a[1])


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


__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "bootstrap_resample_counts",
    "bootstrap_mcc_ci",
    "compute_metrics",
    "format_score",
    "intervals_overlap",
    "mcc_from_confusion",
    "mean_sd",
    "seed_summary",
    "softmax",
    "summary_text",
    "upgrade_summary",
]
