"""Pitfall diagnostics for a finished run: overfitting, underfitting, catastrophic forgetting and data leakage.

Each check returns a `Verdict` with the numbers behind it, so a reader can judge the call for themselves:

- overfitting (`curves`): dev loss rising while train loss falls (per seed, from the Trainer's log), and the
  train-dev gap of the kept checkpoint's score;
- underfitting (`curves`): train loss barely below its start, a train score near chance, a zero learning rate;
  the cause is named where the metrics show one (`causes`): no learnable signal (the fine-tuned model, the
  pre-trained probe and the k-mer baseline all at chance on test) or, for single-label tasks, a majority collapse
  (one class predicted for almost every sequence);
- catastrophic forgetting (`forgetting`): the share of the base model's pre-training gain (its masked-LM loss below a
  unigram reference on the task's test sequences) that the fine-tuned backbone lost;
- data leakage (`leakage`): the run's leakage report, with the test score recomputed on the deduplicated test set.

The score is the run's headline metric (`hubtune.problems.Problem.metric`): MCC for single-label tasks (0 at
chance), macro AUPRC for multi-label tasks (the mean label prevalence at chance), Spearman for regression (0 at
chance); every verdict names it.

A check the run does not allow is "not measurable", with the reason; one that was skipped is "not measured". Advice
never names the method the run already uses.

The run is read through `hubtune.run.Run` and its model loaded by `hubtune.run.load_run_model`, like everywhere else.

Example:
    >>> print(format_verdicts(diagnose_run("runs/tata-lora")))  # doctest: +SKIP
    overfitting              ok  train MCC 0.612 vs dev MCC 0.580 (gap +0.032); ...
"""

from __future__ import annotations

from pathlib import Path

from ..evaluate import INFERENCE_BATCH_SIZE
from ..run import Run
from .base import (
    CHECK_NAMES,
    DIAGNOSTICS_VERSION,
    NOT_MEASURABLE,
    STATUSES,
    Verdict,
    chance_level,
    format_verdicts,
    split_score,
)
from .causes import at_chance, collapse_applies, learnable_signal, majority_collapse
from .curves import SeedCurve, check_overfitting, check_underfitting, learning_curves, parse_log_history
from .forgetting import NAME as FORGETTING
from .forgetting import (
    check_forgetting,
    forgetting_status,
    forgotten_fraction,
    masked_lm_loss,
    shuffled_controls,
    unigram_reference_loss,
)
from .leakage import check_leakage
from .rules import rule_notes


def diagnose_run(
    run_path: str | Path, *, forgetting: bool = True, max_sequences: int = 256, seed: int = 0, batch_size: int = INFERENCE_BATCH_SIZE,
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

    Example:
        >>> [v.status for v in diagnose_run("runs/tata-lora", forgetting=False)]  # doctest: +SKIP
        ['ok', 'ok', 'not measured', 'ok']
    """
    run = Run(run_path)
    logs = learning_curves(run)
    verdicts = [check_overfitting(run, logs), check_underfitting(run, logs)]
    if forgetting:
        verdicts.append(check_forgetting(run, max_sequences=max_sequences, seed=seed, batch_size=batch_size))
    else:
        verdicts.append(Verdict(FORGETTING, "not measured", "skipped (forgetting=False)"))
    verdicts.append(check_leakage(run, batch_size=batch_size))
    return verdicts


__all__ = [
    "CHECK_NAMES",
    "DIAGNOSTICS_VERSION",
    "NOT_MEASURABLE",
    "STATUSES",
    "SeedCurve",
    "Verdict",
    "at_chance",
    "chance_level",
    "check_forgetting",
    "check_leakage",
    "check_overfitting",
    "check_underfitting",
    "collapse_applies",
    "diagnose_run",
    "format_verdicts",
    "forgetting_status",
    "forgotten_fraction",
    "learnable_signal",
    "learning_curves",
    "majority_collapse",
    "masked_lm_loss",
    "parse_log_history",
    "rule_notes",
    "shuffled_controls",
    "split_score",
    "unigram_reference_loss",
]
