"""The contract every fine-tuning method fulfils: its settings (a dataclass with field help) and its behaviour.

A method decides which parameters train (`prepare`), which files hold the result (`weight_files`, `save`) and how
those files load back (`load_model`, `load_head`). Nothing outside `hubtune.methods` branches on a method's name.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from ..heads import LinearHead
from ..models.registry import ModelFamily


def count_layers(model: Any, family: ModelFamily) -> int:
    """Number of transformer layers, read from the module names (`<layers_prefix>.<N>.`)."""
    pattern = re.compile(re.escape(family.layers_prefix) + r"\.(\d+)\.")
    indices = {int(m.group(1)) for name, _ in model.named_parameters() if (m := pattern.search(name))}
    if not indices:
        return int(getattr(model.config, "num_hidden_layers", 0))
    return max(indices) + 1


def trainable_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts of a torch model.

    Example:
        >>> trainable_parameters(torch.nn.Linear(2, 1))  # doctest: +SKIP
        (3, 3)
    """
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


@contextlib.contextmanager
def quiet_deprecations() -> Iterator[None]:
    """Silence a deprecation that peft triggers inside transformers 5 (nothing a user can act on), only here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def help_field(default: Any = None, help: str = "", **kwargs: Any) -> Any:  # noqa: A002 - "help" as in argparse
    """A dataclass field carrying its help text (read by the CLI generator and the docs)."""
    from dataclasses import field

    if "default_factory" in kwargs:
        return field(metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass
class MethodConfig:
    """Base class of the method registry; subclasses set the class attributes and override the hooks they need."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""  # what the result is, in a sentence: "LoRA adapter", "fully fine-tuned model", ...
    cli_prefix: ClassVar[str] = ""  # command-line flags of this method's fields: --<prefix>-<field>
    default_lr: ClassVar[float] = 5e-5
    uses_trainer: ClassVar[bool] = True  # False: trained without transformers' Trainer (the probe)
    standalone: ClassVar[bool] = False  # True: the run folder holds the whole model (no base model needed)
    weight_files: ClassVar[tuple[str, ...]] = ()  # files in the run folder that hold the trained weights

    # -- settings ------------------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ConfigError for settings that can never work (checked before any model is loaded)."""

    def check_model(self, n_layers: int | None) -> None:
        """Raise ConfigError when the settings cannot fit a model with `n_layers` layers (before it is loaded)."""

    def to_dict(self) -> dict[str, Any]:
        """The settings as recorded in hubtune.json (`method_config`)."""
        return {"method": self.name, **asdict(self)}

    @classmethod
    def option_names(cls) -> list[str]:
        """The settings a user may pass (dataclass fields that are not filled in by training)."""
        return [f.name for f in fields(cls) if f.init and not f.metadata.get("recorded_only")]

    def describe(self, family: ModelFamily, resolved: dict[str, Any] | None = None, *,
                 problem: Any = None) -> list[tuple[str, str]]:
        """The method's own rows of a model card's hyperparameter table, as (name, value) pairs.

        `resolved` is the `method_config` recorded by training (e.g. the LoRA targets actually adapted); `problem` the
        run's problem type (`hubtune.problems`), for methods whose model depends on it (the probe).
        """
        return []

    # -- training ------------------------------------------------------------------------------------------------
    def prepare(self, model: Any, family: ModelFamily) -> Any:
        """Return the model to optimise (freeze or wrap parameters). Called after the seed is set."""
        return model

    def save(self, trained: Any, folder: Path, *, base_model: str, base_revision: str | None) -> None:
        """Write the trained weights (a model, or a `LinearHead` for the probe) into `folder` as safetensors."""
        trained.save_pretrained(str(folder), safe_serialization=True)

    # -- loading -------------------------------------------------------------------------------------------------
    def load_model(self, folder: Path, load_base: Any, *, num_labels: int, label_names: list[str],
                   adapter_name: str = "default") -> Any:
        """The trained classification model from a run folder; `load_base()` builds the base when one is needed."""
        raise NotImplementedError

    def load_head(self, folder: Path) -> LinearHead | None:
        """The linear head that classifies (probe only); None for methods whose model classifies by itself."""
        return None

    def missing_files(self, folder: Path) -> list[str]:
        """The weight files this method needs that `folder` lacks."""
        return [name for name in self.weight_files if not (Path(folder) / name).is_file()]


__all__ = ["MethodConfig", "count_layers", "help_field", "quiet_deprecations", "trainable_parameters"]
