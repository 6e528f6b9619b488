"""The pre-training corpus: unlabelled DNA from files, folders or dataset ids, cut into N-free windows, split.

Every sequence passes the one validator (`hubtune.data.read_sequences` / `clean_sequence`): soft-masked lowercase
is upper-cased, IUPAC codes become N. Runs of N (assembly gaps) are never put into a window: each N-free stretch is
windowed on its own, and stretches shorter than the minimum are dropped. The held-out set is taken before windowing
so that no held-out base is ever trained on: whole short records, or the last part of each long record.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..data import read_sequences
from ..data.files import FASTA_SUFFIXES, strip_gz
from ..data.hf_datasets import is_saved_dataset, load_hf, looks_like_dataset_id
from ..data.sequences import clean_sequence
from ..errors import DataError

__all__ = ["Corpus", "read_corpus", "read_dna_records", "split_and_window", "windows_of"]

_N_RUN = re.compile(r"N+")
_DATA_SUFFIXES = (*FASTA_SUFFIXES, ".txt", ".csv", ".tsv", ".tab", ".parquet", ".pq")
LONG_RECORD_WINDOWS = 4  # a record this many windows long gives its tail to the held-out set, not all of itself


@dataclass
class Corpus:
    """Training and held-out windows and where they came from."""

    source: str
    train: list[str]
    eval: list[str]
    n_records: int
    bp_read: int
    bp_skipped_n: int
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"n_records": self.n_records, "bp_read": self.bp_read, "bp_skipped_n": self.bp_skipped_n,
                "train_windows": len(self.train), "eval_windows": len(self.eval),
                "train_bp": sum(map(len, self.train)), "eval_bp": sum(map(len, self.eval)), "files": self.files}


def _folder_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and strip_gz(p.name).lower().endswith(_DATA_SUFFIXES))
    if not files:
        raise DataError(f"{folder}: no sequence files in this folder (expected FASTA, .txt, CSV/TSV/Parquet, "
                        "optionally gzipped).")
    return files


def _from_dataset(source: str, folder: Path | None, sequence_column: str) -> list[tuple[str, str]]:
    from datasets import DatasetDict

    dataset = load_hf(source, folder)
    parts = dict(dataset) if isinstance(dataset, DatasetDict) else {"train": dataset}
    out = []
    for split, part in parts.items():
        if sequence_column not in part.column_names:
            raise DataError(f"dataset {source!r}, split {split!r}: no column {sequence_column!r} (columns: "
                            f"{', '.join(part.column_names)}). Pass --sequence-column.")
        for row, raw in enumerate(part[sequence_column], start=1):
            seq, _ = clean_sequence(raw, where=f"dataset {source!r}, split {split!r}, row {row}")
            out.append((f"{split}:{row}", seq))
    return out


def read_dna_records(source: str, *, sequence_column: str = "sequence") -> tuple[list[tuple[str, str]], list[str]]:
    """Every ``(id, clean sequence)`` of a file, a folder of files, a saved dataset or a dataset id, and the files read.

    Raises:
        DataError: nothing readable, a bad base (named with file, line and position), a missing column.

    Example:
        >>> records, files = read_dna_records("genome.fa.gz")  # doctest: +SKIP
    """
    path = Path(source).expanduser()
    if path.is_file():
        return read_sequences(path, sequence_column=sequence_column), [path.name]
    if path.is_dir():
        if is_saved_dataset(path):
            return _from_dataset(source, path, sequence_column), [path.name]
        files = _folder_files(path)
        records: list[tuple[str, str]] = []
        for file in files:
            records += read_sequences(file, sequence_column=sequence_column)
        return records, [f.name for f in files]
    if any(c in source for c in "\\") or source.startswith((".", "/", "~")) or not looks_like_dataset_id(source):
        raise DataError(f"--data {source!r}: no such file or folder.")
    return _from_dataset(source, None, sequence_column), [source]


def windows_of(sequence: str, chunk_bp: int, stride_bp: int, min_bp: int) -> list[str]:
    """The windows of one sequence: each N-free stretch cut into `chunk_bp` windows every `stride_bp` bases; a
    stretch's last bases get a window ending at its end; stretches shorter than `min_bp` are dropped.

    Example:
        >>> windows_of("AAAACCCCGG" + "NNNN" + "TTT" + "NN" + "GG", chunk_bp=6, stride_bp=6, min_bp=3)
        ['AAAACC', 'CCCCGG', 'TTT']
    """
    out = []
    for match in _N_RUN.split(sequence):
        if len(match) < min_bp:
            continue
        if len(match) <= chunk_bp:
            out.append(match)
            continue
        starts = list(range(0, len(match) - chunk_bp + 1, stride_bp))
        if starts[-1] + chunk_bp < len(match):
            starts.append(len(match) - chunk_bp)
        out += [match[s:s + chunk_bp] for s in starts]
    return out


def split_and_window(records: list[tuple[str, str]], *, chunk_bp: int, stride_bp: int, min_bp: int,
                     eval_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train windows, held-out windows). A record at least `LONG_RECORD_WINDOWS` windows long gives its last
    `eval_fraction` to the held-out set (cut before windowing, so no window crosses the cut); shorter records go
    to the held-out set whole, each with probability `eval_fraction` (seeded).

    Example:
        >>> train, held_out = split_and_window([("r", "ACGT" * 500)], chunk_bp=100, stride_bp=100, min_bp=30,
        ...                                    eval_fraction=0.1, seed=0)
        >>> len(train), len(held_out)
        (18, 2)
    """
    rng = random.Random(seed)
    train: list[str] = []
    held_out: list[str] = []
    for _, seq in records:
        if len(seq) >= LONG_RECORD_WINDOWS * chunk_bp:
            cut = len(seq) - max(min_bp, round(len(seq) * eval_fraction))
            train += windows_of(seq[:cut], chunk_bp, stride_bp, min_bp)
            held_out += windows_of(seq[cut:], chunk_bp, stride_bp, min_bp)
        elif rng.random() < eval_fraction:
            held_out += windows_of(seq, chunk_bp, stride_bp, min_bp)
        else:
            train += windows_of(seq, chunk_bp, stride_bp, min_bp)
    return train, held_out


def read_corpus(source: str, *, chunk_bp: int, stride_bp: int, min_bp: int, eval_fraction: float, seed: int,
                sequence_column: str = "sequence", max_sequences: int | None = None) -> Corpus:
    """Read `source` (see `read_dna_records`) and cut it into training and held-out windows (`split_and_window`).

    Raises:
        DataError: no window of at least `min_bp` bases, or no held-out or no training window.

    Example:
        >>> corpus = read_corpus("genome.fa.gz", chunk_bp=600, stride_bp=600, min_bp=30, eval_fraction=0.05,
        ...                      seed=42)  # doctest: +SKIP
    """
    records, files = read_dna_records(source, sequence_column=sequence_column)
    if max_sequences is not None:
        records = records[:max_sequences]
    bp = sum(len(seq) for _, seq in records)
    n_bases = sum(seq.count("N") for _, seq in records)
    train, held_out = split_and_window(records, chunk_bp=chunk_bp, stride_bp=stride_bp, min_bp=min_bp,
                                       eval_fraction=eval_fraction, seed=seed)
    if not train and not held_out:
        raise DataError(f"--data {source}: no stretch of at least {min_bp} bp without N in {len(records)} "
                        "sequence(s). Lower --min-chunk-bp or check the input.")
    if not held_out or not train:
        which = "held-out" if not held_out else "training"
        raise DataError(f"--data {source}: the corpus is too small to hold out {eval_fraction:.0%} of it and still "
                        f"train (no {which} window among {len(train) + len(held_out)}). Give more sequences or "
                        "change --eval-fraction.")
    return Corpus(source, train, held_out, len(records), bp, n_bases, files)
