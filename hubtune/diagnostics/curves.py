"""Overfitting and underfitting, read from the run's learning curves (the Trainer's log) and its kept metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..run import Run
from .base import NOT_MEASURABLE, Verdict, finite, split_mcc, trains_backbone
from .causes import (
    collapse_advice,
    learnable_signal,
    lighter_options,
    majority_collapse,
    no_signal_text,
    other_methods,
)

# Thresholds. MCC is 0 at chance for any number of classes, so the same limits serve binary and multi-class tasks.
OVERFIT_GAP_FLAG = 0.30  # train MCC - dev MCC of the kept checkpoint
OVERFIT_GAP_WARN = 0.15
DEV_RISE_FLAG = 0.20  # dev loss at the end / its minimum - 1 ...
DEV_RISE_WARN = 0.05
TRAIN_FALL_MIN = 0.05  # ... while train loss fell by at least this fraction over the same steps
LOSS_DROP_MIN = 0.05  # underfitting: train loss fell by less than this fraction
CHANCE_MCC = 0.20  # underfitting: train MCC below this is "near chance"


@dataclass
class SeedCurve:
    """One seed's learning curve, split out of the Trainer's log_history."""

    seed: str
    train_steps: list[int]
    train_loss: list[float]
    eval_steps: list[int]
    eval_loss: list[float]
    eval_mcc: list[float]


def parse_log_history(seed: str, history: list[dict[str, Any]]) -> SeedCurve:
    """Split a Trainer log_history into train-loss and dev-loss/MCC series (by step).

    Example:
        >>> curve = parse_log_history("seed-1", [{"step": 2, "loss": 0.7}, {"step": 2, "eval_loss": 0.6, "eval_mcc": 0.1}])
        >>> curve.train_loss, curve.eval_mcc
        ([0.7], [0.1])
    """
    curve = SeedCurve(seed, [], [], [], [], [])
    for entry in history:
        step = entry.get("step")
        if step is None:
            continue
        if "loss" in entry and finite(entry["loss"]):
            curve.train_steps.append(int(step))
            curve.train_loss.append(float(entry["loss"]))
        if "eval_loss" in entry and finite(entry["eval_loss"]):
            curve.eval_steps.append(int(step))
            curve.eval_loss.append(float(entry["eval_loss"]))
            curve.eval_mcc.append(float(entry.get("eval_mcc", float("nan"))))
    return curve


def learning_curves(run: Run) -> dict[str, SeedCurve]:
    """Every seed's learning curve in the run's training log ({} when the method trains without a loop).

    Example:
        >>> sorted(learning_curves(Run("runs/tata-lora")))  # doctest: +SKIP
        ['seed-1', 'seed-2']
    """
    return {seed: parse_log_history(seed, history) for seed, history in run.training_log.items()}


def _mean_between(steps: list[int], values: list[float], low: int, high: int) -> float | None:
    chosen = [v for s, v in zip(steps, values, strict=True) if low <= s <= high]
    return float(np.mean(chosen)) if chosen else None


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


def _dev_rise(curve: SeedCurve) -> dict[str, Any]:
    """How far dev loss ends above its minimum, and how much train loss fell over the same steps."""
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
    return {"seed": curve.seed, "dev_loss_min": dev_min, "dev_loss_min_step": step_min, "dev_loss_end": dev_end,
            "dev_loss_rise": rise, "train_loss_at_dev_min": train_at_min, "train_loss_end": train_end,
            "train_loss_fall": fall}


def check_overfitting(run: Run, logs: dict[str, SeedCurve] | None = None) -> Verdict:
    """Dev loss rising while train loss falls, or a large train-dev MCC gap of the kept model.

    Example:
        >>> check_overfitting(Run("runs/tata-full")).status  # doctest: +SKIP
        'flagged'
    """
    logs = learning_curves(run) if logs is None else logs
    train_mcc, dev_mcc = split_mcc(run, "train"), split_mcc(run, "dev")
    gap = None if train_mcc is None or dev_mcc is None else train_mcc - dev_mcc
    kept = _kept_checkpoints(run, logs)
    curves = [_dev_rise(curve) for curve in logs.values() if len(curve.eval_loss) >= 3 and curve.train_loss]
    diverging = [c for c in curves if c["train_loss_fall"] is not None and c["train_loss_fall"] >= TRAIN_FALL_MIN]
    worst = max(diverging, key=lambda c: c["dev_loss_rise"], default=None)
    details = {"train_mcc": train_mcc, "dev_mcc": dev_mcc, "train_dev_mcc_gap": gap, "curves": curves,
               "kept_checkpoints": kept,
               "thresholds": {"gap_flag": OVERFIT_GAP_FLAG, "gap_warning": OVERFIT_GAP_WARN,
                              "dev_rise_flag": DEV_RISE_FLAG, "dev_rise_warning": DEV_RISE_WARN}}
    if gap is None and not curves:
        return Verdict("overfitting", NOT_MEASURABLE, "no train/dev metrics and no learning curve in the run",
                       details)
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
    if status != "ok":
        signal = learnable_signal(run)
        details["signal"] = signal.to_dict()
        if signal.absent:
            parts.append("the model memorised the training rows: " + no_signal_text(signal))
        elif trains_backbone(run):
            parts.append("try " + ", ".join(["fewer steps", "more data", "weight decay", *lighter_options(run)]))
    return Verdict("overfitting", status, "; ".join(parts), details)


def _loss_drops(logs: dict[str, SeedCurve]) -> list[dict[str, Any]]:
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
    return drops


def check_underfitting(run: Run, logs: dict[str, SeedCurve] | None = None) -> Verdict:
    """Train loss barely below its start, train MCC near chance, or a zero learning rate, with the cause named where
    the metrics show one: no learnable signal (the fine-tuned model and both baselines at chance on test) or a
    majority collapse (one class predicted for (almost) every sequence), instead of the generic cure.

    Example:
        >>> check_underfitting(Run("runs/tata-lora-lr0")).status  # doctest: +SKIP
        'flagged'
    """
    logs = learning_curves(run) if logs is None else logs
    training = run.info.training
    lr = training.get("learning_rate")
    train_mcc = split_mcc(run, "train")
    drops = _loss_drops(logs)
    best_drop = max(drops, key=lambda d: d["relative_drop"], default=None)
    signal, collapse = learnable_signal(run), majority_collapse(run)
    details: dict[str, Any] = {"train_mcc": train_mcc, "dev_mcc": split_mcc(run, "dev"), "learning_rate": lr,
                               "loss": drops, "signal": signal.to_dict(),
                               "collapse": collapse.to_dict() if collapse else None,
                               "thresholds": {"loss_drop": LOSS_DROP_MIN, "chance_mcc": CHANCE_MCC}}
    backbone = trains_backbone(run)
    if train_mcc is None and (best_drop is None or not backbone):
        return Verdict("underfitting", NOT_MEASURABLE, "no train metrics and no train loss in the run", details)
    zero_lr = backbone and lr is not None and float(lr) == 0.0
    flat = backbone and best_drop is not None and best_drop["relative_drop"] < LOSS_DROP_MIN
    chance = train_mcc is not None and train_mcc < CHANCE_MCC
    if not backbone:
        status = "flagged" if chance else "ok"
    elif zero_lr or (flat and chance) or (flat and train_mcc is None):
        status = "flagged"
    elif chance or (flat and train_mcc is not None and train_mcc < 2 * CHANCE_MCC):
        status = "warning"
    else:
        status = "ok"
    # A collapse onto a class that dominates train is named first: predicting one class gives MCC 0 whatever the
    # model learnt, so the chance-level scores cannot show that the labels carry nothing.
    skewed = collapse is not None and collapse.skewed
    cause = ("zero learning rate" if zero_lr else "majority collapse" if skewed
             else "no learnable signal" if signal.absent else "majority collapse" if collapse is not None else None)
    if cause is not None and status == "ok":
        status = "warning"
    details["cause"] = cause
    parts = []
    if zero_lr:
        parts.append("learning rate is 0: nothing but the untrained head was evaluated")
    elif cause == "no learnable signal":
        parts.append(no_signal_text(signal))
    elif collapse is not None:
        parts.append(f"{collapse.text()}; {collapse_advice(run, collapse)}")
        if signal.absent:
            parts.append("the baselines show no signal either: check the labels and splits as well")
    if not backbone:
        parts.append(f"frozen-embedding probe: train MCC {train_mcc:.3f} (chance = 0)")
    else:
        if best_drop is not None:
            parts.append(f"train loss {best_drop['train_loss_start']:.3f} -> {best_drop['train_loss_end']:.3f} "
                         f"({-best_drop['relative_drop']:+.1%}) over {best_drop['steps']} steps")
        if train_mcc is not None:
            parts.append(f"train MCC {train_mcc:.3f} (chance = 0)")
    if status != "ok" and cause in (None, "zero learning rate"):
        if backbone:
            parts += _underfitting_advice(training, drops, lr)
        else:
            parts.append("the pre-trained features barely separate the classes: fine-tune ("
                         + "/".join(other_methods(run, "lora", "full")) + ") instead")
        if signal.missing and cause is None:
            parts.append(f"whether the labels carry any signal is not measurable: {', '.join(signal.missing)}")
    return Verdict("underfitting", status, "; ".join(parts), details)


def _underfitting_advice(training: dict[str, Any], drops: list[dict[str, Any]], lr: float | None) -> list[str]:
    advice = []
    budget = training.get("max_steps")
    stopped = [f"{d['seed']} at step {d['last_step']}" for d in drops if budget and d["last_step"] < budget]
    if stopped and training.get("patience"):
        advice.append(f"early stopping ended {', '.join(stopped)} of {budget} (dev MCC stopped improving); "
                      "raise --patience or disable it")
    steps = f"{budget} steps" if budget else f"{training.get('epochs')} epochs"
    advice.append(f"try more steps (budget {steps}) or a higher learning rate (used {lr:g})" if lr is not None
                  else "try more steps or a higher learning rate")
    return advice


__all__ = ["SeedCurve", "check_overfitting", "check_underfitting", "learning_curves", "parse_log_history"]
