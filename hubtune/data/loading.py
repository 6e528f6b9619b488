"""`load_task`: a folder, one file or a Hugging Face dataset -> a :class:`~hubtune.data.task.TaskData`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hubtune.errors import ConfigError, DataError
from hubtune.problems import MULTI_LABEL

from .catalogue import gue_dataset
from .fasta import read_labels_file, records_from_fasta
from .files import (
    FASTA_SUFFIXES,
    TABLE_SUFFIXES,
    file_kind,
    file_stem,
    fmt_list,
    folder_listing,
    looks_like_fasta,
    strip_gz,
)
from .hf_datasets import load_hf, looks_like_dataset_id, records_from_hf
from .records import Records, records_from_table
from .splits import assemble, check_fractions
from .tables import read_table
from .targets import parse_label_columns
from .task import SPLIT_ALIASES, TaskData

__all__ = ["load_task", "records_from_file"]


def records_from_file(
    path: Path,
    sequence_column: str,
    label_column: str,
    labels: dict[str, tuple[str, int]] | None,
    *,
    use_split_column: bool = True,
    label_columns: list[str] | None = None,
    empty_labels: bool = False,
) -> Records:
    """Records of one labelled file: FASTA (by suffix or by a leading '>') or CSV/TSV/Parquet.

    `label_columns` (several label or target columns) and `empty_labels` (empty label sets) apply to tables.

    Raises:
        DataError: unknown file type, or any problem in the file.
        ConfigError: ``labels`` (a labels file) given for a table.

    Example:
        >>> records_from_file(Path("all.csv"), "sequence", "label", None).short  # doctest: +SKIP
        'all.csv'
    """
    kind = file_kind(path)
    is_fasta = kind == "fasta" or (kind == "txt" and looks_like_fasta(path))
    if label_columns and is_fasta:
        raise ConfigError(f"--label-columns reads several columns of a table, but {path.name} is FASTA; put the "
                          "labels or targets in a CSV/TSV/Parquet file with one column each.")
    if is_fasta:
        rec = records_from_fasta(path, label_column, labels)
        if not use_split_column:
            rec.splits = None
        return rec
    if kind == "txt":
        raise DataError(
            f"{path}: unknown file type {path.suffix!r}. Use .csv, .tsv, .parquet (optionally .csv.gz/.tsv.gz) "
            "or FASTA (.fa, .fasta, .fna) with labels in the headers."
        )
    if labels is not None:
        raise ConfigError(
            f"--labels-file applies to FASTA input only, but {path} is a table; put the labels in its "
            "label column instead."
        )
    return records_from_table(read_table(path), sequence_column, label_column, use_split_column=use_split_column,
                              label_columns=label_columns, empty_labels=empty_labels)


def _split_files(folder: Path) -> dict[str, list[Path]]:
    """Map split name -> candidate files in ``folder`` (train.csv, validation.tsv.gz, test.parquet, ...)."""
    found: dict[str, list[Path]] = defaultdict(list)
    for p in sorted(folder.iterdir()):
        if not p.is_file():
            continue
        stem = file_stem(p).lower()
        if stem in SPLIT_ALIASES and (file_kind(p) != "txt"):
            found[SPLIT_ALIASES[stem]].append(p)
    return found


def _load_folder(
    folder: Path, files: dict[str, list[Path]], sequence_column: str, label_column: str, labels: Any,
    **table_options: Any,
) -> dict[str, Records]:
    for split, paths in files.items():
        if len(paths) > 1:
            raise DataError(
                f"{folder}: several files for the {split} split ({fmt_list(p.name for p in paths)}). "
                "Keep one file per split."
            )
    if "train" not in files or "test" not in files:
        have = folder_listing(folder)
        if "train" not in files and "dev" in files and "test" in files:
            raise DataError(
                f"{folder}: has dev and test files but no train file (found {have}). Some GUE tasks (e.g. "
                "splice/reconstructed, EMP/H3) ship without a train split; to use this task, add a train.csv, or "
                "pass one file (e.g. the dev file) to load_task so it is split into train/dev/test."
            )
        missing = " and ".join(s for s in ("train", "test") if s not in files)
        raise DataError(
            f"{folder}: no {missing} file; found {have}. A task folder needs train and test files "
            "(train.csv/test.csv, or .tsv/.parquet with the same names; dev is optional), or pass a single file "
            "to have it split."
        )
    # In a split folder the file decides the split; a 'split' column inside it is ignored.
    return {
        s: records_from_file(files[s][0], sequence_column, label_column, labels, use_split_column=False,
                             **table_options)
        for s in files
    }


def load_task(
    source: str | Path,
    *,
    sequence_column: str = "sequence",
    label_column: str = "label",
    labels_file: str | Path | None = None,
    seed: int = 42,
    split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
    label_names: list[str] | None = None,
    max_rows: int | None = None,
    problem_type: str | None = None,
    label_columns: Sequence[str] | str | None = None,
) -> TaskData:
    """Load a labelled DNA task from a folder, a file or a Hugging Face dataset.

    Args:
        source: GUE-style folder (train/dev/test files), one CSV/TSV/Parquet/FASTA file, a folder saved with
            ``Dataset.save_to_disk``, a folder of data files, or a Hugging Face dataset id.
        sequence_column: column holding the DNA sequence (tables and datasets).
        label_column: column holding the label; for FASTA, the header key (``label=NAME``).
        labels_file: CSV/TSV with columns ``id,label`` giving labels for FASTA records.
        seed: seed for every random split and sample.
        split_fractions: train/dev/test fractions used when the data has no given splits; when only dev is
            missing it is carved from train with fraction dev/(train+dev).
        label_names: fixes the order of classes (label id == index). Raw labels must be these names, or integer
            ids 0..k-1 in which case the names are display names. Default for a GUE task (recognised from its
            path, see :mod:`hubtune.data.catalogue`): the catalogue's names, e.g. non-promoter, promoter.
        max_rows: keep at most this many rows per split (seeded stratified sample), for quick runs.
        problem_type: ``single_label``, ``multi_label`` or ``regression``; default: read from the labels (class
            names -> single-label; ``a;b`` label sets or several 0/1 columns -> multi-label; non-integer numbers or
            several numeric columns -> regression), see :mod:`hubtune.data.targets`.
        label_columns: several label or target columns of a table (``"a,b,c"`` or a list), instead of
            ``label_column``.

    Returns:
        TaskData with train, dev and test splits; ``dataset`` describes a recognised GUE task (species, length,
        label meanings, negatives, source, licence, citation), else None.

    Raises:
        DataError: the data cannot be used (the message names file, line, column and the fix).
        ConfigError: an option is invalid.

    Example:
        >>> from hubtune.data import example_task_path
        >>> task = load_task(example_task_path(), max_rows=100)
        >>> task.label_names, len(task.splits["train"])
        (['background', 'promoter'], 100)
    """
    fractions = check_fractions(split_fractions)
    columns = parse_label_columns(label_columns)
    if columns is not None and len(columns) == 1:
        label_column, columns = columns[0], None
    table_options: dict[str, Any] = {"label_columns": columns, "empty_labels": problem_type == MULTI_LABEL}
    source_text = str(source)
    path = Path(source).expanduser()
    labels = read_labels_file(Path(labels_file).expanduser(), label_column) if labels_file is not None else None
    warnings: list[str] = []
    given: dict[str, Records] | None = None
    single: Records | None = None
    label_desc = f"column {label_column!r}"
    hf_names: list[str] | None = None

    if path.is_dir():
        name = path.resolve().name
        files = _split_files(path)
        if files:
            given = _load_folder(path, files, sequence_column, label_column, labels, **table_options)
            label_desc = f"column {label_column!r} of {given['train'].short}"
        else:
            ds = load_hf(source_text, path)
            given, single, hf_names, hf_warn = records_from_hf(source_text, ds, sequence_column, label_column,
                                                               **table_options)
            warnings.extend(hf_warn)
    elif path.exists():
        name = file_stem(path)
        single = records_from_file(path, sequence_column, label_column, labels, **table_options)
        is_table = file_kind(path) in ("csv", "tsv", "parquet")
        label_desc = f"column {label_column!r} of {path.name}" if is_table else f"labels of {path.name}"
    else:
        looks_like_path = (
            source_text.startswith((".", "/", "~"))
            or strip_gz(source_text.lower()).endswith(TABLE_SUFFIXES + FASTA_SUFFIXES + (".txt",))
            or not looks_like_dataset_id(source_text)
        )
        if looks_like_path:
            parent = path.parent
            near = f" The folder {parent} holds {folder_listing(parent)}." if parent.is_dir() else ""
            raise DataError(f"{source_text}: no such file or folder.{near} Check the path.")
        name = source_text.rstrip("/").rsplit("/", 1)[-1]
        ds = load_hf(source_text, None)
        given, single, hf_names, hf_warn = records_from_hf(source_text, ds, sequence_column, label_column,
                                                           **table_options)
        warnings.extend(hf_warn)

    if hf_names is not None and label_names is None:
        label_names = hf_names  # ClassLabel names keep the dataset's id order
    sources = ([single] if single is not None else []) + list((given or {}).values())
    warnings.extend(w for w in (rec.iupac_warning() for rec in sources) if w)
    if labels is not None:
        used = {rid for rec in sources for rid in rec.ids}
        unused = [k for k in labels if k not in used]
        if unused:
            warnings.append(
                f"{len(unused)} ids in {Path(labels_file).name} match no FASTA record (first: {unused[0]!r})"  # type: ignore[arg-type]
            )
    if given is not None and "train" in given and "test" not in given and single is None:
        raise DataError(f"{source_text}: there is a train split but no test split; add a test split.")
    dataset = gue_dataset(path) if path.exists() else None
    if dataset is not None and not _fits_catalogue(dataset, sources, warnings):
        dataset = None
    if dataset is not None and label_names is None and dataset["labels"]:
        label_names = [str(entry["name"]) for entry in dataset["labels"]]
    task = assemble(
        name,
        source_text,
        given,
        single,
        seed=seed,
        fractions=fractions,
        label_names=label_names,
        max_rows=max_rows,
        label_desc=label_desc,
        warnings=warnings,
        problem_type=problem_type,
        label_columns=columns or [label_column],
    )
    if dataset is not None:
        lengths = [len(seq) for split in task.splits.values() for seq in split.sequences]
        dataset["length_bp_in_data"] = [min(lengths), max(lengths)] if lengths else None
        group, _, folder = str(dataset["task"]).partition("/")
        if task.name == folder or task.name.lower() in SPLIT_ALIASES:  # "tf_0" rather than "0", "H3" rather than "dev"
            task.name = f"{group}_{folder}" if folder.isdigit() else folder
    task.dataset = dataset
    return task


def _fits_catalogue(dataset: dict[str, Any], sources: list[Records], warnings: list[str]) -> bool:
    """Whether the raw labels are those of the catalogued task (its ids or names); warns when they are not, since the
    folder then only looks like that task and its description does not apply."""
    names = [str(entry["name"]) for entry in dataset.get("labels") or []]
    raw = {label for rec in sources for label in rec.labels}
    if not names or raw <= {str(i) for i in range(len(names))} | set(names):
        return True
    warnings.append(
        f"the folder looks like the GUE task {dataset['task']} but its labels ({fmt_list(sorted(raw))}) are not that "
        f"task's ({fmt_list(names)}); its built-in description is not used"
    )
    return False
