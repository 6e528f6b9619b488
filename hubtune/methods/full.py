"""Full fine-tuning (every parameter trains) and partial fine-tuning (embeddings + the lowest layers frozen)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError
from ..models import load_base_model
from ..models.registry import ModelFamily
from .base import MethodConfig, count_layers, help_field


@dataclass
class FullConfig(MethodConfig):
    """Full fine-tuning: every parameter trains; the run folder holds the whole model.

    Example:
        >>> FullConfig().to_dict()
        {'method': 'full'}
    """

    name: ClassVar[str] = "full"
    title: ClassVar[str] = "fully fine-tuned model"
    default_lr: ClassVar[float] = 5e-5
    standalone: ClassVar[bool] = True
    weight_files: ClassVar[tuple[str, ...]] = ("config.json", "model.safetensors")

    def load_model(self, folder: Path, load_base: Any, *, num_labels: int, label_names: list[str],
                   adapter_name: str = "default") -> Any:
        return load_base_model(folder, num_labels, label_names=label_names)


def _too_deep(k: int, n_layers: int) -> ConfigError:
    return ConfigError(
        f"--freeze-layers {k} is larger than the model, which has {n_layers} layers. Use a value from 0 to "
        f"{n_layers} (all layers frozen = only the head trains)."
    )


@dataclass
class FreezeConfig(FullConfig):
    """Partial fine-tuning: embeddings and the lowest `layers` transformer layers are frozen.

    Example:
        >>> FreezeConfig(layers=2).to_dict()
        {'method': 'freeze', 'layers': 2}
    """

    name: ClassVar[str] = "freeze"
    title: ClassVar[str] = "partially fine-tuned model (lower layers frozen)"
    cli_prefix: ClassVar[str] = "freeze"
    default_lr: ClassVar[float] = 1e-4
    layers: int | None = help_field(None, "freeze method: embeddings + this many lowest layers (default: half)")

    def validate(self) -> None:
        if self.layers is not None and self.layers < 0:
            raise ConfigError(f"--freeze-layers must be 0 or more, got {self.layers}.")

    def describe(self, family: ModelFamily, resolved: dict[str, Any] | None = None, *,
                 problem: Any = None) -> list[tuple[str, str]]:
        return [("frozen", f"embeddings + the lowest {self.layers} layers")]

    def check_model(self, n_layers: int | None) -> None:
        if self.layers is not None and n_layers is not None and self.layers > n_layers:
            raise _too_deep(self.layers, n_layers)

    def prepare(self, model: Any, family: ModelFamily) -> Any:
        n_layers = count_layers(model, family)
        k = n_layers // 2 if self.layers is None else self.layers
        if k > n_layers:
            raise _too_deep(k, n_layers)
        self.layers = k
        frozen_prefixes = [family.embeddings_prefix + "."] + [f"{family.layers_prefix}.{i}." for i in range(k)]
        for name, param in model.named_parameters():
            if any(name.startswith(prefix) for prefix in frozen_prefixes):
                param.requires_grad_(False)
        return model


__all__ = ["FreezeConfig", "FullConfig"]
