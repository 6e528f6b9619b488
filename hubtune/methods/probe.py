"""Linear probing: the backbone stays frozen; logistic regression on mean-pooled embeddings is the classifier."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..heads import C_GRID, LinearHead, fit_logistic_head_tuned
from .base import MethodConfig, help_field

PROBE_HEAD_FILE = "probe_head.safetensors"


@dataclass
class ProbeConfig(MethodConfig):
    """Frozen backbone: mean-pooled embeddings extracted once, logistic regression on top (C chosen on dev).

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

    c: float = help_field(1.0, "probe method: inverse regularisation strength of the logistic regression")
    c_fixed: bool = help_field(False, "probe method: use --probe-c as given instead of choosing C on dev")

    def validate(self) -> None:
        if self.c <= 0:
            raise ConfigError(f"The probe's regularisation C must be positive, got {self.c}.")

    def describe(self, family: Any, resolved: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        chosen = f"C = {self.c}" if self.c_fixed else "C chosen on dev MCC"
        return [("classifier", f"logistic regression on mean-pooled last-layer embeddings ({chosen})")]

    def fit(self, train_x: np.ndarray, train_y: list[int], dev_x: np.ndarray, dev_y: list[int], n_classes: int, *,
            seed: int) -> LinearHead:
        """The probe head on frozen embeddings (C from the dev grid unless `c_fixed`)."""
        head, _ = fit_logistic_head_tuned(train_x, train_y, dev_x, dev_y, n_classes, seed=seed,
                                          grid=(self.c,) if self.c_fixed else C_GRID)
        return head

    def save(self, trained: Any, folder: Path, *, base_model: str, base_revision: str | None) -> None:
        trained.save(folder / PROBE_HEAD_FILE, pooling="mean")

    def load_model(self, folder: Path, load_base: Any, *, num_labels: int, label_names: list[str],
                   adapter_name: str = "default") -> Any:
        return load_base()

    def load_head(self, folder: Path) -> LinearHead | None:
        return LinearHead.load(Path(folder) / PROBE_HEAD_FILE)


__all__ = ["PROBE_HEAD_FILE", "ProbeConfig"]
