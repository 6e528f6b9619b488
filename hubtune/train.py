"""Fine-tuning: `finetune(TrainConfig(...))` runs one task end to end and writes a run folder.

Flow: load + validate data, leakage report (and optional dedup) -> resolve the model family -> tokenize once
(`datasets`) -> for each seed: seed, build the model, let the method prepare it, train with transformers' Trainer
(model selection on dev MCC, early stopping, best checkpoint reloaded the way users load it) -> pre-trained probe and
k-mer baselines on the same splits -> write the run folder atomically.

Runs under `accelerate launch` (several processes, DeepSpeed/FSDP configs) because the Trainer does; only the main
process writes files.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import TrainConfig
from .data import as_model_input, deduplicate, leakage_report, load_task
from .data.balance import imbalance_warnings
from .data.targets import stratify_keys
from .embedding_cache import base_embeddings
from .errors import ConfigError, DataError
from .evaluate import kmer_baseline, predict_logits
from .heads import LinearHead, fit_head_tuned
from .jsonio import write_json
from .methods import MethodConfig, quiet_deprecations, trainable_parameters
from .metrics import seed_summary, summary_text
from .models import load_base_model, load_tokenizer, resolve_model
from .models.output_layer import fold_output_scaling
from .problems import MULTI_LABEL, REGRESSION, SINGLE_LABEL, Problem, get_problem
from .progress import info, progress_enabled
from .run import (
    BASE_PROBE_FILE,
    LEAKAGE_FILE,
    METRICS_FILE,
    TRAINING_LOG_FILE,
    Run,
    RunInfo,
    library_versions,
)
from .run_output import claim_output, commit_run_folder, open_staging

SPLITS = ("train", "dev", "test")
EVAL_COST_SHARE = 0.2  # in-loop dev evaluation may cost at most about this share of training compute
# Train-split metrics come from a stratified sample (data seed) whose prediction costs about EVAL_COST_SHARE of the
# training compute, between these bounds.
TRAIN_METRICS_SAMPLE = (200, 1000)


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


def _trainer_class(class_weights: list[float] | None, eval_order: list[int], *, multi_label: bool = False):
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
        >>> loss_weights(get_problem("multi_label"), [(1, 0), (0, 0), (0, 1), (0, 1)], 2)
        [3.0, 1.0]
    """
    if problem.name == MULTI_LABEL:
        y = problem.label_array(labels)
        positives = y.sum(axis=0).astype(float)
        return np.where(positives > 0, (len(y) - positives) / np.maximum(positives, 1), 1.0).tolist()
    counts = np.bincount(labels, minlength=n_outputs).astype(float)
    return (counts.sum() / (n_outputs * np.maximum(counts, 1))).tolist()


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


def _world() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _is_main() -> bool:
    return _world()[0] == 0


def _log_lines_callback(problem: Problem):
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


def _checkpoint_is_complete(path: Path) -> bool:
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
    if last is not None and _checkpoint_is_complete(Path(last)):
        return Path(last)
    # The newest one was cut short: fall back to the newest complete one.
    complete = [p for p in directory.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
                if p.name.rsplit("-", 1)[-1].isdigit() and p.is_dir() and _checkpoint_is_complete(p)]
    return max(complete, key=lambda p: int(p.name.rsplit("-", 1)[-1])) if complete else None


@dataclass
class SeedResult:
    """What one training seed produced: scores, the trained model (or probe head), its log and costs."""

    seed: int
    scores: dict[str, dict[str, Any] | None]  # train/dev/test metrics
    trained: Any  # the model, or a LinearHead for the probe
    method: MethodConfig  # as applied (resolved LoRA targets, freeze depth)
    log_history: list[dict[str, Any]] = field(default_factory=list)
    trainable: int = 0
    total: int = 0
    train_seconds: float = 0.0
    best_step: int | None = None

    @property
    def dev(self) -> dict[str, Any]:
        return self.scores["dev"] or {}

    @property
    def test(self) -> dict[str, Any]:
        return self.scores["test"] or {}


@dataclass
class _Context:
    """What every seed of a run shares."""

    config: TrainConfig
    resolved: Any
    tokenizer: Any
    task: Any
    max_length: int
    datasets: dict[str, Any]
    work_dir: Path
    base_embeddings: dict[str, np.ndarray] | None
    problem: Problem
    # Regression: per-target (mean, sd) of train; the model trains on standardised targets.
    scaling: tuple[list[float], list[float]] | None = None
    total_steps: int = 0  # optimizer steps of the current seed's training

    @property
    def labels(self) -> list[str]:
        return list(self.task.label_names)

    def load_base(self) -> Any:
        return load_base_model(self.resolved.name, len(self.labels), label_names=self.labels, resolved=self.resolved,
                               trust_remote_code=self.config.trust_remote_code,
                               problem_type=self.problem.hf_problem_type)

    def unscale(self, values: np.ndarray) -> np.ndarray:
        """Model outputs or labels in standardised units -> the targets' own units (identity unless regression)."""
        if self.scaling is None:
            return values
        mean, sd = self.scaling
        return np.asarray(values, dtype=np.float64).reshape(len(values), -1) * np.asarray(sd) + np.asarray(mean)

    def score(self, splits: dict[str, tuple[list[Any], np.ndarray]], **kwargs: Any) -> dict[str, dict[str, Any]]:
        """Scores of logits per split (outputs in the targets' units), thresholds tuned on dev (multi-label)."""
        return self.problem.score_splits({s: (labels, self.problem.outputs(logits))
                                          for s, (labels, logits) in splits.items()}, self.labels, **kwargs)


def _fit_probe(ctx: _Context, method: Any, seed: int) -> SeedResult:
    assert ctx.base_embeddings is not None
    splits, emb = ctx.task.splits, ctx.base_embeddings
    start = time.perf_counter()
    head = method.fit(emb["train"], splits["train"].labels, emb["dev"], splits["dev"].labels, len(ctx.labels),
                      seed=seed, problem=ctx.problem.name)
    seconds = time.perf_counter() - start
    scores = ctx.score({s: (splits[s].labels, head.logits(emb[s])) for s in SPLITS})
    return SeedResult(seed, scores, head, method, trainable=head.n_parameters, total=head.n_parameters,
                      train_seconds=seconds)


def evaluation_interval(total_steps: int, n_dev: int, sequences_per_step: int) -> int:
    """Steps between dev evaluations: about ten per run, but never so often that evaluating costs more than about a
    fifth of training (a dev pass is one forward per dev sequence, a step three per training sequence), and at least
    once, at the last step.

    Example:
        >>> evaluation_interval(2000, 600, 32), evaluation_interval(15, 613, 8), evaluation_interval(200, 60, 32)
        (200, 15, 20)
    """
    affordable = math.ceil(n_dev / (EVAL_COST_SHARE * 3 * max(1, sequences_per_step)))
    return max(1, min(total_steps, max(math.ceil(total_steps / 10), affordable)))


def _training_arguments(ctx: _Context, seed: int, total_steps: int):
    import torch
    from transformers import TrainingArguments

    config = ctx.config
    per_step = config.batch_size * config.grad_accum * _world()[1]
    eval_steps = config.eval_steps or evaluation_interval(total_steps, len(ctx.task.splits["dev"]), per_step)
    passthrough = {k: v for k, v in (("deepspeed", config.deepspeed), ("fsdp", config.fsdp)) if v}

    return TrainingArguments(
        output_dir=str(ctx.work_dir / "checkpoints" / f"seed-{seed}"),
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size * 2,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        weight_decay=config.weight_decay,
        warmup_steps=int(config.warmup_ratio * total_steps),
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=ctx.problem.metric,
        greater_is_better=True,
        logging_steps=max(1, min(eval_steps, 10)),
        seed=seed,
        data_seed=seed,
        train_sampling_strategy="group_by_length",
        report_to="none",
        disable_tqdm=not (_is_main() and progress_enabled()),
        dataloader_num_workers=config.num_workers,
        remove_unused_columns=False,
        use_cpu=not torch.cuda.is_available(),
        **precision_flags(config.precision),
        **passthrough,
        **config.extra,
    )


def _train_one_seed(ctx: _Context, seed: int) -> SeedResult:
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, set_seed
    from transformers.trainer_callback import PrinterCallback

    config, task = ctx.config, ctx.task
    method = config.method_config()
    if not method.uses_trainer:
        return _fit_probe(ctx, method, seed)

    # Seed before the model and the adapter are built: LoRA's random A matrices and the new head depend on it.
    set_seed(seed)
    model = method.prepare(ctx.load_base(), ctx.resolved.family)
    trainable, total = trainable_parameters(model)
    world_size = _world()[1]
    n_train = len(task.splits["train"].labels)
    steps_per_epoch = max(1, math.ceil(n_train / (config.batch_size * config.grad_accum * world_size)))
    total_steps = config.max_steps or math.ceil(steps_per_epoch * config.epochs)
    class_weights = loss_weights(ctx.problem, task.splits["train"].labels, len(ctx.labels)) if config.class_weights \
        else None
    ctx.total_steps = total_steps
    args = _training_arguments(ctx, seed, total_steps)

    dev_logits: dict[int, np.ndarray] = {}  # step -> dev logits of that evaluation (the kept one is reused)
    dev_lengths = [len(ids) for ids in ctx.datasets["dev"]["input_ids"]]
    eval_order = sorted(range(len(dev_lengths)), key=lambda i: -dev_lengths[i])

    def trainer_metrics(eval_pred) -> dict[str, float]:
        logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        if world_size == 1 and len(logits) == len(eval_order):
            in_row_order = np.empty_like(np.asarray(logits, dtype=np.float32))
            in_row_order[eval_order] = logits
            dev_logits[trainer.state.global_step] = in_row_order
        labels = eval_pred.label_ids if ctx.scaling is None else ctx.unscale(eval_pred.label_ids)
        outputs = ctx.problem.outputs(ctx.unscale(logits))
        # Logged floats only; multi-label F1 at 0.5 here (thresholds are tuned once, on the kept model).
        scores = ctx.problem.score(labels if ctx.problem.name == SINGLE_LABEL else [tuple(row) for row in labels],
                                   outputs, ctx.labels, interval=False)
        return {k: v for k, v in scores.items() if isinstance(v, float)}

    trainer = _trainer_class(class_weights, eval_order, multi_label=ctx.problem.name == MULTI_LABEL)(
        model=model,
        args=args,
        train_dataset=ctx.datasets["train"],
        eval_dataset=ctx.datasets["dev"],
        data_collator=DataCollatorWithPadding(ctx.tokenizer),
        processing_class=ctx.tokenizer,
        compute_metrics=trainer_metrics,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=config.patience)] if config.patience else [],
    )
    # Keep stdout for results: the Trainer's raw log dicts become short lines on stderr.
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(_log_lines_callback(ctx.problem))
    resume_from = last_complete_checkpoint(args.output_dir) if config.resume else None
    if resume_from:
        info(f"resuming seed {seed} from {resume_from}")
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - start
    best_checkpoint = trainer.state.best_model_checkpoint
    best_step = int(Path(best_checkpoint).name.rsplit("-", 1)[-1]) if best_checkpoint else None
    placeholder = {ctx.problem.metric: 0.0}
    result = SeedResult(seed, {"train": None, "dev": placeholder, "test": placeholder}, None, method,
                        list(trainer.state.log_history), trainable, total, seconds, best_step)
    if not _is_main():
        return result
    # Reload the kept model exactly as users will (the method's own loader on the saved checkpoint). The Trainer's
    # in-place best-checkpoint restore is not reliable here: it misses peft's modules_to_save, and transformers 5
    # saves some LayerNorms as gamma/beta that a raw state-dict load skips.
    if best_checkpoint and Path(best_checkpoint).is_dir():
        best_dir = Path(best_checkpoint)
    else:
        best_dir = ctx.work_dir / "checkpoints" / f"best-seed-{seed}"
        trainer.accelerator.unwrap_model(trainer.model).save_pretrained(str(best_dir), safe_serialization=True)
    result.trained = method.load_model(best_dir, ctx.load_base, num_labels=len(ctx.labels), label_names=ctx.labels)
    if ctx.scaling is not None:  # saved (and scored) in the targets' own units
        fold_output_scaling(result.trained, ctx.scaling[1], ctx.scaling[0])
    kept_dev = dev_logits.get(best_step) if best_checkpoint else None
    result.scores = _final_scores(ctx, result.trained, None if kept_dev is None else ctx.unscale(kept_dev))
    return result


def _final_scores(ctx: _Context, model: Any, dev_logits: np.ndarray | None) -> dict[str, dict[str, Any]]:
    """Scores of the kept model: test in full; dev from the Trainer's evaluation of that very checkpoint when there
    was one (the same computation); train from a stratified sample sized to the run (`TRAIN_METRICS_SAMPLE`),
    labelled `sampled_from`."""
    task, batch_size = ctx.task, ctx.config.batch_size * 2
    trained_on = ctx.total_steps * ctx.config.batch_size * ctx.config.grad_accum * _world()[1]
    low, high = TRAIN_METRICS_SAMPLE
    budget = min(high, max(low, int(EVAL_COST_SHARE * 3 * trained_on)))
    train_rows = _train_sample(stratify_keys(task.splits["train"].labels, ctx.problem.name), budget,
                               ctx.config.data_seed)
    sequences = {"train": [task.splits["train"].sequences[i] for i in train_rows],
                 "dev": None if dev_logits is not None else task.splits["dev"].sequences,
                 "test": task.splits["test"].sequences}
    wanted = [s for s in SPLITS if sequences[s] is not None]
    # One length-sorted pass over everything that still needs predicting.
    joined = [seq for s in wanted for seq in sequences[s]]
    logits = predict_logits(model, ctx.tokenizer, joined, max_length=ctx.max_length, batch_size=batch_size)
    by_split: dict[str, np.ndarray] = {}
    start = 0
    for s in wanted:
        by_split[s] = logits[start:start + len(sequences[s])]
        start += len(sequences[s])
    if dev_logits is not None:
        by_split["dev"] = dev_logits
    labels = {"train": [task.splits["train"].labels[i] for i in train_rows], "dev": task.splits["dev"].labels,
              "test": task.splits["test"].labels}
    scores = ctx.score({s: (labels[s], by_split[s]) for s in SPLITS})
    if len(train_rows) < len(task.splits["train"]):
        scores["train"]["sampled_from"] = len(task.splits["train"])
    return scores


def _train_sample(labels: list[int], limit: int, seed: int) -> list[int]:
    """Row indices of a sample of at most `limit` rows (all rows when there are fewer), in row order, stratified by
    `labels` (group ids, see `hubtune.data.targets.stratify_keys`)."""
    if len(labels) <= limit:
        return list(range(len(labels)))
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(labels))
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 else None
    picked, _ = train_test_split(rows, train_size=limit, random_state=seed, stratify=stratify)
    return sorted(int(i) for i in picked)


# ---------------------------------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------------------------------


def _base_probe(ctx: _Context, seed: int) -> tuple[dict[str, np.ndarray], LinearHead]:
    """Pre-trained probe: frozen base + a linear head (logistic, one-vs-rest logistic or ridge regression): a
    baseline, and the probe method's features."""
    from transformers import set_seed

    set_seed(seed)

    def load_base() -> Any:
        info("extracting pre-trained embeddings for the probe baseline")
        return ctx.load_base()

    embeddings, hits = base_embeddings(ctx.resolved, load_base, ctx.tokenizer,
                                       {split: ctx.task.splits[split].sequences for split in SPLITS},
                                       max_length=ctx.max_length, batch_size=ctx.config.batch_size * 2, progress=True)
    if hits:
        info(f"pre-trained embeddings of {hits} split(s) reused from the cache")
    splits = ctx.task.splits
    head, _ = fit_head_tuned(ctx.problem, embeddings["train"], splits["train"].labels, embeddings["dev"],
                             splits["dev"].labels, len(ctx.labels), seed=seed)
    return embeddings, head


def _metrics(ctx: _Context, results: list[SeedResult], best: SeedResult,
             base_head: LinearHead | None) -> dict[str, Any]:
    """metrics.json: the shipped (best-on-dev) seed's scores per split, the baselines, every seed, and `summary`,
    the one test-MCC statistic of the run (`hubtune.metrics.seed_summary`) that every output reports."""
    task, labels = ctx.task, ctx.labels
    metrics: dict[str, Any] = {"finetuned": {"seed": best.seed, "train": best.scores["train"], "dev": best.dev,
                                             "test": best.test}}
    if ctx.config.baselines and ctx.base_embeddings is not None and base_head is not None:
        metrics["probe"] = ctx.score({split: (task.splits[split].labels, base_head.logits(ctx.base_embeddings[split]))
                                      for split in ("dev", "test")})
        train = task.splits["train"]
        metrics["kmer"] = kmer_baseline(
            train.sequences, train.labels,
            {s: (task.splits[s].sequences, task.splits[s].labels) for s in ("dev", "test")},
            len(labels), labels, seed=ctx.config.seed_list[0], problem=ctx.problem,
        )
    metrics["per_seed"] = [
        {"seed": r.seed, "dev": r.dev, "test": r.test, "train_seconds": r.train_seconds, "best_step": r.best_step}
        for r in results
    ]
    metrics["summary"] = {"finetuned": seed_summary([r.test for r in results], [r.seed for r in results], best.seed,
                                                    metric=ctx.problem.metric)}
    return metrics


def _examples(task: Any, per_class: int = 2) -> list[dict[str, str]]:
    """A few test sequences per class, or the first few with their labels or values (the Space offers them as
    clickable examples)."""
    test = task.splits["test"]
    picked: list[dict[str, str]] = []
    if task.problem_type != SINGLE_LABEL:
        for i in range(min(len(test), 2 * per_class)):
            picked.append({"id": test.ids[i], "sequence": test.sequences[i][:2000],
                           "label": get_problem(task.problem_type).label_text(task.label_names, test.labels[i])})
        return picked
    for label_id, label in enumerate(task.label_names):
        rows = [i for i, y in enumerate(test.labels) if y == label_id][:per_class]
        picked += [{"id": test.ids[i], "sequence": test.sequences[i][:2000], "label": label} for i in rows]
    return picked


def _load_checked_task(config: TrainConfig):
    task = load_task(config.data, **config.task_options())
    for warning in [*task.warnings, *imbalance_warnings(task, class_weights=config.class_weights)]:
        info(f"warning: {warning}")
    leakage = leakage_report(task)
    for line in leakage.summary_lines():
        info(line)
    if config.dedup:
        task = deduplicate(task, leakage)
        info(task.warnings[-1])
    for split in SPLITS:
        if split not in task.splits or not len(task.splits[split]):
            raise DataError(f"The {split} split of {config.data} is empty after loading; hubtune needs train, dev "
                            "and test.")
    return task, leakage


def finetune(config: TrainConfig) -> Run | None:
    """Fine-tune a genomic LM on a labelled DNA task and write a run folder.

    Returns the finished `Run` (on the main process; other `accelerate launch` processes get None).

    Example:
        >>> run = hubtune.finetune(hubtune.TrainConfig(model="tiny-nt", data="path/to/task", max_steps=200))  # doctest: +SKIP
        >>> run.metrics["finetuned"]["test"]["mcc"]  # doctest: +SKIP
    """
    if not isinstance(config, TrainConfig):
        raise ConfigError("finetune() takes a TrainConfig: hubtune.finetune(hubtune.TrainConfig(model=..., data=...)).")
    config.validate()
    method = config.method_config()
    output = Path(config.output or f"runs/{Path(str(config.data)).name or 'task'}-{method.name}")
    staging = claim_output(output, overwrite=config.overwrite, resume=config.resume, main_process=_is_main())

    task, leakage = _load_checked_task(config)
    resolved = resolve_model(config.model, revision=config.revision)
    family = resolved.family
    method.check_model(resolved.config.get("num_hidden_layers"))
    tokenizer = load_tokenizer(config.model, resolved=resolved, trust_remote_code=config.trust_remote_code)
    longest = max(len(s) for s in task.splits["train"].sequences)
    max_length = config.max_length or family.default_max_length(longest)
    window_bp = family.window_bp(max_length)
    problem = get_problem(task.problem_type)
    if config.class_weights and problem.name == REGRESSION:
        raise ConfigError(f"--class-weights weights classes or labels, but {config.data} holds numbers (regression: "
                          f"{', '.join(task.label_names)}); leave the option out.")
    info(f"model {config.model} ({family.display_name}), method {method.name}, max length {max_length} tokens "
         f"(~{window_bp} bp), {len(task.splits['train'])} train / {len(task.splits['dev'])} dev / "
         f"{len(task.splits['test'])} test sequences; {problem.description}")
    scaling = target_scaling(task.splits["train"].labels) if problem.name == REGRESSION else None
    datasets = {split: tokenize_split(tokenizer, task.splits[split].sequences,
                                      training_labels(problem, task.splits[split].labels, scaling), max_length)
                for split in SPLITS}
    if _is_main():
        # Created only now that data and model are known to be usable: a refused run leaves nothing behind.
        open_staging(staging, overwrite=config.overwrite, resume=config.resume)
    if not method.uses_trainer and not _is_main():
        return None
    ctx = _Context(config, resolved, tokenizer, task, max_length, datasets, staging, None, problem, scaling)
    base_head = None
    if (config.baselines or not method.uses_trainer) and _is_main():
        ctx.base_embeddings, base_head = _base_probe(ctx, config.seed_list[0])

    results: list[SeedResult] = []
    with quiet_deprecations():
        for seed in config.seed_list:
            info(f"training seed {seed}")
            results.append(_train_one_seed(ctx, seed))
    if not _is_main():
        return None

    best = max(results, key=lambda r: problem.headline(r.dev) or -math.inf)
    metrics = _metrics(ctx, results, best, base_head)
    info(f"fine-tuned test {problem.metric_label} {summary_text(metrics['summary']['finetuned'])}")
    tokenizer.save_pretrained(str(staging))
    best.method.save(best.trained, staging, base_model=resolved.name, base_revision=resolved.revision)
    if base_head is not None:
        base_head.save(staging / BASE_PROBE_FILE, pooling="mean", layer="last")
    run_info = RunInfo(
        task=task.name,
        data_source=str(config.data),
        split_origin=task.split_origin,
        split_sizes={s: len(task.splits[s].labels) for s in SPLITS},
        label_names=list(task.label_names),
        family=family.name,
        base_model=resolved.name,
        base_model_revision=resolved.revision,
        method=best.method.name,
        method_config=best.method.to_dict(),
        max_length=max_length,
        window_bp=window_bp,
        stride_bp=max(1, window_bp // 2),
        seeds=config.seed_list,
        best_seed=best.seed,
        trainable_parameters=best.trainable,
        total_parameters=best.total,
        train_seconds=sum(r.train_seconds for r in results),
        world_size=_world()[1],
        training=config.to_dict(),
        dedup=config.dedup,
        versions=library_versions(),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        examples=_examples(task),
        dataset=task.dataset,
        problem_type=problem.name,
        thresholds=best.test.get("thresholds"),
    )
    write_json(staging / LEAKAGE_FILE, leakage.to_dict())
    write_json(staging / TRAINING_LOG_FILE, {f"seed-{r.seed}": r.log_history for r in results})
    write_json(staging / METRICS_FILE, metrics)
    shutil.rmtree(staging / "checkpoints", ignore_errors=True)
    run_info.write(staging)  # last: its presence marks a complete run
    commit_run_folder(staging, output, overwrite=config.overwrite)
    return Run(output)


__all__ = ["SeedResult", "TrainConfig", "finetune", "last_complete_checkpoint", "precision_flags", "tokenize_split"]
