"""`TrainConfig`: everything that defines a training run, the one source of its defaults and help texts.

The command line (`hubtune train`, `hubtune data`, ...) is generated from these fields, and other configurations
(`hubtune compare`) take their defaults from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from .data import parse_label_names
from .data.targets import parse_label_columns
from .errors import ConfigError
from .methods import METHODS, LoraMethodConfig, MethodConfig, help_field, make_method
from .models.registry import FAMILIES, TINY_MODELS
from .problems import REGRESSION, get_problem

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Everything that defines a run: the one source of training defaults (the CLI is generated from these fields).

    `method` is a method name ("lora", "full", "freeze", "probe"), a method config (`hubtune.LoraMethodConfig(r=16)`,
    `hubtune.FreezeConfig(layers=2)`, ...) or a `peft.LoraConfig`.

    Example:
        >>> TrainConfig(model="tiny-nt", data="path/to/task", method=FreezeConfig(layers=1), max_steps=100)  # doctest: +SKIP
    """

    model: str = help_field("", "Hub id (e.g. zhihan1996/DNABERT-2-117M), local folder, or a random-weight stand-in "
                                "for trying things out (tiny-nt, tiny-dnabert2, tiny-ntv2); required")
    data: str = help_field("", "GUE-style folder, CSV/TSV/Parquet/FASTA file, or a dataset id")
    method: Any = help_field(LoraMethodConfig.name, "fine-tuning method: " + " | ".join(METHODS)
                             + " (from Python also a method config object or a peft.LoraConfig)")
    output: str | None = help_field(None, "run folder to write (default runs/<task>-<method>)")
    epochs: float = help_field(3.0, "training epochs (ignored when --max-steps is given)")
    max_steps: int | None = help_field(None, "training steps (overrides --epochs)")
    lr: float | None = help_field(None, "learning rate (default: the method's: " + ", ".join(
        f"{name} {cls.default_lr:g}" for name, cls in METHODS.items() if cls.uses_trainer) + ")")
    batch_size: int = help_field(16, "sequences per device and step")
    grad_accum: int = help_field(1, "gradient accumulation steps")
    max_length: int | None = help_field(None, "max tokens per sequence (default: from the longest training sequence)")
    seed: int = help_field(42, "training seed (model head, LoRA init, batch order); the data never depends on it")
    seeds: list[int] | None = help_field(None, "several seeds, e.g. 1,2,3: reports mean ± sd (overrides --seed)")
    eval_steps: int | None = help_field(None, "evaluate on dev every N steps (default: ~10 times per run)")
    patience: int | None = help_field(5, "early-stopping patience in evaluations (0 disables)")
    class_weights: bool = help_field(False, "weight the loss by inverse class frequency (multi-label: each label's "
                                            "positives by negatives / positives)")
    weight_decay: float = help_field(0.01, "AdamW weight decay")
    warmup_ratio: float = help_field(0.05, "fraction of steps with linear learning-rate warm-up")
    dedup: bool = help_field(False, "remove duplicates: leaked train sequences from dev/test, and exact or "
                                    "reverse-complement repeats inside each split")
    trust_remote_code: bool = help_field(False, "run Python code from the model repo")
    revision: str | None = help_field(None, "model revision (branch, tag or commit) on the Hub")
    sequence_column: str = help_field("sequence", "column holding the DNA (CSV/TSV/Parquet)")
    label_column: str = help_field("label", "column holding the label (CSV/TSV/Parquet)")
    label_columns: str | None = help_field(None, "several label or target columns, e.g. developmental,housekeeping "
                                                 "(0/1 columns: multi-label; numbers: regression)")
    problem_type: str | None = help_field(None, "single_label | multi_label | regression (default: from the labels: "
                                                "label sets a;b -> multi_label, non-integer numbers -> regression)")
    labels_file: str | None = help_field(None, "CSV id,label for a FASTA file whose headers carry no label")
    max_rows: int | None = help_field(None, "use at most this many rows per split (quick experiments)")
    data_seed: int = help_field(42, "seed for the data only: --max-rows sampling and splits made from one file "
                                    "(fixed, so every training seed sees the same rows)")
    label_names: Any = help_field(None, "class names, e.g. 0=non-promoter,1=promoter (or non-promoter,promoter in "
                                        "label-id order); GUE tasks are named from the built-in catalogue")
    baselines: bool = help_field(True, "the pre-trained probe and k-mer baselines")
    overwrite: bool = help_field(False, "replace a finished hubtune run at --output (only if it holds nothing hubtune "
                                        "did not write)")
    resume: bool = help_field(False, "continue an interrupted run from its last checkpoint")
    precision: str = help_field("auto", "auto | fp32 | bf16 | fp16: auto is mixed precision on GPUs and fp32 on CPUs "
                                        "(bit-identical seeds); bf16 on a CPU with AMX/AVX512-BF16 trains faster")
    num_workers: int = help_field(0, "data loader worker processes")
    deepspeed: str | None = help_field(None, "DeepSpeed config JSON, passed to the Trainer untouched")
    fsdp: str | None = help_field(None, "FSDP options, passed to the Trainer untouched")
    extra: dict[str, Any] = help_field(help="more TrainingArguments, passed untouched (Python only)",
                                       default_factory=dict)

    def __post_init__(self) -> None:
        if self.patience == 0:
            self.patience = None

    def validate(self) -> None:
        """Reject impossible settings before any data or model is loaded."""
        if not self.model:
            raise ConfigError(no_model_message())
        if not self.data:
            raise ConfigError("No data given: pass --data (a GUE-style folder, a CSV/TSV/Parquet/FASTA file or a "
                              "dataset id).")
        if self.lr is not None and (self.lr < 0 or not math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be a non-negative number, got {self.lr}.")
        for name in ("batch_size", "grad_accum"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}.")
        if self.max_length is not None and self.max_length <= 1:
            raise ConfigError(f"--max-length must be at least 2 tokens, got {self.max_length}.")
        if self.max_steps is not None and self.max_steps <= 0:
            raise ConfigError(f"--max-steps must be a positive integer, got {self.max_steps}.")
        if self.max_steps is None and self.epochs <= 0:
            raise ConfigError(f"--epochs must be positive, got {self.epochs}.")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}.")
        if self.patience is not None and self.patience < 0:
            raise ConfigError(f"--patience must be 0 (off) or positive, got {self.patience}.")
        parse_label_names(self.label_names)  # raises for malformed --label-names
        parse_label_columns(self.label_columns)
        if self.problem_type is not None:
            get_problem(self.problem_type)
        if self.class_weights and self.problem_type is not None and get_problem(self.problem_type).name == REGRESSION:
            raise ConfigError("--class-weights weights classes (or, multi-label, each label's positives); it does not "
                              "apply to regression.")
        self.method_config()  # raises for an unknown method or bad method options

    def task_options(self) -> dict[str, Any]:
        """The keyword arguments of `hubtune.data.load_task` these settings give (the one mapping; `hubtune data`
        uses it too)."""
        return task_options(self)

    def method_config(self) -> MethodConfig:
        """The method as a validated config object (a fresh copy for names, so each seed starts clean)."""
        if isinstance(self.method, MethodConfig):
            return make_method(type(self.method)(**{f.name: getattr(self.method, f.name)
                                                    for f in fields(self.method) if f.init}))
        return make_method(self.method)

    @property
    def method_name(self) -> str:
        return self.method_config().name

    @property
    def learning_rate(self) -> float:
        return self.method_config().default_lr if self.lr is None else self.lr

    @property
    def seed_list(self) -> list[int]:
        return list(self.seeds) if self.seeds else [self.seed]

    def to_dict(self) -> dict[str, Any]:
        """The settings as recorded in hubtune.json (`training`); the method by name, its options in `method_config`."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("method", "extra")}
        data["method"] = self.method_name
        data["extra"] = {k: v for k, v in self.extra.items() if isinstance(v, str | int | float | bool | None)}
        data["learning_rate"] = self.learning_rate
        return data


def no_model_message() -> str:
    """The error for a run without a model: the families hubtune knows and the random-weight stand-ins."""
    families = "; ".join(f"{f.display_name}: {f.hub_ids[0]}" for f in FAMILIES.values() if f.hub_ids)
    return (f"No model given: pass --model with a Hub id or local folder of a sequence-classification model ({families}; "
            "or any other model with a sequence-classification head), or a random-weight stand-in for trying the tool "
            "out: " + ", ".join(TINY_MODELS) + " (their scores mean nothing biologically).")


def task_options(settings: Any) -> dict[str, Any]:
    """`load_task` keyword arguments from the data fields of `TrainConfig`, read from a config, parsed CLI arguments
    or a recorded `training` dict (missing fields take their defaults).

    Example:
        >>> task_options({"label_column": "y"})["seed"]
        42
    """
    def get(name: str) -> Any:
        value = settings.get(name) if isinstance(settings, dict) else getattr(settings, name, None)
        return default_of(name) if value is None else value

    problem = get("problem_type")
    return {
        "sequence_column": get("sequence_column"),
        "label_column": get("label_column"),
        "label_columns": get("label_columns"),
        "labels_file": get("labels_file"),
        "seed": get("data_seed"),
        "max_rows": get("max_rows"),
        "label_names": parse_label_names(get("label_names")),
        "problem_type": None if problem is None else get_problem(problem).name,
    }


def default_of(name: str) -> Any:
    """The default value of a `TrainConfig` field (so other configs never repeat it).

    Example:
        >>> default_of("batch_size")
        16
    """
    for f in fields(TrainConfig):
        if f.name == name:
            return f.default
    raise KeyError(name)


__all__ = ["PRECISIONS", "TrainConfig", "default_of", "task_options"]
