"""What the Space answers, as plain data: comparisons (table rows, CSV, JSON), ISM maps, window tracks, projections.

Every object follows its model's problem type (`hubtune.problems.Problem`): class probabilities and the predicted
class (single-label), per-label probabilities and the label set at the run's dev-tuned thresholds (multi-label), or
predicted values per target in the targets' own units (regression). `output_quantity` names one output the way tables,
plots and messages show it ("P(promoter)", "predicted developmental").

Nothing here renders HTML or figures; `space/render.py` draws these objects.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..metrics_multilabel import DEFAULT_THRESHOLD
from ..problems import MULTI_LABEL, REGRESSION, SINGLE_LABEL, Problem, get_problem
from .adapters import AdapterMeta
from .analysis import BASES, ism_importance

SINGLE = get_problem(SINGLE_LABEL)


def output_quantity(problem: Problem, name: str) -> str:
    """How one output of a model is named in tables, plots and messages: a probability or a predicted value.

    Example:
        >>> output_quantity(get_problem("multi_label"), "CTCF"), output_quantity(get_problem("regression"), "activity")
        ('P(CTCF)', 'predicted activity')
    """
    return f"predicted {name}" if problem.name == REGRESSION else f"P({name})"


def outputs_title(problem: Problem) -> str:
    """What a model's outputs are, for titles: class probabilities, per-label probabilities or predicted values.

    Example:
        >>> outputs_title(get_problem("regression"))
        'predicted values'
    """
    return {SINGLE_LABEL: "class probabilities", MULTI_LABEL: "per-label probabilities"}.get(problem.name,
                                                                                           "predicted values")


def label_sets(outputs: np.ndarray, names: Sequence[str], thresholds: Sequence[float] | None) -> list[list[str]]:
    """Each row's label set: the labels whose probability is at or above their threshold (default 0.5), as
    `hubtune.predict.Classifier.describe` decides them.

    Example:
        >>> label_sets(np.array([[0.7, 0.2], [0.1, 0.1]]), ["CTCF", "GATA"], [0.5, 0.15])
        [['CTCF', 'GATA'], []]
    """
    cut = np.asarray(thresholds if thresholds else [DEFAULT_THRESHOLD] * len(names), dtype=np.float64)
    return [[name for name, on in zip(names, row >= cut, strict=True) if on] for row in np.asarray(outputs)]


def _answer_texts(problem: Problem, names: Sequence[str], outputs: np.ndarray,
                  thresholds: Sequence[float] | None) -> list[str]:
    """One text answer per row: the class, the label set (``CTCF;GATA`` or ``none``) or the values."""
    if problem.name == MULTI_LABEL:
        return [";".join(chosen) or "none" for chosen in label_sets(outputs, names, thresholds)]
    if problem.name == REGRESSION:
        return [problem.label_text(names, row) for row in outputs]
    return [names[int(i)] for i in np.asarray(outputs).argmax(axis=1)]


def csv_safe(value: Any) -> Any:
    """Prefix text that a spreadsheet would evaluate as a formula (=, +, -, @, tab, CR) with a quote.

    Example:
        >>> csv_safe("=HYPERLINK(1)"), csv_safe("seq1"), csv_safe(0.5)
        ("'=HYPERLINK(1)", 'seq1', 0.5)
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def short_names(repo_ids: Sequence[str]) -> list[str]:
    """Column prefixes: the repo name when unique among the chosen adapters, else the full id.

    Example:
        >>> short_names(["alice/a", "bob/b", "carol/b"])
        ['a', 'bob/b', 'carol/b']
    """
    tails = [Path(r).name if Path(r).is_absolute() else r.split("/")[-1] for r in repo_ids]
    return [tail if tails.count(tail) == 1 else rid for tail, rid in zip(tails, repo_ids, strict=True)]


@dataclass
class AdapterPrediction:
    """One adapter's answer for a batch, next to the pre-trained base's (probe head shipped with the adapter).

    `outputs` are class probabilities, per-label probabilities or predicted values (`problem`); a multi-label answer
    is the label set at `thresholds` (the run's, tuned on dev), the base probe's at `base_thresholds`.

    Example:
        >>> p = AdapterPrediction("a/b", ["x", "y"], np.array([[0.2, 0.8]]), None, [np.array([[0.2, 0.8]])])
        >>> p.labels, p.agree
        (['y'], None)
    """

    repo_id: str
    label_names: list[str]
    outputs: np.ndarray  # (n, outputs)
    base_outputs: np.ndarray | None  # (n, outputs), None when the repo has no base probe
    tracks: list[np.ndarray]  # per sequence: (n_windows, outputs)
    problem: Problem = SINGLE
    thresholds: list[float] | None = None  # multi-label: the run's per-label thresholds
    base_thresholds: list[float] | None = None  # multi-label: the base probe's thresholds

    @property
    def probs(self) -> np.ndarray:
        """The outputs (probabilities unless the model predicts values)."""
        return self.outputs

    @property
    def base_probs(self) -> np.ndarray | None:
        """The base probe's outputs (probabilities unless the model predicts values)."""
        return self.base_outputs

    @property
    def labels(self) -> list[str]:
        """Each sequence's answer as text: the class, the label set (``CTCF;GATA``, ``none``) or the values."""
        return _answer_texts(self.problem, self.label_names, self.outputs, self.thresholds)

    @property
    def base_labels(self) -> list[str] | None:
        if self.base_outputs is None:
            return None
        return _answer_texts(self.problem, self.label_names, self.base_outputs, self.base_thresholds)

    @property
    def agree(self) -> list[bool] | None:
        """Whether the adapter and its base give the same class or label set (None: no base probe, or values)."""
        base = self.base_labels
        if base is None or self.problem.name == REGRESSION:
            return None
        return [a == b for a, b in zip(self.labels, base, strict=True)]


@dataclass
class Comparison:
    """The answers of one or more adapters of the same task for a batch, each next to the pre-trained base.

    Example:
        >>> comparison = backend.classify(">s1\\nACGT\\n", ["alice/promoter-lora"])  # doctest: +SKIP
        >>> comparison.columns()[:4], comparison.rows()[0][:3]  # doctest: +SKIP
        (['id', 'bp', 'windows', 'promoter-lora: label'], ['s1', 4, 1])
    """

    records: list[tuple[str, str]]
    label_names: list[str]
    predictions: list[AdapterPrediction]
    metas: list[AdapterMeta]

    @property
    def problem(self) -> Problem:
        """What the compared adapters predict (they share one problem type)."""
        return self.predictions[0].problem if self.predictions else SINGLE

    def columns(self) -> list[str]:
        """Table columns: id, length, windows, then per adapter its answer and the base model's.

        Single-label: label, p(class)..., base label, base p(class)..., agree. Multi-label: labels (the set),
        p(label)..., base labels, base p(label)..., agree. Regression: one value per target, then the base's.
        """
        cols = ["id", "bp", "windows"]
        kind = self.problem.name
        for name in short_names([p.repo_id for p in self.predictions]):
            if kind == REGRESSION:
                cols += [f"{name}: {t}" for t in self.label_names]
                cols += [f"{name}: base {t}" for t in self.label_names]
                continue
            answer = "labels" if kind == MULTI_LABEL else "label"
            cols.append(f"{name}: {answer}")
            cols += [f"{name}: p({c})" for c in self.label_names]
            cols.append(f"{name}: base {answer}")
            cols += [f"{name}: base p({c})" for c in self.label_names]
            cols.append(f"{name}: agree")
        return cols

    def rows(self, digits: int | None = 4) -> list[list[Any]]:
        """Table rows in `columns()` order (outputs rounded to `digits`, None for no rounding)."""
        def num(value: float) -> float:
            return float(value) if digits is None else round(float(value), digits)

        regression = self.problem.name == REGRESSION
        answers = self._answers()
        out = []
        for i, (seq_id, seq) in enumerate(self.records):
            row: list[Any] = [seq_id, len(seq), len(self.predictions[0].tracks[i])]
            for pred, (labels, base_labels, agree) in zip(self.predictions, answers, strict=True):
                if regression:
                    row += [num(v) for v in pred.outputs[i]]
                    row += ([None] * len(self.label_names) if pred.base_outputs is None
                            else [num(v) for v in pred.base_outputs[i]])
                    continue
                row.append(labels[i])
                row += [num(p) for p in pred.outputs[i]]
                if pred.base_outputs is None or base_labels is None or agree is None:
                    row.append("n/a")
                    row += [None] * len(self.label_names)
                    row.append("n/a")
                else:
                    row.append(base_labels[i])
                    row += [num(p) for p in pred.base_outputs[i]]
                    row.append("agree" if agree[i] else "disagree")
            out.append(row)
        return out

    def _answers(self) -> list[tuple[list[str], list[str] | None, list[bool] | None]]:
        """(labels, base labels, agree) of each prediction, computed once per table rather than once per row."""
        return [(p.labels, p.base_labels, p.agree) for p in self.predictions]

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV (full precision; cells that a spreadsheet would run as formulas are defused)."""
        path = Path(path)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(self.columns())
            for row in self.rows(digits=None):
                writer.writerow([csv_safe(cell) for cell in row])
        return path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: problem type, output names, adapters, columns and rows, plus per-sequence records.

        Each sequence's entry per adapter has `label` (the class, the label set as text or the values as text) and
        `probabilities` (classification; multi-label adds `labels`, the set) or `values` (regression), the same for
        the base model (`base_label`, `base_probabilities` / `base_labels` / `base_values`) and, for
        classification, `agree`. Multi-label answers add each adapter's `thresholds`.
        """
        kind = self.problem.name
        answers = self._answers()
        key = "values" if kind == REGRESSION else "probabilities"
        sequences = []
        for i, (seq_id, seq) in enumerate(self.records):
            item: dict[str, Any] = {"id": seq_id, "bp": len(seq), "windows": len(self.predictions[0].tracks[i]),
                                    "adapters": {}}
            for pred, (labels, base_labels, agree) in zip(self.predictions, answers, strict=True):
                entry: dict[str, Any] = {"label": labels[i],
                                         key: dict(zip(self.label_names, map(float, pred.outputs[i]), strict=True))}
                if kind == MULTI_LABEL:
                    entry["labels"] = label_sets(pred.outputs[i : i + 1], self.label_names, pred.thresholds)[0]
                if pred.base_outputs is not None and base_labels is not None:
                    entry["base_label"] = base_labels[i]
                    entry[f"base_{key}"] = dict(zip(self.label_names, map(float, pred.base_outputs[i]), strict=True))
                    if kind == MULTI_LABEL:
                        entry["base_labels"] = label_sets(pred.base_outputs[i : i + 1], self.label_names,
                                                          pred.base_thresholds)[0]
                    if agree is not None:
                        entry["agree"] = bool(agree[i])
                item["adapters"][pred.repo_id] = entry
            sequences.append(item)
        out: dict[str, Any] = {
            "problem_type": kind,
            "label_names": list(self.label_names),
            "adapters": [p.repo_id for p in self.predictions],
            "columns": self.columns(),
            "rows": self.rows(),
            "sequences": sequences,
        }
        if kind == MULTI_LABEL:
            default = [DEFAULT_THRESHOLD] * len(self.label_names)
            out["thresholds"] = {p.repo_id: dict(zip(self.label_names, map(float, p.thresholds or default),
                                                     strict=True))
                                 for p in self.predictions}
        return out


@dataclass
class Projection:
    """2-D PCA of the batch's mean embeddings, pre-trained base vs fine-tuned, with each model's answer.

    Points are coloured by the predicted class or label set (`base_labels`, `fine_tuned_labels`) or, for regression,
    by the predicted value of the first target (`base_values`, `fine_tuned_values`, named `value_name`).
    """

    repo_id: str
    ids: list[str]
    base: np.ndarray  # (n, 2)
    fine_tuned: np.ndarray  # (n, 2)
    base_explained: np.ndarray  # (2,) fraction of variance on PC1/PC2
    fine_tuned_explained: np.ndarray
    base_labels: list[str]  # the base probe's prediction (the adapter's when the repo has no probe)
    fine_tuned_labels: list[str]
    label_names: list[str]
    problem: Problem = SINGLE
    base_values: np.ndarray | None = None  # regression: (n,) values of `value_name`
    fine_tuned_values: np.ndarray | None = None
    value_name: str = ""

    @property
    def categories(self) -> list[str]:
        """The colour groups in a stable order: classes in label order, label sets in order of appearance."""
        if self.problem.name == SINGLE_LABEL:
            return list(self.label_names)
        return list(dict.fromkeys([*self.base_labels, *self.fine_tuned_labels]))


@dataclass
class IsmResult:
    """In-silico mutagenesis: the change of one output (P(target class), P(target label) or the target's predicted
    value) for every position x base (0 at the reference base)."""

    repo_id: str
    seq_id: str
    sequence: str
    label_names: list[str]
    target: int
    reference: np.ndarray  # (outputs,) the unmutated sequence's outputs
    delta: np.ndarray  # (length, 4) in BASES order
    problem: Problem = SINGLE

    @property
    def target_name(self) -> str:
        return self.label_names[self.target]

    @property
    def quantity(self) -> str:
        """The explained output as text: 'P(promoter)', 'P(CTCF)' or 'predicted developmental'."""
        return output_quantity(self.problem, self.target_name)

    @property
    def importance(self) -> np.ndarray:
        """Per position: mean drop of the explained output over the possible substitutions (positive = the base
        matters)."""
        return ism_importance(self.sequence, self.delta)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the explained output (`target`, `quantity`), the reference outputs and
        `delta[position][A, C, G, T]`. Classification adds `reference_probabilities` (single-label: `target_class`),
        regression `reference_values`."""
        key = "reference_values" if self.problem.name == REGRESSION else "reference_probabilities"
        out: dict[str, Any] = {
            "adapter": self.repo_id,
            "id": self.seq_id,
            "sequence": self.sequence,
            "bases": list(BASES),
            "problem_type": self.problem.name,
            "target": self.target_name,
            "quantity": self.quantity,
            key: dict(zip(self.label_names, map(float, self.reference), strict=True)),
            "delta": np.round(self.delta, 6).tolist(),
        }
        if self.problem.name == SINGLE_LABEL:
            out["target_class"] = self.target_name
        return out


@dataclass
class WindowTrack:
    """Per-window outputs (probabilities or values) of a sequence longer than the model window."""

    repo_id: str
    seq_id: str
    length: int
    starts: list[int]
    window_bp: int
    outputs: np.ndarray  # (n_windows, outputs)
    label_names: list[str]
    problem: Problem = SINGLE

    @property
    def probs(self) -> np.ndarray:
        """The per-window outputs (probabilities unless the model predicts values)."""
        return self.outputs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: one entry per window with its start, end and outputs (`probabilities` or `values`)."""
        key = "values" if self.problem.name == REGRESSION else "probabilities"
        return {
            "adapter": self.repo_id,
            "id": self.seq_id,
            "problem_type": self.problem.name,
            "windows": [
                {"start": s, "end": min(s + self.window_bp, self.length),
                 key: dict(zip(self.label_names, map(float, row), strict=True))}
                for s, row in zip(self.starts, self.outputs, strict=True)
            ],
        }


__all__ = ["AdapterPrediction", "Comparison", "IsmResult", "Projection", "WindowTrack", "csv_safe", "label_sets",
           "output_quantity", "outputs_title", "short_names"]
