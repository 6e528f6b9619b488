"""`PretrainConfig`: every masked-LM pre-training setting with its default and help, once (the CLI is generated)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from ..errors import ConfigError
from ..methods import help_field

PRETRAIN_METHODS = ("full", "lora")
DEFAULT_LR = {"full": 1e-4, "lora": 5e-4}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

__all__ = ["DEFAULT_LR", "PRETRAIN_METHODS", "PretrainConfig"]


@dataclass
class PretrainConfig:
    """Everything that defines a masked-LM pre-training run (continued pre-training of a genomic LM on DNA).

    Example:
        >>> PretrainConfig(model="tiny-nt", data="genome.fa.gz", output="runs/nt-adapted", max_steps=300)
        ... # doctest: +SKIP
    """

    model: str = help_field("", "model to continue pre-training: Hub id, local folder or a tiny stand-in; required")
    data: str = help_field("", "unlabelled DNA: FASTA/FASTA.gz (long records cut into windows, N runs skipped, "
                               "lowercase accepted), a text file with one sequence per line, a CSV/TSV/Parquet file "
                               "with a sequence column, a folder of such files, or a dataset id; required")
    output: str = help_field("", "folder to write the pre-trained model to (new, empty, or an earlier "
                                 "`hubtune pretrain` output with --overwrite); required")
    method: str = help_field("full", "full (every weight) | lora (adapters merged into the weights before writing)")
    epochs: float = help_field(1.0, "passes over the training windows (ignored when --max-steps is given)")
    max_steps: int | None = help_field(None, "optimisation steps (overrides --epochs)")
    lr: float | None = help_field(None, "learning rate (default: full " + f"{DEFAULT_LR['full']:g}, lora "
                                  f"{DEFAULT_LR['lora']:g})")
    batch_size: int = help_field(16, "windows per device and step")
    grad_accum: int = help_field(1, "gradient accumulation steps")
    mlm_probability: float = help_field(0.15, "share of tokens masked (80% become the mask token, 10% a random "
                                              "token, 10% stay; held-out evaluation masks them all)")
    chunk_bp: int = help_field(600, "window length in base pairs: longer records are cut into windows")
    stride_bp: int | None = help_field(None, "step between window starts in base pairs (default: --chunk-bp, no "
                                             "overlap)")
    min_chunk_bp: int = help_field(30, "shortest window kept (N-free stretches and record ends below it are dropped)")
    eval_fraction: float = help_field(0.05, "share of the corpus held out for the masked-LM loss before and after "
                                            "(whole short records, or the end of each long one)")
    eval_max_windows: int = help_field(256, "at most this many held-out windows are scored")
    eval_steps: int | None = help_field(None, "score the held-out windows every N steps (default: ~5 times per run)")
    max_length: int | None = help_field(None, "max tokens per window (default: what --chunk-bp needs)")
    max_sequences: int | None = help_field(None, "read at most this many input records (quick experiments)")
    sequence_column: str = help_field("sequence", "column holding the DNA (CSV/TSV/Parquet, datasets)")
    lora_r: int = help_field(8, "with --method lora: adapter rank")
    seed: int = help_field(42, "seed of masking, batch order and the held-out split")
    weight_decay: float = help_field(0.01, "AdamW weight decay")
    warmup_ratio: float = help_field(0.05, "fraction of steps with linear learning-rate warm-up")
    trust_remote_code: bool = help_field(False, "run Python code from the model repo")
    revision: str | None = help_field(None, "model revision (branch, tag or commit) on the Hub")
    overwrite: bool = help_field(False, "replace an earlier `hubtune pretrain` output at --output (only if it holds "
                                        "nothing hubtune did not write)")
    resume: bool = help_field(False, "continue an interrupted pre-training from its last checkpoint")
    precision: str = help_field("auto", "auto | fp32 | bf16 | fp16 (mixed precision on GPUs)")
    extra: dict[str, Any] = help_field(help="more TrainingArguments, passed untouched (Python only)",
                                       default_factory=dict)

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.method] if self.lr is None else self.lr

    @property
    def stride(self) -> int:
        return self.stride_bp or self.chunk_bp

    def validate(self) -> None:
        """Reject impossible settings before any data or model is loaded."""
        for name in ("model", "data", "output"):
            if not getattr(self, name):
                raise ConfigError(f"hubtune pretrain needs --{name}.")
        if self.method not in PRETRAIN_METHODS:
            raise ConfigError(f"--method must be one of {', '.join(PRETRAIN_METHODS)} for pre-training, got "
                              f"{self.method!r}.")
        if self.lr is not None and (self.lr < 0 or not math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be a non-negative number, got {self.lr}.")
        for name in ("batch_size", "grad_accum", "chunk_bp", "min_chunk_bp", "eval_max_windows", "lora_r"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}.")
        if self.stride_bp is not None and not 0 < self.stride_bp:
            raise ConfigError(f"--stride-bp must be a positive integer, got {self.stride_bp}.")
        if self.min_chunk_bp > self.chunk_bp:
            raise ConfigError(f"--min-chunk-bp ({self.min_chunk_bp}) cannot exceed --chunk-bp ({self.chunk_bp}).")
        if not 0 < self.mlm_probability < 1:
            raise ConfigError(f"--mlm-probability must be between 0 and 1, got {self.mlm_probability}.")
        if not 0 < self.eval_fraction < 1:
            raise ConfigError(f"--eval-fraction must be between 0 and 1, got {self.eval_fraction}.")
        if self.max_steps is not None and self.max_steps <= 0:
            raise ConfigError(f"--max-steps must be a positive integer, got {self.max_steps}.")
        if self.max_steps is None and self.epochs <= 0:
            raise ConfigError(f"--epochs must be positive, got {self.epochs}.")
        if self.max_length is not None and self.max_length <= 2:
            raise ConfigError(f"--max-length must be at least 3 tokens, got {self.max_length}.")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}.")

    def to_dict(self) -> dict[str, Any]:
        """The settings as recorded in pretraining.json."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        data["extra"] = {k: v for k, v in self.extra.items() if isinstance(v, str | int | float | bool | None)}
        data["learning_rate"] = self.learning_rate
        return data
