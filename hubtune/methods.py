"""Fine-tuning methods: one dataclass config per method and a registry (`METHODS`).

A method decides which parameters train. `prepare` turns a freshly loaded classification model into the model the
Trainer optimises; `probe` trains no network at all (logistic regression on frozen embeddings).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from .errors import ConfigError
from .models.registry import ModelFamily, guess_lora_targets


def count_layers(model, family: ModelFamily) -> int:
    """Number of transformer layers, read from the module names (`<layers_prefix>.<N>.`)."""
    pattern = re.compile(re.escape(family.layers_prefix) + r"\.(\d+)\.")
    indices = {int(m.group(1)) for name, _ in model.named_parameters() if (m := pattern.search(name))}
    if not indices:
        return int(getattr(model.config, "num_hidden_layers", 0))
    return max(indices) + 1


def trainable_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


@dataclass
class MethodConfig:
    """Base class: subclasses set `name` and implement `prepare`."""

    name: ClassVar[str] = ""
    uses_trainer: ClassVar[bool] = True

    def validate(self) -> None:
        """Raise ConfigError for settings that can never work (checked before any model is loaded)."""

    def prepare(self, model, family: ModelFamily):
        """Return the model to optimise (freeze or wrap parameters)."""
        return model

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.name, **asdict(self)}


@dataclass
class FullConfig(MethodConfig):
    """Full fine-tuning: every parameter trains."""

    name: ClassVar[str] = "full"


@dataclass
class FreezeConfig(MethodConfig):
    """Partial fine-tuning: embeddings and the lowest `layers` transformer layers are frozen."""

    name: ClassVar[str] = "freeze"
    layers: int | None = None  # None: freeze the lower half

    def validate(self) -> None:
        if self.layers is not None and self.layers < 0:
            raise ConfigError(f"--freeze-layers must be 0 or more, got {self.layers}.")

    def prepare(self, model, family: ModelFamily):
        n_layers = count_layers(model, family)
        k = n_layers // 2 if self.layers is None else self.layers
        if k > n_layers:
            raise ConfigError(
                f"--freeze-layers {k} is larger than the model, which has {n_layers} layers. Use a value from 0 to "
                f"{n_layers} (all layers frozen = only the head trains)."
            )
        self.layers = k
        frozen_prefixes = [family.embeddings_prefix + "."] + [f"{family.layers_prefix}.{i}." for i in range(k)]
        for name, param in model.named_parameters():
            if any(name.startswith(prefix) for prefix in frozen_prefixes):
                param.requires_grad_(False)
        return model


@dataclass
class LoraMethodConfig(MethodConfig):
    """LoRA adapters on the family's attention/MLP projections; the task head trains in full (`modules_to_save`)."""

    name: ClassVar[str] = "lora"
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: list[str] | None = None  # None: the family's registry targets
    resolved_targets: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if self.r <= 0:
            raise ConfigError(f"--lora-r must be a positive integer, got {self.r}.")
        if self.alpha <= 0:
            raise ConfigError(f"--lora-alpha must be positive, got {self.alpha}.")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"--lora-dropout must be in [0, 1), got {self.dropout}.")

    def prepare(self, model, family: ModelFamily):
        from peft import LoraConfig, TaskType, get_peft_model

        module_names = [name for name, _ in model.named_modules()]
        targets = list(self.targets or family.lora_targets or guess_lora_targets(module_names))
        leaf_names = {name.rsplit(".", 1)[-1] for name in module_names}
        missing = [t for t in targets if t not in leaf_names]
        if missing:
            raise ConfigError(
                f"LoRA target module(s) {', '.join(missing)} do not exist in this {family.display_name} model. "
                f"Its {family.display_name} projections are: {', '.join(family.lora_targets) or 'unknown'}."
            )
        self.resolved_targets = targets
        head = [m for m in family.head_modules if m in leaf_names]
        # Only the encoder's projections: NT's head also has a `dense` that must train in full, not through LoRA.
        target_regex = r".*\.(" + "|".join(re.escape(t) for t in targets) + r")$"
        if family.name != "auto":
            target_regex = rf"^{re.escape(family.layers_prefix)}\.\d+\..*\.(" + "|".join(map(re.escape, targets)) + ")$"
        config = LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=target_regex,
            modules_to_save=head,
        )
        return get_peft_model(model, config)


@dataclass
class ProbeConfig(MethodConfig):
    """Frozen backbone: mean-pooled embeddings extracted once, logistic regression on top."""

    name: ClassVar[str] = "probe"
    uses_trainer: ClassVar[bool] = False
    c: float = 1.0
    c_fixed: bool = False  # False: choose C on dev from a small grid

    def validate(self) -> None:
        if self.c <= 0:
            raise ConfigError(f"The probe's regularisation C must be positive, got {self.c}.")


METHODS: dict[str, type[MethodConfig]] = {
    cls.name: cls for cls in (LoraMethodConfig, FullConfig, FreezeConfig, ProbeConfig)
}


def make_method(name: str, **options: Any) -> MethodConfig:
    """Build the config of method `name` from the options that apply to it (others are ignored)."""
    try:
        cls = METHODS[name]
    except KeyError:
        raise ConfigError(f"Unknown method {name!r}. Choose one of: {', '.join(METHODS)}.") from None
    fields = cls.__dataclass_fields__
    config = cls(**{k: v for k, v in options.items() if k in fields and v is not None and k != "resolved_targets"})
    config.validate()
    return config
