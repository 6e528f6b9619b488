"""Fine-tuning: `finetune(TrainConfig)` runs one task end to end and writes a run folder.

Flow: load + validate data, leakage report (and optional dedup) -> resolve the model family -> tokenize once ->
for each seed: seed, build model, apply the method, train with transformers' Trainer (model selection on dev MCC,
early stopping, best checkpoint restored) -> evaluate on dev/test -> pre-trained probe and k-mer baselines on the
same splits -> write the run folder atomically.

Runs under `accelerate launch` (several processes, DeepSpeed/FSDP configs) because the Trainer does; only the main
process writes files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, DataError
from .evaluate import (
    C_GRID,
    compute_metrics,
    extract_embeddings,
    fit_logistic_head,
    fit_logistic_head_tuned,
    kmer_baseline,
    mean_sd,
    predict_logits,
    softmax,
)
from .methods import MethodConfig, ProbeConfig, make_method, trainable_parameters
from .progress import info, progress_enabled
from .run import (
    BASE_PROBE_FILE,
    INFO_FILE,
    LEAKAGE_FILE,
    METRICS_FILE,
    PROBE_HEAD_FILE,
    RUN_FORMAT_VERSION,
    TRAINING_LOG_FILE,
    Run,
    commit_run_folder,
    library_versions,
    staging_dir,
    write_json,
)

# peft calls a transformers property that transformers 5 deprecates; nothing a user can act on.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


@dataclass
class TrainConfig:
    """Everything that defines a run. Field names match the CLI flags (`--lora-r` -> `lora_r`)."""

    model: str = "tiny-nt"
    data: str = ""
    method: str = "lora"
    output: str | None = None
    epochs: float = 3.0
    max_steps: int | None = None
    lr: float | None = None  # None: the method's default
    batch_size: int = 16
    grad_accum: int = 1
    max_length: int | None = None  # tokens; None: from the longest training sequence
    seed: int = 42
    seeds: list[int] | None = None
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: list[str] | None = None
    freeze_layers: int | None = None
    probe_c: float = 1.0
    eval_steps: int | None = None  # None: about 10 evaluations per run
    patience: int | None = 5  # early stopping, in evaluations; None disables it
    class_weights: bool = False
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    dedup: bool = False
    trust_remote_code: bool = False
    revision: str | None = None
    sequence_column: str = "sequence"
    label_column: str = "label"
    labels_file: str | None = None
    max_rows: int | None = None  # subsample each split (quick experiments)
    baselines: bool = True
    overwrite: bool = False
    resume: bool = False
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    num_workers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # passed to TrainingArguments untouched (e.g. deepspeed, fsdp)

    DEFAULT_LR = {"lora": 5e-4, "full": 5e-5, "freeze": 1e-4, "probe": 0.0}

    def validate(self) -> None:
        """Reject impossible settings before any data or model is loaded."""
        if not self.data:
            raise ConfigError("No data given: pass --data (a GUE-style folder, a CSV/TSV/Parquet/FASTA file or a dataset id).")
        if self.lr is not None and (self.lr < 0 or not math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be a non-negative number, got {self.lr}.")
        if self.batch_size <= 0:
            raise ConfigError(f"--batch-size must be a positive integer, got {self.batch_size}.")
        if self.grad_accum <= 0:
            raise ConfigError(f"--grad-accum must be a positive integer, got {self.grad_accum}.")
        if self.max_length is not None and self.max_length <= 1:
            raise ConfigError(f"--max-length must be at least 2 tokens, got {self.max_length}.")
        if self.max_steps is not None and self.max_steps <= 0:
            raise ConfigError(f"--max-steps must be a positive integer, got {self.max_steps}.")
        if self.max_steps is None and self.epochs <= 0:
            raise ConfigError(f"--epochs must be positive, got {self.epochs}.")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ConfigError(f"--precision must be auto, fp32, bf16 or fp16, got {self.precision!r}.")
        if self.patience is not None and self.patience <= 0:
            raise ConfigError(f"--patience must be positive, got {self.patience}.")
        self.method_config()  # raises for an unknown method or bad method options

    def method_config(self) -> MethodConfig:
        return make_method(
            self.method,
            r=self.lora_r,
            alpha=self.lora_alpha,
            dropout=self.lora_dropout,
            targets=self.lora_targets,
            layers=self.freeze_layers,
            c=self.probe_c,
        )

    @property
    def learning_rate(self) -> float:
        return self.DEFAULT_LR.get(self.method, 5e-5) if self.lr is None else self.lr

    @property
    def seed_list(self) -> list[int]:
        return list(self.seeds) if self.seeds else [self.seed]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["learning_rate"] = self.learning_rate
        return data


# ---------------------------------------------------------------------------------------------------------------------
# Tokenization (done once per tokenizer x max length x split; reused across seeds and compare cells)
# ---------------------------------------------------------------------------------------------------------------------

_TOKEN_CACHE: dict[str, list[list[int]]] = {}


def _fingerprint(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def tokenize_sequences(tokenizer, sequences: list[str], max_length: int) -> list[list[int]]:
    """Token ids for each sequence, truncated to `max_length` (cached in memory for the process)."""
    key = _fingerprint(tokenizer.name_or_path, len(tokenizer), max_length, hashlib.sha256(
        "\n".join(sequences).encode()).hexdigest())
    if key not in _TOKEN_CACHE:
        ids: list[list[int]] = []
        for start in range(0, len(sequences), 1024):
            chunk = sequences[start : start + 1024]
            ids.extend(tokenizer(chunk, truncation=True, max_length=max_length)["input_ids"])
        _TOKEN_CACHE[key] = ids
    return _TOKEN_CACHE[key]


class TokenizedSplit:
    """A torch-style dataset of token ids + labels; padding happens per batch (dynamic padding)."""

    def __init__(self, input_ids: list[list[int]], labels: list[int]):
        self.input_ids = input_ids
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ids = self.input_ids[index]
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": self.labels[index]}


class PadCollator:
    """Pads each batch to its own longest sequence (not to the split's longest)."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        longest = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), longest), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(features), longest), dtype=torch.long)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            ids[row, :n] = torch.tensor(feature["input_ids"], dtype=torch.long)
            mask[row, :n] = 1
        labels = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


# ---------------------------------------------------------------------------------------------------------------------
# Trainer
# ---------------------------------------------------------------------------------------------------------------------


def _weighted_trainer_class(class_weights: list[float] | None):
    from transformers import Trainer

    if class_weights is None:
        return Trainer

    class WeightedLossTrainer(Trainer):
        """Cross-entropy with per-class weights (for imbalanced tasks)."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import torch

            labels = inputs.pop("labels")
            outputs = model(**inputs)
            weight = torch.tensor(class_weights, dtype=outputs.logits.dtype, device=outputs.logits.device)
            loss = torch.nn.functional.cross_entropy(outputs.logits, labels, weight=weight)
            return (loss, outputs) if return_outputs else loss

    return WeightedLossTrainer


def _precision_flags(precision: str) -> dict[str, bool]:
    import torch

    if precision == "fp32" or not torch.cuda.is_available():
        return {}
    if precision == "bf16" or (precision == "auto" and torch.cuda.is_bf16_supported()):
        return {"bf16": True}
    return {"fp16": True}


def _steps_per_epoch(n_train: int, config: TrainConfig, world_size: int) -> int:
    return max(1, math.ceil(n_train / (config.batch_size * config.grad_accum * world_size)))


@dataclass
class SeedResult:
    seed: int
    dev: dict[str, Any]
    test: dict[str, Any]
    model: Any
    log_history: list[dict[str, Any]]
    trainable: int
    total: int
    train_seconds: float
    best_step: int | None = None
    probe_head: Any = None  # LinearHead for the probe method
    train_metrics: dict[str, Any] | None = None
    method: MethodConfig | None = None  # as applied (resolved LoRA targets, freeze depth)


def _world() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _is_main() -> bool:
    return _world()[0] == 0


def _train_one_seed(
    config: TrainConfig, seed: int, resolved, tokenizer, task, max_length: int, tokenized: dict[str, list[list[int]]],
    work_dir: Path, base_embeddings: dict[str, np.ndarray] | None,
) -> SeedResult:
    from transformers import EarlyStoppingCallback, TrainingArguments, set_seed

    from .models import load_base_model

    method = config.method_config()
    n_classes = len(task.label_names)
    if isinstance(method, ProbeConfig):
        assert base_embeddings is not None
        start = time.perf_counter()
        head, _ = fit_logistic_head_tuned(base_embeddings["train"], task.splits["train"].labels,
                                          base_embeddings["dev"], task.splits["dev"].labels, n_classes, seed=seed,
                                          grid=(method.c,) if method.c_fixed else C_GRID)
        seconds = time.perf_counter() - start
        scores = {split: compute_metrics(task.splits[split].labels, head.probs(base_embeddings[split]),
                                         task.label_names) for split in ("train", "dev", "test")}
        return SeedResult(seed, scores["dev"], scores["test"], None, [], head.weight.size + head.bias.size,
                          head.weight.size + head.bias.size, seconds, probe_head=head, train_metrics=scores["train"])

    # Seed before the model and the adapter are built: LoRA's random A matrices and the new head depend on it.
    set_seed(seed)
    model = load_base_model(resolved.name, n_classes, label_names=task.label_names, resolved=resolved,
                            trust_remote_code=config.trust_remote_code)
    model = method.prepare(model, resolved.family)
    trainable, total = trainable_parameters(model)
    rank, world_size = _world()
    n_train = len(task.splits["train"].labels)
    steps_per_epoch = _steps_per_epoch(n_train, config, world_size)
    total_steps = config.max_steps or math.ceil(steps_per_epoch * config.epochs)
    eval_steps = config.eval_steps or max(1, total_steps // 10)
    class_weights = None
    if config.class_weights:
        counts = np.bincount(task.splits["train"].labels, minlength=n_classes).astype(float)
        class_weights = (counts.sum() / (n_classes * np.maximum(counts, 1))).tolist()

    args = TrainingArguments(
        output_dir=str(work_dir / "checkpoints" / f"seed-{seed}"),
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
        metric_for_best_model="mcc",
        greater_is_better=True,
        logging_steps=max(1, min(eval_steps, 10)),
        seed=seed,
        data_seed=seed,
        train_sampling_strategy="group_by_length",
        report_to="none",
        disable_tqdm=not (_is_main() and progress_enabled()),
        dataloader_num_workers=config.num_workers,
        remove_unused_columns=False,
        use_cpu=not _has_accelerator(),
        **_precision_flags(config.precision),
        **config.extra,
    )
    datasets = {
        split: TokenizedSplit(tokenized[split], task.splits[split].labels) for split in ("train", "dev", "test")
    }

    def trainer_metrics(eval_pred) -> dict[str, float]:
        logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        scores = compute_metrics(eval_pred.label_ids, softmax(logits), task.label_names)
        return {k: v for k, v in scores.items() if isinstance(v, float)}

    callbacks = [EarlyStoppingCallback(early_stopping_patience=config.patience)] if config.patience else []
    trainer_cls = _weighted_trainer_class(class_weights)
    from transformers.trainer_callback import PrinterCallback
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets["dev"],
        data_collator=PadCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
        compute_metrics=trainer_metrics,
        callbacks=callbacks,
    )
    # Keep stdout for results: the Trainer's raw log dicts become short lines on stderr.
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(_log_lines_callback())
    resume_from = _last_checkpoint(Path(args.output_dir)) if config.resume else None
    if resume_from:
        info(f"resuming seed {seed} from {resume_from}")
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - start
    best_step = None
    if trainer.state.best_model_checkpoint:
        best_step = int(Path(trainer.state.best_model_checkpoint).name.rsplit("-", 1)[-1])
    model = trainer.accelerator.unwrap_model(trainer.model)
    if _is_main():
        # Reload the kept model exactly as users will (fresh base + PeftModel.from_pretrained, or from_pretrained of
        # the saved folder). The Trainer's in-place best-checkpoint restore is not reliable here: it misses peft's
        # modules_to_save, and transformers 5 saves some LayerNorms as gamma/beta that a raw state-dict load skips.
        if trainer.state.best_model_checkpoint and Path(trainer.state.best_model_checkpoint).is_dir():
            best_dir = Path(trainer.state.best_model_checkpoint)
        else:
            best_dir = work_dir / "checkpoints" / f"best-seed-{seed}"
            model.save_pretrained(str(best_dir), safe_serialization=True)
        if hasattr(model, "peft_config"):
            from peft import PeftModel

            base = load_base_model(resolved.name, n_classes, label_names=task.label_names, resolved=resolved,
                                   trust_remote_code=config.trust_remote_code)
            model = PeftModel.from_pretrained(base, str(best_dir))
        else:
            model = load_base_model(best_dir, n_classes, label_names=task.label_names)
    scores: dict[str, Any] = {}
    if _is_main():
        for split in ("train", "dev", "test"):
            logits = predict_logits(model, tokenizer, task.splits[split].sequences, max_length=max_length,
                                    batch_size=config.batch_size * 2)
            scores[split] = compute_metrics(task.splits[split].labels, softmax(logits), task.label_names)
    else:
        scores = {"train": None, "dev": {"mcc": 0.0}, "test": {"mcc": 0.0}}
    return SeedResult(seed, scores["dev"], scores["test"], model, list(trainer.state.log_history), trainable, total,
                      seconds, best_step=best_step, train_metrics=scores["train"], method=method)


def _log_lines_callback():
    """A Trainer callback printing one readable line per log event (main process only) to stderr."""
    from transformers import TrainerCallback

    class LogLines(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            if "eval_mcc" in logs:
                info(f"  step {state.global_step}: dev loss {logs.get('eval_loss', float('nan')):.4f}, "
                     f"dev MCC {logs['eval_mcc']:.3f}")
            elif "loss" in logs:
                info(f"  step {state.global_step}: train loss {logs['loss']:.4f}")

    return LogLines()


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()


def _checkpoint_is_complete(path: Path) -> bool:
    """The Trainer writes trainer_state.json last and not atomically: a kill can leave it truncated."""
    try:
        json.loads((path / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return path.name.rsplit("-", 1)[-1].isdigit()


def _last_checkpoint(directory: Path) -> Path | None:
    checkpoints = [p for p in directory.glob("checkpoint-*") if _checkpoint_is_complete(p)]
    if not checkpoints:
        return None
    return max(checkpoints, key=lambda p: int(p.name.rsplit("-", 1)[-1]))


# ---------------------------------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------------------------------


def finetune(config: TrainConfig | None = None, **kwargs: Any) -> Run | None:
    """Fine-tune a genomic LM on a labelled DNA task and write a run folder.

    Pass a `TrainConfig` or its fields as keyword arguments, e.g.
    ``hubtune.finetune(model="tiny-nt", data="path/to/task", method="lora", max_steps=200)``.

    Returns the finished `Run` (on the main process; other `accelerate launch` processes get None).
    """
    from . import data as data_module
    from .models import load_base_model, load_tokenizer, resolve_model

    config = config or TrainConfig(**kwargs)
    config.validate()
    output = Path(config.output or f"runs/{Path(str(config.data)).name or 'task'}-{config.method}")
    if output.exists() and (output / INFO_FILE).exists() and not config.overwrite:
        raise ConfigError(f"{output} already holds a finished run. Choose another --output or pass --overwrite.")
    staging = staging_dir(output)

    task = data_module.load_task(
        config.data, sequence_column=config.sequence_column, label_column=config.label_column,
        labels_file=config.labels_file, seed=config.seed, max_rows=config.max_rows,
    )
    for warning in task.warnings:
        info(f"warning: {warning}")
    leakage = data_module.leakage_report(task)
    for line in leakage.summary_lines():
        info(line)
    if config.dedup and leakage.has_leak:
        task = data_module.deduplicate(task, leakage)
        info("--dedup: removed leaked sequences from dev/test")
    for split in ("train", "dev", "test"):
        if split not in task.splits or not task.splits[split].labels:
            raise DataError(f"The {split} split of {config.data} is empty after loading; hubtune needs train, dev and test.")

    resolved = resolve_model(config.model, revision=config.revision)
    family = resolved.family
    n_layers = resolved.config.get("num_hidden_layers")
    if config.method == "freeze" and config.freeze_layers is not None and n_layers is not None:
        if config.freeze_layers > n_layers:
            raise ConfigError(
                f"--freeze-layers {config.freeze_layers} is larger than the model, which has {n_layers} layers. "
                f"Use a value from 0 to {n_layers} (all layers frozen = only the head trains)."
            )
    tokenizer = load_tokenizer(config.model, resolved=resolved, trust_remote_code=config.trust_remote_code)
    longest = max(len(s) for s in task.splits["train"].sequences)
    max_length = config.max_length or family.default_max_length(longest)
    window_bp = family.window_bp(max_length)
    info(f"model {config.model} ({family.display_name}), method {config.method}, max length {max_length} tokens "
         f"(~{window_bp} bp), {len(task.splits['train'].labels)} train / {len(task.splits['dev'].labels)} dev / "
         f"{len(task.splits['test'].labels)} test sequences")
    tokenized = {
        split: tokenize_sequences(tokenizer, task.splits[split].sequences, max_length) for split in ("train", "dev", "test")
    }
    method = config.method_config()
    if _is_main():
        # Created only now that data and model are known to be usable: a refused run leaves nothing behind.
        if staging.exists() and not config.resume:
            shutil.rmtree(staging)
        staging.mkdir(parents=True, exist_ok=True)

    # Pre-trained probe: frozen base + logistic regression. Needed as a baseline and by the probe method itself.
    base_embeddings: dict[str, np.ndarray] | None = None
    base_probe = None
    need_probe = (config.baselines or isinstance(method, ProbeConfig)) and _is_main()
    if isinstance(method, ProbeConfig) and not _is_main():
        return None
    if need_probe:
        info("extracting pre-trained embeddings for the probe baseline")
        from transformers import set_seed

        set_seed(config.seed_list[0])
        base_model = load_base_model(config.model, len(task.label_names), label_names=task.label_names,
                                     resolved=resolved, trust_remote_code=config.trust_remote_code)
        base_embeddings = {
            split: extract_embeddings(base_model, tokenizer, task.splits[split].sequences, max_length=max_length,
                                      batch_size=config.batch_size * 2, progress=True)
            for split in ("train", "dev", "test")
        }
        del base_model
        base_probe, _ = fit_logistic_head_tuned(
            base_embeddings["train"], task.splits["train"].labels, base_embeddings["dev"], task.splits["dev"].labels,
            len(task.label_names), seed=config.seed_list[0])

    results: list[SeedResult] = []
    for seed in config.seed_list:
        info(f"training seed {seed}")
        results.append(_train_one_seed(config, seed, resolved, tokenizer, task, max_length, tokenized, staging,
                                       base_embeddings))
    if not _is_main():
        return None

    best = max(results, key=lambda r: r.dev["mcc"])
    metrics: dict[str, Any] = {"finetuned": {"train": best.train_metrics, "dev": best.dev, "test": best.test}}
    if config.baselines and base_embeddings is not None and base_probe is not None:
        metrics["probe"] = {
            split: compute_metrics(task.splits[split].labels, base_probe.probs(base_embeddings[split]),
                                   task.label_names)
            for split in ("dev", "test")
        }
        train = task.splits["train"]
        metrics["kmer"] = kmer_baseline(
            train.sequences, train.labels,
            {s: (task.splits[s].sequences, task.splits[s].labels) for s in ("dev", "test")},
            len(task.label_names), task.label_names, seed=config.seed_list[0],
        )
    metrics["per_seed"] = [
        {"seed": r.seed, "dev": r.dev, "test": r.test, "train_seconds": r.train_seconds, "best_step": r.best_step}
        for r in results
    ]
    test_mccs = [r.test["mcc"] for r in results]
    mean, sd = mean_sd(test_mccs)
    metrics["summary"] = {
        "finetuned": {"n_seeds": len(results), "test_mcc_mean": mean, "test_mcc_sd": sd,
                      "test_mcc_per_seed": test_mccs, "best_seed": best.seed},
    }

    _write_weights(staging, best, method, tokenizer, config, resolved)
    if base_probe is not None:
        from safetensors.torch import save_file

        save_file(base_probe.to_tensors(), str(staging / BASE_PROBE_FILE), metadata={"pooling": "mean", "layer": "last"})
    run_info = {
        "format": "hubtune-run",
        "format_version": RUN_FORMAT_VERSION,
        "task": task.name,
        "data_source": str(config.data),
        "split_origin": task.split_origin,
        "split_sizes": {s: len(task.splits[s].labels) for s in ("train", "dev", "test")},
        "label_names": task.label_names,
        "family": family.name,
        "base_model": resolved.name,
        "base_model_revision": resolved.revision,
        "method": config.method,
        "method_config": (best.method or method).to_dict(),
        "max_length": max_length,
        "window_bp": window_bp,
        "stride_bp": max(1, window_bp // 2),
        "pooling": "mean",
        "seeds": config.seed_list,
        "best_seed": best.seed,
        "trainable_parameters": best.trainable,
        "total_parameters": best.total,
        "train_seconds": sum(r.train_seconds for r in results),
        "world_size": _world()[1],
        "training": config.to_dict(),
        "dedup": config.dedup,
        "versions": library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "examples": _examples(task),
    }
    write_json(staging / LEAKAGE_FILE, leakage.to_dict())
    write_json(staging / TRAINING_LOG_FILE, {f"seed-{r.seed}": r.log_history for r in results})
    write_json(staging / METRICS_FILE, metrics)
    shutil.rmtree(staging / "checkpoints", ignore_errors=True)
    write_json(staging / INFO_FILE, run_info)  # last: its presence marks a complete run
    commit_run_folder(staging, output, overwrite=config.overwrite)
    return Run(output)


def _examples(task, per_class: int = 2) -> list[dict[str, str]]:
    """A few test sequences per class (the Space offers them as clickable examples)."""
    test = task.splits["test"]
    picked: list[dict[str, str]] = []
    for label_id, label in enumerate(task.label_names):
        rows = [i for i, y in enumerate(test.labels) if y == label_id][:per_class]
        picked += [{"id": test.ids[i], "sequence": test.sequences[i][:2000], "label": label} for i in rows]
    return picked


def _write_weights(staging: Path, best: SeedResult, method: MethodConfig, tokenizer, config: TrainConfig,
                   resolved) -> None:
    """Adapter, full model or probe head in safetensors; the tokenizer beside it."""
    tokenizer.save_pretrained(str(staging))
    if best.probe_head is not None:
        from safetensors.torch import save_file

        save_file(best.probe_head.to_tensors(), str(staging / PROBE_HEAD_FILE), metadata={"pooling": "mean"})
        return
    model = best.model
    if hasattr(model, "peft_config"):
        model.save_pretrained(str(staging), safe_serialization=True)
        # peft records the local path and writes a placeholder card: point at the base id, drop the placeholder.
        adapter_config_path = staging / "adapter_config.json"
        adapter_config = json.loads(adapter_config_path.read_text())
        adapter_config["base_model_name_or_path"] = resolved.name
        adapter_config["revision"] = resolved.revision
        write_json(adapter_config_path, adapter_config)
        (staging / "README.md").unlink(missing_ok=True)
    else:
        model.save_pretrained(str(staging), safe_serialization=True)


def probe_layers(
    model: str, data: str, *, output: str | Path, max_length: int | None = None, batch_size: int = 32,
    seed: int = 42, max_rows: int | None = None, trust_remote_code: bool = False, c: float = 1.0,
) -> dict[str, Any]:
    """Probe every layer of the pre-trained model (frozen, mean-pooled) and plot test MCC per layer (PNG + CSV)."""
    from transformers import set_seed

    from . import data as data_module
    from .models import load_base_model, load_tokenizer, resolve_model
    from .plots import plot_layer_probe

    task = data_module.load_task(data, seed=seed, max_rows=max_rows)
    resolved = resolve_model(model)
    tokenizer = load_tokenizer(model, resolved=resolved, trust_remote_code=trust_remote_code)
    longest = max(len(s) for s in task.splits["train"].sequences)
    max_length = max_length or resolved.family.default_max_length(longest)
    set_seed(seed)
    base = load_base_model(model, len(task.label_names), resolved=resolved, trust_remote_code=trust_remote_code)
    embeddings = {
        split: extract_embeddings(base, tokenizer, task.splits[split].sequences, max_length=max_length,
                                  batch_size=batch_size, all_layers=True, progress=True)
        for split in ("train", "dev", "test")
    }
    rows = []
    for layer in range(embeddings["train"].shape[0]):
        head = fit_logistic_head(embeddings["train"][layer], task.splits["train"].labels, len(task.label_names), c=c,
                                 seed=seed)
        row = {"layer": layer}
        for split in ("dev", "test"):
            scores = compute_metrics(task.splits[split].labels, head.probs(embeddings[split][layer]), task.label_names)
            row[f"{split}_mcc"] = scores["mcc"]
            row[f"{split}_f1_macro"] = scores["f1_macro"]
        rows.append(row)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    import csv

    with open(out / "layer_probe.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_layer_probe(rows, out / "layer_probe.png", title=f"{model} on {task.name}")
    result = {"model": model, "task": task.name, "layers": rows, "csv": str(out / "layer_probe.csv"),
              "plot": str(out / "layer_probe.png")}
    write_json(out / "layer_probe.json", result)
    return result


def evaluate_run(run_path: str | Path, data: str, *, batch_size: int = 32, max_rows: int | None = None) -> dict[str, Any]:
    """Score a finished run on another labelled dataset (all its splits); labels must match the run's."""
    from . import data as data_module

    run = Run(run_path)
    task = data_module.load_task(data, max_rows=max_rows)
    unknown = sorted(set(task.label_names) - set(run.label_names))
    if unknown:
        raise DataError(
            f"{data} has labels the run never saw: {', '.join(unknown)}. The run was trained on "
            f"{', '.join(run.label_names)}; evaluate it on data with those labels."
        )
    classifier = run.classifier()
    results = {}
    for split_name, split in task.splits.items():
        probs = classifier.predict_proba(split.sequences, batch_size=batch_size)
        # Map the task's label ids onto the run's label ids by name.
        mapping = [run.label_names.index(task.label_names[i]) for i in split.labels]
        results[split_name] = compute_metrics(mapping, probs, run.label_names)
    return results


__all__ = ["TrainConfig", "finetune", "probe_layers", "evaluate_run", "predict_logits"]
