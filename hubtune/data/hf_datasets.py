"""Hugging Face datasets: a dataset id, a ``save_to_disk`` folder or a folder of data files, via ``datasets``.

``datasets`` is imported only when such a source is loaded, so ``import hubtune.data`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hubtune.errors import DataError
from hubtune.repo_ids import repo_part_problem

from .files import fmt_list, folder_listing
from .records import Records, records_from_table
from .tables import Table, find_column, missing_column_error
from .task import SPLIT_ALIASES

__all__ = ["is_saved_dataset", "load_hf", "looks_like_dataset_id", "records_from_hf"]


def looks_like_dataset_id(text: str) -> bool:
    """True when ``text`` has the shape of a Hub dataset id (``name`` or ``owner/name``, each part a valid repo part).

    Example:
        >>> looks_like_dataset_id("katarinagresova/Genomic_Benchmarks"), looks_like_dataset_id("a b")
        (True, False)
    """
    parts = text.split("/")
    return len(parts) <= 2 and all(repo_part_problem(part) is None for part in parts)


def is_saved_dataset(folder: Path) -> bool:
    """True when ``folder`` was written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``.

    Example:
        >>> is_saved_dataset(Path("saved"))  # doctest: +SKIP
        True
    """
    return (folder / "dataset_dict.json").exists() or (
        (folder / "state.json").exists() and (folder / "dataset_info.json").exists()
    )


def load_hf(source: str, folder: Path | None) -> Any:
    """Load a dataset: ``load_from_disk`` for a saved folder, else ``datasets.load_dataset`` on the folder or id.

    Raises:
        DataError: ``datasets`` cannot read it (the message names the source and what was found).

    Example:
        >>> ds = load_hf("owner/dna-task", None)  # doctest: +SKIP
    """
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise DataError("loading a Hugging Face dataset needs the 'datasets' package: pip install datasets") from exc
    try:
        if folder is not None and is_saved_dataset(folder):
            return datasets.load_from_disk(str(folder))
        return datasets.load_dataset(str(folder) if folder is not None else source)
    except DataError:
        raise
    except Exception as exc:  # datasets raises many different exception types
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if folder is not None:
            raise DataError(
                f"{folder}: not a task folder (no train/dev/test files; found {folder_listing(folder)}) and "
                f"datasets.load_dataset could not read it either ({type(exc).__name__}: {msg}). "
                "Provide train.csv/dev.csv/test.csv with columns sequence,label, or a single data file."
            ) from exc
        raise DataError(
            f"{source!r}: not an existing file or folder, and loading it as a Hugging Face dataset id failed "
            f"({type(exc).__name__}: {msg}). Check the path, or the dataset id and your network/HF_TOKEN."
        ) from exc


def _label_set_text(value: Any, feature: Any) -> Any:
    """A list-valued label cell (a label set) as ``a;b`` text; names from a ``Sequence(ClassLabel)`` feature."""
    if not isinstance(value, list | tuple):
        return value
    inner = getattr(feature, "feature", None)
    names = list(inner.names) if type(inner).__name__ == "ClassLabel" else None
    return ";".join(names[v] if names is not None and isinstance(v, int) else str(v) for v in value)


def records_from_hf(
    source: str, dataset: Any, sequence_column: str, label_column: str, *,
    label_columns: list[str] | None = None, empty_labels: bool = False,
) -> tuple[dict[str, Records] | None, Records | None, list[str] | None, list[str]]:
    """Convert a Dataset/DatasetDict into records. Returns ``(given, single, class_label_names, warnings)``.

    Splits named train/validation/dev/test are kept (others are ignored with a warning); one split is returned as
    ``single`` (its split column, if any, is honoured later). A ``ClassLabel`` label column gives the class names; a
    list-valued label column (a ``Sequence`` of names or of ``ClassLabel`` ids) holds label sets, read as
    ``a;b``. `label_columns` and `empty_labels` are as for tables (`records_from_table`).

    Raises:
        DataError: no train split, two splits for one name, a missing column or a bad row.

    Example:
        >>> given, single, names, warnings = records_from_hf("x", dataset_dict, "sequence", "label")  # doctest: +SKIP
    """
    from datasets import DatasetDict  # third-party, imported here: only dataset users pay for it

    warnings: list[str] = []
    parts = dict(dataset) if isinstance(dataset, DatasetDict) else {"train": dataset}
    mapped: dict[str, Any] = {}
    for split_name, ds in parts.items():
        key = SPLIT_ALIASES.get(split_name.lower())
        if key is None:
            warnings.append(f"ignored dataset split {split_name!r} (not train/validation/dev/test)")
            continue
        if key in mapped:
            raise DataError(f"dataset {source!r}: two splits map to {key!r}; keep one of them.")
        mapped[key] = (split_name, ds)
    if "train" not in mapped:
        raise DataError(
            f"dataset {source!r}: no train split (splits found: {fmt_list(parts)}). A dataset needs a 'train' "
            "split; rename the split or save the data as a single file."
        )
    class_names: list[str] | None = None
    records: dict[str, Records] = {}
    for key, (split_name, ds) in mapped.items():
        cols = list(ds.column_names)
        origin = f"dataset {source!r} split {split_name!r}"
        seq_i = find_column(cols, sequence_column)
        if seq_i is None:
            raise missing_column_error(origin, "sequence", sequence_column, cols, "--sequence-column", "row")
        lab_i = find_column(cols, label_column)
        if lab_i is None and not label_columns:
            raise missing_column_error(origin, "label", label_column, cols, "--label-column", "row")
        feat = ds.features.get(cols[lab_i]) if lab_i is not None else None
        if feat is not None and type(feat).__name__ == "ClassLabel":
            class_names = list(feat.names)
        columns = [ds[c] for c in cols]
        if lab_i is not None and not label_columns:
            columns[lab_i] = [_label_set_text(value, feat) for value in columns[lab_i]]
        rows = [list(r) for r in zip(*columns, strict=True)]
        table = Table(Path(origin), cols, rows, list(range(1, len(rows) + 1)), unit="row")
        rec = records_from_table(
            table, cols[seq_i], cols[lab_i] if lab_i is not None else label_column, origin_name=split_name,
            use_split_column=len(mapped) == 1, label_columns=label_columns, empty_labels=empty_labels,
        )
        rec.origin = origin
        records[key] = rec
    if len(records) == 1:
        return None, records["train"], class_names, warnings
    return records, None, class_names, warnings
