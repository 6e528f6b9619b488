"""Fine-tuning: `finetune(TrainConfig(...))` runs one task end to end and writes a run folder.

Flow: load + validate data, leakage report (and optional dedup) -> resolve the model family -> tokenize once
(`datasets`) -> for each seed: seed, build the model, let the method prepare it, train with transformers' Trainer
(`hubtune.trainer`; model selection on the problem's dev metric — MCC, macro AUPRC or Spearman —, early stopping,
best checkpoint reloaded the way users load it) -> pre-trained probe and k-mer baselines on the same splits -> write
the run folder atomically.

Runs under `accelerate launch` (several processes, DeepSpeed/FSDP configs) because the Trainer does; only the main
process writes files.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import TrainConfig
from .data import deduplicate, leakage_report, load_task
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
from .progress import info
from .run import (
    BASE_PROBE_FILE,
    LEAKAGE_FILE,
    METRICS_FILE,
    TRAINING_LOG_FILE,
    Run,
    RunInfo,
    library_versions,
    write_test_outputs,
)
from .run_output import claim_output, commit_run_folder, open_staging
from .trainer import (
    evaluation_interval,
    is_main_process,
    last_complete_checkpoint,
    log_lines_callback,
    loss_weights,
    target_scaling,
    tokenize_split,
    trainer_class,
    training_arguments,
    training_labels,
    world,
)

SPLITS = ("train", "dev", "test")
# Train-split metrics (for the train-dev gap) come from a stratified sample (data seed) whose prediction costs about
# TRAIN_METRICS_SHARE of the training compute, between these bounds.
TRAIN_METRICS_SAMPLE = (200, 1000)
TRAIN_METRICS_SHARE = 0.05


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
    test_outputs: np.ndarray | None = None  # outputs on the test split (targets' units), as scored

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
                      train_seconds=seconds, test_outputs=ctx.problem.outputs(head.logits(emb["test"])))


def _training_arguments(ctx: _Context, seed: int, total_steps: int):
    config = ctx.config
    per_step = config.batch_size * config.grad_accum * world()[1]
    eval_steps = config.eval_steps or evaluation_interval(total_steps, len(ctx.task.splits["dev"]), per_step)
    passthrough = {k: v for k, v in (("deepspeed", config.deepspeed), ("fsdp", config.fsdp)) if v}
    return training_arguments(
        output_dir=ctx.work_dir / "checkpoints" / f"seed-{seed}",
        seed=seed,
        precision=config.precision,
        extra=config.extra,
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
        train_sampling_strategy="group_by_length",
        dataloader_num_workers=config.num_workers,
        remove_unused_columns=False,
        **passthrough,
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
    world_size = world()[1]
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
        scores = ctx.problem.score(labels, outputs, ctx.labels, interval=False)
        return {k: v for k, v in scores.items() if isinstance(v, float)}

    trainer = trainer_class(class_weights, eval_order, multi_label=ctx.problem.name == MULTI_LABEL)(
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
    trainer.add_callback(log_lines_callback(ctx.problem))
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
    if not is_main_process():
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
    # The Trainer's dev logits are reused only when they are what the saved model computes: not under mixed precision
    # (reported metrics are always those of the saved weights run in fp32, as users load them).
    mixed = bool(args.bf16 or args.fp16)
    kept_dev = dev_logits.get(best_step) if best_checkpoint and not mixed else None
    result.scores, result.test_outputs = _final_scores(ctx, result.trained,
                                                       None if kept_dev is None else ctx.unscale(kept_dev))
    return result


def _final_scores(ctx: _Context, model: Any,
                  dev_logits: np.ndarray | None) -> tuple[dict[str, dict[str, Any]], np.ndarray]:
    """Scores of the kept model, and its outputs on test: test in full; dev from the Trainer's evaluation of that
    very checkpoint when there was one (the same computation); train from a stratified sample sized to the run
    (`TRAIN_METRICS_SAMPLE`), labelled `sampled_from`."""
    task, batch_size = ctx.task, ctx.config.batch_size * 2
    trained_on = ctx.total_steps * ctx.config.batch_size * ctx.config.grad_accum * world()[1]
    low, high = TRAIN_METRICS_SAMPLE
    budget = min(high, max(low, int(TRAIN_METRICS_SHARE * 3 * trained_on)))
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
    return scores, ctx.problem.outputs(by_split["test"])


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
    staging = claim_output(output, overwrite=config.overwrite, resume=config.resume, main_process=is_main_process())

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
    if is_main_process():
        # Created only now that data and model are known to be usable: a refused run leaves nothing behind.
        open_staging(staging, overwrite=config.overwrite, resume=config.resume)
    if not method.uses_trainer and not is_main_process():
        return None
    ctx = _Context(config, resolved, tokenizer, task, max_length, datasets, staging, None, problem, scaling)
    base_head = None
    if (config.baselines or not method.uses_trainer) and is_main_process():
        ctx.base_embeddings, base_head = _base_probe(ctx, config.seed_list[0])

    results: list[SeedResult] = []
    with quiet_deprecations():
        for seed in config.seed_list:
            info(f"training seed {seed}")
            results.append(_train_one_seed(ctx, seed))
    if not is_main_process():
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
        world_size=world()[1],
        training=config.to_dict(),
        dedup=config.dedup,
        versions=library_versions(),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        examples=_examples(task),
        dataset=task.dataset,
        problem_type=problem.name,
        thresholds=best.test.get("thresholds"),
    )
    if best.test_outputs is not None:
        write_test_outputs(staging, task.splits["test"].sequences, best.test_outputs)
    write_json(staging / LEAKAGE_FILE, leakage.to_dict())
    write_json(staging / TRAINING_LOG_FILE, {f"seed-{r.seed}": r.log_history for r in results})
    write_json(staging / METRICS_FILE, metrics)
    shutil.rmtree(staging / "checkpoints", ignore_errors=True)
    run_info.write(staging)  # last: its presence marks a complete run
    commit_run_folder(staging, output, overwrite=config.overwrite)
    return Run(output)


__all__ = ["SeedResult", "TrainConfig", "finetune"]
