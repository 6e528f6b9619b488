"""Causes a verdict names instead of a generic cure: no learnable signal, majority collapse, and advice that never
suggests the method the run already uses.

All of it is read from the run's `metrics.json` and `hubtune.json`; nothing is loaded or recomputed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..problems import MULTI_LABEL, SINGLE_LABEL, Problem, get_problem
from ..run import Run
from ..tables import COMPARED_MODELS
from .base import chance_level, finite

# A model shows signal when its test score (the problem's headline metric: MCC, macro AUPRC or Spearman; AUROC for a
# classifier that predicts one class) is off chance at the 95% level over the three models compared (Bonferroni:
# 0.05 / 3 each, two-sided), so one lucky baseline does not hide a null result.
CHANCE_Z = 2.394
COLLAPSE_SHARE = 0.90  # majority collapse: one class takes at least this share of the predictions ...
COLLAPSE_RECALL = 0.10  # ... and the other classes' rows are recognised at most this often (pooled recall)


@dataclass
class Score:
    """One model's test score (the problem's headline metric) and whether it is distinguishable from chance."""

    key: str  # "finetuned", "probe", "kmer"
    title: str
    metric_label: str  # "MCC", "macro AUPRC", "Spearman"
    value: float
    chance: float  # the metric's value without signal (0; macro AUPRC: the mean label prevalence)
    n: int | None
    ci95: list[float] | None
    auroc: float | None  # single-label only: judged instead of MCC when one class is predicted
    at_chance: bool
    rule: str  # how `at_chance` was decided

    def text(self) -> str:
        """`fine-tuned MCC 0.012 (95% CI -0.08–0.10), AUROC 0.51` or `k-mer baseline macro AUPRC 0.31 (...; chance
        0.300)`."""
        text = f"{self.title} {self.metric_label} {self.value:.3f}"
        inside = [f"95% CI {self.ci95[0]:.3f}–{self.ci95[1]:.3f}"] if self.ci95 else [f"n = {self.n}"] if self.n else []
        if self.chance:
            inside.append(f"chance {self.chance:.3f}")
        text += f" ({'; '.join(inside)})" if inside else ""
        return text + (f", AUROC {self.auroc:.2f}" if self.auroc is not None else "")


@dataclass
class Signal:
    """Whether the run shows any learnable signal: its fine-tuned model and baselines against chance on test.

    `absent` is True only when the fine-tuned model and every baseline were measured and all are at chance;
    `missing` names what was not measured or cannot be judged (then nothing is concluded).
    """

    scores: list[Score] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def absent(self) -> bool:
        return not self.missing and bool(self.scores) and all(s.at_chance for s in self.scores)

    def text(self) -> str:
        """One clause with every model's test scores."""
        return "; ".join(s.text() for s in self.scores)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready details."""
        return {"absent": self.absent, "missing": list(self.missing),
                "scores": [{"model": s.key, "metric": s.metric_label, "value": s.value, "chance": s.chance, "n": s.n,
                            "ci95": s.ci95, "auroc": s.auroc, "at_chance": s.at_chance, "rule": s.rule}
                           for s in self.scores]}


def _auroc_null_se(block: dict[str, Any]) -> float | None:
    """Standard error of a two-class AUROC under no signal (Mann-Whitney), from the class supports; else None."""
    per_class = block.get("per_class") or []
    supports = [c.get("support") for c in per_class]
    if len(supports) != 2 or not all(finite(v) and v > 0 for v in supports):
        return None
    n0, n1 = supports
    return math.sqrt((n0 + n1 + 1) / (12 * n0 * n1))


def at_chance(block: dict[str, Any], problem: str | Problem | None = None) -> tuple[bool, str] | None:
    """Is a split's score indistinguishable from chance? The problem's headline metric (MCC, macro AUPRC or
    Spearman) within `CHANCE_Z` standard errors of its chance level (`chance_level`: 0, or the mean label
    prevalence for macro AUPRC), the standard error read from the stored 95% bootstrap interval (without one, as in
    older metrics.json files: 1/sqrt(n) for MCC and Spearman; macro AUPRC cannot then be judged). A single-label
    model that predicts (almost) one class has an MCC near 0 whatever it learnt: for two classes its AUROC is judged
    instead (within `CHANCE_Z` null standard errors of 0.5). None when the block cannot tell.

    Example:
        >>> at_chance({"mcc": 0.05, "n": 400, "mcc_ci95": [-0.04, 0.14]})[0]
        True
        >>> at_chance({"mcc": 0.3, "n": 400})[0]
        False
        >>> at_chance({"spearman": 0.02, "n": 100, "spearman_ci95": [-0.17, 0.21]}, "regression")[0]
        True
    """
    chosen = get_problem(problem)
    value = block.get(chosen.metric)
    if not finite(value):
        return None
    if chosen.name == SINGLE_LABEL and _collapse_on(block.get("confusion_matrix") or []) is not None:
        auroc, auroc_se = block.get("auroc"), _auroc_null_se(block)
        if not finite(auroc) or auroc_se is None:
            return None
        return (abs(float(auroc) - 0.5) <= CHANCE_Z * auroc_se,
                f"one class predicted: |AUROC - 0.5| <= {CHANCE_Z} x its null SE {auroc_se:.3f}")
    chance = chance_level(chosen, block)
    if chance is None:
        return None
    ci, n = block.get(f"{chosen.metric}_ci95"), block.get("n")
    if isinstance(ci, list | tuple) and len(ci) == 2 and all(finite(v) for v in ci):
        se, rule = (ci[1] - ci[0]) / (2 * 1.96), "the SE read from its 95% bootstrap interval"
    elif chosen.name != MULTI_LABEL and finite(n) and n > 0:
        se, rule = 1 / math.sqrt(n), "SE 1/sqrt(n)"
    else:
        return None
    distance = f"|{chosen.metric_label} - {chance:.3f}|" if chance else f"|{chosen.metric_label}|"
    return abs(float(value) - chance) <= CHANCE_Z * se, f"{distance} <= {CHANCE_Z} x {rule}"


def _score(key: str, title: str, blocks: list[dict[str, Any]], problem: Problem) -> Score | None:
    """A model's test score; with several seeds it is at chance only when every seed is."""
    metric = problem.metric
    if not blocks or any(finite(b.get(metric)) and at_chance(b, problem) is None for b in blocks):
        return None  # a score that cannot be judged: nothing is concluded
    judged = [(b, j) for b in blocks if (j := at_chance(b, problem)) is not None]
    if not judged:
        return None
    first = judged[0][0]
    n, auroc = first.get("n"), first.get("auroc") if problem.name == SINGLE_LABEL else None
    return Score(key, title, problem.metric_label, float(first[metric]), chance_level(problem, first) or 0.0,
                 int(n) if finite(n) else None, first.get(f"{metric}_ci95") if len(judged) == 1 else None,
                 float(auroc) if finite(auroc) else None,
                 all(j[0] for _, j in judged), judged[0][1][1] + (f", every one of {len(judged)} seeds"
                                                                   if len(judged) > 1 else ""))


def learnable_signal(run: Run) -> Signal:
    """The test score (the run's headline metric) of the fine-tuned model, the pre-trained probe and the k-mer
    baseline against chance.

    Example:
        >>> learnable_signal(Run("runs/shuffled-labels")).absent  # doctest: +SKIP
        True
    """
    metrics, problem = run.metrics, run.info.problem
    signal = Signal()
    for key, title in COMPARED_MODELS:
        if key == "finetuned":
            blocks = [s["test"] for s in metrics.get("per_seed") or [] if isinstance(s.get("test"), dict)]
            blocks = blocks or [((metrics.get(key) or {}).get("test") or {})]
        else:
            blocks = [((metrics.get(key) or {}).get("test") or {})]
        score = _score(key, title, blocks, problem)
        if score is not None:
            signal.scores.append(score)
        elif any(finite(b.get(problem.metric)) for b in blocks):
            signal.missing.append(f"{title} (one class predicted and no AUROC to judge)" if problem.name == SINGLE_LABEL
                                  else f"{title} (no interval or chance level to judge its {problem.metric_label})")
        else:
            signal.missing.append(f"{title} (not run)")
    return signal


def no_signal_text(signal: Signal) -> str:
    """The verdict text for a run without learnable signal.

    Example:
        >>> no_signal_text(Signal([Score("kmer", "k-mer baseline", "MCC", 0.01, 0.0, 400, None, 0.5, True, "")]))[:40]
        'no learnable signal: check labels and sp'
    """
    sizes = sorted({s.n for s in signal.scores if s.n})
    small = f"; with {sizes[0]} test rows only a strong signal would show" if sizes and sizes[0] < 200 else ""
    return (f"no learnable signal: check labels and splits (all at chance on test: {signal.text()}); "
            "shuffled or mismatched labels, or labels unrelated to the sequence, look like this, and more steps or "
            f"a higher learning rate will not help{small}")


@dataclass
class Collapse:
    """The model predicts (almost) only one class on a split."""

    split: str
    predicted: str  # the class it predicts
    predicted_share: float  # share of the split's predictions that are this class
    other_recall: float  # pooled recall of every other class
    train_share: float | None  # the predicted class's share of the train split
    is_majority: bool  # the predicted class is the train majority
    accuracy: float
    n_classes: int

    @property
    def skewed(self) -> bool:
        """The predicted class is over-represented in train (weighting the loss by class can help)."""
        return self.is_majority and (self.train_share is None or self.train_share > 1 / self.n_classes + 0.05)

    def text(self) -> str:
        """`majority collapse: the model predicts promoter for 99% of test sequences (...)`."""
        kind = "majority collapse" if self.is_majority else "collapse to one class"
        train = f" ({self.train_share:.0%} of train)" if self.train_share is not None else ""
        return (f"{kind}: the model predicts {self.predicted}{train} for {self.predicted_share:.0%} of {self.split} "
                f"sequences and recognises the other classes {self.other_recall:.0%} of the time (its accuracy, "
                f"{self.accuracy:.0%}, says little here: read MCC or AUROC)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready details."""
        return asdict(self)


def _collapse_on(confusion: list[list[int]]) -> tuple[int, float, float, float] | None:
    """(predicted class, its prediction share, other classes' pooled recall, accuracy) when one class takes
    (almost) every prediction; None otherwise or when the matrix cannot tell."""
    k = len(confusion)
    if k < 2 or any(not isinstance(row, list) or len(row) != k for row in confusion):
        return None
    total = sum(sum(row) for row in confusion)
    if total == 0:
        return None
    predicted = [sum(confusion[t][p] for t in range(k)) for p in range(k)]
    top = max(range(k), key=lambda p: predicted[p])
    others = sum(sum(confusion[t]) for t in range(k) if t != top)
    if others == 0:
        return None  # only one class present: collapse cannot be told from a correct model
    recall = sum(confusion[t][t] for t in range(k) if t != top) / others
    share = predicted[top] / total
    if share < COLLAPSE_SHARE or recall > COLLAPSE_RECALL:
        return None
    accuracy = sum(confusion[i][i] for i in range(k)) / total
    return top, share, recall, accuracy


def collapse_applies(run: Run) -> bool:
    """Whether a majority collapse can be read from the run: single-label classification only (one class per
    sequence and a confusion matrix); multi-label and regression runs have no class to collapse onto.

    Example:
        >>> collapse_applies(Run("runs/activity-lora"))  # doctest: +SKIP
        False
    """
    return run.info.problem.name == SINGLE_LABEL


def majority_collapse(run: Run) -> Collapse | None:
    """The kept model's collapse onto one class, read from the confusion matrix of test (else dev, else train);
    None without a collapse and for runs where it does not apply (`collapse_applies`).

    Example:
        >>> majority_collapse(Run("runs/skewed")).text()  # doctest: +SKIP
        'majority collapse: the model predicts negative for 100% of test sequences; it is 95% of train; ...'
    """
    if not collapse_applies(run):
        return None
    blocks = run.metrics.get("finetuned") or {}
    names = run.label_names
    train_rows = [sum(row) for row in (blocks.get("train") or {}).get("confusion_matrix") or []]
    for split in ("test", "dev", "train"):
        confusion = (blocks.get(split) or {}).get("confusion_matrix")
        if not confusion or len(confusion) != len(names):
            continue
        found = _collapse_on(confusion)
        if found is None:
            return None
        top, share, recall, accuracy = found
        train_share = train_rows[top] / sum(train_rows) if len(train_rows) == len(names) and sum(train_rows) else None
        is_majority = train_share is None or train_rows[top] == max(train_rows)
        return Collapse(split, names[top], share, recall, train_share, is_majority, accuracy, len(names))
    return None


def collapse_advice(run: Run, collapse: Collapse) -> str:
    """The cure for a collapse: `--class-weights` when the predicted class dominates train and the run did not
    already weight its loss by class; otherwise longer training or more rows of the rare classes.

    Example:
        >>> collapse_advice(Run("runs/skewed"), majority_collapse(Run("runs/skewed")))  # doctest: +SKIP
        'train with --class-weights (the loss weighted by inverse class frequency)'
    """
    if not collapse.skewed:
        return "the classes are not skewed in train: train longer or with a higher learning rate, or check the labels"
    if run.info.training.get("class_weights"):
        return ("the run already used --class-weights: train longer or with a higher learning rate, or add rows of "
                "the rare classes")
    return "train with --class-weights (the loss weighted by inverse class frequency)"


def other_methods(run: Run, *candidates: str) -> list[str]:
    """`candidates` without the run's own method, so advice never recommends what the run already does.

    Example:
        >>> other_methods(Run("runs/tata-lora"), "lora", "full")  # doctest: +SKIP
        ['full']
    """
    return [name for name in candidates if name != run.method]


# Methods that change fewer backbone weights than the key, as advice for a run that changed too much.
_LIGHTER = {"full": ("lora", "freeze"), "freeze": ("lora",)}
_ADVICE_NAMES = {"lora": "LoRA", "freeze": "freeze (lower layers frozen)"}


def lighter_options(run: Run) -> list[str]:
    """Ways to change the backbone less than the run did, never naming the run's own method.

    Example:
        >>> lighter_options(Run("runs/tata-full"))  # doctest: +SKIP
        ['LoRA', 'freeze (lower layers frozen)']
        >>> lighter_options(Run("runs/tata-lora"))  # doctest: +SKIP
        ['a smaller LoRA rank (--lora-r)']
    """
    options = [_ADVICE_NAMES[name] for name in other_methods(run, *_LIGHTER.get(run.method, ()))]
    if run.method == "lora":
        options.append("a smaller LoRA rank (--lora-r)")
    return options


__all__ = ["CHANCE_Z", "COLLAPSE_RECALL", "COLLAPSE_SHARE", "Collapse", "Score", "Signal", "at_chance",
           "collapse_advice", "collapse_applies", "learnable_signal", "lighter_options", "majority_collapse", "no_signal_text",
           "other_methods"]
