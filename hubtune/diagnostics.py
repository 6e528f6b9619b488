"""Pitfall diagnostics for a finished run: overfitting, underfitting, catastrophic forgetting and data leakage.

Each check returns a `Verdict` with the numbers behind it, so a reader can judge the call for themselves:

- overfitting: dev loss rising while train loss falls (per seed, from the Trainer's log), and the train-dev MCC gap
  of the kept checkpoint;
- underfitting: train loss barely below its start, train MCC near chance (MCC 0), a zero learning rate;
- catastrophic forgetting: masked-LM loss of the fine-tuned backbone over the pre-trained one on the task's test
  sequences and on shuffled copies of them (same deterministic masks for both), as a ratio;
- data leakage: the run's leakage report, with the test metric recomputed on the deduplicated test set.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import HubtuneError
from .run import Run

STATUSES = ("ok", "warning", "flagged", "not measured")
# Bumped whenever a rule or threshold changes, so stored verdicts (e.g. in a compare report) are recomputed.
DIAGNOSTICS_VERSION = 3

# Thresholds. MCC is 0 at chance for any number of classes, so the same limits serve binary and multi-class tasks.
OVERFIT_GAP_FLAG = 0.30  # train MCC - dev MCC of the kept checkpoint
OVERFIT_GAP_WARN = 0.15
DEV_RISE_FLAG = 0.20  # dev loss at the end / its minimum - 1 ...
DEV_RISE_WARN = 0.05
TRAIN_FALL_MIN = 0.05  # ... while train loss fell by at least this fraction over the same steps
LOSS_DROP_MIN = 0.05  # underfitting: train loss fell by less than this fraction
CHANCE_MCC = 0.20  # underfitting: train MCC below this is "near chance"
FORGET_WARN = 1.05  # masked-LM loss ratio fine-tuned / pre-trained
FORGET_FLAG = 1.25
MASK_FRACTION = 0.15
LEAK_FRACTION_FLAG = 0.05  # leakage: at least this fraction of test rows removed by deduplication ...
LEAK_MCC_FLAG = 0.02  # ... or at least this difference in test MCC between all rows and deduplicated rows


@dataclass
class Verdict:
    """One diagnostic's outcome.

    Attributes:
        name: "overfitting", "underfitting", "catastrophic forgetting" or "data leakage".
        status: "ok", "warning", "flagged" or "not measured".
        summary: one line with the numbers behind the status.
        details: the numbers themselves (JSON-ready).
    """

    name: str
    status: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_verdicts(verdicts: Sequence[Verdict]) -> str:
    """Plain-text block, one line per diagnostic: name, status, summary."""
    if not verdicts:
        return "no diagnostics"
    name_width = max(len(v.name) for v in verdicts)
    status_width = max(len(v.status) for v in verdicts)
    return "\n".join(f"{v.name.ljust(name_width)}  {v.status.ljust(status_width)}  {v.summary}" for v in verdicts)


def diagnose_run(
    run_path: str | Path, *, forgetting: bool = True, max_sequences: int = 256, seed: int = 0, batch_size: int = 32,
) -> list[Verdict]:
    """Run the four pitfall checks on a finished run folder.

    Args:
        run_path: a run folder written by `hubtune train` / `finetune`.
        forgetting: run the catastrophic-forgetting check (loads the base model's masked-LM head; the slowest check).
        max_sequences: at most this many test sequences (and as many shuffled controls) for the forgetting check.
        seed: seed of the masking and shuffling (the same seed gives the same numbers).
        batch_size: batch size of the forgetting and leakage inference.

    Returns:
        Verdicts in the order overfitting, underfitting, catastrophic forgetting, data leakage.
    """
    run = Run(run_path)
    logs = _training_logs(run)
    verdicts = [check_overfitting(run, logs), check_underfitting(run, logs)]
    if forgetting:
        verdicts.append(check_forgetting(run, max_sequences=max_sequences, seed=seed, batch_size=batch_size))
    else:
        verdicts.append(Verdict("catastrophic forgetting", "not measured", "skipped (forgetting=False)"))
    verdicts.append(check_leakage(run, batch_size=batch_size))
    return verdicts


# ---------------------------------------------------------------------------------------------------------------------
# Training-log helpers
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class SeedCurve:
    """One seed's learning curve, split out of the Trainer's log_history."""

    seed: str
    train_steps: list[int]
    train_loss: list[float]
    eval_steps: list[int]
    eval_loss: list[float]
    eval_mcc: list[float]


def _training_logs(run: Run) -> dict[str, SeedCurve]:
    path = run.path / "training_log.json"
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    return {seed: parse_log_history(seed, history) for seed, history in raw.items()}


def parse_log_history(seed: str, history: list[dict[str, Any]]) -> SeedCurve:
    """Split a Trainer log_history into train-loss and dev-loss/MCC series (by step)."""
    curve = SeedCurve(seed, [], [], [], [], [])
    for entry in history:
        step = entry.get("step")
        if step is None:
            continue
        if "loss" in entry and _finite(entry["loss"]):
            curve.train_steps.append(int(step))
            curve.train_loss.append(float(entry["loss"]))
        if "eval_loss" in entry and _finite(entry["eval_loss"]):
            curve.eval_steps.append(int(step))
            curve.eval_loss.append(float(entry["eval_loss"]))
            curve.eval_mcc.append(float(entry.get("eval_mcc", float("nan"))))
    return curve


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _mean_between(steps: list[int], values: list[float], low: int, high: int) -> float | None:
    chosen = [v for s, v in zip(steps, values, strict=True) if low <= s <= high]
    return float(np.mean(chosen)) if chosen else None


def _split_mcc(run: Run, split: str) -> float | None:
    block = (run.metrics.get("finetuned") or {}).get(split) or {}
    value = block.get("mcc")
    return float(value) if _finite(value) else None


def _kept_checkpoints(run: Run, logs: dict[str, SeedCurve]) -> list[dict[str, Any]]:
    kept = []
    for entry in run.metrics.get("per_seed", []):
        curve = logs.get(f"seed-{entry.get('seed')}")
        last = max((curve.train_steps + curve.eval_steps) if curve else [0], default=0)
        kept.append({"seed": entry.get("seed"), "best_step": entry.get("best_step"), "last_step": last})
    return kept


def _kept_text(kept: list[dict[str, Any]]) -> str:
    parts = [f"seed {k['seed']} step {k['best_step']} of {k['last_step']}" for k in kept
             if k.get("best_step") is not None]
    if not parts:
        return ""
    return "kept checkpoint (best dev MCC): " + ", ".join(parts)


# ---------------------------------------------------------------------------------------------------------------------
# Overfitting
# ---------------------------------------------------------------------------------------------------------------------


def check_overfitting(run: Run, logs: dict[str, SeedCurve] | None = None) -> Verdict:
    """Dev loss rising while train loss falls, or a large train-dev MCC gap of the kept model."""
    logs = _training_logs(run) if logs is None else logs
    train_mcc, dev_mcc = _split_mcc(run, "train"), _split_mcc(run, "dev")
    gap = None if train_mcc is None or dev_mcc is None else train_mcc - dev_mcc
    kept = _kept_checkpoints(run, logs)
    curves = []
    for seed, curve in logs.items():
        if len(curve.eval_loss) < 3 or not curve.train_loss:
            continue
        i_min = int(np.argmin(curve.eval_loss))
        dev_min, dev_end = curve.eval_loss[i_min], curve.eval_loss[-1]
        step_min, step_end = curve.eval_steps[i_min], curve.eval_steps[-1]
        rise = dev_end / dev_min - 1 if dev_min > 0 else 0.0
        # Train loss near the dev minimum vs near the end (each averaged over the logged values around it).
        window = max(1, (step_end - curve.eval_steps[0]) // 5)
        train_at_min = _mean_between(curve.train_steps, curve.train_loss, step_min - window, step_min)
        train_end = _mean_between(curve.train_steps, curve.train_loss, step_end - window, step_end)
        fall = None
        if train_at_min and train_end is not None and train_at_min > 0:
            fall = 1 - train_end / train_at_min
        curves.append({"seed": seed, "dev_loss_min": dev_min, "dev_loss_min_step": step_min, "dev_loss_end": dev_end,
                       "dev_loss_rise": rise, "train_loss_at_dev_min": train_at_min, "train_loss_end": train_end,
                       "train_loss_fall": fall})
    diverging = [c for c in curves if c["train_loss_fall"] is not None and c["train_loss_fall"] >= TRAIN_FALL_MIN]
    worst = max(diverging, key=lambda c: c["dev_loss_rise"], default=None)
    details = {"train_mcc": train_mcc, "dev_mcc": dev_mcc, "train_dev_mcc_gap": gap, "curves": curves,
               "kept_checkpoints": kept,
               "thresholds": {"gap_flag": OVERFIT_GAP_FLAG, "gap_warning": OVERFIT_GAP_WARN,
                              "dev_rise_flag": DEV_RISE_FLAG, "dev_rise_warning": DEV_RISE_WARN}}
    if gap is None and not curves:
        return Verdict("overfitting", "not measured", "no train/dev metrics and no learning curve in the run", details)
    status = "ok"
    if (gap is not None and gap >= OVERFIT_GAP_FLAG) or (worst and worst["dev_loss_rise"] >= DEV_RISE_FLAG):
        status = "flagged"
    elif (gap is not None and gap >= OVERFIT_GAP_WARN) or (worst and worst["dev_loss_rise"] >= DEV_RISE_WARN):
        status = "warning"
    parts = []
    if gap is not None:
        parts.append(f"train MCC {train_mcc:.3f} vs dev MCC {dev_mcc:.3f} (gap {gap:+.3f})")
    if worst is not None:
        parts.append(
            f"dev loss rose {worst['dev_loss_rise']:+.0%} after its minimum at step {worst['dev_loss_min_step']} "
            f"({worst['dev_loss_min']:.3f} -> {worst['dev_loss_end']:.3f}) while train loss fell "
            f"{worst['train_loss_fall']:.0%} ({worst['seed']})"
        )
    elif curves:
        rise = max(c["dev_loss_rise"] for c in curves)
        parts.append(f"no dev-loss rise with falling train loss (dev loss ends {rise:+.0%} above its minimum)")
    kept_text = _kept_text(kept)
    if kept_text:
        parts.append(kept_text)
    if status != "ok" and run.method != "probe":
        parts.append("try fewer steps, more data, weight decay, or LoRA/freeze instead of full fine-tuning")
    return Verdict("overfitting", status, "; ".join(parts), details)


# ---------------------------------------------------------------------------------------------------------------------
# Underfitting
# ---------------------------------------------------------------------------------------------------------------------


def check_underfitting(run: Run, logs: dict[str, SeedCurve] | None = None) -> Verdict:
    """Train loss barely below its start, train MCC near chance, or a zero learning rate."""
    logs = _training_logs(run) if logs is None else logs
    training = run.info.get("training", {})
    lr = training.get("learning_rate")
    train_mcc = _split_mcc(run, "train")
    drops = []
    for seed, curve in logs.items():
        if len(curve.train_loss) < 2:
            continue
        quarter = max(1, len(curve.train_loss) // 4)
        start = float(np.mean(curve.train_loss[:quarter]))
        end = float(np.mean(curve.train_loss[-quarter:]))
        drops.append({"seed": seed, "train_loss_start": start, "train_loss_end": end,
                      "relative_drop": 1 - end / start if start > 0 else 0.0, "steps": curve.train_steps[-1],
                      "last_step": max(curve.train_steps + curve.eval_steps)})
    best_drop = max(drops, key=lambda d: d["relative_drop"], default=None)
    details: dict[str, Any] = {"train_mcc": train_mcc, "dev_mcc": _split_mcc(run, "dev"), "learning_rate": lr,
                               "loss": drops, "thresholds": {"loss_drop": LOSS_DROP_MIN, "chance_mcc": CHANCE_MCC}}
    if run.method == "probe":
        if train_mcc is None:
            return Verdict("underfitting", "not measured", "no train metrics in the run", details)
        status = "flagged" if train_mcc < CHANCE_MCC else "ok"
        summary = f"frozen-embedding probe: train MCC {train_mcc:.3f} (chance = 0)"
        if status != "ok":
            summary += "; the pre-trained features barely separate the classes: fine-tune (lora/full) instead"
        return Verdict("underfitting", status, summary, details)
    if train_mcc is None and best_drop is None:
        return Verdict("underfitting", "not measured", "no train metrics and no train loss in the run", details)
    zero_lr = lr is not None and float(lr) == 0.0
    flat = best_drop is not None and best_drop["relative_drop"] < LOSS_DROP_MIN
    chance = train_mcc is not None and train_mcc < CHANCE_MCC
    if zero_lr or (flat and chance) or (flat and train_mcc is None):
        status = "flagged"
    elif chance or (flat and train_mcc is not None and train_mcc < 2 * CHANCE_MCC):
        status = "warning"
    else:
        status = "ok"
    parts = []
    if zero_lr:
        parts.append("learning rate is 0: nothing but the untrained head was evaluated")
    if best_drop is not None:
        parts.append(f"train loss {best_drop['train_loss_start']:.3f} -> {best_drop['train_loss_end']:.3f} "
                     f"({-best_drop['relative_drop']:+.1%}) over {best_drop['steps']} steps")
    if train_mcc is not None:
        parts.append(f"train MCC {train_mcc:.3f} (chance = 0)")
    if status != "ok":
        budget = training.get("max_steps")
        stopped = [f"{d['seed']} at step {d['last_step']}" for d in drops if budget and d["last_step"] < budget]
        if stopped and training.get("patience"):
            parts.append(f"early stopping ended {', '.join(stopped)} of {budget} (dev MCC stopped improving); "
                         "raise --patience or disable it")
        steps = f"{budget} steps" if budget else f"{training.get('epochs')} epochs"
        parts.append(f"try more steps (budget {steps}) or a higher learning rate (used {lr:g})" if lr is not None
                     else "try more steps or a higher learning rate")
    return Verdict("underfitting", status, "; ".join(parts), details)


# ---------------------------------------------------------------------------------------------------------------------
# Catastrophic forgetting
# ---------------------------------------------------------------------------------------------------------------------


def shuffled_controls(sequences: Sequence[str], seed: int = 0) -> list[str]:
    """Each sequence with its bases randomly permuted (same composition, no order): a control for held-out DNA."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.permutation(list(seq))) for seq in sequences]


def masked_lm_loss(
    model, tokenizer, sequences: Sequence[str], *, max_length: int, mask_fraction: float = MASK_FRACTION, seed: int = 0,
    batch_size: int = 32,
) -> float:
    """Mean cross-entropy over masked tokens, with deterministic masks (sequence i always gets the same positions).

    `mask_fraction` of each sequence's non-special tokens (at least one) are replaced by the mask token.
    """
    import torch

    if tokenizer.mask_token_id is None:
        raise ValueError("the tokenizer has no mask token")
    special = set(tokenizer.all_special_ids)
    encoded = tokenizer(list(sequences), truncation=True, max_length=max_length)["input_ids"]
    inputs, targets = [], []
    for index, ids in enumerate(encoded):
        candidates = [pos for pos, token in enumerate(ids) if token not in special]
        if not candidates:
            continue
        rng = np.random.default_rng([seed, index])
        chosen = rng.choice(candidates, size=max(1, round(mask_fraction * len(candidates))), replace=False)
        masked, labels = list(ids), [-100] * len(ids)
        for pos in chosen:
            labels[pos] = ids[pos]
            masked[pos] = tokenizer.mask_token_id
        inputs.append(masked)
        targets.append(labels)
    if not inputs:
        raise ValueError("no maskable tokens in the sequences")
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    total, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))  # less padding
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            longest = max(len(inputs[i]) for i in rows)
            ids = torch.full((len(rows), longest), pad, dtype=torch.long)
            attention = torch.zeros((len(rows), longest), dtype=torch.long)
            labels = torch.full((len(rows), longest), -100, dtype=torch.long)
            for row, i in enumerate(rows):
                n = len(inputs[i])
                ids[row, :n] = torch.tensor(inputs[i])
                attention[row, :n] = 1
                labels[row, :n] = torch.tensor(targets[i])
            logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
            labels = labels.to(device)
            where = labels != -100
            total += float(torch.nn.functional.cross_entropy(logits[where].float(), labels[where], reduction="sum"))
            count += int(where.sum())
    return total / count


class _NotMeasured(Exception):
    """The check cannot be done for this run; the message says why."""


def _load_mlm(run: Run):
    """The base model with its masked-LM head; _NotMeasured when it has none."""
    from .models import load_base_model, resolve_model

    try:
        resolved = resolve_model(run.base_model, revision=run.info.get("base_model_revision"))
    except HubtuneError as exc:
        raise _NotMeasured(f"the base model {run.base_model} cannot be loaded: {exc}") from None
    native = resolved.family.load_native() is not None
    try:
        if native:
            # Native loaders are strict: a checkpoint without MLM head weights raises ModelError.
            return load_base_model(run.base_model, task="mlm", resolved=resolved)
        model, info = load_base_model(run.base_model, task="mlm", resolved=resolved, output_loading_info=True)
    except (HubtuneError, OSError, ValueError, KeyError, TypeError) as exc:
        raise _NotMeasured(f"{run.base_model} has no usable masked-LM head ({type(exc).__name__}: {exc})") from None
    prefix = getattr(model, "base_model_prefix", "") + "."
    missing_head = [k for k in info.get("missing_keys", []) if not k.startswith(prefix)]
    if missing_head:
        raise _NotMeasured(
            f"{run.base_model} has no masked-LM head weights (missing: {', '.join(sorted(missing_head)[:3])}); "
            "without them the masked-LM loss means nothing"
        )
    return model


def _apply_lora(run: Run, mlm):
    """Wrap the MLM model with the run's LoRA adapter (backbone weights only; the task head is not part of it)."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    weights_file = run.path / "adapter_model.safetensors"
    if not weights_file.is_file():
        raise _NotMeasured(f"{weights_file.name} is missing from the run folder")
    config = LoraConfig.from_pretrained(str(run.path))
    config.modules_to_save = None  # the classification head has no place in the MLM model
    config.task_type = None
    config.inference_mode = True
    model = get_peft_model(mlm, config)
    adapter = {k: v for k, v in load_file(str(weights_file)).items() if "lora_" in k}
    if not adapter:
        raise _NotMeasured("the adapter holds no LoRA weights")
    result = set_peft_model_state_dict(model, adapter)
    unexpected = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
    if unexpected:
        raise _NotMeasured(f"the adapter's LoRA weights do not fit the masked-LM model (e.g. {unexpected[0]})")
    return model


def _apply_backbone(run: Run, mlm) -> float:
    """Copy the fine-tuned backbone of a full/freeze run into the MLM model in place; returns the relative change."""
    import torch

    classifier = run.load_model()
    prefix = getattr(mlm, "base_model_prefix", "") + "."
    tuned = {k: v for k, v in classifier.state_dict().items() if k.startswith(prefix)}
    current = mlm.state_dict()
    backbone = [k for k in current if k.startswith(prefix)]
    missing = [k for k in backbone if k not in tuned]
    if not backbone or missing:
        raise _NotMeasured(
            f"the fine-tuned model's backbone does not match the masked-LM model ({len(missing)} of {len(backbone)} "
            f"backbone tensors missing, e.g. {missing[:1]})"
        )
    diff_sq = base_sq = 0.0
    for key in backbone:
        if current[key].is_floating_point():
            before = current[key].detach().float().cpu()
            diff_sq += float((tuned[key].detach().float().cpu() - before).pow(2).sum())
            base_sq += float(before.pow(2).sum())
    with torch.no_grad():
        mlm.load_state_dict({k: tuned[k] for k in backbone}, strict=False)  # copies onto the MLM model's device
    del classifier
    return math.sqrt(diff_sq / base_sq) if base_sq > 0 else 0.0


def check_forgetting(run: Run, *, max_sequences: int = 256, seed: int = 0, batch_size: int = 32) -> Verdict:
    """Masked-LM loss of the fine-tuned backbone / the pre-trained one, on test sequences and shuffled controls."""
    import torch

    name = "catastrophic forgetting"
    details: dict[str, Any] = {"mask_fraction": MASK_FRACTION, "seed": seed,
                               "thresholds": {"warning": FORGET_WARN, "flag": FORGET_FLAG}}
    if run.method == "probe":
        details.update(ratio=1.0, ratio_shuffled=1.0)
        return Verdict(name, "ok", "frozen backbone (probe): masked-LM loss ratio 1.000 by construction", details)
    try:
        sequences = _test_sequences(run)[:max_sequences]
        controls = shuffled_controls(sequences, seed=seed)
        mlm = _load_mlm(run)
        if torch.cuda.is_available():
            mlm = mlm.to("cuda")
        tokenizer = run.load_tokenizer()
        sets = {"test": sequences, "shuffled": controls}

        def losses(model) -> dict[str, float]:
            return {k: masked_lm_loss(model, tokenizer, v, max_length=run.max_length, seed=seed,
                                      batch_size=batch_size) for k, v in sets.items()}

        if run.method == "lora":
            model = _apply_lora(run, mlm)
            with model.disable_adapter():
                before = losses(model)
            after = losses(model)
            details["compared"] = "LoRA adapter off vs on, same masked-LM model"
        elif run.method in ("full", "freeze"):
            before = losses(mlm)
            details["relative_weight_change"] = _apply_backbone(run, mlm)
            after = losses(mlm)
            details["compared"] = "pre-trained backbone vs the run's fine-tuned backbone, same masked-LM head"
        else:
            raise _NotMeasured(f"method {run.method!r} is not supported by this check")
    except _NotMeasured as exc:
        return Verdict(name, "not measured", str(exc), details)
    except (HubtuneError, OSError, ValueError, KeyError, RuntimeError) as exc:
        return Verdict(name, "not measured", f"{type(exc).__name__}: {exc}", details)
    ratio = after["test"] / before["test"]
    ratio_shuffled = after["shuffled"] / before["shuffled"]
    details.update(n_sequences=len(sequences), loss_pretrained=before["test"], loss_finetuned=after["test"],
                   loss_pretrained_shuffled=before["shuffled"], loss_finetuned_shuffled=after["shuffled"],
                   ratio=ratio, ratio_shuffled=ratio_shuffled)
    status = "flagged" if ratio >= FORGET_FLAG else "warning" if ratio >= FORGET_WARN else "ok"
    summary = (f"masked-LM loss on {len(sequences)} test sequences {before['test']:.3f} -> {after['test']:.3f} "
               f"(ratio {ratio:.3f}); on shuffled controls {before['shuffled']:.3f} -> {after['shuffled']:.3f} "
               f"(ratio {ratio_shuffled:.3f})")
    if "relative_weight_change" in details:
        summary += f"; backbone weights changed by {details['relative_weight_change']:.3g} (relative L2 norm)"
    if status != "ok":
        summary += "; the backbone lost some of its pre-trained DNA model: prefer LoRA or a lower learning rate"
    return Verdict(name, status, summary, details)


# ---------------------------------------------------------------------------------------------------------------------
# Data leakage
# ---------------------------------------------------------------------------------------------------------------------


def _load_run_task(run: Run):
    """The task exactly as the run loaded it (same source, columns, split seed and row cap)."""
    from .data import load_task

    training = run.info.get("training", {})
    source = run.info.get("data_source") or training.get("data")
    if not source:
        raise _NotMeasured("the run does not record its data source")
    try:
        return load_task(source, sequence_column=training.get("sequence_column", "sequence"),
                         label_column=training.get("label_column", "label"), labels_file=training.get("labels_file"),
                         seed=training.get("seed", 42), max_rows=training.get("max_rows"))
    except HubtuneError as exc:
        raise _NotMeasured(f"the run's data {source} cannot be loaded again: {exc}") from None


def _test_sequences(run: Run) -> list[str]:
    return list(_load_run_task(run).splits["test"].sequences)


def check_leakage(run: Run, *, batch_size: int = 32) -> Verdict:
    """The run's leakage report; when test rows are shared with train/dev, the test MCC without them."""
    from .data import LeakageReport, deduplicate
    from .evaluate import compute_metrics

    name = "data leakage"
    report = run.leakage
    pairs = report.get("pairs", {})
    shared = {key: p.get("exact_rows", 0) + p.get("reverse_complement_rows", 0) for key, p in pairs.items()}
    within = {s: w.get("extra_rows", 0) for s, w in report.get("within_split", {}).items()}
    sizes = report.get("split_sizes", {})
    details: dict[str, Any] = {"shared_rows": shared, "duplicate_rows_within": within, "split_sizes": sizes}
    test_shared = shared.get("train/test", 0) + shared.get("dev/test", 0)
    found = [f"{n} {key.split('/')[1]} rows also in {key.split('/')[0]}" for key, n in shared.items() if n]
    found += [f"{n} duplicate rows within {s}" for s, n in within.items() if n]
    if not found:
        return Verdict(name, "ok", "no sequence (or reverse complement) is shared between splits; no duplicates",
                       details)
    if run.info.get("dedup"):
        return Verdict(name, "ok", f"{'; '.join(found)} — removed from dev/test before evaluation (--dedup)", details)
    if not test_shared and not within.get("test"):
        return Verdict(name, "warning", f"{'; '.join(found)}: dev scores (model selection) are optimistic", details)
    try:
        task = _load_run_task(run)
        leak = LeakageReport(report.get("task", task.name), sizes, report.get("distinct_sequences", {}), pairs,
                             report.get("within_split", {}))
        clean = deduplicate(task, leak)
        if task.label_names != run.label_names:
            raise _NotMeasured(f"the data's labels {task.label_names} differ from the run's {run.label_names}")
        classifier = run.classifier()
        test, clean_test = task.splits["test"], clean.splits["test"]
        probs = classifier.predict_proba(test.sequences, batch_size=batch_size)
        all_mcc = compute_metrics(test.labels, probs, run.label_names)["mcc"]
        by_sequence = {}
        for seq, row in zip(test.sequences, probs, strict=True):
            by_sequence.setdefault(seq, row)
        clean_probs = np.stack([by_sequence[s] for s in clean_test.sequences])
        dedup_mcc = compute_metrics(clean_test.labels, clean_probs, run.label_names)["mcc"]
    except _NotMeasured as exc:
        big = test_shared >= LEAK_FRACTION_FLAG * max(1, sizes.get("test", 0))
        return Verdict(name, "flagged" if big else "warning",
                       f"{'; '.join(found)}; deduplicated test MCC not measured: {exc}", details)
    removed = len(test) - len(clean_test)
    inflation = all_mcc - dedup_mcc
    details.update(test_mcc_reported=_split_mcc(run, "test"), test_mcc_all_rows=all_mcc, test_mcc_dedup=dedup_mcc,
                   n_test=len(test), n_test_dedup=len(clean_test), inflation=inflation)
    # A handful of shared rows that moves nothing is worth knowing (warning); a large share or a visible effect on
    # the headline metric is not a detail (flagged).
    flagged = removed >= LEAK_FRACTION_FLAG * len(test) or abs(inflation) >= LEAK_MCC_FLAG
    summary = (f"{'; '.join(found)}; test MCC {all_mcc:.3f} on all {len(test)} rows vs {dedup_mcc:.3f} on the "
               f"{len(clean_test)} deduplicated rows ({removed / len(test):.1%} removed; all rows minus deduplicated "
               f"{inflation:+.3f}); re-split the data or train with --dedup")
    return Verdict(name, "flagged" if flagged else "warning", summary, details)


__all__ = [
    "DIAGNOSTICS_VERSION",
    "Verdict",
    "diagnose_run",
    "format_verdicts",
    "check_overfitting",
    "check_underfitting",
    "check_forgetting",
    "check_leakage",
    "masked_lm_loss",
    "parse_log_history",
    "shuffled_controls",
]
