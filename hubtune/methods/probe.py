"""Linear probing: the backbone stays frozen; a linear model on mean-pooled embeddings is the model (logistic
regression, one-vs-rest logistic regression or ridge regression, after the problem type)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..heads import LinearHead, fit_head_tuned
from ..problems import REGRESSION, SINGLE_LABEL, Problem, get_problem
from .base import MethodConfig, help_field

PROBE_HEAD_FILE = "probe_head.safetensors"


@dataclass
class ProbeConfig(MethodConfig):
    """Frozen backbone: mean-pooled embeddings extracted once, a linear model on top (C chosen on dev).

    Logistic regression for single-label tasks, one-vs-rest logistic regression for multi-label tasks, ridge
    regression for regression tasks (its alpha is 1/C: with `c_fixed`, alpha = 1 / `c`).

    Example:
        >>> ProbeConfig(c=0.1, c_fixed=True).to_dict()
        {'method': 'probe', 'c': 0.1, 'c_fixed': True}
    """

    name: ClassVar[str] = "probe"
    title: ClassVar[str] = "linear probe on frozen embeddings"
    cli_prefix: ClassVar[str] = "probe"
    default_lr: ClassVar[float] = 0.0
    uses_trainer: ClassVar[bool] = False
    weight_files: ClassVar[tuple[str, ...]] = (PROBE_HEAD_FILE,)

    c: float = help_field(1.0, "probe method: inverse regularisation strength of the logistic "
                                 "regression (ridge regression: alpha = 1/C)")
    c_fixed: bool = help_field(False, "probe method: use --probe-c as given instead of choosing C on dev")

    def validate(self) -> None:
        if self.c <= 0:
            raise ConfigError(f"The probe's regularisation C must be positive, got {self.c}.")

    def describe(self, family: Any, resolved: dict[str, Any] | None = None, *,
                 problem: str | Problem | None = None) -> list[tuple[str, str]]:
        task_problem = get_problem(problem)
        if task_problem.name == REGRESSION:
            chosen = f"alpha = {1 / self.c:g}" if self.c_fixed else "alpha chosen on dev Spearman"
            return [("regressor", f"ridge regression on mean-pooled last-layer embeddings ({chosen})")]
        chosen = f"C = {self.c}" if self.c_fixed else f"C chosen on dev {task_problem.metric_label}"
        model = "logistic regression" if task_problem.name == SINGLE_LABEL else "one-vs-rest logistic regression"
        return [("classifier", f"{model} on mean-pooled last-layer embeddings ({chosen})")]

    def fit(self, train_x: np.ndarray, train_y: list[Any], dev_x: np.ndarray, dev_y: list[Any], n_classes: int, *,
            seed: int, problem: str | Problem = SINGLE_LABEL) -> LinearHead:
        """The probe head on frozen embeddings, chosen on dev unless `c_fixed` (C, or ridge alpha = 1/C).

        `n_classes` counts the classes, labels or targets; `Problem.outputs(head.logits(x))` gives what users read.

        Example:
            >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
            >>> ProbeConfig().fit(x, [0, 0, 1, 1], x, [0, 0, 1, 1], 2, seed=0).weight.shape
            (2, 1)
        """
        task_problem = get_problem(problem)
        grid = None
        if self.c_fixed:
            grid = (1 / self.c,) if task_problem.name == REGRESSION else (self.c,)
        head, _ = fit_head_tuned(task_problem, train_x, train_y, dev_x, dev_y, n_classes, seed=seed, grid=grid)
        return head

    def save(self, trained: Any, folder: Path, *, base_model: str, base_revision: str | None) -> None:
        trained.save(folder / PROBE_HEAD_FILE, pooling="mean")

    def load_model(self, folder: Path, load_base: Any, *, num_labels: int, label_names: list[str],
                   adapter_name: str = "default") -> Any:
        return load_base()

    def load_head(self, folder: Path) -> LinearHead | None:
        return LinearHead.load(Path(folder) / PROBE_HEAD_FILE)


__all__ = ["PROBE_HEAD_FILE", "ProbeConfig"]
