"""Data layer: turn a user's files (or a dataset id) into clean DNA sequences with their labels (classes, label sets
or numbers; see :mod:`hubtune.data.targets`).

Everything here is plain Python (csv, gzip, re); ``pyarrow`` is imported only to read Parquet and ``datasets`` only to
load a Hugging Face dataset, so importing this package stays fast. Nothing here knows about models or training.

Accepted inputs for :func:`load_task`:

* a GUE-style folder with ``train``, ``dev`` and ``test`` files (``.csv``, ``.tsv``, ``.parquet``, ``.csv.gz``,
  ``.tsv.gz`` or FASTA) holding a ``sequence`` and a ``label`` column; a missing dev split is carved out of train;
* one CSV/TSV/Parquet file; it is split stratified and seeded into train/dev/test unless it has a ``split`` column
  (values ``train``, ``dev``/``validation``, ``test``);
* one FASTA file (``.fa``, ``.fasta``, ``.fna``, ``.fas``, optionally gzipped) whose labels come from the header,
  either as a ``label=NAME`` token (``>seq1 label=promoter``) or as the last ``|`` field of the id
  (``>seq1|promoter``), or from a separate ``labels_file`` CSV with columns ``id,label``; a ``split=NAME`` header
  token assigns the record to a split;
* a Hugging Face dataset id, a folder written by ``Dataset.save_to_disk`` or a folder of data files readable by
  ``datasets.load_dataset``.

Sequences are cleaned by :func:`clean_sequence` (the one validator, in :mod:`hubtune.data.sequences`): whitespace is
dropped, lowercase is accepted, ``N`` is kept, the other IUPAC ambiguity codes become ``N`` (counted in a warning)
and anything else is an error that names the file, line, column and position.

Modules: ``sequences`` (validation, reverse complement), ``files`` (decoding, file kinds), ``tables`` (CSV/TSV/
Parquet), ``fasta``, ``records`` (rows with raw labels), ``labels`` (label maps, ``--label-names``),
``catalogue`` (what the GUE tasks are: label meanings, species, length, negatives, sources), ``splits`` (seeded
stratified splits, assembly), ``hf_datasets`` (``datasets``), ``loading`` (:func:`load_task`), ``unlabelled`` (input for
prediction), ``leakage``, ``summary`` (:func:`describe`), ``targets`` (problem types: single-label, multi-label,
regression), ``example_task`` (the bundled example), ``example_tasks`` (generated regression and multi-label examples).

Example:
    >>> from hubtune.data import example_task_path, leakage_report, load_task
    >>> task = load_task(example_task_path())
    >>> task.num_labels, leakage_report(task).has_leak
    (2, False)
"""

from __future__ import annotations

from hubtune.errors import DataError

from .catalogue import gue_dataset
from .example_task import example_task_path, generate_promoter_task
from .example_tasks import (
    ACTIVITY_TARGETS,
    BINDING_LABELS,
    activity_task_path,
    binding_task_path,
    generate_activity_task,
    generate_binding_task,
)
from .labels import parse_label_names
from .leakage import LeakageReport, deduplicate, leakage_report
from .loading import load_task
from .sequences import as_model_input, clean_sequence, clean_sequences, reverse_complement
from .summary import describe
from .task import SPLITS, Split, TaskData
from .unlabelled import parse_sequence_text, read_sequences

__all__ = [
    "ACTIVITY_TARGETS",
    "BINDING_LABELS",
    "SPLITS",
    "DataError",
    "LeakageReport",
    "Split",
    "TaskData",
    "activity_task_path",
    "as_model_input",
    "binding_task_path",
    "clean_sequence",
    "clean_sequences",
    "deduplicate",
    "describe",
    "example_task_path",
    "generate_activity_task",
    "generate_binding_task",
    "generate_promoter_task",
    "gue_dataset",
    "leakage_report",
    "load_task",
    "parse_label_names",
    "parse_sequence_text",
    "read_sequences",
    "reverse_complement",
]
