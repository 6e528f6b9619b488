"""Regression and multi-label metrics against scipy / scikit-learn, their bootstrap intervals and tuned thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import average_precision_score, f1_score, mean_squared_error, r2_score, roc_auc_score

from hubtune.metrics import BOOTSTRAP_SEED
from hubtune.metrics_multilabel import bootstrap_auprc, fit_thresholds, macro_auprc, multilabel_metrics
from hubtune.metrics_regression import bootstrap_spearman, mean_spearman, regression_metrics
from hubtune.problems import get_problem


def _draws(n: int, resamples: int, seed: int) -> list[np.ndarray]:
    """The documented resampling: resample b is the b-th ``rng.integers(0, n, size=n)`` of ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, size=n) for _ in range(resamples)]


def _regression_data(seed: int, n: int = 60, width: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, width))
    p = y * rng.uniform(0.2, 1.0, size=width) + rng.normal(size=(n, width))
    y[:, 0] = np.round(y[:, 0])  # ties in the targets
    p[:, -1] = np.round(p[:, -1], 1)  # ties in the predictions
    return y, p


def _multilabel_data(seed: int, n: int = 80, width: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, width)) < rng.uniform(0.1, 0.5, size=width)).astype(np.int64)
    p = np.round(np.clip(0.35 * y + 0.65 * rng.random((n, width)), 0, 1), 2)  # rounded: tied scores
    return y, p


# --- regression -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_regression_metrics_equal_scipy_and_sklearn(seed):
    y, p = _regression_data(seed, n=[60, 7, 200, 13][seed])
    names = ["dev", "hk", "third"]
    s = regression_metrics(y, p, names, interval=False)
    assert s["n"] == len(y)
    assert [row["target"] for row in s["per_target"]] == names
    for j, row in enumerate(s["per_target"]):
        assert row["spearman"] == float(spearmanr(y[:, j], p[:, j]).statistic)
        assert row["pearson"] == float(pearsonr(y[:, j], p[:, j]).statistic)
        assert row["r2"] == float(r2_score(y[:, j], p[:, j]))
        assert row["mse"] == float(mean_squared_error(y[:, j], p[:, j]))
        assert row["n"] == len(y)
    for key in ("spearman", "pearson", "r2", "mse"):
        assert s[key] == float(np.mean([row[key] for row in s["per_target"]]))
    assert s["spearman"] == mean_spearman(y, p)  # the headline is the selection criterion
    assert s["spearman_ci95"] is None


def test_regression_degenerate_columns():
    y = np.array([[1.0, 2.0, 0.5], [1.0, 3.0, 0.5], [1.0, 4.0, 0.5], [1.0, 5.0, 0.5]])
    p = np.array([[0.1, 7.0, 0.5], [0.2, 7.0, 0.5], [0.3, 7.0, 0.5], [0.4, 7.0, 0.5]])
    s = regression_metrics(y, p, ["constant_target", "constant_prediction", "both_constant"])
    rows = s["per_target"]
    for row in rows:
        assert row["spearman"] == 0.0 and row["pearson"] == 0.0
    for j, row in enumerate(rows):
        assert row["r2"] == float(r2_score(y[:, j], p[:, j]))
        assert row["mse"] == float(mean_squared_error(y[:, j], p[:, j]))
    assert rows[2]["r2"] == 1.0  # a constant target predicted exactly, as scikit-learn scores it
    assert s["spearman_ci95"] == [0.0, 0.0]


def test_regression_single_target_vector_and_tiny_inputs():
    s = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 2.0, 4.0]), ["y"])
    assert s["spearman"] == float(spearmanr([1, 2, 3, 4], [1, 3, 2, 4]).statistic)
    two = regression_metrics(np.array([[1.0], [2.0]]), np.array([[1.5], [1.0]]), ["y"])
    assert two["spearman"] == float(spearmanr([1, 2], [1.5, 1.0]).statistic) < -0.99
    assert two["spearman_ci95"] is None  # fewer than three rows: no interval
    one = regression_metrics(np.array([[1.0]]), np.array([[2.0]]), ["y"])
    assert one["r2"] is None and one["spearman"] == 0.0 and one["mse"] == 1.0


def test_regression_bad_inputs_raise():
    with pytest.raises(ValueError, match="do not match"):
        regression_metrics(np.zeros((4, 2)), np.zeros((4, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="do not match"):
        regression_metrics(np.zeros((4, 2)), np.zeros((4, 2)), ["a"])
    with pytest.raises(ValueError, match="non-finite"):
        regression_metrics(np.zeros((4, 1)), np.array([[0.0], [np.nan], [1.0], [2.0]]), ["a"])
    with pytest.raises(ValueError, match="at least one row"):
        regression_metrics(np.array([]), np.array([]), ["a"])


def test_bootstrap_spearman_equals_scipy_on_the_same_resamples():
    rng = np.random.default_rng(7)
    y = np.round(rng.normal(size=(9, 2)))  # heavy ties: some resamples hold a constant column
    p = np.round(y + rng.normal(size=(9, 2)), 1)
    values = bootstrap_spearman(y, p, resamples=120, seed=11)
    assert values.shape == (120, 2)
    saw_constant = False
    for b, rows in enumerate(_draws(9, 120, 11)):
        for j in range(2):
            a, c = y[rows, j], p[rows, j]
            if np.ptp(a) == 0 or np.ptp(c) == 0:
                saw_constant = True
                assert values[b, j] == 0.0
            else:
                assert abs(values[b, j] - spearmanr(a, c).statistic) < 1e-12
    assert saw_constant


def test_regression_interval_is_deterministic_and_contains_the_point():
    y, p = _regression_data(5, n=300)
    first = regression_metrics(y, p, ["a", "b", "c"])
    second = regression_metrics(y.copy(), p.copy(), ["a", "b", "c"])
    lo, hi = first["spearman_ci95"]
    assert lo < first["spearman"] < hi
    assert first["spearman_ci95"] == second["spearman_ci95"]
    expected = np.percentile(bootstrap_spearman(y, p, seed=BOOTSTRAP_SEED).mean(axis=1), [2.5, 97.5])
    assert first["spearman_ci95"] == [float(expected[0]), float(expected[1])]
    assert regression_metrics(y, p, ["a", "b", "c"], interval=False)["spearman_ci95"] is None


# --- multi-label ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multilabel_metrics_equal_sklearn(seed):
    y, p = _multilabel_data(seed)
    thresholds = [0.5, 0.3, 0.62, 0.45]
    s = multilabel_metrics(y, p, ["a", "b", "c", "d"], thresholds=thresholds, interval=False)
    pred = (p >= np.array(thresholds)).astype(int)
    assert s["n"] == len(y) and s["labels_scored"] == 4 and s["thresholds"] == thresholds
    for j, row in enumerate(s["per_label"]):
        assert row["label"] == "abcd"[j] and row["threshold"] == thresholds[j]
        assert row["auprc"] == float(average_precision_score(y[:, j], p[:, j]))
        assert row["auroc"] == float(roc_auc_score(y[:, j], p[:, j]))
        assert row["f1"] == float(f1_score(y[:, j], pred[:, j], zero_division=0))
        assert row["positives"] == int(y[:, j].sum()) and row["prevalence"] == float(y[:, j].mean())
    assert s["auprc_macro"] == float(np.mean([average_precision_score(y[:, j], p[:, j]) for j in range(4)]))
    assert s["auroc_macro"] == float(np.mean([roc_auc_score(y[:, j], p[:, j]) for j in range(4)]))
    assert s["auprc_macro"] == macro_auprc(y, p)  # the headline is the selection criterion
    assert s["auprc_micro"] == float(average_precision_score(y, p, average="micro"))
    assert s["auroc_micro"] == float(roc_auc_score(y, p, average="micro"))
    assert s["f1_macro"] == float(f1_score(y, pred, average="macro", zero_division=0))
    assert s["f1_micro"] == float(f1_score(y, pred, average="micro", zero_division=0))
    assert s["auprc_macro_ci95"] is None


def test_multilabel_labels_without_both_classes_are_not_scored():
    y, p = _multilabel_data(3, n=40, width=4)
    y[:, 1] = 0  # no positives
    y[:, 2] = 1  # no negatives
    s = multilabel_metrics(y, p, ["a", "none", "all", "d"])
    rows = s["per_label"]
    assert s["labels_scored"] == 2
    assert rows[1]["auprc"] is None and rows[1]["auroc"] is None and rows[1]["positives"] == 0
    assert rows[2]["auroc"] is None and rows[2]["prevalence"] == 1.0
    assert rows[2]["auprc"] == float(average_precision_score(y[:, 2], p[:, 2]))
    assert s["auprc_macro"] == float(np.mean([average_precision_score(y[:, j], p[:, j]) for j in (0, 3)]))
    assert s["auroc_macro"] == float(np.mean([roc_auc_score(y[:, j], p[:, j]) for j in (0, 3)]))
    assert s["auprc_micro"] == float(average_precision_score(y, p, average="micro"))
    lo, hi = s["auprc_macro_ci95"]
    assert lo <= s["auprc_macro"] <= hi
    nothing = multilabel_metrics(np.zeros((5, 2), dtype=int), np.full((5, 2), 0.3), ["a", "b"])
    assert nothing["labels_scored"] == 0 and nothing["auprc_macro"] is None and nothing["auprc_macro_ci95"] is None
    assert nothing["auprc_micro"] is None and nothing["auroc_micro"] is None and nothing["f1_macro"] == 0.0


def test_multilabel_single_label_column_f1_is_the_label_f1():
    y = np.array([[1], [0], [1], [0], [1]])
    p = np.array([[0.9], [0.6], [0.4], [0.1], [0.7]])
    s = multilabel_metrics(y, p, ["only"])
    expected = float(f1_score(y[:, 0], (p[:, 0] >= 0.5).astype(int)))
    assert s["f1_macro"] == s["f1_micro"] == s["per_label"][0]["f1"] == expected
    assert s["auprc_micro"] == s["auprc_macro"] == float(average_precision_score(y[:, 0], p[:, 0]))


def test_multilabel_bad_inputs_raise():
    with pytest.raises(ValueError, match="same shape"):
        multilabel_metrics(np.zeros((4, 2), dtype=int), np.zeros((4, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="0 or 1"):
        multilabel_metrics(np.full((4, 2), 2), np.zeros((4, 2)), ["a", "b"])
    with pytest.raises(ValueError, match="thresholds"):
        multilabel_metrics(np.zeros((4, 2), dtype=int), np.zeros((4, 2)), ["a", "b"], thresholds=[0.5])
    with pytest.raises(ValueError, match="label names"):
        multilabel_metrics(np.zeros((4, 2), dtype=int), np.zeros((4, 2)), ["a"])
    with pytest.raises(ValueError, match="at least one row"):
        multilabel_metrics(np.zeros((0, 2), dtype=int), np.zeros((0, 2)), ["a", "b"])


def test_bootstrap_auprc_equals_sklearn_on_the_same_resamples():
    y, p = _multilabel_data(4, n=12, width=3)
    y[:2, 2], y[2:, 2] = 1, 0  # a rare label: some resamples lose its positives
    values = bootstrap_auprc(y, p, resamples=150, seed=2)
    assert values.shape == (150, 3)
    skipped = 0
    for b, rows in enumerate(_draws(12, 150, 2)):
        for j in range(3):
            labels = y[rows, j]
            if 0 < labels.sum() < len(labels):
                assert abs(values[b, j] - average_precision_score(labels, p[rows, j])) < 1e-12
            else:
                skipped += 1
                assert np.isnan(values[b, j])
    assert skipped > 0


def test_multilabel_interval_is_deterministic_and_contains_the_point():
    y, p = _multilabel_data(6, n=300)
    first = multilabel_metrics(y, p, list("abcd"))
    second = multilabel_metrics(y.copy(), p.copy(), list("abcd"))
    lo, hi = first["auprc_macro_ci95"]
    assert lo < first["auprc_macro"] < hi
    assert first["auprc_macro_ci95"] == second["auprc_macro_ci95"]
    assert multilabel_metrics(y[:2], p[:2], list("abcd"))["auprc_macro_ci95"] is None


# --- thresholds -------------------------------------------------------------------------------------------------


def _best_f1(labels: np.ndarray, scores: np.ndarray) -> float:
    return max(float(f1_score(labels, (scores >= t).astype(int), zero_division=0)) for t in np.unique(scores))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_thresholds_maximise_f1_and_never_lose_to_half(seed):
    y, p = _multilabel_data(seed, n=120, width=4)
    p = np.round(p, 1)  # few distinct values: the brute-force search below stays short
    p[:, 3] = p[:, 3] * 0.4  # every probability below 0.5: F1 at 0.5 is 0
    thresholds = fit_thresholds(y, p)
    assert len(thresholds) == 4
    tuned = multilabel_metrics(y, p, list("abcd"), thresholds=thresholds, interval=False)
    half = multilabel_metrics(y, p, list("abcd"), interval=False)
    for j in range(4):
        assert thresholds[j] in set(p[:, j].tolist())
        claimed = tuned["per_label"][j]["f1"]
        assert claimed == float(f1_score(y[:, j], (p[:, j] >= thresholds[j]).astype(int), zero_division=0))
        assert claimed == _best_f1(y[:, j], p[:, j])
        assert claimed >= half["per_label"][j]["f1"]
    assert half["per_label"][3]["f1"] == 0.0 < tuned["per_label"][3]["f1"]
    assert tuned["f1_macro"] >= half["f1_macro"]


def test_fit_thresholds_ties_and_labels_without_positives():
    # label 0 ranks positive, negative, negative, positive: F1 is 2/3 at 0.9 and at 0.35 (2/(1+2) == 4/(4+2));
    # 0.35 is closer to 0.5. Label 1 has no positives and keeps 0.5.
    y = np.array([[1, 0], [0, 0], [0, 0], [1, 0]])
    p = np.array([[0.9, 0.8], [0.8, 0.7], [0.7, 0.2], [0.35, 0.1]])
    assert fit_thresholds(y, p) == [0.35, 0.5]
    # equally close to 0.5 (0.75 and 0.25, both F1 2/3): the larger threshold
    assert fit_thresholds(np.array([[1], [0], [0], [1]]), np.array([[0.75], [0.7], [0.6], [0.25]])) == [0.75]


def test_problem_score_uses_these_metrics():
    y, p = _regression_data(8, n=40)
    regression = get_problem("regression")
    scores = regression.score([tuple(row) for row in y], p, ["a", "b", "c"])
    assert regression.headline(scores) == mean_spearman(y, p) and scores["spearman_ci95"] is not None
    labels, probs = _multilabel_data(8, n=60)
    multi = get_problem("multi_label")
    rows = [tuple(int(v) for v in row) for row in labels]
    splits = multi.score_splits({"dev": (rows, probs), "test": (rows[:30], probs[:30])}, list("abcd"),
                                interval=False)
    tuned = fit_thresholds(labels, probs)
    assert splits["dev"]["thresholds"] == tuned == splits["test"]["thresholds"]
    assert multi.headline(splits["dev"]) == macro_auprc(labels, probs)
