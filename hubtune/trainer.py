"""The pieces of a fine-tuning run around transformers' Trainer: tokenized splits and the labels the loss takes,
loss weights, the Trainer subclass (eval order, weighted losses), precision flags, the process rank, log lines,
checkpoints that can be resumed, and how often to evaluate. `hubtune.train` runs them.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .data import as_model_input
from .problems import MULTI_LABEL, SINGLE_LABEL, Problem
from .progress import info, progress_enabled

EVAL_COST_SHARE = 0.2  # in-loop dev evaluation may cost at most about this share of training compute


# ---------------------------------------------------------------------------------------------------------------------
# Tokenized splits
# ---------------------------------------------------------------------------------------------------------------------


def tokenize_split(tokenizer: Any, sequences: list[str], labels: list[Any], max_length: int):
    """A `datasets.Dataset` of token ids, attention masks and labels, truncated to `max_length` (not padded).

    Padding happens per batch (`DataCollatorWithPadding`), so a batch is only as long as its longest sequence.
    `labels` are class ids, or one list of floats per row (multi-label 0/1, regression targets).

    Example:
        >>> tokenize_split(tokenizer, ["ACGTAC"], [1], max_length=8).column_names  # doctest: +SKIP
        ['input_ids', 'attention_mask', 'labels']
    """
    from datasets import Dataset

    encoded = tokenizer(as_model_input(sequences), truncation=True, max_length=max_length, return_token_type_ids=False)
    return Dataset.from_dict({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                              "labels": list(labels)})


def target_scaling(labels: list[tuple[float, ...]]) -> tuple[list[float], list[float]]:
    """Per-target mean and sd of the train targets (sd 1 for a constant target): regression trains on
    `(value - mean) / sd`, and the shipped model has the inverse folded into its output layer.

    Example:
        >>> target_scaling([(1.0,), (3.0,)])
        ([2.0], [1.0])
    """
    values = np.asarray(labels, dtype=np.float64).reshape(len(labels), -1)
    sd = values.std(axis=0)
    return values.mean(axis=0).tolist(), np.where(sd > 0, sd, 1.0).tolist()


def training_labels(problem: Problem, labels: list[Any], scaling: tuple[list[float], list[float]] | None) -> list[Any]:
    """Labels as the loss takes them: class ids, 0/1 floats per label (BCE), standardised floats per target (MSE).

    Example:
        >>> from hubtune.problems import get_problem
        >>> training_labels(get_problem("regression"), [(1.0,), (3.0,)], ([2.0], [1.0]))
        [[-1.0], [1.0]]
    """
    if problem.name == SINGLE_LABEL:
        return [int(y) for y in labels]
    if scaling is None:
        return [[float(v) for v in y] for y in labels]
    mean, sd = scaling
    return [[(float(v) - m) / d for v, m, d in zip(y, mean, sd, strict=True)] for y in labels]


# ---------------------------------------------------------------------------------------------------------------------
# Trainer
# ---------------------------------------------------------------------------------------------------------------------


def trainer_class(class_weights: list[float] | None, eval_order: list[int], *, multi_label: bool = False):
    """transformers' Trainer, evaluating in `eval_order` (dev sorted by length, longest first: little padding, and a
    known order, so the kept checkpoint's dev logits can be reused) and, when asked, weighting the loss per class
    (cross-entropy weights) or, for multi-label tasks, per label (BCE positive weights)."""
    from transformers import Trainer

    class HubtuneTrainer(Trainer):
        def _get_eval_sampler(self, eval_dataset):
            if self.args.world_size > 1 or eval_dataset is None or len(eval_dataset) != len(eval_order):
                return super()._get_eval_sampler(eval_dataset)
            return eval_order

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if class_weights is None:
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)
            import torch

            labels = inputs.pop("labels")
            outputs = model(**inputs)
            weight = torch.tensor(class_weights, dtype=outputs.logits.dtype, device=outputs.logits.device)
            if multi_label:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    outputs.logits, labels.to(outputs.logits.dtype), pos_weight=weight)
            else:
                loss = torch.nn.functional.cross_entropy(outputs.logits, labels, weight=weight)
            return (loss, outputs) if return_outputs else loss

    return HubtuneTrainer


def loss_weights(problem: Problem, labels: list[Any], n_outputs: int) -> list[float]:
    """`--class-weights`: inverse class frequency (single-label: n / (classes * count)), or per-label positive weights
    (multi-label: negatives / positives in train, 1 for a label without positives).

    Example:
        >>> from hubtune.problems import get_problem
        >>> loss_weights(get_problem("multi_label"), [(1, 0), (0, 0), (0, 1), (0, 1)], 2)
        [3.0, 1.0]
    """
    if problem.name == MULTI_LABEL:
        y = problem.label_array(labels)
        positives = y.sum(axis=0).astype(float)
        return np.where(positives > 0, (len(y) - positives) / np.maximum(positives, 1), 1.0).tolist()
    counts = np.bincount(labels, minlength=n_outputs).astype(float)
    return (counts.sum() / (n_outputs * np.maximum(counts, 1))).tolist()


def training_arguments(*, output_dir: str | Path, seed: int, precision: str, extra: dict[str, Any] | None = None,
                       **settings: Any) -> Any:
    """transformers' `TrainingArguments` with what every hubtune training shares (fine-tuning and pre-training):
    the seed of the model and of the data order, no external reporting, progress bars on the main process only (and
    when enabled), the CPU when there is no CUDA, the `--precision` flags. `settings` are the run's own;
    `extra` (Python-only pass-through, `TrainConfig.extra`) wins over everything.

    Example:
        >>> training_arguments(output_dir="out", seed=1, precision="fp32", max_steps=10).data_seed  # doctest: +SKIP
        1
    """
    import torch
    from transformers import TrainingArguments

    shared: dict[str, Any] = {
        "output_dir": str(output_dir), "seed": seed, "data_seed": seed, "report_to": "none",
        "disable_tqdm": not (is_main_process() and progress_enabled()), "use_cpu": not torch.cuda.is_available(),
        **precision_flags(precision),
    }
    return TrainingArguments(**{**shared, **settings, **(extra or {})})


def precision_flags(precision: str) -> dict[str, bool]:
    """TrainingArguments flags for `--precision`.

    GPUs: `auto` picks bf16 where supported, else fp16. CPUs: fp32 unless `bf16` is asked for explicitly (bf16
    autocast; fast on CPUs with AMX / AVX512-BF16, but no longer bit-identical to fp32, so never the default); fp16
    is GPU-only and falls back to fp32 on a CPU.

    Example:
        >>> precision_flags("fp32")
        {}
    """
    import torch

    if precision == "fp32":
        return {}
    if not torch.cuda.is_available():
        return {"bf16": True} if precision == "bf16" else {}
    if precision == "bf16" or (precision == "auto" and torch.cuda.is_bf16_supported()):
        return {"bf16": True}
    return {"fp16": True}


def world() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return world()[0] == 0


def log_lines_callback(problem: Problem):
    """A Trainer callback printing one readable line per log event (main process only) to stderr."""
    from transformers import TrainerCallback

    class LogLines(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            if f"eval_{problem.metric}" in logs:
                info(f"  step {state.global_step}: dev loss {logs.get('eval_loss', float('nan')):.4f}, "
                     f"dev {problem.metric_label} {logs[f'eval_{problem.metric}']:.3f}")
            elif "loss" in logs:
                info(f"  step {state.global_step}: train loss {logs['loss']:.4f}")

    return LogLines()


def checkpoint_is_complete(path: Path) -> bool:
    """The Trainer writes trainer_state.json last and not atomically: a kill can leave it truncated."""
    try:
        json.loads((path / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def last_complete_checkpoint(directory: str | Path) -> Path | None:
    """The newest `checkpoint-N` in `directory` whose trainer state was written completely, or None.

    Example:
        >>> last_complete_checkpoint("runs/tata-lora.partial/checkpoints/seed-42")  # doctest: +SKIP
        PosixPath('runs/tata-lora.partial/checkpoints/seed-42/checkpoint-200')
    """
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

    directory = Path(directory)
    if not directory.is_dir():
        return None
    last = get_last_checkpoint(str(directory))
    if last is not None and checkpoint_is_complete(Path(last)):
        return Path(last)
    # The newest one was cut short: fall back to the newest complete one.
    complete = [p for p in directory.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
                if p.name.rsplit("-", 1)[-1].isdigit() and p.is_dir() and checkpoint_is_complete(p)]
    return max(complete, key=lambda p: int(p.name.rsplit("-", 1)[-1])) if complete else None


def evaluation_interval(total_steps: int, n_dev: int, sequences_per_step: int) -> int:
    """Steps between dev evaluations: about ten per run, but never so often that evaluating costs more than about a
    fifth of training (a dev pass is one forward per dev sequence, a step three per training sequence), and spread
    evenly: the Trainer also evaluates at the last step, so the last segment is never a short one whose evaluation
    costs more than its share.

    Example:
        >>> evaluation_interval(2000, 600, 32), evaluation_interval(15, 613, 8), evaluation_interval(200, 60, 32)
        (200, 15, 20)
    """
    affordable = math.ceil(n_dev / (EVAL_COST_SHARE * 3 * max(1, sequences_per_step)))
    wanted = max(math.ceil(total_steps / 10), affordable)
    evaluations = max(1, total_steps // max(1, wanted))
    return max(1, math.ceil(total_steps / evaluations))




__all__ = ["EVAL_COST_SHARE", "training_arguments", "checkpoint_is_complete", "evaluation_interval", "is_main_process",
           "last_complete_checkpoint", "log_lines_callback", "loss_weights", "precision_flags", "target_scaling",
           "tokenize_split", "trainer_class", "training_labels", "world"]
