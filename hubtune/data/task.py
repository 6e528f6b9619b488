"""A loaded task: its splits (clean sequences, integer labels, record ids) and the split vocabulary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hubtune.errors import DataError

__all__ = ["SPLITS", "SPLIT_ALIASES", "Split", "TaskData", "split_value"]

SPLITS = ("train", "dev", "test")
# Names of splits found in files, columns, FASTA headers and datasets -> the split they stand for.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "dev": "dev",
    "validation": "dev",
    "valid": "dev",
    "val": "dev",
    "test": "test",
    "testing": "test",
}


@dataclass
class Split:
    """One split of a task: cleaned sequences (uppercase, ACGTN only), labels and record ids.

    Labels are class ids (single-label), tuples of 0/1 per label (multi-label) or tuples of floats per target
    (regression); see `hubtune.problems`.

    Example:
        >>> Split(["ACGT", "GGCC"], [0, 1], ["a", "b"]).subset([1]).ids
        ['b']
    """

    sequences: list[str]
    labels: list[Any]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.sequences)

    def subset(self, indices: Iterable[int]) -> Split:
        """Return a new split with the rows at ``indices`` (in the given order)."""
        idx = list(indices)
        return Split([self.sequences[i] for i in idx], [self.labels[i] for i in idx], [self.ids[i] for i in idx])


@dataclass
class TaskData:
    """A loaded task.

    ``problem_type`` is ``single_label``, ``multi_label`` or ``regression`` (`hubtune.problems`). ``label_names[i]``
    names output ``i``: a class (numeric labels keep their string form, ``"0"``, ``"1"``), a label of a multi-label
    task, or a regression target.
    ``split_origin`` says whether the splits came with the data (``"given"``) or were drawn here.

    Example:
        >>> task = load_task("my_task/")  # doctest: +SKIP
        >>> task.num_labels, len(task.splits["train"])  # doctest: +SKIP
        (2, 800)
    """

    name: str
    source: str
    splits: dict[str, Split]
    label_names: list[str]
    warnings: list[str] = field(default_factory=list)
    split_origin: str = "given"
    # What the data is, for known benchmarks (see hubtune.data.catalogue); None otherwise.
    dataset: dict[str, Any] | None = None
    problem_type: str = "single_label"

    @property
    def num_labels(self) -> int:
        """Number of outputs: classes, labels or targets."""
        return len(self.label_names)


def split_value(value: Any, where: str, column: str) -> str:
    """The split (train, dev or test) a cell or header token names; ``where`` and ``column`` locate it in errors.

    Raises:
        DataError: the value is not a known split name.

    Example:
        >>> split_value(" Validation", "data.csv, line 4", "split")
        'dev'
    """
    text = "" if value is None else str(value).strip().lower()
    if text not in SPLIT_ALIASES:
        raise DataError(
            f"{where}, column {column!r}: split value {value!r} is not one of train, dev, validation, test. "
            "Fix the value, or rename/remove the column to let hubtune split the data itself."
        )
    return SPLIT_ALIASES[text]
