"""Regression metrics: Pearson, Spearman, R², MSE per target and averaged, with 95% bootstrap intervals.

Correlations of a degenerate column (constant targets or constant predictions, where they are undefined) are 0.0,
as scikit-learn's MCC is 0 when undefined; R² is scikit-learn's `r2_score` (1.0 or 0.0 for constant targets, None
below two rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrap_resample_counts


def _as_matrix(values: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr.reshape(len(arr), -1 if len(arr) else 1) if arr.ndim != 2 else arr
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contain non-finite values (NaN or infinity).")
    return arr


def _spearman(y: np.ndarray, p: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if np.ptp(y) == 0 or np.ptp(p) == 0:
        return 0.0
    return float(spearmanr(y, p).statistic)


def _pearson(y: np.ndarray, p: np.ndarray) -> float:
    from scipy.stats import pearsonr

    if np.ptp(y) == 0 or np.ptp(p) == 0:
        return 0.0
    return float(pearsonr(y, p).statistic)


def mean_spearman(targets: np.ndarray, predictions: np.ndarray) -> float:
    """Spearman's rank correlation averaged over targets (0 for a constant column): the model-selection criterion.

    Example:
        >>> mean_spearman(np.array([[1.0], [2.0], [3.0]]), np.array([[0.1], [0.5], [0.4]]))
        0.5
    """
    y = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
    p = np.asarray(predictions, dtype=np.float64).reshape(len(predictions), -1)
    values = [_spearman(y[:, j], p[:, j]) for j in range(y.shape[1])]
    return float(np.mean(values)) if values else 0.0


def _rank_plan(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ascending order of one column, where its tie groups start (in sorted order) and each row's group."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new_group = np.r_[True, xs[1:] != xs[:-1]]
    row_group = np.empty(len(x), dtype=np.int64)
    row_group[order] = np.cumsum(new_group) - 1
    return order, np.flatnonzero(new_group), row_group


def _centred_group_ranks(weights: np.ndarray, order: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per resample (rows of `weights`, the row counts), the average rank of each tie group minus the mean rank
    (n + 1) / 2, and how many distinct values the resample holds."""
    group_weight = np.add.reduceat(weights[:, order], starts, axis=1)
    n = weights.shape[1]
    centred = np.cumsum(group_weight, axis=1) - group_weight / 2.0 + (0.5 - (n + 1) / 2.0)
    return centred, (group_weight > 0).sum(axis=1)


def bootstrap_spearman(targets: np.ndarray, predictions: np.ndarray, *, resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """Spearman's correlation per target in each bootstrap resample of the rows, shape (resamples, targets).

    Resample b takes the rows ``rng.integers(0, n, size=n)`` of the b-th draw from
    ``np.random.default_rng(seed)``; each value equals `scipy.stats.spearmanr` on the resampled rows
    (0.0 where a resample's column is constant). Ranks are computed from row counts, without sorting each resample.

    Example:
        >>> y = np.arange(10.0).reshape(10, 1)
        >>> bootstrap_spearman(y, y, resamples=3).ravel().tolist()
        [1.0, 1.0, 1.0]
    """
    y = _as_matrix(targets, "targets")
    p = _as_matrix(predictions, "predictions")
    n, width = y.shape
    plans = [(_rank_plan(y[:, j]), _rank_plan(p[:, j])) for j in range(width)]
    out = np.empty((resamples, width), dtype=np.float64)
    start = 0
    for counts in bootstrap_resample_counts(n, resamples, seed):
        stop = start + len(counts)
        for j, ((order_y, starts_y, group_y), (order_p, starts_p, group_p)) in enumerate(plans):
            ranks_y, distinct_y = _centred_group_ranks(counts, order_y, starts_y)
            ranks_p, distinct_p = _centred_group_ranks(counts, order_p, starts_p)
            dy, dp = ranks_y[:, group_y], ranks_p[:, group_p]  # each row's centred rank
            weighted_dy = counts * dy
            cov = np.einsum("ij,ij->i", weighted_dy, dp)
            denom = np.sqrt(np.einsum("ij,ij->i", weighted_dy, dy) * np.einsum("ij,ij->i", counts * dp, dp))
            ok = (distinct_y > 1) & (distinct_p > 1) & (denom > 0)
            out[start:stop, j] = np.where(ok, np.clip(cov / np.where(ok, denom, 1.0), -1.0, 1.0), 0.0)
        start = stop
    return out


def regression_metrics(targets: np.ndarray, predictions: np.ndarray, target_names: Sequence[str], *,
                       interval: bool = True) -> dict[str, Any]:
    """Spearman (with its 95% bootstrap interval), Pearson, R² and MSE, per target and averaged over targets.

    Per target the values are `scipy.stats.spearmanr`, `scipy.stats.pearsonr`, scikit-learn's `r2_score` and
    `mean_squared_error`; a correlation is 0.0 where it is undefined (constant targets or constant predictions), R²
    is None below two rows. ``spearman_ci95`` is the 95% percentile bootstrap interval of the mean Spearman
    (`bootstrap_spearman`, deterministic), None with `interval=False` or fewer than three rows.

    Args:
        targets: true values, shape (n, targets) (or (n,) for one target).
        predictions: predicted values, the same shape.
        target_names: one name per target.
        interval: False skips the bootstrap, where only the point values are used (model selection in a loop).

    Raises:
        ValueError: shapes that do not match, no rows, or non-finite values.

    Example:
        >>> s = regression_metrics(np.array([[1.0], [2.0], [3.0]]), np.array([[1.1], [1.9], [3.2]]), ["y"])
        >>> s["spearman"], s["r2"], s["per_target"][0]["target"]
        (1.0, 0.97, 'y')
    """
    from sklearn.metrics import mean_squared_error, r2_score

    y = _as_matrix(targets, "targets")
    p = _as_matrix(predictions, "predictions")
    names = [str(name) for name in target_names]
    if y.shape != p.shape or y.shape[1] != len(names):
        raise ValueError(f"targets {y.shape}, predictions {p.shape} and {len(names)} target names do not match.")
    n = len(y)
    if n == 0 or not names:
        raise ValueError("regression metrics need at least one row and one target.")
    per_target = []
    for j, name in enumerate(names):
        per_target.append({
            "target": name,
            "spearman": _spearman(y[:, j], p[:, j]),
            "pearson": _pearson(y[:, j], p[:, j]),
            "r2": float(r2_score(y[:, j], p[:, j])) if n >= 2 else None,
            "mse": float(mean_squared_error(y[:, j], p[:, j])),
            "n": n,
        })
    ci95 = None
    if interval and n >= 3:
        values = bootstrap_spearman(y, p).mean(axis=1)
        lo, hi = np.percentile(values, [2.5, 97.5])
        ci95 = [float(lo), float(hi)]

    def mean_of(key: str) -> float | None:
        values = [row[key] for row in per_target]
        return None if any(v is None for v in values) else float(np.mean(values))

    return {
        "n": n,
        "spearman": mean_of("spearman"),
        "pearson": mean_of("pearson"),
        "r2": mean_of("r2"),
        "mse": mean_of("mse"),
        "spearman_ci95": ci95,
        "per_target": per_target,
    }


__all__ = ["bootstrap_spearman", "mean_spearman", "regression_metrics"]
