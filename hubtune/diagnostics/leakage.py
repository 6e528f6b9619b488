"""Data leakage: the run's leakage report, with the test metric (the run's headline metric: MCC, macro AUPRC or
Spearman) recomputed on the deduplicated test set."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import LeakageReport, deduplicate
from ..errors import HubtuneError
from ..evaluate import INFERENCE_BATCH_SIZE
from ..predict import Classifier
from ..run import Run, load_run_model
from .base import NOT_MEASURABLE, NotMeasured, Verdict, load_run_task, split_score

LEAK_FRACTION_FLAG = 0.05  # at least this fraction of test rows removed by deduplication ...
LEAK_SCORE_FLAG = 0.02  # ... or at least this difference in the test score between all rows and deduplicated rows
NAME = "data leakage"


def _shared_rows(report: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Rows of a later split shared with an earlier one (per split pair), and duplicate rows within each split."""
    shared = {key: p.get("exact_rows", 0) + p.get("reverse_complement_rows", 0)
              for key, p in report.get("pairs", {}).items()}
    within = {s: w.get("extra_rows", 0) for s, w in report.get("within_split", {}).items()}
    return shared, within


def _dedup_scores(run: Run, batch_size: int) -> dict[str, Any]:
    """The test score (headline metric) of the run's model on all test rows and on the deduplicated ones (same
    predictions: those training recorded, or the run's model run again; multi-label F1 at the run's dev-tuned
    thresholds)."""
    report = run.leakage
    task = load_run_task(run)
    clean = deduplicate(task, LeakageReport.from_dict(report, task=task.name))
    labels = run.label_names
    if task.label_names != labels:
        raise NotMeasured(f"the data's labels {task.label_names} differ from the run's {labels}")
    test, clean_test = task.splits["test"], clean.splits["test"]
    problem = run.info.problem
    # The outputs training scored test with, when the run recorded them for these very sequences; else predicted.
    outputs = run.test_outputs(test.sequences)
    if outputs is None:
        classifier = Classifier.from_loaded(load_run_model(run.path, info=run.info))
        outputs = classifier.predict_outputs(test.sequences, batch_size=batch_size)
    by_sequence: dict[str, np.ndarray] = {}
    for seq, row in zip(test.sequences, outputs, strict=True):
        by_sequence.setdefault(seq, row)
    clean_outputs = np.stack([by_sequence[s] for s in clean_test.sequences])

    def score(split_labels: Any, split_outputs: np.ndarray) -> float:
        scores = problem.score(split_labels, split_outputs, labels, interval=False, thresholds=run.info.thresholds)
        return float(scores[problem.metric])

    return {"all": score(test.labels, outputs), "dedup": score(clean_test.labels, clean_outputs),
            "n_test": len(test), "n_test_dedup": len(clean_test)}


def check_leakage(run: Run, *, batch_size: int = INFERENCE_BATCH_SIZE) -> Verdict:
    """The run's leakage report; when test rows are shared with train/dev, the test score (the run's headline
    metric) without them.

    Example:
        >>> check_leakage(Run("runs/leaky-probe")).details["test_score_dedup"]  # doctest: +SKIP
        0.41
    """
    try:
        report = run.leakage
    except HubtuneError as exc:
        return Verdict(NAME, NOT_MEASURABLE, f"no leakage report: {exc}")
    if not isinstance(report.get("pairs"), dict):
        return Verdict(NAME, NOT_MEASURABLE, "the run's leakage report does not compare the splits")
    problem = run.info.problem
    name = problem.metric_label
    shared, within = _shared_rows(report)
    sizes = report.get("split_sizes", {})
    details: dict[str, Any] = {"shared_rows": shared, "duplicate_rows_within": within, "split_sizes": sizes}
    test_shared = shared.get("train/test", 0) + shared.get("dev/test", 0)
    found = [f"{n} {key.split('/')[1]} rows also in {key.split('/')[0]}" for key, n in shared.items() if n]
    found += [f"{n} duplicate rows within {s}" for s, n in within.items() if n]
    if not found:
        duplicates = "no duplicates" if "within_split" in report else "duplicates within splits not reported"
        return Verdict(NAME, "ok", f"no sequence (or reverse complement) is shared between splits; {duplicates}",
                       details)
    if run.info.dedup:
        return Verdict(NAME, "ok", f"{'; '.join(found)} — removed before training and evaluation (--dedup)",
                       details)
    if not test_shared and not within.get("test"):
        return Verdict(NAME, "warning", f"{'; '.join(found)}: dev scores (model selection) are optimistic", details)
    try:
        scores = _dedup_scores(run, batch_size)
    except (NotMeasured, HubtuneError) as exc:
        big = test_shared >= LEAK_FRACTION_FLAG * max(1, sizes.get("test", 0))
        return Verdict(NAME, "flagged" if big else "warning",
                       f"{'; '.join(found)}; deduplicated test {name} not measured: {exc}", details)
    n_test, n_dedup = scores["n_test"], scores["n_test_dedup"]
    all_rows, dedup = scores["all"], scores["dedup"]
    removed = n_test - n_dedup
    inflation = all_rows - dedup
    details.update(metric=problem.metric, test_score_reported=split_score(run, "test"), test_score_all_rows=all_rows,
                   test_score_dedup=dedup, n_test=n_test, n_test_dedup=n_dedup, inflation=inflation)
    # A handful of shared rows that moves nothing is worth knowing (warning); a large share or a visible effect on
    # the headline metric is not a detail (flagged).
    flagged = removed >= LEAK_FRACTION_FLAG * n_test or abs(inflation) >= LEAK_SCORE_FLAG
    summary = (f"{'; '.join(found)}; test {name} {all_rows:.3f} on all {n_test} rows vs {dedup:.3f} on the "
               f"{n_dedup} deduplicated rows ({removed / n_test:.1%} removed; all rows minus deduplicated "
               f"{inflation:+.3f}); re-split the data or train with --dedup")
    return Verdict(NAME, "flagged" if flagged else "warning", summary, details)


__all__ = ["LEAK_FRACTION_FLAG", "LEAK_SCORE_FLAG", "check_leakage"]
