"""Linear probe heads: logistic regression on frozen embeddings, folded into one linear layer, saved as safetensors.

Used by the probe method (the classifier itself), by the pre-trained probe baseline, and by the k-mer baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import compute_metrics, softmax

C_GRID = (0.001, 0.01, 0.1, 1.0)


@dataclass
class LinearHead:
    """A logistic-regression probe folded into one linear layer: logits = x @ weight.T + bias.

    Example:
        >>> head = LinearHead(np.eye(2), np.zeros(2))
        >>> int(head.probs(np.array([[2.0, 0.0]])).argmax())
        0
    """

    weight: np.ndarray  # (n_classes, hidden)
    bias: np.ndarray  # (n_classes,)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weight.T + self.bias

    def probs(self, features: np.ndarray) -> np.ndarray:
        return softmax(self.logits(features))

    @property
    def n_parameters(self) -> int:
        return int(self.weight.size + self.bias.size)

    def to_tensors(self) -> dict[str, Any]:
        import torch

        return {"weight": torch.from_numpy(self.weight.astype(np.float32)),
                "bias": torch.from_numpy(self.bias.astype(np.float32))}

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
    weight = coef / scaler.scale_
    bias = intercept - weight @ scaler.mean_
    return LinearHead(weight, bias)


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
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    x = scaler.transform(train_x)
    y = np.asarray(train_y)
    clf = LogisticRegression(max_iter=2000, random_state=seed, warm_start=True)
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


__all__ = ["C_GRID", "LinearHead", "fit_logistic_head", "fit_logistic_head_tuned"]
