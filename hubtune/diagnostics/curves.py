"""Overfitting and underfitting, read from the run's learning curves (the Trainer's log) and its kept metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..problems import Problem
from ..run import Run
from .base import NOT_MEASURABLE, Verdict, chance_level, chance_text, finite, split_score, trains_backbone
from .causes import (
    collapse_advice,
    collapse_applies,
    learnable_signal,
    lighter_options,
    majority_collapse,
    no_signal_text,
    other_methods,
)

# Thresholds on the run's headline metric (MCC, macro AUPRC or Spearman). MCC and Spearman are 0 at chance for any
# number of classes or targets, macro AUPRC the mean label prevalence; each is at most 1, so the same limits serve all.
OVERFIT_GAP_FLAG = 0.30  # train score - dev score of the kept checkpoint
OVERFIT_GAP_WARN = 0.15
DEV_RISE_FLAG = 0.20  # dev loss at the end / its minimum - 1 ...
DEV_RISE_WARN = 0.05
TRAIN_FALL_MIN = 0.05  # ... while train loss fell by at least this fraction over the same steps
LOSS_DROP_MIN = 0.05  # underfitting: train loss fell by less than this fraction
CHANCE_LIFT = 0.20  # underfitting: a train score less than this above its chance level is "near chance"


@dataclass
class SeedCurve:
    """One seed's learning curve, split out of the Trainer's log_history; `eval_score` is the dev value of `metric`
    (the run's headline metric) at each evaluation."""

    seed: str
    train_steps: list[int]
    train_loss: list[float]
    eval_steps: list[int]
    eval_loss: list[float]
    eval_score: list[float]
    metric: str = "mcc"


def parse_log_history(seed: str, history: list[dict[str, Any]], metric: str = "mcc") -> SeedCurve:
    """Split a Trainer log_history into train-loss and dev-loss / dev-score series (by step); `metric` is the key
    of the headline metric the Trainer logged (``eval_<metric>``: "mcc", "auprc_macro", "spearman").

    Example:
        >>> curve = parse_log_history("seed-1", [{"step": 2, "loss": 0.7}, {"step": 2, "eval_loss": 0.6, "eval_mcc": 0.1}])
        >>> curve.train_loss, curve.eval_score
        ([0.7], [0.1])
    """
    curve = SeedCurve(seed, [], [], [], [], [], metric)
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
            curve.eval_score.append(float(entry.get(f"eval_{metric}", float("nan"))))
    return curve


def learning_curves(run: Run) -> dict[str, SeedCurve]:
    """Every seed's learning curve in the run's training log ({} when the method trains without a loop).

    Example:
        >>> sorted(learning_curves(Run("runs/tata-lora")))  # doctest: +SKIP
        ['seed-1', 'seed-2']
    """
    metric = run.info.problem.metric
    return {seed: parse_log_history(seed, history, metric) for seed, history in run.training_log.items()}


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


def _kept_text(kept: list[dict[str, Any]], problem: Problem) -> str:
    parts = [f"seed {k['seed']} step {k['best_step']} of {k['last_step']}" for k in kept
             if k.get("best_step") is not None]
    if not parts:
        return ""
    return f"kept checkpoint (best dev {problem.metric_label}): " + ", ".join(parts)


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
    """Dev loss rising while train loss falls, or a large train-dev gap of the kept model's headline metric (MCC,
    macro AUPRC or Spearman).

    Example:
        >>> check_overfitting(Run("runs/tata-full")).status  # doctest: +SKIP
        'flagged'
    """
    logs = learning_curves(run) if logs is None else logs
    problem = run.info.problem
    name = problem.metric_label
    train_score, dev_score = split_score(run, "train"), split_score(run, "dev")
    gap = None if train_score is None or dev_score is None else train_score - dev_score
    kept = _kept_checkpoints(run, logs)
    curves = [_dev_rise(curve) for curve in logs.values() if len(curve.eval_loss) >= 3 and curve.train_loss]
    diverging = [c for c in curves if c["train_loss_fall"] is not None and c["train_loss_fall"] >= TRAIN_FALL_MIN]
    worst = max(diverging, key=lambda c: c["dev_loss_rise"], default=None)
    details = {"metric": problem.metric, "train_score": train_score, "dev_score": dev_score, "train_dev_gap": gap,
               "curves": curves, "kept_checkpoints": kept,
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
        parts.append(f"train {name} {train_score:.3f} vs dev {name} {dev_score:.3f} (gap {gap:+.3f})")
    if worst is not None:
        parts.append(
            f"dev loss rose {worst['dev_loss_rise']:+.0%} after its minimum at step {worst['dev_loss_min_step']} "
            f"({worst['dev_loss_min']:.3f} -> {worst['dev_loss_end']:.3f}) while train loss fell "
            f"{worst['train_loss_fall']:.0%} ({worst['seed']})"
        )
    elif curves:
        rise = max(c["dev_loss_rise"] for c in curves)
        parts.append(f"no dev-loss rise with falling train loss (dev loss ends {rise:+.0%} above its minimum)")
    kept_text = _kept_text(kept, problem)
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


def _train_lift(run: Run, problem: Problem) -> tuple[float | None, float | None]:
    """The kept model's train score and how far it is above its chance level (None when either is unknown)."""
    train_score = split_score(run, "train")
    chance = chance_level(problem, (run.metrics.get("finetuned") or {}).get("train"))
    return train_score, None if train_score is None or chance is None else train_score - chance


def check_underfitting(run: Run, logs: dict[str, SeedCurve] | None = None) -> Verdict:
    """Train loss barely below its start, a train score (the headline metric) near chance, or a zero learning rate,
    with the cause named where the metrics show one: no learnable signal (the fine-tuned model and both baselines at
    chance on test) or, for single-label runs, a majority collapse (one class predicted for (almost) every
    sequence), instead of the generic cure.

    Chance is 0 for MCC and Spearman and the mean label prevalence for macro AUPRC. A majority collapse does not
    apply to multi-label and regression runs: their details say so (`collapse_checked` False), nothing is claimed.

    Example:
        >>> check_underfitting(Run("runs/tata-lora-lr0")).status  # doctest: +SKIP
        'flagged'
    """
    logs = learning_curves(run) if logs is None else logs
    problem = run.info.problem
    name = problem.metric_label
    training = run.info.training
    lr = training.get("learning_rate")
    train_score, lift = _train_lift(run, problem)
    chance_value = chance_level(problem, (run.metrics.get("finetuned") or {}).get("train"))
    drops = _loss_drops(logs)
    best_drop = max(drops, key=lambda d: d["relative_drop"], default=None)
    signal, collapse = learnable_signal(run), majority_collapse(run)
    details: dict[str, Any] = {"metric": problem.metric, "train_score": train_score,
                               "dev_score": split_score(run, "dev"), "train_chance": chance_value,
                               "learning_rate": lr, "loss": drops, "signal": signal.to_dict(),
                               "collapse": collapse.to_dict() if collapse else None,
                               "collapse_checked": collapse_applies(run),
                               "thresholds": {"loss_drop": LOSS_DROP_MIN, "chance_lift": CHANCE_LIFT}}
    backbone = trains_backbone(run)
    if lift is None and (best_drop is None or not backbone):
        what = "no train metrics" if train_score is None else f"no chance level for the train {name}"
        return Verdict("underfitting", NOT_MEASURABLE, f"{what} and no train loss in the run", details)
    zero_lr = backbone and lr is not None and float(lr) == 0.0
    flat = backbone and best_drop is not None and best_drop["relative_drop"] < LOSS_DROP_MIN
    chance = lift is not None and lift < CHANCE_LIFT
    if not backbone:
        status = "flagged" if chance else "ok"
    elif zero_lr or (flat and chance) or (flat and lift is None):
        status = "flagged"
    elif chance or (flat and lift is not None and lift < 2 * CHANCE_LIFT):
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
    score_text = (f"train {name} {train_score:.3f} ({chance_text(problem, chance_value)})"
                  if train_score is not None else "")
    if not backbone:
        parts.append(f"frozen-embedding probe: {score_text or f'train {name} not recorded'}")
    else:
        if best_drop is not None:
            parts.append(f"train loss {best_drop['train_loss_start']:.3f} -> {best_drop['train_loss_end']:.3f} "
                         f"({-best_drop['relative_drop']:+.1%}) over {best_drop['steps']} steps")
        if score_text:
            parts.append(score_text)
    if status != "ok" and cause in (None, "zero learning rate"):
        if backbone:
            parts += _underfitting_advice(training, drops, lr, problem)
        else:
            parts.append("the pre-trained features barely carry the signal: fine-tune ("
                         + "/".join(other_methods(run, "lora", "full")) + ") instead")
        if signal.missing and cause is None:
            parts.append(f"whether the labels carry any signal is not measurable: {', '.join(signal.missing)}")
        if cause is None and not collapse_applies(run):
            parts.append(f"majority collapse not checked ({problem.description.split(' (')[0]}: no single class "
                         "per sequence)")
    return Verdict("underfitting", status, "; ".join(parts), details)


def _underfitting_advice(training: dict[str, Any], drops: list[dict[str, Any]], lr: float | None,
                         problem: Problem) -> list[str]:
    advice = []
    budget = training.get("max_steps")
    stopped = [f"{d['seed']} at step {d['last_step']}" for d in drops if budget and d["last_step"] < budget]
    if stopped and training.get("patience"):
        advice.append(f"early stopping ended {', '.join(stopped)} of {budget} (dev {problem.metric_label} stopped "
                      "improving); raise --patience or disable it")
    steps = f"{budget} steps" if budget else f"{training.get('epochs')} epochs"
    advice.append(f"try more steps (budget {steps}) or a higher learning rate (used {lr:g})" if lr is not None
                  else "try more steps or a higher learning rate")
    return advice


__all__ = ["SeedCurve", "check_overfitting", "check_underfitting", "learning_curves", "parse_log_history"]
