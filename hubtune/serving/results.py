"""What the Space answers, as plain data: comparisons (table rows, CSV, JSON), ISM maps, window tracks, projections.

Nothing here renders HTML or figures; `space/render.py` draws these objects.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .adapters import AdapterMeta
from .analysis import BASES, ism_importance


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
    """One adapter's answer for a batch, next to the pre-trained base's (probe head shipped with the adapter)."""

    repo_id: str
    label_names: list[str]
    probs: np.ndarray  # (n, n_classes)
    base_probs: np.ndarray | None  # (n, n_classes), None when the repo has no base probe
    tracks: list[np.ndarray]  # per sequence: (n_windows, n_classes)

    @property
    def labels(self) -> list[str]:
        return [self.label_names[int(i)] for i in self.probs.argmax(axis=1)]

    @property
    def base_labels(self) -> list[str] | None:
        if self.base_probs is None:
            return None
        return [self.label_names[int(i)] for i in self.base_probs.argmax(axis=1)]

    @property
    def agree(self) -> list[bool] | None:
        base = self.base_labels
        return None if base is None else [a == b for a, b in zip(self.labels, base, strict=True)]


@dataclass
class Comparison:
    """Classification of a batch by one or more adapters of the same task, each next to the pre-trained base.

    Example:
        >>> comparison = backend.classify(">s1\\nACGT\\n", ["alice/promoter-lora"])  # doctest: +SKIP
        >>> comparison.columns()[:4], comparison.rows()[0][:3]  # doctest: +SKIP
        (['id', 'bp', 'windows', 'promoter-lora: label'], ['s1', 4, 1])
    """

    records: list[tuple[str, str]]
    label_names: list[str]
    predictions: list[AdapterPrediction]
    metas: list[AdapterMeta]

    def columns(self) -> list[str]:
        """Table columns: id, length, windows, then per adapter: label, p(class)..., base label, base p(...), agree."""
        cols = ["id", "bp", "windows"]
        for name in short_names([p.repo_id for p in self.predictions]):
            cols.append(f"{name}: label")
            cols += [f"{name}: p({c})" for c in self.label_names]
            cols.append(f"{name}: base label")
            cols += [f"{name}: base p({c})" for c in self.label_names]
            cols.append(f"{name}: agree")
        return cols

    def rows(self, digits: int | None = 4) -> list[list[Any]]:
        """Table rows in `columns()` order (probabilities rounded to `digits`, None for no rounding)."""
        def num(value: float) -> float:
            return float(value) if digits is None else round(float(value), digits)

        answers = self._answers()
        out = []
        for i, (seq_id, seq) in enumerate(self.records):
            row: list[Any] = [seq_id, len(seq), len(self.predictions[0].tracks[i])]
            for pred, (labels, base_labels, agree) in zip(self.predictions, answers, strict=True):
                row.append(labels[i])
                row += [num(p) for p in pred.probs[i]]
                if pred.base_probs is None or base_labels is None or agree is None:
                    row.append("n/a")
                    row += [None] * len(self.label_names)
                    row.append("n/a")
                else:
                    row.append(base_labels[i])
                    row += [num(p) for p in pred.base_probs[i]]
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
        """JSON-ready: label names, adapters, columns and rows, plus per-sequence records for API users."""
        answers = self._answers()
        sequences = []
        for i, (seq_id, seq) in enumerate(self.records):
            item: dict[str, Any] = {"id": seq_id, "bp": len(seq), "windows": len(self.predictions[0].tracks[i]),
                                    "adapters": {}}
            for pred, (labels, base_labels, agree) in zip(self.predictions, answers, strict=True):
                entry: dict[str, Any] = {
                    "label": labels[i],
                    "probabilities": dict(zip(self.label_names, map(float, pred.probs[i]), strict=True)),
                }
                if pred.base_probs is not None and base_labels is not None and agree is not None:
                    entry["base_label"] = base_labels[i]
                    entry["base_probabilities"] = dict(zip(self.label_names, map(float, pred.base_probs[i]),
                                                           strict=True))
                    entry["agree"] = bool(agree[i])
                item["adapters"][pred.repo_id] = entry
            sequences.append(item)
        return {
            "label_names": list(self.label_names),
            "adapters": [p.repo_id for p in self.predictions],
            "columns": self.columns(),
            "rows": self.rows(),
            "sequences": sequences,
        }


@dataclass
class Projection:
    """2-D PCA of the batch's mean embeddings, pre-trained base vs fine-tuned, with each model's predicted class."""

    repo_id: str
    ids: list[str]
    base: np.ndarray  # (n, 2)
    fine_tuned: np.ndarray  # (n, 2)
    base_explained: np.ndarray  # (2,) fraction of variance on PC1/PC2
    fine_tuned_explained: np.ndarray
    base_labels: list[str]  # the base probe's prediction (the adapter's when the repo has no probe)
    fine_tuned_labels: list[str]
    label_names: list[str]


@dataclass
class IsmResult:
    """In-silico mutagenesis: change in P(target class) for every position x base (0 at the reference base)."""

    repo_id: str
    seq_id: str
    sequence: str
    label_names: list[str]
    target: int
    reference: np.ndarray  # (n_classes,) probabilities of the unmutated sequence
    delta: np.ndarray  # (length, 4) in BASES order

    @property
    def importance(self) -> np.ndarray:
        """Per position: mean drop in P(target) over the possible substitutions (positive = the base matters)."""
        return ism_importance(self.sequence, self.delta)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the target class, the reference probabilities and `delta[position][A, C, G, T]`."""
        return {
            "adapter": self.repo_id,
            "id": self.seq_id,
            "sequence": self.sequence,
            "bases": list(BASES),
            "target_class": self.label_names[self.target],
            "reference_probabilities": dict(zip(self.label_names, map(float, self.reference), strict=True)),
            "delta": np.round(self.delta, 6).tolist(),
        }


@dataclass
class WindowTrack:
    """Per-window probabilities of a sequence longer than the model window."""

    repo_id: str
    seq_id: str
    length: int
    starts: list[int]
    window_bp: int
    probs: np.ndarray  # (n_windows, n_classes)
    label_names: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: one entry per window with its start, end and class probabilities."""
        return {
            "adapter": self.repo_id,
            "id": self.seq_id,
            "windows": [
                {"start": s, "end": min(s + self.window_bp, self.length),
                 "probabilities": dict(zip(self.label_names, map(float, row), strict=True))}
                for s, row in zip(self.starts, self.probs, strict=True)
            ],
        }


__all__ = ["AdapterPrediction", "Comparison", "IsmResult", "Projection", "WindowTrack", "csv_safe", "short_names"]
