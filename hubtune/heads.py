"""Linear probe heads on frozen features, folded into one linear layer (logits = x @ W.T + b), saved as safetensors.

Logistic regression (single-label), one-vs-rest logistic regression (multi-label) or ridge regression (regression),
each with its regularisation chosen on dev by the problem's metric. Used by the probe method (the model itself), by
the pre-trained probe baseline, and by the k-mer baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import compute_metrics, softmax
from .problems import MULTI_LABEL, PROBLEMS, REGRESSION, SINGLE_LABEL, Problem, get_problem

C_GRID = (0.001, 0.01, 0.1, 1.0)
# Up to this many features the Newton-CG solver fits the path several times faster than L-BFGS (the probe's embeddings,
# k-mer sets up to k = 5); beyond it, its Hessian products cost more than L-BFGS's extra iterations.
NEWTON_MAX_FEATURES = 2000  # logistic regression's inverse regularisation strengths
ALPHA_GRID = (1.0, 10.0, 100.0, 1000.0, 10000.0)  # ridge regression's regularisation strengths (standardised features)


@dataclass
class LinearHead:
    """A linear probe folded into one linear layer: logits = x @ weight.T + bias (class logits, per-label logits or
    predicted values, depending on the problem type).

    Example:
        >>> head = LinearHead(np.eye(2), np.zeros(2))
        >>> int(head.probs(np.array([[2.0, 0.0]])).argmax())
        0
    """

    weight: np.ndarray  # (n_outputs, hidden): classes, labels or targets
    bias: np.ndarray  # (n_outputs,)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weight.T + self.bias

    def probs(self, features: np.ndarray) -> np.ndarray:
        return softmax(self.logits(features))

    @property
    def n_parameters(self) -> int:
        return int(self.weight.size + self.bias.size)

    def to_tensors(self) -> dict[str, Any]:
        import torch

        return {"weight": torch.from_numpy(np.ascontiguousarray(self.weight, dtype=np.float32)),
                "bias": torch.from_numpy(np.ascontiguousarray(self.bias, dtype=np.float32))}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Any]) -> LinearHead:
        return cls(np.asarray(tensors["weight"], dtype=np.float64), np.asarray(tensors["bias"], dtype=np.float64))

    def save(self, path: str | Path, **metadata: str) -> None:
        """Write the head as safetensors (`weight`, `bias`)."""
        from safetensors.torch import save_file

        save_file(self.to_tensors(), str(path), metadata=dict(metadata) or None)

    @classmethod
    def load(cls, path: str | Path) -> LinearHead | None:
        """Read a head written by `save`; None when the file does not exist."""
        path = Path(path)
        if not path.is_file():
            return None
        from safetensors.numpy import load_file

        return cls.from_tensors(load_file(str(path)))


def _folded_head(clf: Any, scaler: Any, n_classes: int, n_features: int) -> LinearHead:
    coef = np.zeros((n_classes, n_features))
    intercept = np.zeros(n_classes)
    if len(clf.classes_) == 2 and coef.shape[0] >= 2:
        # Binary sklearn models keep one row; [0, w] gives the same softmax as the sigmoid.
        coef[clf.classes_[1]] = clf.coef_[0]
        intercept[clf.classes_[1]] = clf.intercept_[0]
    else:
        for row, cls in enumerate(clf.classes_):
            coef[cls] = clf.coef_[row]
            intercept[cls] = clf.intercept_[row]
        for missing in set(range(n_classes)) - set(clf.classes_.tolist()):
            intercept[missing] = -1e4  # a class never seen in training is never predicted
    return _fold(coef, intercept, scaler)


def _scaled(train_x: Any) -> tuple[Any, Any]:
    """(fitted scaler, scaled train features). Dense features are standardised; sparse ones (k-mer counts) are only
    divided by their standard deviation, which keeps them sparse. With an unpenalised intercept both give the same
    model: centring only moves the intercept, which `_fold` puts back."""
    from scipy.sparse import issparse
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler(with_mean=not issparse(train_x)).fit(train_x)
    return scaler, scaler.transform(train_x)


def logistic_solver(n_features: int) -> str:
    """The scikit-learn solver for a logistic-regression path on `n_features` scaled features, dense or sparse.

    Example:
        >>> logistic_solver(768), logistic_solver(5440)
        ('newton-cg', 'lbfgs')
    """
    return "newton-cg" if n_features <= NEWTON_MAX_FEATURES else "lbfgs"


def fit_logistic_head(features: np.ndarray, labels: Sequence[int], n_classes: int, *, c: float = 1.0,
                      seed: int = 0) -> LinearHead:
    """Fit standardised logistic regression and fold the scaler into a single linear head (deterministic).

    Example:
        >>> x = np.array([[0.0], [0.1], [1.0], [1.1]])
        >>> int(fit_logistic_head(x, [0, 0, 1, 1], 2).probs(np.array([[1.2]])).argmax())
        1
    """
    return fit_logistic_head_tuned(features, labels, None, None, n_classes, grid=(c,), seed=seed)[0]


def fit_logistic_head_tuned(
    train_x: np.ndarray, train_y: Sequence[int], dev_x: np.ndarray | None, dev_y: Sequence[int] | None,
    n_classes: int, *, grid: Sequence[float] = C_GRID, seed: int = 0,
) -> tuple[LinearHead, float]:
    """Logistic regression with its regularisation C chosen on dev MCC (ties go to the stronger regularisation).

    The grid is walked from strong to weak regularisation, each fit starting from the previous solution (a
    regularisation path), so a grid costs little more than its weakest fit. Returns the head and the chosen C.

    Example:
        >>> x = np.array([[0.0], [0.1], [1.0], [1.1]])
        >>> fit_logistic_head_tuned(x, [0, 0, 1, 1], x, [0, 0, 1, 1], 2)[1]
        0.001
    """
    from sklearn.linear_model import LogisticRegression

    scaler, x = _scaled(train_x)
    y = np.asarray(train_y)
    clf = LogisticRegression(max_iter=2000, random_state=seed, warm_start=True, solver=logistic_solver(x.shape[1]))
    best: tuple[float, float, LinearHead] | None = None
    for c in sorted(grid):
        clf.set_params(C=c)
        clf.fit(x, y)
        head = _folded_head(clf, scaler, n_classes, train_x.shape[1])
        if dev_x is None or dev_y is None:
            return head, c
        mcc = compute_metrics(dev_y, head.probs(dev_x), interval=False)["mcc"]
        if best is None or mcc > best[0] + 1e-12:
            best = (mcc, c, head)
    assert best is not None
    return best[2], best[1]


def selection_score(problem: str | Problem | None, labels: Sequence[Any], outputs: np.ndarray) -> float:
    """The point value of the problem's headline metric, used to choose settings on dev: MCC (single-label), macro
    AUPRC (multi-label) or mean Spearman over targets (regression). `outputs` come from `Problem.outputs`.

    Example:
        >>> selection_score("regression", [(1.0,), (2.0,), (3.0,)], np.array([[0.1], [0.2], [0.3]]))
        1.0
    """
    p = get_problem(problem)
    if p.name == SINGLE_LABEL:
        return float(compute_metrics(labels, outputs, interval=False)["mcc"])
    if p.name == MULTI_LABEL:
        from .metrics_multilabel import macro_auprc

        return macro_auprc(p.label_array(labels), outputs)
    from .metrics_regression import mean_spearman

    return mean_spearman(p.label_array(labels), outputs)


def _fold(coef: np.ndarray, intercept: np.ndarray, scaler: Any) -> LinearHead:
    """A linear model on standardised (or, see `_scaled`, only scaled) features as one linear layer on the raw
    features."""
    weight = np.ascontiguousarray(coef / scaler.scale_)
    return LinearHead(weight, intercept - weight @ scaler.mean_ if scaler.with_mean else np.asarray(intercept))


def _constant_log_odds(column: np.ndarray) -> float:
    """Log-odds of a label seen with one class only, its rate clipped half a row away from 0 and 1."""
    n = max(len(column), 1)
    rate = float(np.clip(column.mean() if len(column) else 0.5, 0.5 / n, 1 - 0.5 / n))
    return float(np.log(rate / (1 - rate)))


def fit_one_vs_rest_head_tuned(
    train_x: np.ndarray, train_y: np.ndarray | Sequence[Sequence[int]], dev_x: np.ndarray | None,
    dev_y: np.ndarray | Sequence[Sequence[int]] | None, *, grid: Sequence[float] = C_GRID, seed: int = 0,
) -> tuple[LinearHead, float]:
    """One logistic regression per label on standardised features, one C for all labels chosen on dev macro AUPRC
    (ties go to the stronger regularisation); folded into a head whose sigmoid gives each label's probability.

    Each label walks the grid from strong to weak regularisation as a regularisation path. A label with one class
    only in train gets zero weights and the clipped log-odds of its rate as bias. Returns the head and the chosen C.

    Example:
        >>> x = np.array([[0.0, 1.0], [0.1, 0.0], [1.0, 1.0], [1.1, 0.0]])
        >>> y = np.array([[0, 1], [0, 0], [1, 1], [1, 0]])
        >>> head, c = fit_one_vs_rest_head_tuned(x, y, x, y)
        >>> head.weight.shape, c
        ((2, 2), 0.001)
    """
    from sklearn.linear_model import LogisticRegression

    problem = PROBLEMS[MULTI_LABEL]
    y = np.asarray(train_y, dtype=np.int64).reshape(train_x.shape[0], -1)
    scaler, x = _scaled(train_x)
    n_labels = y.shape[1]
    coef = np.zeros((n_labels, train_x.shape[1]))
    intercept = np.array([_constant_log_odds(y[:, j]) for j in range(n_labels)])
    fitted = [j for j in range(n_labels) if len(np.unique(y[:, j])) == 2]
    models = {j: LogisticRegression(max_iter=2000, random_state=seed, warm_start=True, solver=logistic_solver(x.shape[1]))
              for j in fitted}
    best: tuple[float, float, LinearHead] | None = None
    for c in sorted(grid):
        for j, clf in models.items():
            clf.set_params(C=c)
            clf.fit(x, y[:, j])
            coef[j], intercept[j] = clf.coef_[0], clf.intercept_[0]
        head = _fold(coef.copy(), intercept.copy(), scaler)
        if dev_x is None or dev_y is None:
            return head, c
        score = selection_score(problem, dev_y, problem.outputs(head.logits(dev_x)))
        if best is None or score > best[0] + 1e-12:
            best = (score, c, head)
    assert best is not None
    return best[2], best[1]


def fit_ridge_head_tuned(
    train_x: np.ndarray, train_y: np.ndarray | Sequence[Sequence[float]], dev_x: np.ndarray | None,
    dev_y: np.ndarray | Sequence[Sequence[float]] | None, *, grid: Sequence[float] = ALPHA_GRID, seed: int = 0,
    standardise: bool = True,
) -> tuple[LinearHead, float]:
    """Ridge regression on standardised features (or, with `standardise=False`, on the features as given: k-mer
    frequencies keep their natural scale, so rare long k-mers are shrunk more), its alpha chosen on dev mean
    Spearman (ties go to the stronger regularisation); folded into a head whose output is the predicted value in the
    targets' own units.

    Returns the head (one row per target) and the chosen alpha.

    Example:
        >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> head, alpha = fit_ridge_head_tuned(x, x * 2 + 1, x, x * 2 + 1, grid=(0.001,))
        >>> [round(float(v), 2) for v in head.logits(np.array([[4.0]]))[0]], alpha
        ([9.0], 0.001)
    """
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    problem = PROBLEMS[REGRESSION]
    y = np.asarray(train_y, dtype=np.float64).reshape(len(train_x), -1)
    scaler = StandardScaler(with_mean=standardise, with_std=standardise).fit(train_x)
    if not standardise:
        scaler.mean_, scaler.scale_ = np.zeros(train_x.shape[1]), np.ones(train_x.shape[1])
    x = scaler.transform(train_x) if standardise else np.asarray(train_x, dtype=np.float64)
    best: tuple[float, float, LinearHead] | None = None
    for alpha in sorted(grid, reverse=True):
        model = Ridge(alpha=alpha, random_state=seed).fit(x, y)
        head = _fold(np.asarray(model.coef_, dtype=np.float64).reshape(y.shape[1], -1),
                     np.asarray(model.intercept_, dtype=np.float64).reshape(y.shape[1]), scaler)
        if dev_x is None or dev_y is None:
            return head, alpha
        score = selection_score(problem, dev_y, head.logits(dev_x))
        if best is None or score > best[0] + 1e-12:
            best = (score, alpha, head)
    assert best is not None
    return best[2], best[1]


def fit_head_tuned(
    problem: str | Problem | None, train_x: np.ndarray, train_y: Sequence[Any], dev_x: np.ndarray | None,
    dev_y: Sequence[Any] | None, n_outputs: int, *, seed: int = 0, grid: Sequence[float] | None = None,
    standardise: bool = True,
) -> tuple[LinearHead, float]:
    """The linear head of a problem type, its regularisation chosen on dev with the problem's metric: logistic
    regression (single-label, C on MCC), one-vs-rest logistic regression (multi-label, C on macro AUPRC) or ridge
    regression (regression, alpha on mean Spearman). `Problem.outputs(head.logits(x))` gives what users read.

    Labels are as a split holds them (ints, tuples of 0/1 ints, tuples of floats). `grid` holds C values (alpha values
    for regression); default `C_GRID` / `ALPHA_GRID`. `standardise=False` fits ridge regression on the features as
    given (see `fit_ridge_head_tuned`). Returns the head and the chosen C (or alpha).

    Example:
        >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> y = [(0, 1), (0, 0), (1, 1), (1, 0)]
        >>> head, c = fit_head_tuned("multi_label", x, y, x, y, 2)
        >>> get_problem("multi_label").outputs(head.logits(x)).shape
        (4, 2)
    """
    p = get_problem(problem)
    if p.name == SINGLE_LABEL:
        return fit_logistic_head_tuned(train_x, train_y, dev_x, dev_y, n_outputs, seed=seed,
                                       grid=C_GRID if grid is None else grid)
    dev_labels = None if dev_y is None else p.label_array(dev_y)
    if p.name == MULTI_LABEL:
        return fit_one_vs_rest_head_tuned(train_x, p.label_array(train_y), dev_x, dev_labels, seed=seed,
                                          grid=C_GRID if grid is None else grid)
    return fit_ridge_head_tuned(train_x, p.label_array(train_y), dev_x, dev_labels, seed=seed,
                                grid=ALPHA_GRID if grid is None else grid, standardise=standardise)


__all__ = ["ALPHA_GRID", "C_GRID", "LinearHead", "fit_head_tuned", "fit_logistic_head", "fit_logistic_head_tuned",
           "fit_one_vs_rest_head_tuned", "fit_ridge_head_tuned", "selection_score"]
