"""Problem types: what a task predicts, and everything that follows from it (loss, outputs, metrics, selection).

* ``single_label``: one class per sequence (softmax, cross-entropy); selected and reported on MCC.
* ``multi_label``: a set of labels per sequence (one sigmoid per label, binary cross-entropy); selected and reported
  on macro AUPRC, F1 at per-label thresholds tuned on dev.
* ``regression``: one or several numbers per sequence (MSE on standardised targets); selected and reported on
  Spearman's rank correlation (mean over targets).

Labels of a split are held as plain Python values: an int per row (single-label), a tuple of 0/1 ints per row
(multi-label, one per label name) or a tuple of floats per row (regression, one per target name). `label_array` turns
them into the arrays the metrics and heads take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError
from .metrics import compute_metrics, softmax
from .metrics_multilabel import fit_thresholds, multilabel_metrics
from .metrics_regression import regression_metrics

SINGLE_LABEL = "single_label"
MULTI_LABEL = "multi_label"
REGRESSION = "regression"


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function, stable for large magnitudes.

    Example:
        >>> sigmoid(np.array([0.0])).tolist()
        [0.5]
    """
    x = np.asarray(logits, dtype=np.float64)
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


@dataclass(frozen=True)
class Problem:
    """One problem type and what follows from it.

    Example:
        >>> get_problem("regression").metric, get_problem("multi_label").hf_problem_type
        ('spearman', 'multi_label_classification')
    """

    name: str
    hf_problem_type: str  # transformers' config.problem_type: selects the loss
    metric: str  # key of the headline (and model-selection) metric in a scores dict
    metric_label: str  # how text names it
    model_index_type: str  # the model-index metric type of the headline metric
    output_kind: str  # "class", "label" or "target": what one output of the model is
    description: str

    @property
    def is_classification(self) -> bool:
        return self.name != REGRESSION

    def outputs(self, logits: np.ndarray) -> np.ndarray:
        """The model's raw outputs as what users read: class probabilities, per-label probabilities or values.

        Example:
            >>> get_problem("multi_label").outputs(np.zeros((1, 2))).tolist()
            [[0.5, 0.5]]
        """
        logits = np.asarray(logits, dtype=np.float64)
        if self.name == SINGLE_LABEL:
            return softmax(logits)
        if self.name == MULTI_LABEL:
            return sigmoid(logits)
        return logits

    def label_array(self, labels: Sequence[Any]) -> np.ndarray:
        """Labels of a split as an array: (n,) ints, (n, labels) 0/1 ints or (n, targets) floats.

        Example:
            >>> get_problem("regression").label_array([(1.5,), (2.0,)]).shape
            (2, 1)
        """
        if self.name == SINGLE_LABEL:
            return np.asarray(labels, dtype=np.int64)
        width = len(labels[0]) if len(labels) else 0
        dtype = np.float64 if self.name == REGRESSION else np.int64
        return np.asarray(labels, dtype=dtype).reshape(len(labels), width)

    def score(self, labels: Sequence[Any], outputs: np.ndarray, names: Sequence[str], *, interval: bool = True,
              thresholds: Sequence[float] | None = None) -> dict[str, Any]:
        """The metrics of `outputs` (from `outputs()`) against `labels`; the headline is `scores[self.metric]`, its
        95% bootstrap interval `scores[self.metric + "_ci95"]` (None with `interval=False`).

        `thresholds` (multi-label only): per-label decision thresholds for F1, tuned on dev (`fit_thresholds`);
        default 0.5.

        Example:
            >>> get_problem("single_label").score([0, 1], np.array([[0.9, 0.1], [0.2, 0.8]]), ["a", "b"])["mcc"]
            1.0
        """
        if self.name == SINGLE_LABEL:
            return compute_metrics(labels, outputs, names, interval=interval)
        if self.name == MULTI_LABEL:
            return multilabel_metrics(self.label_array(labels), outputs, names, thresholds=thresholds,
                                      interval=interval)
        return regression_metrics(self.label_array(labels), outputs, names, interval=interval)

    def fit_thresholds(self, labels: Sequence[Any], outputs: np.ndarray) -> list[float] | None:
        """Per-label thresholds maximising F1 on these (dev) rows; None for other problem types.

        Example:
            >>> get_problem("single_label").fit_thresholds([0, 1], np.eye(2)) is None
            True
        """
        if self.name != MULTI_LABEL:
            return None
        return fit_thresholds(self.label_array(labels), outputs)

    def score_splits(self, splits: dict[str, tuple[Sequence[Any], np.ndarray]], names: Sequence[str], *,
                     interval: bool = True, thresholds: Sequence[float] | None = None) -> dict[str, dict[str, Any]]:
        """Scores of several splits, ``{split: (labels, outputs)}``; multi-label thresholds are tuned on ``dev``
        (when given and `thresholds` is None) and applied to every split.

        Example:
            >>> p = get_problem("single_label")
            >>> p.score_splits({"dev": ([0, 1], np.eye(2))}, ["a", "b"])["dev"]["mcc"]
            1.0
        """
        if thresholds is None and "dev" in splits:
            thresholds = self.fit_thresholds(*splits["dev"])
        return {split: self.score(labels, outputs, names, interval=interval, thresholds=thresholds)
                for split, (labels, outputs) in splits.items()}

    def label_text(self, names: Sequence[str], label: Any) -> str:
        """One row's label as text: the class, the label set (``CTCF;GATA``, ``none``) or the values.

        Example:
            >>> get_problem("multi_label").label_text(["CTCF", "GATA"], (1, 1))
            'CTCF;GATA'
            >>> get_problem("regression").label_text(["activity"], (2.5,))
            'activity=2.5'
        """
        if self.name == SINGLE_LABEL:
            return str(names[int(label)])
        if self.name == MULTI_LABEL:
            return ";".join(name for name, on in zip(names, label, strict=True) if on) or "none"
        return ", ".join(f"{name}={float(v):.4g}" for name, v in zip(names, label, strict=True))

    def headline(self, scores: dict[str, Any] | None) -> float | None:
        """The headline metric of a scores dict (None when missing).

        Example:
            >>> get_problem("regression").headline({"spearman": 0.8})
            0.8
        """
        value = (scores or {}).get(self.metric)
        return None if value is None else float(value)


PROBLEMS: dict[str, Problem] = {
    SINGLE_LABEL: Problem(SINGLE_LABEL, "single_label_classification", "mcc", "MCC", "matthews_correlation", "class",
                          "single-label classification (one class per sequence)"),
    MULTI_LABEL: Problem(MULTI_LABEL, "multi_label_classification", "auprc_macro", "macro AUPRC", "average_precision",
                         "label", "multi-label classification (a set of labels per sequence)"),
    REGRESSION: Problem(REGRESSION, "regression", "spearman", "Spearman", "spearmanr", "target",
                        "regression (one or several numbers per sequence)"),
}


def get_problem(name: str | Problem | None) -> Problem:
    """The problem type by name (None means single-label, as every run before problem types were recorded).

    Raises:
        ConfigError: an unknown name.

    Example:
        >>> get_problem(None).name
        'single_label'
    """
    if isinstance(name, Problem):
        return name
    key = SINGLE_LABEL if name is None else str(name).strip().lower().replace("-", "_")
    aliases = {"single_label_classification": SINGLE_LABEL, "multi_label_classification": MULTI_LABEL,
               "classification": SINGLE_LABEL, "multilabel": MULTI_LABEL}
    key = aliases.get(key, key)
    if key not in PROBLEMS:
        raise ConfigError(f"--problem-type must be one of {', '.join(PROBLEMS)}, got {name!r}.")
    return PROBLEMS[key]


__all__ = ["MULTI_LABEL", "PROBLEMS", "REGRESSION", "SINGLE_LABEL", "Problem", "get_problem", "sigmoid"]
