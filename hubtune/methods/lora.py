"""LoRA (peft): low-rank adapters on the encoder's projections; the task head trains in full (`modules_to_save`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError, ModelError
from ..jsonio import write_json
from ..models.registry import ModelFamily, guess_lora_targets
from .base import MethodConfig, help_field, quiet_deprecations

ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"


@dataclass
class LoraMethodConfig(MethodConfig):
    """LoRA adapters on the family's attention/MLP projections; the classification head trains in full.

    A `peft.LoraConfig` may be given instead of the fields: `LoraMethodConfig.from_peft(LoraConfig(r=16, ...))`, or
    simply `hubtune.finetune(..., method=LoraConfig(r=16))`.

    Example:
        >>> LoraMethodConfig(r=16).to_dict()["r"]
        16
    """

    name: ClassVar[str] = "lora"
    title: ClassVar[str] = "LoRA adapter"
    cli_prefix: ClassVar[str] = "lora"
    default_lr: ClassVar[float] = 5e-4
    weight_files: ClassVar[tuple[str, ...]] = (ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE)

    r: int = help_field(8, "LoRA rank")
    alpha: int = help_field(16, "LoRA scaling (lora_alpha)")
    dropout: float = help_field(0.05, "dropout on the LoRA branch")
    targets: list[str] | None = help_field(None, "comma-separated module names (default: the family's)")
    resolved_targets: list[str] = help_field(help="the target modules actually adapted (filled in by training)",
                                             default_factory=list)
    peft_config: Any = help_field(None, "a peft.LoraConfig used as given (Python only)", repr=False)

    def __post_init__(self) -> None:
        if self.peft_config is not None:
            cfg = self.peft_config
            self.r, self.alpha, self.dropout = int(cfg.r), int(cfg.lora_alpha), float(cfg.lora_dropout)
            if cfg.target_modules and not isinstance(cfg.target_modules, str):
                self.targets = sorted(cfg.target_modules)

    @classmethod
    def from_peft(cls, config: Any) -> LoraMethodConfig:
        """Use a `peft.LoraConfig` as it is (its target modules, rank, alpha, dropout, and any other option).

        Example:
            >>> from peft import LoraConfig
            >>> LoraMethodConfig.from_peft(LoraConfig(r=4, target_modules=["query"])).r
            4
        """
        from peft import LoraConfig

        if not isinstance(config, LoraConfig):
            raise ConfigError(f"Expected a peft.LoraConfig, got {type(config).__name__}.")
        return cls(peft_config=config)

    @classmethod
    def option_names(cls) -> list[str]:
        return ["r", "alpha", "dropout", "targets"]

    def validate(self) -> None:
        if self.r <= 0:
            raise ConfigError(f"--lora-r must be a positive integer, got {self.r}.")
        if self.alpha <= 0:
            raise ConfigError(f"--lora-alpha must be positive, got {self.alpha}.")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"--lora-dropout must be in [0, 1), got {self.dropout}.")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.name, "r": self.r, "alpha": self.alpha, "dropout": self.dropout,
                "targets": self.targets, "resolved_targets": list(self.resolved_targets)}

    def describe(self, family: ModelFamily, resolved: dict[str, Any] | None = None, *,
                 problem: Any = None) -> list[tuple[str, str]]:
        targets = self.targets or (resolved or {}).get("resolved_targets") or list(family.lora_targets)
        return [("LoRA rank r", str(self.r)), ("LoRA alpha", str(self.alpha)), ("LoRA dropout", str(self.dropout)),
                ("LoRA target modules", ", ".join(f"`{t}`" for t in targets) or "–"),
                ("trained in full", "the classification head (`classifier`)")]

    def prepare(self, model: Any, family: ModelFamily) -> Any:
        from peft import LoraConfig, TaskType, get_peft_model

        module_names = [name for name, _ in model.named_modules()]
        leaf_names = {name.rsplit(".", 1)[-1] for name in module_names}
        head = [m for m in family.head_modules if m in leaf_names]
        if self.peft_config is not None:
            config = self.peft_config
            if config.modules_to_save is None:
                config.modules_to_save = head
            if config.task_type is None:
                config.task_type = TaskType.SEQ_CLS
            targets = config.target_modules  # a set of names, a regex string, or None (peft's default for the model)
            self.resolved_targets = [targets] if isinstance(targets, str) else sorted(targets or [])
            with quiet_deprecations():
                return get_peft_model(model, config)
        targets = list(self.targets or family.lora_targets or guess_lora_targets(module_names))
        missing = [t for t in targets if t not in leaf_names]
        if missing:
            raise ConfigError(
                f"LoRA target module(s) {', '.join(missing)} do not exist in this {family.display_name} model. "
                f"Its {family.display_name} projections are: {', '.join(family.lora_targets) or 'unknown'}."
            )
        self.resolved_targets = targets
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
        with quiet_deprecations():
            return get_peft_model(model, config)

    def save(self, trained: Any, folder: Path, *, base_model: str, base_revision: str | None) -> None:
        trained.save_pretrained(str(folder), safe_serialization=True)
        # peft records the local path and writes a placeholder card: point at the base id, drop the placeholder.
        config_path = folder / ADAPTER_CONFIG_FILE
        adapter_config = json.loads(config_path.read_text())
        adapter_config["base_model_name_or_path"] = base_model
        adapter_config["revision"] = base_revision
        write_json(config_path, adapter_config)
        (folder / "README.md").unlink(missing_ok=True)

    def load_model(self, folder: Path, load_base: Any, *, num_labels: int, label_names: list[str],
                   adapter_name: str = "default") -> Any:
        from peft import PeftModel

        base = load_base()
        try:
            with quiet_deprecations():
                return PeftModel.from_pretrained(base, str(folder), adapter_name=adapter_name)
        except (RuntimeError, ValueError) as exc:
            raise adapter_mismatch(folder.name, exc, num_labels) from None

    def attach(self, peft_model: Any, folder: Path, adapter_name: str) -> None:
        """Load one more adapter of the same base into an existing `PeftModel` (switch with `set_adapter`).

        Raises:
            ModelError: the adapter does not fit the base (nothing half-loaded is left behind).
        """
        try:
            with quiet_deprecations():
                peft_model.load_adapter(str(folder), adapter_name=adapter_name)
        except (RuntimeError, ValueError) as exc:
            if adapter_name in peft_model.peft_config:  # injected but not loaded: drop it
                try:
                    peft_model.delete_adapter(adapter_name)
                except (KeyError, ValueError, RuntimeError):
                    pass
            raise adapter_mismatch(folder.name, exc, None) from None


def adapter_mismatch(where: str, exc: Exception, n_labels: int | None) -> ModelError:
    """The error for an adapter whose weights do not fit the base model they are loaded into."""
    first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    hint = (f" With a plain peft adapter, check that label_names has as many names as the adapter's head has "
            f"outputs ({n_labels} given).") if n_labels is not None else ""
    return ModelError(f"The adapter in {where} does not fit its base: {first}.{hint} The repo may be damaged or made "
                      "for another base model.")


__all__ = ["ADAPTER_CONFIG_FILE", "ADAPTER_WEIGHTS_FILE", "LoraMethodConfig", "adapter_mismatch"]
