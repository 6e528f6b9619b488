"""Pitfall diagnostics for a finished run: overfitting, underfitting, catastrophic forgetting and data leakage.

Each check returns a `Verdict` with the numbers behind it, so a reader can judge the call for themselves:

- overfitting (`curves`): dev loss rising while train loss falls (per seed, from the Trainer's log), and the
  train-dev MCC gap of the kept checkpoint;
- underfitting (`curves`): train loss barely below its start, train MCC near chance (MCC 0), a zero learning rate;
- catastrophic forgetting (`forgetting`): masked-LM loss of the fine-tuned backbone over the pre-trained one on the
  task's test sequences and on shuffled copies of them (same deterministic masks for both), as a ratio;
- data leakage (`leakage`): the run's leakage report, with the test metric recomputed on the deduplicated test set.

The run is read through `hubtune.run.Run` and its model loaded by `hubtune.run.load_run_model`, like everywhere else.

Example:
    >>> print(format_verdicts(diagnose_run("runs/tata-lora")))  # doctest: +SKIP
    overfitting              ok  train MCC 0.612 vs dev MCC 0.580 (gap +0.032); ...
"""

from __future__ import annotations

from pathlib import Path

from ..evaluate import INFERENCE_BATCH_SIZE
from ..run import Run
from .base import CHECK_NAMES, DIAGNOSTICS_VERSION, STATUSES, Verdict, format_verdicts
from .curves import SeedCurve, check_overfitting, check_underfitting, learning_curves, parse_log_history
from .forgetting import NAME as FORGETTING
from .forgetting import check_forgetting, masked_lm_loss, shuffled_controls
from .leakage import check_leakage


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
    "STATUSES",
    "SeedCurve",
    "Verdict",
    "check_forgetting",
    "check_leakage",
    "check_overfitting",
    "check_underfitting",
    "diagnose_run",
    "format_verdicts",
    "learning_curves",
    "masked_lm_loss",
    "parse_log_history",
    "shuffled_controls",
]
