"""What every pitfall check shares: the `Verdict` it returns, the task as the run loaded it, the run's kept metrics."""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..data import TaskData, load_task
from ..errors import HubtuneError
from ..methods import get_method
from ..problems import MULTI_LABEL, Problem
from ..run import Run

# "not measurable": the run does not allow the check (the summary says why); "not measured": the check was skipped.
NOT_MEASURABLE = "not measurable"
STATUSES = ("ok", "warning", "flagged", NOT_MEASURABLE, "not measured")
CHECK_NAMES = ("overfitting", "underfitting", "catastrophic forgetting", "data leakage")
# Bumped whenever a rule or threshold changes, so stored verdicts (e.g. in a compare report) are recomputed.
DIAGNOSTICS_VERSION = 6
# The training settings (hubtune.json "training" keys) that decide how `load_task` reads the data; the split and
# sample seed is "data_seed" (runs written before it existed used "seed"), the class names "label_names".
# The task of each open `Run`, so the checks of one `diagnose_run` load the data once; dropped with the `Run`.
_TASKS: weakref.WeakKeyDictionary[Run, TaskData] = weakref.WeakKeyDictionary()


@dataclass
class Verdict:
    """One diagnostic's outcome.

    Attributes:
        name: "overfitting", "underfitting", "catastrophic forgetting" or "data leakage".
        status: "ok", "warning", "flagged", "not measurable" (the run does not allow the check; the summary says
            why) or "not measured" (the check was skipped).
        summary: one line with the numbers behind the status.
        details: the numbers themselves (JSON-ready).

    Example:
        >>> Verdict("overfitting", "ok", "train MCC 0.61 vs dev MCC 0.58 (gap +0.030)").to_dict()["status"]
        'ok'
    """

    name: str
    status: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON-ready data (what a compare report stores per cell)."""
        return asdict(self)


def format_verdicts(verdicts: Sequence[Verdict]) -> str:
    """Plain-text block, one line per diagnostic: name, status, summary.

    Example:
        >>> print(format_verdicts([Verdict("data leakage", "ok", "no shared sequences")]))
        data leakage  ok  no shared sequences
    """
    if not verdicts:
        return "no diagnostics"
    name_width = max(len(v.name) for v in verdicts)
    status_width = max(len(v.status) for v in verdicts)
    return "\n".join(f"{v.name.ljust(name_width)}  {v.status.ljust(status_width)}  {v.summary}" for v in verdicts)


class NotMeasured(Exception):
    """A check cannot be done for this run; the message says why (it becomes a "not measurable" verdict)."""


def finite(value: Any) -> bool:
    """True for an int or float that is neither NaN nor infinite.

    Example:
        >>> finite(0.5), finite(float("nan")), finite(None)
        (True, False, False)
    """
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def split_score(run: Run, split: str) -> float | None:
    """The run's headline metric (MCC, macro AUPRC or Spearman: `run.info.problem.metric`) of its kept model on
    `split` ("train", "dev", "test"), or None when not recorded.

    Example:
        >>> split_score(Run("runs/tata-lora"), "dev")  # doctest: +SKIP
        0.58
    """
    block = (run.metrics.get("finetuned") or {}).get(split) or {}
    value = block.get(run.info.problem.metric)
    return float(value) if finite(value) else None


def chance_level(problem: Problem, block: dict[str, Any] | None) -> float | None:
    """The headline metric of a model without signal on this split's scores: 0 for MCC and Spearman, the mean
    prevalence of the scored labels for macro AUPRC (None when the block does not record the prevalences).

    Example:
        >>> from hubtune.problems import get_problem
        >>> chance_level(get_problem("regression"), {})
        0.0
        >>> chance_level(get_problem("multi_label"), {"per_label": [{"auprc": 0.5, "prevalence": 0.2},
        ...                                                          {"auprc": 0.3, "prevalence": 0.4}]})
        0.3
    """
    if problem.name != MULTI_LABEL:
        return 0.0
    prevalences = [float(p["prevalence"]) for p in (block or {}).get("per_label") or []
                   if isinstance(p, dict) and finite(p.get("auprc")) and finite(p.get("prevalence"))]
    return round(sum(prevalences) / len(prevalences), 12) if prevalences else None


def chance_text(problem: Problem, chance: float | None) -> str:
    """How a verdict states the chance level of the headline metric.

    Example:
        >>> from hubtune.problems import get_problem
        >>> chance_text(get_problem("single_label"), 0.0), chance_text(get_problem("multi_label"), 0.25)
        ('chance = 0', 'chance = 0.250, the mean label prevalence')
    """
    if problem.name == MULTI_LABEL:
        return ("chance = the mean label prevalence (not recorded)" if chance is None
                else f"chance = {chance:.3f}, the mean label prevalence")
    return "chance = 0"


def trains_backbone(run: Run) -> bool:
    """False for a method that leaves the pre-trained backbone as it is (fitted without the Trainer on frozen
    embeddings), True for methods whose training loop updates it.

    Example:
        >>> trains_backbone(Run("runs/tata-lora"))  # doctest: +SKIP
        True
    """
    return get_method(run.info.method).uses_trainer


def load_run_task(run: Run) -> TaskData:
    """The task exactly as the run loaded it (same source, columns, data seed, row cap and class names); loaded once
    per `Run`.

    Raises:
        NotMeasured: the run does not record its data, or the data cannot be loaded again.

    Example:
        >>> len(load_run_task(Run("runs/tata-lora")).splits["test"])  # doctest: +SKIP
        1000
    """
    if run in _TASKS:
        return _TASKS[run]
    training = run.info.training
    source = run.info.data_source or training.get("data")
    if not source:
        raise NotMeasured("the run does not record its data source")
    from ..config import task_options

    recorded = {**training, "problem_type": run.info.problem_type}
    if "data_seed" not in training and "seed" in training:  # runs before --data-seed drew their data with --seed
        recorded["data_seed"] = training["seed"]
    try:
        task = load_task(source, **task_options(recorded))
    except HubtuneError as exc:
        raise NotMeasured(f"the run's data {source} cannot be loaded again: {exc}") from None
    _TASKS[run] = task
    return task


__all__ = ["CHECK_NAMES", "DIAGNOSTICS_VERSION", "NOT_MEASURABLE", "STATUSES", "NotMeasured", "Verdict", "chance_level",
           "chance_text", "finite", "format_verdicts", "load_run_task", "split_score", "trains_backbone"]
