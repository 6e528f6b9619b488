"""Multi-label metrics: macro/micro AUROC and AUPRC, F1 at per-label thresholds tuned on dev, per-label scores.

A label is scored (enters the macro averages) when it has both positive and negative rows; AUPRC is scikit-learn's
`average_precision_score`, AUROC its `roc_auc_score`, F1 its `f1_score` with ``zero_division=0`` on the predictions
``prob >= threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrap_resample_counts

DEFAULT_THRESHOLD = 0.5


def macro_auprc(labels: np.ndarray, probs: np.ndarray) -> float:
    """Average precision (AUPRC) averaged over the labels with both positives and negatives in these rows: the
    model-selection criterion, equal to `multilabel_metrics(...)["auprc_macro"]` (0.0 when no label is scored).

    Example:
        >>> macro_auprc(np.array([[1, 0], [0, 1], [1, 1]]), np.array([[0.9, 0.2], [0.1, 0.8], [0.7, 0.6]]))
        1.0
    """
    from sklearn.metrics import average_precision_score

    y = np.asarray(labels).reshape(len(labels), -1)
    p = np.asarray(probs, dtype=np.float64).reshape(len(probs), -1)
    scored = [j for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]  # as `multilabel_metrics` scores them
    values = [float(average_precision_score(y[:, j], p[:, j])) for j in scored]
    return float(np.mean(values)) if values else 0.0


def _as_arrays(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    y = y.reshape(len(y), -1 if len(y) else 1) if y.ndim != 2 else y
    p = np.asarray(probs, dtype=np.float64)
    p = p.reshape(len(p), -1 if len(p) else 1) if p.ndim != 2 else p
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and probabilities {p.shape} do not have the same shape.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("multi-label labels must be 0 or 1.")
    if not np.isfinite(p).all():
        raise ValueError("probabilities contain non-finite values (NaN or infinity).")
    return y.astype(np.int64), p


def _descending_groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Descending order of one column and the last sorted position of each group of equal scores."""
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    return order, np.flatnonzero(np.r_[s[1:] != s[:-1], True])


def fit_thresholds(labels: np.ndarray, probs: np.ndarray) -> list[float]:
    """Per label, the decision threshold that maximises F1 on these rows (predict positive when ``prob >= t``).

    The candidates are the label's distinct probabilities; among equal F1 the threshold closest to 0.5 wins (the
    larger one if two are as close). A label without positives keeps 0.5. F1 at the chosen threshold is never below
    F1 at 0.5 on these rows.

    Example:
        >>> fit_thresholds(np.array([[1, 0], [1, 0], [0, 0]]), np.array([[0.3, 0.9], [0.2, 0.1], [0.1, 0.4]]))
        [0.2, 0.5]
    """
    y, p = _as_arrays(labels, probs)
    thresholds = []
    for j in range(y.shape[1]):
        positives = int(y[:, j].sum())
        if positives == 0:
            thresholds.append(DEFAULT_THRESHOLD)
            continue
        order, ends = _descending_groups(p[:, j])
        tp = np.cumsum(y[order, j])[ends]
        predicted = ends + 1
        f1 = 2.0 * tp / (predicted + positives)  # 2tp / (2tp + fp + fn), as scikit-learn computes it
        candidates = p[order, j][ends]
        best = np.flatnonzero(f1 == f1.max())
        distance = np.abs(candidates[best] - DEFAULT_THRESHOLD)
        closest = best[distance == distance.min()]
        thresholds.append(float(candidates[closest].max()))
    return thresholds


def bootstrap_auprc(labels: np.ndarray, probs: np.ndarray, *, resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """Average precision per label in each bootstrap resample of the rows, shape (resamples, labels).

    Resample b takes the rows ``rng.integers(0, n, size=n)`` of the b-th draw from
    ``np.random.default_rng(seed)``; each value equals scikit-learn's `average_precision_score` on the
    resampled rows, NaN where the resample has no positive or no negative row of that label (not scored, as in
    `multilabel_metrics`). Computed from row counts, without sorting each resample.

    Example:
        >>> bootstrap_auprc(np.array([[1], [0], [1], [0]]), np.array([[0.9], [0.1], [0.8], [0.2]]), resamples=2)
        array([[1.],
               [1.]])
    """
    y, p = _as_arrays(labels, probs)
    n, width = y.shape
    plans = [_descending_groups(p[:, j]) for j in range(width)]
    out = np.empty((resamples, width), dtype=np.float64)
    start = 0
    for counts in bootstrap_resample_counts(n, resamples, seed):
        stop = start + len(counts)
        for j, (order, ends) in enumerate(plans):
            weights = counts[:, order]
            positive = y[order, j].astype(np.float64)
            tp = np.cumsum(weights * positive, axis=1)[:, ends]
            fp = np.cumsum(weights * (1.0 - positive), axis=1)[:, ends]
            total_pos, total_neg = tp[:, -1], fp[:, -1]
            predicted = tp + fp
            precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
            gained = np.diff(tp, axis=1, prepend=0.0)
            ok = (total_pos > 0) & (total_neg > 0)
            ap = (gained * precision).sum(axis=1) / np.where(ok, total_pos, 1.0)
            out[start:stop, j] = np.where(ok, ap, np.nan)
        start = stop
    return out


def _binary_scores(y: np.ndarray, p: np.ndarray) -> tuple[float | None, float | None]:
    """AUPRC (None without positives) and AUROC (None without both classes) of one label."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    positives = int(y.sum())
    auprc = float(average_precision_score(y, p)) if positives > 0 else None
    auroc = float(roc_auc_score(y, p)) if 0 < positives < len(y) else None
    return auprc, auroc


def multilabel_metrics(labels: np.ndarray, probs: np.ndarray, label_names: Sequence[str], *,
                       thresholds: Sequence[float] | None = None, interval: bool = True) -> dict[str, Any]:
    """Macro AUPRC (with its 95% bootstrap interval), macro/micro AUPRC and AUROC, macro/micro F1 and per-label
    scores of per-label probabilities.

    Macro averages run over the labels with both positive and negative rows (their count is ``labels_scored``; None
    when there are none); micro averages pool every cell (scikit-learn's ``average="micro"``; None when undefined).
    F1 uses ``prob >= threshold`` with `thresholds` (one per label, default 0.5; see `fit_thresholds`).
    ``auprc_macro_ci95`` is the 95% percentile bootstrap interval of the macro AUPRC (`bootstrap_auprc`,
    deterministic; a resample skips the labels it leaves without positives or negatives), None with
    `interval=False` or fewer than three rows.

    Args:
        labels: 0/1 label matrix, shape (n, labels).
        probs: per-label probabilities, the same shape.
        label_names: one name per label.
        thresholds: per-label decision thresholds for F1.
        interval: False skips the bootstrap, where only the point values are used (model selection in a loop).

    Raises:
        ValueError: shapes or counts that do not match, no rows, labels other than 0/1, non-finite probabilities.

    Example:
        >>> s = multilabel_metrics(np.array([[1, 0], [0, 1], [1, 1]]), np.array([[0.9, 0.2], [0.1, 0.8], [0.7, 0.6]]),
        ...                        ["a", "b"])
        >>> s["auprc_macro"], s["f1_macro"], s["labels_scored"], s["per_label"][0]["positives"]
        (1.0, 1.0, 2, 2)
    """
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    y, p = _as_arrays(labels, probs)
    names = [str(name) for name in label_names]
    n, width = y.shape
    if width != len(names):
        raise ValueError(f"{width} label columns but {len(names)} label names.")
    if n == 0 or width == 0:
        raise ValueError("multi-label metrics need at least one row and one label.")
    used = [DEFAULT_THRESHOLD] * width if thresholds is None else [float(t) for t in thresholds]
    if len(used) != width:
        raise ValueError(f"{len(used)} thresholds for {width} labels.")
    pred = (p >= np.asarray(used)[None, :]).astype(np.int64)

    per_label = []
    for j, name in enumerate(names):
        auprc, auroc = _binary_scores(y[:, j], p[:, j])
        per_label.append({
            "label": name,
            "auprc": auprc,
            "auroc": auroc,
            "f1": float(f1_score(y[:, j], pred[:, j], zero_division=0)),
            "threshold": used[j],
            "positives": int(y[:, j].sum()),
            "prevalence": float(y[:, j].mean()),
        })
    scored = [row for row in per_label if row["auroc"] is not None]
    if width > 1:
        f1_macro = float(f1_score(y, pred, average="macro", zero_division=0))
        f1_micro = float(f1_score(y, pred, average="micro", zero_division=0))
    else:  # one column is a binary task to scikit-learn, whose "macro" would average over both classes
        f1_macro = f1_micro = per_label[0]["f1"]
    flat_y, flat_p = y.ravel(), p.ravel()  # what scikit-learn's average="micro" scores
    any_pos, any_neg = bool(flat_y.any()), bool((flat_y == 0).any())

    ci95 = None
    if interval and n >= 3 and scored:
        values = bootstrap_auprc(y, p)
        means = np.full(len(values), np.nan)
        has_label = ~np.isnan(values).all(axis=1)
        means[has_label] = np.nanmean(values[has_label], axis=1)
        if has_label.any():
            lo, hi = np.percentile(means[has_label], [2.5, 97.5])
            ci95 = [float(lo), float(hi)]
    return {
        "n": int(n),
        "auprc_macro": float(np.mean([row["auprc"] for row in scored])) if scored else None,
        "auprc_micro": float(average_precision_score(flat_y, flat_p)) if any_pos else None,
        "auroc_macro": float(np.mean([row["auroc"] for row in scored])) if scored else None,
        "auroc_micro": float(roc_auc_score(flat_y, flat_p)) if any_pos and any_neg else None,
        "f1_macro": f1_macro,
        "f1_micro": f1_micro,
        "thresholds": used,
        "labels_scored": len(scored),
        "auprc_macro_ci95": ci95,
        "per_label": per_label,
    }


__all__ = ["DEFAULT_THRESHOLD", "bootstrap_auprc", "fit_thresholds", "macro_auprc", "multilabel_metrics"]
