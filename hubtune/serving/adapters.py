"""What the Space knows about a shared model before loading it: its `RunInfo`, its card's metrics and examples."""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import clean_sequence
from ..errors import DataError, HubError
from ..problems import MULTI_LABEL, Problem
from ..run import INFO_FILE, METRICS_FILE, RunInfo

MAX_EXAMPLES = 8


@dataclass
class AdapterMeta:
    """A shared hubtune model as the Space sees it: where its files are, its settings and its test metrics.

    Example:
        >>> meta = AdapterMeta.from_folder(Path("runs/tata-lora"), "alice/tata-lora")  # doctest: +SKIP
        >>> meta.label_names, meta.window_bp  # doctest: +SKIP
        (['non-promoter', 'promoter'], 510)
    """

    repo_id: str
    folder: Path
    info: RunInfo
    metrics: dict[str, Any] = field(default_factory=dict)  # metrics.json ({} when the repo has none)
    examples: list[tuple[str, str]] = field(default_factory=list)  # (display id, sequence)

    @classmethod
    def from_folder(cls, folder: Path, repo_id: str) -> AdapterMeta:
        """Read a downloaded repo or run folder (hubtune.json through `RunInfo`, metrics.json when present).

        Examples come from the optional `examples` list in hubtune.json: strings, or objects with `sequence` and
        optional `id` / `label` (only valid DNA is kept; nothing is made up when the list is absent).

        Raises:
            HubError: hubtune.json is missing or not JSON (a plain peft adapter has no labels to show).
            RunFolderError: hubtune.json is not a valid hubtune run description, windowing included (the message
                says why).
        """
        folder = Path(folder)
        info_path = folder / INFO_FILE
        if not info_path.is_file():
            raise HubError(
                f"{repo_id} has no {INFO_FILE}: it is not a hubtune model, so its labels and windowing are unknown. "
                "Pick a model pushed with `hubtune push`."
            )
        try:
            data = json.loads(info_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HubError(f"{repo_id}/{INFO_FILE} is not valid JSON; the repo is damaged.") from None
        info = RunInfo.from_dict(data, where=f"{repo_id}/{INFO_FILE}")
        metrics: dict[str, Any] = {}
        metrics_path = folder / METRICS_FILE
        if metrics_path.is_file():
            with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
                loaded = json.loads(metrics_path.read_text(encoding="utf-8"))
                metrics = loaded if isinstance(loaded, dict) else {}
        return cls(repo_id=repo_id, folder=folder, info=info, metrics=metrics,
                   examples=shipped_examples(info.examples))

    @property
    def label_names(self) -> list[str]:
        return list(self.info.label_names)

    @property
    def problem(self) -> Problem:
        """What the model predicts: classes, label sets or values (`hubtune.problems.Problem`)."""
        return self.info.problem

    @property
    def thresholds(self) -> list[float] | None:
        """Multi-label: the run's per-label decision thresholds (tuned on dev); None otherwise, or when the run has
        none (0.5 then applies)."""
        if self.problem.name != MULTI_LABEL:
            return None
        return _thresholds(self.info.thresholds, len(self.label_names))

    @property
    def base_thresholds(self) -> list[float] | None:
        """Multi-label: the pre-trained probe's per-label thresholds, tuned on dev when the probe was scored
        (metrics.json `probe.dev.thresholds`); None otherwise (0.5 then applies)."""
        if self.problem.name != MULTI_LABEL:
            return None
        probe = self.metrics.get("probe")
        dev = probe.get("dev") if isinstance(probe, dict) else None
        return _thresholds(dev.get("thresholds") if isinstance(dev, dict) else None, len(self.label_names))

    @property
    def window_bp(self) -> int:
        return self.info.window_bp

    @property
    def stride_bp(self) -> int:
        return self.info.stride_bp

    def examples_fasta(self) -> str:
        """All examples as FASTA text (empty when the adapter ships none).

        Example:
            >>> AdapterMeta("a/b", Path("."), info, examples=[("e1", "ACGT")]).examples_fasta()  # doctest: +SKIP
            '>e1\\nACGT\\n'
        """
        return "".join(f">{seq_id}\n{seq}\n" for seq_id, seq in self.examples)


def _thresholds(values: Any, n: int) -> list[float] | None:
    """`n` finite numbers as floats, else None (a repo's files are not trusted to hold what they should)."""
    if not isinstance(values, list) or len(values) != n:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    return [float(v) for v in values]


def shipped_examples(items: list[Any]) -> list[tuple[str, str]]:
    """(display id, sequence) pairs from hubtune.json's `examples`; entries that are not valid DNA are skipped.

    Example:
        >>> shipped_examples([{"id": "p1", "sequence": "acgt", "label": "promoter"}, "NOT DNA!"])
        [('p1 label=promoter', 'ACGT')]
    """
    examples: list[tuple[str, str]] = []
    for i, item in enumerate(items or []):
        raw = item.get("sequence") if isinstance(item, dict) else item
        try:
            seq, _ = clean_sequence(raw, where="example")
        except DataError:
            continue
        seq_id = str(item.get("id") or f"example{i + 1}") if isinstance(item, dict) else f"example{i + 1}"
        label = item.get("label") if isinstance(item, dict) else None
        examples.append((f"{seq_id} label={label}" if label is not None else seq_id, seq))
        if len(examples) >= MAX_EXAMPLES:
            break
    return examples


__all__ = ["MAX_EXAMPLES", "AdapterMeta", "shipped_examples"]
