"""Data layer: turn a user's files (or a dataset id) into clean DNA sequences with integer labels.

Everything here is plain Python (csv, gzip, re); ``pyarrow`` is imported only to read Parquet and ``datasets`` only to
load a Hugging Face dataset, so importing this module stays fast.

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

Sequences are cleaned by :func:`clean_sequence`: whitespace is dropped, lowercase is accepted, ``N`` is kept, the
other IUPAC ambiguity codes become ``N`` (counted in a warning) and anything else is an error that names the file,
line, column and position.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import random
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubtune.errors import ConfigError, DataError

__all__ = [
    "Split",
    "TaskData",
    "LeakageReport",
    "load_task",
    "clean_sequence",
    "read_sequences",
    "parse_sequence_text",
    "leakage_report",
    "deduplicate",
    "describe",
    "reverse_complement",
    "example_task_path",
    "SPLITS",
]

SPLITS = ("train", "dev", "test")

# Ambiguity codes other than N; each one is replaced by N because the models only know A/C/G/T/N.
_IUPAC_AMBIGUOUS = frozenset("RYSWKMBDHV")
_CLEAN_RE = re.compile(r"[ACGTN]+")
_RC_TABLE = str.maketrans("ACGTNacgtnRYSWKMBDHVryswkmbdhv", "TGCANtgcanYRSWMKVHDByrswmkvhdb")
_RC_VALID_RE = re.compile(r"[ACGTNRYSWKMBDHV]*", re.IGNORECASE)

_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".ffn", ".frn")
_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "dev": "dev",
    "validation": "dev",
    "valid": "dev",
    "val": "dev",
    "test": "test",
    "testing": "test",
}
# Cell values that mean "no label" (pandas writes NaN as an empty cell or as one of these).
_MISSING_LABELS = frozenset({"", "nan", "na", "n/a", "null", "<na>"})
_OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe", ",": "comma"}
_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


# --------------------------------------------------------------------------------------------------------------------
# Public data structures


@dataclass
class Split:
    """One split of a task: cleaned sequences (uppercase, ACGTN only), integer labels and record ids."""

    sequences: list[str]
    labels: list[int]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.sequences)

    def subset(self, indices: Iterable[int]) -> Split:
        """Return a new split with the rows at ``indices`` (in the given order)."""
        idx = list(indices)
        return Split([self.sequences[i] for i in idx], [self.labels[i] for i in idx], [self.ids[i] for i in idx])


@dataclass
class TaskData:
    """A loaded classification task.

    ``label_names[i]`` is the name of label id ``i``; numeric labels keep their string form (``"0"``, ``"1"``).
    ``split_origin`` says whether the splits came with the data (``"given"``) or were drawn here.
    """

    name: str
    source: str
    splits: dict[str, Split]
    label_names: list[str]
    warnings: list[str] = field(default_factory=list)
    split_origin: str = "given"

    @property
    def num_labels(self) -> int:
        """Number of classes."""
        return len(self.label_names)


# --------------------------------------------------------------------------------------------------------------------
# Sequences


def clean_sequence(raw: str, *, where: str) -> tuple[str, int]:
    """Clean one DNA sequence.

    Whitespace anywhere is removed, lowercase is upper-cased, ``N`` is kept and the IUPAC ambiguity codes
    R Y S W K M B D H V become ``N``. Returns ``(clean, n_iupac_converted)``.

    Raises:
        DataError: the sequence is empty or holds another character; the message names ``where``, the 1-based
            position in ``raw`` and the character.
    """
    if not isinstance(raw, str):
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            raise DataError(f"{where}: the sequence is empty (missing value). Fill in the sequence or remove the row.")
        raise DataError(
            f"{where}: the sequence is a {type(raw).__name__} ({raw!r}), not text. "
            "The sequence column must hold DNA strings such as 'ACGTTGCA'; check --sequence-column."
        )
    upper = raw.upper()
    if _CLEAN_RE.fullmatch(upper):  # fast path: the overwhelming majority of rows
        return upper, 0
    out: list[str] = []
    converted = 0
    for pos, ch in enumerate(raw, start=1):
        if ch.isspace():
            continue
        c = ch.upper()
        if c in "ACGTN":
            out.append(c)
        elif c in _IUPAC_AMBIGUOUS:
            out.append("N")
            converted += 1
        else:
            raise DataError(_bad_char_message(where, pos, ch))
    if not out:
        raise DataError(
            f"{where}: the sequence is empty. Every row needs a DNA sequence (A, C, G, T, N); "
            "fill it in or remove the row."
        )
    return "".join(out), converted


def _bad_char_message(where: str, pos: int, ch: str) -> str:
    code = ord(ch)
    if code < 32 or 0x7F <= code <= 0x9F or ch == "\ufffd":
        return (
            f"{where}: position {pos} holds the control/binary character U+{code:04X}, not a DNA base. "
            "The file looks binary or corrupted; export it again as plain UTF-8 text (CSV, TSV or FASTA)."
        )
    hint = ""
    if ch.upper() == "U":
        hint = " It looks like RNA: replace U with T."
    elif ch in "-.*":
        hint = " Gaps and alignment symbols are not allowed: remove them (or use N for unknown bases)."
    elif ch.isdigit():
        hint = " Digits are not bases; check that --sequence-column points at the sequence column."
    return (
        f"{where}: character {ch!r} at position {pos} is not a DNA base. Sequences may contain only A, C, G, T, N "
        f"(any case) and the IUPAC codes R Y S W K M B D H V (converted to N).{hint} Fix or remove this row."
    )


def reverse_complement(seq: str) -> str:
    """Reverse complement of a DNA sequence (case and IUPAC codes preserved, e.g. R <-> Y, N -> N).

    Raises:
        DataError: ``seq`` holds a character that has no complement.
    """
    if not _RC_VALID_RE.fullmatch(seq):
        bad = next(ch for ch in seq if not _RC_VALID_RE.fullmatch(ch))
        raise DataError(f"reverse_complement: character {bad!r} in the sequence is not a DNA base or IUPAC code.")
    return seq.translate(_RC_TABLE)[::-1]


def _rc(seq: str) -> str:
    # Internal fast path for already-clean sequences.
    return seq.translate(_RC_TABLE)[::-1]


# --------------------------------------------------------------------------------------------------------------------
# Raw file reading


def _read_text(path: Path) -> str:
    """Read a text file (optionally gzipped) with clear errors for missing, empty, binary and non-UTF-8 files."""
    if not path.exists():
        raise DataError(f"{path}: file not found. Check the path (relative paths start from {Path.cwd()}).")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a file.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}). Check the file permissions.") from exc
    if not data:
        raise DataError(f"{path}: the file is empty (0 bytes). Point to a file with a header line and data rows.")
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: the gzip data is corrupted ({exc}). Compress the file again.") from exc
        if not data:
            raise DataError(f"{path}: the file is empty after decompression. Point to a file with data rows.")
    if data[:4] == b"PK\x03\x04":
        raise DataError(
            f"{path}: this is a ZIP archive (for example an Excel .xlsx workbook), not a text file. "
            "Export the sheet as CSV (comma-separated) or unzip the archive."
        )
    if data[:4] == b"PAR1":
        raise DataError(f"{path}: this is a Parquet file; give it the .parquet suffix so it is read as one.")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # UTF-16 with BOM (some spreadsheet exports); decode rather than reject.
        text = data.decode("utf-16")
    else:
        if b"\x00" in data[:65536]:
            line = data[: data.index(b"\x00")].count(b"\n") + 1
            raise DataError(
                f"{path}, line {line}: the file contains NUL bytes and looks binary, not text. "
                "Provide a plain-text CSV/TSV/FASTA file (or a .parquet file)."
            )
        try:
            text = data.decode("utf-8-sig")  # -sig strips a UTF-8 byte-order mark
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise DataError(
                f"{path}, line {line}: byte 0x{data[exc.start]:02x} is not valid UTF-8 text; the file looks binary "
                "or uses another encoding. Save it as UTF-8 text."
            ) from exc
    if not text.strip():
        raise DataError(f"{path}: the file holds only whitespace, no data. Point to a file with data rows.")
    return text


def _strip_gz(name: str) -> str:
    return name[:-3] if name.lower().endswith(".gz") else name


def _kind_of(path: Path) -> str:
    """Return 'fasta', 'parquet', 'tsv', 'csv' or 'txt' from the file name (ignoring a .gz suffix)."""
    name = _strip_gz(path.name).lower()
    if name.endswith(_FASTA_SUFFIXES):
        return "fasta"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".tsv") or name.endswith(".tab"):
        return "tsv"
    if name.endswith(".csv"):
        return "csv"
    return "txt"


def _stem(path: Path) -> str:
    name = _strip_gz(path.name)
    return name.rsplit(".", 1)[0] if "." in name else name


# Largest csv field accepted: 2**31 - 1 fits a C long on every platform (sys.maxsize overflows on Windows).
_CSV_FIELD_LIMIT = 2**31 - 1


@dataclass
class _Table:
    """A parsed delimited file: header plus rows with the physical line number of each row."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    unit: str = "line"  # "line" for text files, "row" for Parquet


def _parse_delimited(path: Path, text: str, delimiter: str) -> _Table:
    # csv refuses fields over 131,072 characters by default; a chromosome-scale sequence in one cell is valid input.
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line (also the trailing one)
            if header is None:
                header = [h.strip() for h in row]
                header_line = reader.line_num
                _check_header(path, header, header_line, delimiter)
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path}, line {reader.line_num}: expected {len(header)} fields like the header "
                    f"({_fmt_list(header)}), found {len(row)}. A field that contains the delimiter "
                    f"{_OTHER_DELIMITERS.get(delimiter, delimiter)!s} must be quoted; fix or remove this line."
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{path}, line {reader.line_num}: malformed {delimiter!r}-separated text ({exc}).") from exc
    if header is None:
        raise DataError(f"{path}: the file has no header line. The first line must name the columns.")
    return _Table(path, header, rows, lines)


def _check_header(path: Path, header: list[str], line: int, delimiter: str) -> None:
    if len(header) == 1:
        cell = header[0]
        for delim, name in _OTHER_DELIMITERS.items():
            if delim != delimiter and delim in cell:
                expected = "comma" if delimiter == "," else _OTHER_DELIMITERS[delimiter]
                suffix = ".tsv" if delim == "\t" else ".csv"
                raise DataError(
                    f"{path}, line {line}: the header {cell!r} contains no {expected} but does contain a {name} "
                    f"({delim!r}), so the file seems to be {name}-separated. Save it comma-separated as .csv or "
                    f"tab-separated as .tsv (the delimiter is chosen by the suffix; {suffix} suggested)."
                )
    first = header[0].strip().upper()
    if len(first) >= 8 and _CLEAN_RE.fullmatch(first):
        raise DataError(
            f"{path}, line {line}: the first line looks like data ({header[0][:20]!r}...), not a header. "
            "Add a header line naming the columns, e.g. 'sequence,label'."
        )


def _find_column(table_cols: Sequence[str], wanted: str) -> int | None:
    cols = list(table_cols)
    if wanted in cols:
        return cols.index(wanted)
    folded = [c.strip().lower() for c in cols]
    if folded.count(wanted.strip().lower()) == 1:
        return folded.index(wanted.strip().lower())
    return None


def _missing_column_error(path: Any, what: str, wanted: str, found: Sequence[str], option: str, unit: str) -> DataError:
    where = f"{path}, line 1" if unit == "line" else f"{path}"
    return DataError(
        f"{where}: no {what} column named {wanted!r}; the columns found are {_fmt_list(found)}. "
        f"Rename the column or pass {option} NAME with one of the names found."
    )


def _fmt_list(items: Iterable[Any], limit: int = 12) -> str:
    items = list(items)
    shown = ", ".join(repr(str(i)) for i in items[:limit])
    return f"[{shown}{', ...' if len(items) > limit else ''}]"


def _read_table(path: Path) -> _Table:
    """Read CSV/TSV/Parquet into a _Table (all cells as Python objects from Parquet, strings from text)."""
    kind = _kind_of(path)
    if kind == "parquet":
        return _read_parquet(path)
    text = _read_text(path)
    return _parse_delimited(path, text, "\t" if kind == "tsv" else ",")


def _read_parquet(path: Path) -> _Table:
    if not path.exists():
        raise DataError(f"{path}: file not found. Check the path.")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes). Write the Parquet file again.")
    import pyarrow.parquet as pq  # local import: only Parquet users pay for it

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: cannot be read as Parquet ({exc}). Write it again or use CSV.") from exc
    header = [str(c) for c in table.column_names]
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    return _Table(path, header, rows, list(range(1, len(rows) + 1)), unit="row")


# --------------------------------------------------------------------------------------------------------------------
# Records: cleaned sequences with raw labels, before label ids are assigned


@dataclass
class _Records:
    """Rows of one source (file or dataset split), sequences already cleaned, labels still raw strings."""

    origin: str  # file path or dataset split, used in messages
    short: str  # file name used in ids and warnings
    unit: str  # "line", "row" or "record"
    sequences: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    splits: list[str] | None = None
    iupac: int = 0
    first_iupac: str = ""

    def where(self, i: int) -> str:
        return f"{self.origin}, {self.unit} {self.positions[i]}"

    def take(self, idx: Sequence[int], origin: str | None = None) -> _Records:
        out = _Records(origin or self.origin, self.short, self.unit)
        out.sequences = [self.sequences[i] for i in idx]
        out.labels = [self.labels[i] for i in idx]
        out.ids = [self.ids[i] for i in idx]
        out.positions = [self.positions[i] for i in idx]
        out.iupac, out.first_iupac = self.iupac, self.first_iupac
        return out


def _label_str(value: Any) -> str | None:
    """Normalise a label cell to its string form; None when it is missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))  # 1.0 from a float column is the class "1"
        return repr(value)
    text = str(value).strip()
    return None if text.lower() in _MISSING_LABELS else text


def _records_from_table(
    table: _Table,
    sequence_column: str,
    label_column: str,
    *,
    origin_name: str | None = None,
    use_split_column: bool = True,
) -> _Records:
    seq_i = _find_column(table.header, sequence_column)
    if seq_i is None:
        raise _missing_column_error(
            table.path, "sequence", sequence_column, table.header, "--sequence-column", table.unit
        )
    lab_i = _find_column(table.header, label_column)
    if lab_i is None:
        raise _missing_column_error(table.path, "label", label_column, table.header, "--label-column", table.unit)
    id_i = _find_column(table.header, "id")
    split_i = _find_column(table.header, "split") if use_split_column else None
    short = origin_name or table.path.name
    rec = _Records(str(table.path), short, table.unit)
    if split_i is not None:
        rec.splits = []
    seq_col, lab_col = table.header[seq_i], table.header[lab_i]
    for row, line in zip(table.rows, table.lines, strict=True):
        raw = row[seq_i]
        if isinstance(raw, str) and _CLEAN_RE.fullmatch(raw):
            seq = raw
        else:
            seq, n = clean_sequence(raw, where=f"{table.path}, {table.unit} {line}, column {seq_col!r}")
            if n:
                if not rec.iupac:
                    rec.first_iupac = f"{table.unit} {line}"
                rec.iupac += n
        label = _label_str(row[lab_i])
        if label is None:
            raise DataError(
                f"{table.path}, {table.unit} {line}, column {lab_col!r}: the label is empty or NaN. "
                "Every row needs a label; fill it in or remove the row."
            )
        rec.sequences.append(seq)
        rec.labels.append(label)
        rid = _label_str(row[id_i]) if id_i is not None else None
        rec.ids.append(rid if rid else f"{short}:{line}")
        rec.positions.append(line)
        if rec.splits is not None:
            rec.splits.append(_split_value(row[split_i], f"{table.path}, {table.unit} {line}", table.header[split_i]))
    if not rec.sequences:
        raise DataError(f"{table.path}: the file has a header but no data rows. Add rows or point to another file.")
    return rec


def _split_value(value: Any, where: str, column: str) -> str:
    text = "" if value is None else str(value).strip().lower()
    if text not in _SPLIT_ALIASES:
        raise DataError(
            f"{where}, column {column!r}: split value {value!r} is not one of train, dev, validation, test. "
            "Fix the value, or rename/remove the column to let hubtune split the data itself."
        )
    return _SPLIT_ALIASES[text]


def _parse_fasta(text: str, origin: str) -> list[tuple[str, int, str]]:
    """Parse FASTA text into (header, header_line, raw_sequence) triples; sequence lines are concatenated."""
    records: list[tuple[str, int, list[str]]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith(";"):
            continue
        if s.startswith(">"):
            records.append((s[1:].strip(), n, []))
        elif not records:
            raise DataError(
                f"{origin}, line {n}: sequence data before the first '>' header. A FASTA file starts with a header "
                "line such as '>seq1'; add one or remove this line."
            )
        else:
            records[-1][2].append(s)
    return [(h, n, "".join(parts)) for h, n, parts in records]


def _records_from_fasta(path: Path, label_column: str, labels: dict[str, tuple[str, int]] | None) -> _Records:
    text = _read_text(path)
    rec = _Records(str(path), path.name, "line")
    parsed = _parse_fasta(text, str(path))
    if not parsed:
        raise DataError(f"{path}: no FASTA records (no line starts with '>'). Check that this is a FASTA file.")
    key = f"{label_column}="
    split_seen = False
    id_lines: dict[str, int] = {}  # with a labels file, record id -> header line of its first record
    for header, line, raw in parsed:
        tokens = header.split()
        if not tokens:
            raise DataError(f"{path}, line {line}: the FASTA header is empty. Write an id after '>', e.g. '>seq1'.")
        rid = tokens[0]
        label: str | None = None
        split: str | None = None
        for tok in tokens[1:]:
            if tok.startswith(key):
                label = tok[len(key) :]
            elif tok.lower().startswith("split="):
                split = _split_value(tok[6:], f"{path}, line {line}", "split=")
        if labels is not None:
            # Labels are matched by id, so two records sharing an id would silently share one label.
            if rid in id_lines:
                raise DataError(
                    f"{path}, line {line}: record id {rid!r} already appears at line {id_lines[rid]}. With "
                    "--labels-file each record gets the label of its id, so ids must be unique; rename one of the "
                    "records (and give it its own row in the labels file) or remove the duplicate."
                )
            id_lines[rid] = line
            if rid not in labels:
                raise DataError(
                    f"{path}, line {line}: record {rid!r} has no row in the labels file. Add '{rid},<label>' to the "
                    "labels file or remove the record."
                )
            label = labels[rid][0]
        elif label is None and "|" in rid:
            rid, label = rid.rsplit("|", 1)
        label = _label_str(label)
        if label is None:
            raise DataError(
                f"{path}, line {line}: record {tokens[0]!r} has no label. Write the header as "
                f"'>{tokens[0]} {key}NAME' or '>{tokens[0]}|NAME', or pass --labels-file with columns id,label."
            )
        where = f"{path}, record {rid!r} (line {line})"
        seq, n = clean_sequence(raw, where=where)
        if n:
            if not rec.iupac:
                rec.first_iupac = f"record {rid!r}, line {line}"
            rec.iupac += n
        rec.sequences.append(seq)
        rec.labels.append(label)
        rec.ids.append(rid)
        rec.positions.append(line)
        if split is not None:
            split_seen = True
        if rec.splits is None:
            rec.splits = []
        rec.splits.append(split or "")
    if split_seen:
        missing = [i for i, s in enumerate(rec.splits or []) if not s]
        if missing:
            raise DataError(
                f"{path}, line {rec.positions[missing[0]]}: some records carry a 'split=' header token and this one "
                "does not. Give every record a split= token or none of them."
            )
    else:
        rec.splits = None
    return rec


def _read_labels_file(path: Path, label_column: str) -> dict[str, tuple[str, int]]:
    table = _read_table(path)
    id_i = _find_column(table.header, "id")
    if id_i is None:
        raise _missing_column_error(table.path, "id", "id", table.header, "a header 'id,label' and", table.unit)
    lab_i = _find_column(table.header, label_column)
    if lab_i is None:
        raise _missing_column_error(table.path, "label", label_column, table.header, "--label-column", table.unit)
    out: dict[str, tuple[str, int]] = {}
    for row, line in zip(table.rows, table.lines, strict=True):
        rid = _label_str(row[id_i])
        if rid is None:
            raise DataError(f"{path}, {table.unit} {line}: the id is empty. Every row needs the FASTA record id.")
        label = _label_str(row[lab_i])
        if label is None:
            raise DataError(
                f"{path}, {table.unit} {line}, column {table.header[lab_i]!r}: the label is empty or NaN. "
                "Fill it in or remove the row."
            )
        if rid in out:
            raise DataError(
                f"{path}, {table.unit} {line}: id {rid!r} already appears at {table.unit} {out[rid][1]}. "
                "Each record id may have only one label; remove the duplicate."
            )
        out[rid] = (label, line)
    return out


def _records_from_file(
    path: Path,
    sequence_column: str,
    label_column: str,
    labels: dict[str, tuple[str, int]] | None,
    *,
    use_split_column: bool = True,
) -> _Records:
    if _kind_of(path) == "fasta" or (_kind_of(path) == "txt" and _looks_like_fasta(path)):
        rec = _records_from_fasta(path, label_column, labels)
        if not use_split_column:
            rec.splits = None
        return rec
    if _kind_of(path) == "txt":
        raise DataError(
            f"{path}: unknown file type {path.suffix!r}. Use .csv, .tsv, .parquet (optionally .csv.gz/.tsv.gz) "
            "or FASTA (.fa, .fasta, .fna) with labels in the headers."
        )
    if labels is not None:
        raise ConfigError(
            f"--labels-file applies to FASTA input only, but {path} is a table; put the labels in its "
            "label column instead."
        )
    return _records_from_table(_read_table(path), sequence_column, label_column, use_split_column=use_split_column)


def _looks_like_fasta(path: Path) -> bool:
    try:
        head = path.read_bytes()[:4096]
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b":
        try:
            head = gzip.decompress(path.read_bytes())[:4096]
        except (OSError, EOFError):
            return False
    return head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b">")


# --------------------------------------------------------------------------------------------------------------------
# Splitting, label mapping, assembly


def _stratified_partition(labels: Sequence[int], fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Split row indices into len(fractions) parts, per class, seeded; each part keeps the original row order.

    Part 0 always gets at least one row of each class; with three or more rows of a class every part gets one.
    """
    rng = random.Random(seed)
    by_class: dict[int, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        by_class[lab].append(i)
    parts: list[list[int]] = [[] for _ in fractions]
    total = sum(fractions)
    for lab in sorted(by_class):
        idx = by_class[lab]
        rng.shuffle(idx)
        n = len(idx)
        sizes = [int(n * f / total + 0.5) for f in fractions[1:]]
        if n >= len(fractions):
            sizes = [max(1, s) for s in sizes]
        # Give back rows to part 0 until it keeps at least one.
        while sum(sizes) > n - 1 and any(sizes):
            j = max(range(len(sizes)), key=lambda k: sizes[k])
            sizes[j] -= 1
        start = n - sum(sizes)
        parts[0].extend(idx[:start])
        for j, s in enumerate(sizes, start=1):
            parts[j].extend(idx[start : start + s])
            start += s
    return [sorted(p) for p in parts]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "infinity")


def _label_map(train: _Records, label_names: list[str] | None) -> tuple[list[str], dict[str, int]]:
    """Return (names, raw->id). Sorted order; numeric labels sorted numerically; user names override."""
    present = set(train.labels)
    if label_names is not None:
        names = [str(n) for n in label_names]
        if len(set(names)) != len(names):
            raise ConfigError(f"--label-names has duplicates: {_fmt_list(names)}. Give each class one unique name.")
        if present <= set(names):
            return names, {n: i for i, n in enumerate(names)}
        ints = {str(i): i for i in range(len(names))}
        if present <= set(ints):
            return names, ints  # label ids given as 0..k-1, names are display names
        bad = sorted(present - set(names))[0]
        i = train.labels.index(bad)
        raise DataError(
            f"{train.where(i)}: label {bad!r} is not among the label names given ({_fmt_list(names)}). "
            "Either list every label value in --label-names, or use integer labels 0..k-1."
        )
    if len(present) > 100 and len(present) > 0.5 * len(train.labels):
        # Almost one class per row: a continuous target or an id column, not class labels.
        raise DataError(
            f"{train.origin}: the label column has {len(present)} distinct values in {len(train.labels)} rows "
            f"(e.g. {_fmt_list(train.labels[:3])}); hubtune trains classifiers and this looks like a continuous "
            "target or an id column. Check --label-column."
        )
    if all(_is_number(x) for x in present):
        names = sorted(present, key=lambda x: (float(x), x))
    else:
        names = sorted(present)
    return names, {n: i for i, n in enumerate(names)}


def _to_split(rec: _Records, mapping: dict[str, int], label_desc: str) -> Split:
    try:
        labels = [mapping[x] for x in rec.labels]
    except KeyError as exc:
        bad = exc.args[0]
        i = rec.labels.index(bad)
        known = _fmt_list(sorted(set(mapping)))
        raise DataError(
            f"{rec.where(i)}: label {bad!r} does not occur in the train split ({label_desc}), so a model could "
            f"never learn it. Known labels: {known}. Fix the label, add training rows for it, or remove the rows."
        ) from None
    return Split(list(rec.sequences), labels, list(rec.ids))


def _cap(split: Split, max_rows: int, seed: int) -> Split:
    if len(split) <= max_rows:
        return split
    n = len(split)
    parts = _stratified_partition(split.labels, (n - max_rows, max_rows), seed)
    keep = parts[1]
    if len(keep) != max_rows:  # rounding per class; trim or top up deterministically
        rest = sorted(set(range(n)) - set(keep))
        rng = random.Random(seed + 1)
        if len(keep) > max_rows:
            keep = sorted(rng.sample(keep, max_rows))
        else:
            keep = sorted(keep + rng.sample(rest, max_rows - len(keep)))
    return split.subset(keep)


def _check_fractions(split_fractions: Sequence[float]) -> tuple[float, float, float]:
    try:
        fr = tuple(float(x) for x in split_fractions)
    except (TypeError, ValueError):
        raise ConfigError(
            f"split_fractions must be three numbers (train, dev, test), got {split_fractions!r}."
        ) from None
    if len(fr) != 3 or any(not (0 < x < 1) for x in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise ConfigError(
            f"split_fractions must be three numbers between 0 and 1 that sum to 1 (train, dev, test), "
            f"got {split_fractions!r}; e.g. 0.8,0.1,0.1."
        )
    return fr  # type: ignore[return-value]


def _pct(fr: Sequence[float]) -> str:
    return "/".join(f"{x * 100:g}" for x in fr)


def _assemble(
    name: str,
    source: str,
    given: dict[str, _Records] | None,
    single: _Records | None,
    *,
    seed: int,
    fractions: tuple[float, float, float],
    label_names: list[str] | None,
    max_rows: int | None,
    label_desc: str,
    warnings: list[str],
) -> TaskData:
    if single is not None and single.splits is not None:
        # Honour the split column of a single table.
        groups: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(single.splits):
            groups[s].append(i)
        if "train" not in groups or "test" not in groups:
            found = ", ".join(sorted(groups)) or "none"
            raise DataError(
                f"{single.origin}: the split column names the splits {found}, but both train and test are needed "
                "(dev is optional). Fix the split values, or remove the column to have the rows split randomly."
            )
        given = {s: single.take(idx, origin=single.origin) for s, idx in groups.items()}
        single = None
        origin_text = "given (split column)"
    else:
        origin_text = "given"

    if single is not None:
        names, mapping = _label_map(single, label_names)
        full = _to_split(single, mapping, label_desc)
        parts = _stratified_partition(full.labels, fractions, seed)
        splits = {s: full.subset(p) for s, p in zip(SPLITS, parts, strict=True)}
        split_origin = f"random stratified (seed {seed}, {_pct(fractions)})"
        train_origin = single.origin
    else:
        assert given is not None
        names, mapping = _label_map(given["train"], label_names)
        splits = {s: _to_split(rec, mapping, label_desc) for s, rec in given.items()}
        split_origin = origin_text
        train_origin = given["train"].origin
        if "dev" not in splits:
            dev_frac = fractions[1] / (fractions[0] + fractions[1])
            tr = splits["train"]
            parts = _stratified_partition(tr.labels, (1 - dev_frac, dev_frac), seed)
            splits["train"], splits["dev"] = tr.subset(parts[0]), tr.subset(parts[1])
            split_origin = (
                f"{origin_text} train/test; dev random stratified from train (seed {seed}, {dev_frac * 100:.3g}%)"
            )
        splits = {s: splits[s] for s in SPLITS}

    if max_rows is not None:
        if max_rows < 1:
            raise ConfigError(f"max_rows must be a positive integer, got {max_rows}.")
        capped = {s: _cap(sp, max_rows, seed) for s, sp in splits.items()}
        if any(len(capped[s]) < len(splits[s]) for s in splits):
            warnings.append(
                f"kept at most {max_rows} rows per split (seeded stratified sample): "
                + ", ".join(f"{s} {len(capped[s])}/{len(splits[s])}" for s in splits)
            )
        splits = capped

    train_classes = set(splits["train"].labels)
    if len(train_classes) < 2:
        only = names[next(iter(train_classes))] if train_classes else "none"
        raise DataError(
            f"{train_origin}: the train split has only one class ({only!r}, {len(splits['train'])} rows) "
            f"in {label_desc}; a classifier needs at least two. Check that --label-column points at the label "
            "column and that the data holds more than one class."
        )
    for s in ("dev", "test"):
        if len(splits[s]) == 0:
            warnings.append(f"the {s} split is empty")
    return TaskData(name, source, splits, names, warnings, split_origin)


def _iupac_warning(rec: _Records) -> str | None:
    if not rec.iupac:
        return None
    codes = "code" if rec.iupac == 1 else "codes"
    return f"converted {rec.iupac} IUPAC {codes} to N in {rec.short} (first at {rec.first_iupac})"


# --------------------------------------------------------------------------------------------------------------------
# Folder handling


def _split_files(folder: Path) -> dict[str, list[Path]]:
    """Map split name -> candidate files in ``folder`` (train.csv, validation.tsv.gz, test.parquet, ...)."""
    found: dict[str, list[Path]] = defaultdict(list)
    for p in sorted(folder.iterdir()):
        if not p.is_file():
            continue
        stem = _stem(p).lower()
        if stem in _SPLIT_ALIASES and (_kind_of(p) != "txt"):
            found[_SPLIT_ALIASES[stem]].append(p)
    return found


def _is_saved_dataset(folder: Path) -> bool:
    return (folder / "dataset_dict.json").exists() or (
        (folder / "state.json").exists() and (folder / "dataset_info.json").exists()
    )


def _describe_folder(folder: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    return _fmt_list(names) if names else "nothing (the folder is empty)"


def _load_folder(
    folder: Path, files: dict[str, list[Path]], sequence_column: str, label_column: str, labels: Any
) -> dict[str, _Records]:
    for split, paths in files.items():
        if len(paths) > 1:
            raise DataError(
                f"{folder}: several files for the {split} split ({_fmt_list(p.name for p in paths)}). "
                "Keep one file per split."
            )
    if "train" not in files or "test" not in files:
        have = _describe_folder(folder)
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
        s: _records_from_file(files[s][0], sequence_column, label_column, labels, use_split_column=False) for s in files
    }


# --------------------------------------------------------------------------------------------------------------------
# Hugging Face datasets


def _records_from_hf(
    source: str, dataset: Any, sequence_column: str, label_column: str
) -> tuple[dict[str, _Records] | None, _Records | None, list[str] | None, list[str]]:
    """Convert a Dataset/DatasetDict into records. Returns (given, single, class_label_names, warnings)."""
    from datasets import DatasetDict  # local import keeps `import hubtune.data` fast

    warnings: list[str] = []
    parts = dict(dataset) if isinstance(dataset, DatasetDict) else {"train": dataset}
    mapped: dict[str, Any] = {}
    for split_name, ds in parts.items():
        key = _SPLIT_ALIASES.get(split_name.lower())
        if key is None:
            warnings.append(f"ignored dataset split {split_name!r} (not train/validation/dev/test)")
            continue
        if key in mapped:
            raise DataError(f"dataset {source!r}: two splits map to {key!r}; keep one of them.")
        mapped[key] = (split_name, ds)
    if "train" not in mapped:
        raise DataError(
            f"dataset {source!r}: no train split (splits found: {_fmt_list(parts)}). A dataset needs a 'train' "
            "split; rename the split or save the data as a single file."
        )
    class_names: list[str] | None = None
    records: dict[str, _Records] = {}
    for key, (split_name, ds) in mapped.items():
        cols = list(ds.column_names)
        origin = f"dataset {source!r} split {split_name!r}"
        seq_i = _find_column(cols, sequence_column)
        if seq_i is None:
            raise _missing_column_error(origin, "sequence", sequence_column, cols, "--sequence-column", "row")
        lab_i = _find_column(cols, label_column)
        if lab_i is None:
            raise _missing_column_error(origin, "label", label_column, cols, "--label-column", "row")
        feat = ds.features.get(cols[lab_i])
        if feat is not None and type(feat).__name__ == "ClassLabel":
            class_names = list(feat.names)
        table = _Table(Path(origin), cols, [], [], unit="row")
        columns = [ds[c] for c in cols]
        table.rows = [list(r) for r in zip(*columns, strict=True)]
        table.lines = list(range(1, len(table.rows) + 1))
        rec = _records_from_table(
            table, cols[seq_i], cols[lab_i], origin_name=split_name, use_split_column=len(mapped) == 1
        )
        rec.origin = origin
        records[key] = rec
    if len(records) == 1:
        return None, records["train"], class_names, warnings
    return records, None, class_names, warnings


def _load_hf(source: str, folder: Path | None) -> Any:
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise DataError("loading a Hugging Face dataset needs the 'datasets' package: pip install datasets") from exc
    try:
        if folder is not None and _is_saved_dataset(folder):
            return datasets.load_from_disk(str(folder))
        return datasets.load_dataset(str(folder) if folder is not None else source)
    except DataError:
        raise
    except Exception as exc:  # datasets raises many different exception types
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if folder is not None:
            raise DataError(
                f"{folder}: not a task folder (no train/dev/test files; found {_describe_folder(folder)}) and "
                f"datasets.load_dataset could not read it either ({type(exc).__name__}: {msg}). "
                "Provide train.csv/dev.csv/test.csv with columns sequence,label, or a single data file."
            ) from exc
        raise DataError(
            f"{source!r}: not an existing file or folder, and loading it as a Hugging Face dataset id failed "
            f"({type(exc).__name__}: {msg}). Check the path, or the dataset id and your network/HF_TOKEN."
        ) from exc


# --------------------------------------------------------------------------------------------------------------------
# Public loading API


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
) -> TaskData:
    """Load a labelled DNA classification task from a folder, a file or a Hugging Face dataset.

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
            ids 0..k-1 in which case the names are display names.
        max_rows: keep at most this many rows per split (seeded stratified sample), for quick runs.

    Returns:
        TaskData with train, dev and test splits.

    Raises:
        DataError: the data cannot be used (the message names file, line, column and the fix).
        ConfigError: an option is invalid.
    """
    fractions = _check_fractions(split_fractions)
    source_text = str(source)
    path = Path(source).expanduser()
    labels = _read_labels_file(Path(labels_file).expanduser(), label_column) if labels_file is not None else None
    warnings: list[str] = []
    given: dict[str, _Records] | None = None
    single: _Records | None = None
    label_desc = f"column {label_column!r}"
    hf_names: list[str] | None = None

    if path.is_dir():
        name = path.resolve().name
        files = _split_files(path)
        if files:
            given = _load_folder(path, files, sequence_column, label_column, labels)
            label_desc = f"column {label_column!r} of {given['train'].short}"
        else:
            ds = _load_hf(source_text, path)
            given, single, hf_names, hf_warn = _records_from_hf(source_text, ds, sequence_column, label_column)
            warnings.extend(hf_warn)
    elif path.exists():
        name = _stem(path)
        single = _records_from_file(path, sequence_column, label_column, labels)
        is_table = _kind_of(path) in ("csv", "tsv", "parquet")
        label_desc = f"column {label_column!r} of {path.name}" if is_table else f"labels of {path.name}"
    else:
        looks_like_path = (
            source_text.startswith((".", "/", "~"))
            or _strip_gz(source_text.lower()).endswith(_TABLE_SUFFIXES + _FASTA_SUFFIXES + (".txt",))
            or not _HUB_ID_RE.match(source_text)
        )
        if looks_like_path:
            parent = path.parent
            near = f" The folder {parent} holds {_describe_folder(parent)}." if parent.is_dir() else ""
            raise DataError(f"{source_text}: no such file or folder.{near} Check the path.")
        name = source_text.rstrip("/").rsplit("/", 1)[-1]
        ds = _load_hf(source_text, None)
        given, single, hf_names, hf_warn = _records_from_hf(source_text, ds, sequence_column, label_column)
        warnings.extend(hf_warn)

    if labels is not None and single is None and given is None:  # pragma: no cover - defensive
        raise ConfigError("--labels-file was given but no FASTA input was found.")
    if hf_names is not None and label_names is None:
        label_names = hf_names  # ClassLabel names keep the dataset's id order
    for rec in ([single] if single is not None else []) + list((given or {}).values()):
        w = _iupac_warning(rec)
        if w:
            warnings.append(w)
    if labels is not None:
        used = set()
        for rec in ([single] if single is not None else []) + list((given or {}).values()):
            used.update(rec.ids)
        unused = [k for k in labels if k not in used]
        if unused:
            warnings.append(
                f"{len(unused)} ids in {Path(labels_file).name} match no FASTA record (first: {unused[0]!r})"  # type: ignore[arg-type]
            )
    if given is not None and "train" in given and "test" not in given and single is None:
        raise DataError(f"{source_text}: there is a train split but no test split; add a test split.")
    return _assemble(
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
    )


def parse_sequence_text(text: str) -> list[tuple[str, str]]:
    """Parse pasted text (FASTA, or one sequence per line) into ``(id, clean_sequence)`` pairs.

    FASTA ids are the first word of each header; plain lines get ids ``seq1``, ``seq2``, ... Blank lines and lines
    starting with ``#`` are skipped.

    Raises:
        DataError: no sequence, or a bad character (the message names the line/record and position).
    """
    return _parse_unlabelled(text, "pasted text", None)


def _parse_unlabelled(
    text: str, origin: str, id_prefix: str | None, *, fasta: bool | None = None
) -> list[tuple[str, str]]:
    """Parse FASTA or one-sequence-per-line text; ``fasta=None`` decides from the first non-blank line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    out: list[tuple[str, str]] = []
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if not first:
        raise DataError(f"{origin}: no sequences found. Paste DNA sequences, one per line, or FASTA records.")
    if fasta is None:
        fasta = first.startswith(">")
    if fasta:
        for header, line, raw in _parse_fasta(text, origin):
            rid = header.split()[0] if header.split() else f"seq{len(out) + 1}"
            if not raw:
                raise DataError(
                    f"{origin}, record {rid!r} (line {line}): the record has no sequence. Add sequence lines under "
                    "the header or remove it."
                )
            seq, _ = clean_sequence(raw, where=f"{origin}, record {rid!r} (line {line})")
            out.append((rid, seq))
        if not out:  # only ';' comment lines
            raise DataError(f"{origin}: no sequences found: no line starts with '>'. Add FASTA records.")
        return out
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        seq, _ = clean_sequence(s, where=f"{origin}, line {n}")
        rid = f"{id_prefix}:{n}" if id_prefix else f"seq{len(out) + 1}"
        out.append((rid, seq))
    if not out:
        # Only blank and '#' lines: an empty result would surface later as an error that names no input.
        raise DataError(
            f"{origin}: no sequences found; every line is blank or a '#' comment. Add DNA sequences, one per line, "
            "or FASTA records."
        )
    return out


def read_sequences(path_or_text: str | Path, *, sequence_column: str = "sequence") -> list[tuple[str, str]]:
    """Read unlabelled sequences for prediction: returns ``(id, clean_sequence)`` pairs.

    Accepts a FASTA file (.fa/.fasta/.fna, optionally .gz; ids kept from the headers), a text file with one sequence
    per line (ids ``<file>:<line>``), a CSV/TSV/Parquet file with a sequence column (ids from an ``id`` column or
    ``<file>:<line>``), or the text itself (see :func:`parse_sequence_text`). A string is taken as a path when it has
    no newline and names an existing file or contains '.', '/' or '\\' (which DNA text never does).

    Raises:
        DataError: missing/empty file, missing column, bad character (named with line and position).
    """
    if isinstance(path_or_text, str):
        s = path_or_text.strip()
        # DNA text never holds '.', '/' or '\\', so a one-line string with one of them is a path.
        is_path = "\n" not in s and bool(s) and (Path(s).expanduser().is_file() or any(c in s for c in "./\\"))
        if not is_path:
            try:
                return parse_sequence_text(path_or_text)
            except DataError as exc:
                if "\n" in s or not s:
                    raise
                raise DataError(f"{exc} If {s!r} is meant as a file path: no such file exists.") from None
        path = Path(s).expanduser()
    else:
        path = path_or_text
    kind = _kind_of(path)
    if kind in ("csv", "tsv", "parquet"):
        table = _read_table(path)
        seq_i = _find_column(table.header, sequence_column)
        if seq_i is None and len(table.header) == 1:
            seq_i = 0
        if seq_i is None:
            raise _missing_column_error(
                path, "sequence", sequence_column, table.header, "--sequence-column", table.unit
            )
        id_i = _find_column(table.header, "id")
        out = []
        for row, line in zip(table.rows, table.lines, strict=True):
            seq, _ = clean_sequence(row[seq_i], where=f"{path}, {table.unit} {line}, column {table.header[seq_i]!r}")
            rid = _label_str(row[id_i]) if id_i is not None else None
            out.append((rid or f"{path.name}:{line}", seq))
        if not out:
            raise DataError(f"{path}: the file has a header but no rows. Add sequences.")
        return out
    text = _read_text(path)
    # A FASTA suffix always means FASTA, so a missing first header is reported as such, not as a bad base.
    return _parse_unlabelled(text, str(path), path.name, fasta=True if kind == "fasta" else None)


# --------------------------------------------------------------------------------------------------------------------
# Leakage


@dataclass
class LeakageReport:
    """Overlap between splits (exact and reverse-complement) and duplicates within splits.

    For a pair ``a/b`` (train/dev, train/test, dev/test), ``exact`` counts distinct sequences of ``b`` that also
    occur in ``a``; ``reverse_complement`` counts the other distinct sequences of ``b`` whose reverse complement
    occurs in ``a``; the ``*_rows`` fields count rows of ``b`` involved; ``label_conflicts`` counts exactly shared
    sequences whose label differs between the splits. Within a split, ``duplicated_sequences`` counts distinct
    sequences seen more than once and ``extra_rows`` the rows that a dedup would drop.
    """

    task: str
    split_sizes: dict[str, int]
    distinct: dict[str, int]
    pairs: dict[str, dict[str, Any]]
    within: dict[str, dict[str, Any]]

    @property
    def has_leak(self) -> bool:
        """True when any sequence of dev/test also occurs (exactly or reverse-complemented) in an earlier split."""
        return any(p["exact"] or p["reverse_complement"] for p in self.pairs.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what goes into ``leakage.json``)."""
        return {
            "task": self.task,
            "has_leak": self.has_leak,
            "split_sizes": dict(self.split_sizes),
            "distinct_sequences": dict(self.distinct),
            "pairs": {k: dict(v) for k, v in self.pairs.items()},
            "within_split": {k: dict(v) for k, v in self.within.items()},
        }

    def summary_lines(self) -> list[str]:
        """Human-readable lines, one per finding."""
        lines: list[str] = []
        for key, p in self.pairs.items():
            a, b = key.split("/")
            if p["exact"]:
                lines.append(
                    f"{p['exact']} distinct {b} sequences also occur in {a} (exact; {p['exact_rows']} {b} rows)"
                    + (f", {p['label_conflicts']} of them with a different label" if p["label_conflicts"] else "")
                )
            if p["reverse_complement"]:
                lines.append(
                    f"{p['reverse_complement']} distinct {b} sequences are reverse complements of {a} sequences "
                    f"({p['reverse_complement_rows']} {b} rows)"
                )
        for s, w in self.within.items():
            if w["duplicated_sequences"]:
                lines.append(
                    f"{w['duplicated_sequences']} sequences appear more than once within {s} "
                    f"({w['extra_rows']} extra rows"
                    + (f", {w['label_conflicts']} with conflicting labels" if w["label_conflicts"] else "")
                    + ")"
                )
        if not lines:
            lines.append("no sequence is shared between splits and no split has duplicates")
        elif not self.has_leak:
            lines.insert(0, "no sequence is shared between splits")
        return lines


def leakage_report(task: TaskData, *, max_examples: int = 5) -> LeakageReport:
    """Count sequences shared between splits (exactly and as reverse complements) and duplicates within splits."""
    names = [s for s in SPLITS if s in task.splits]
    index: dict[str, dict[str, list[int]]] = {}
    for s in names:
        d: dict[str, list[int]] = {}
        for i, seq in enumerate(task.splits[s].sequences):
            d.setdefault(seq, []).append(i)
        index[s] = d
    pairs: dict[str, dict[str, Any]] = {}
    for ai, a in enumerate(names):
        for b in names[ai + 1 :]:
            ia, ib = index[a], index[b]
            sa, sb = task.splits[a], task.splits[b]
            exact = [seq for seq in ib if seq in ia]
            rc = [seq for seq in ib if seq not in ia and _rc(seq) in ia]
            conflicts = sum(1 for seq in exact if {sa.labels[i] for i in ia[seq]} != {sb.labels[i] for i in ib[seq]})
            examples = []
            for kind, seqs in (("exact", exact), ("reverse_complement", rc)):
                for seq in seqs[: max(0, max_examples - len(examples))]:
                    other = seq if kind == "exact" else _rc(seq)
                    examples.append(
                        {
                            "match": kind,
                            "sequence": seq,
                            f"{a}_ids": [sa.ids[i] for i in ia[other][:3]],
                            f"{b}_ids": [sb.ids[i] for i in ib[seq][:3]],
                        }
                    )
            pairs[f"{a}/{b}"] = {
                "exact": len(exact),
                "exact_rows": sum(len(ib[s]) for s in exact),
                "reverse_complement": len(rc),
                "reverse_complement_rows": sum(len(ib[s]) for s in rc),
                "label_conflicts": conflicts,
                "examples": examples,
            }
    within: dict[str, dict[str, Any]] = {}
    for s in names:
        sp = task.splits[s]
        dups = [(seq, idx) for seq, idx in index[s].items() if len(idx) > 1]
        within[s] = {
            "duplicated_sequences": len(dups),
            "extra_rows": sum(len(idx) - 1 for _, idx in dups),
            "label_conflicts": sum(1 for _, idx in dups if len({sp.labels[i] for i in idx}) > 1),
            "examples": [
                {"sequence": seq, "ids": [sp.ids[i] for i in idx[:5]], "count": len(idx)}
                for seq, idx in dups[:max_examples]
            ],
        }
    return LeakageReport(
        task=task.name,
        split_sizes={s: len(task.splits[s]) for s in names},
        distinct={s: len(index[s]) for s in names},
        pairs=pairs,
        within=within,
    )


def deduplicate(task: TaskData, report: LeakageReport | None = None) -> TaskData:
    """Return a copy of ``task`` without leakage.

    Removes from dev and test every row whose sequence (or its reverse complement) occurs in train, removes from
    test every row whose sequence (or reverse complement) occurs in dev, and keeps only the first row of each
    sequence repeated within dev or within test. Train is left unchanged. A warning records what was removed.

    Raises:
        DataError: dev or test would be left empty.
    """
    if (
        report is not None
        and not report.has_leak
        and not any(report.within[s]["duplicated_sequences"] for s in ("dev", "test") if s in report.within)
    ):
        return TaskData(
            task.name, task.source, dict(task.splits), list(task.label_names), list(task.warnings), task.split_origin
        )
    new_splits = dict(task.splits)
    seen_before: set[str] = set(task.splits["train"].sequences) if "train" in task.splits else set()
    removed: dict[str, tuple[int, int]] = {}
    for s in ("dev", "test"):
        if s not in task.splits:
            continue
        sp = task.splits[s]
        keep: list[int] = []
        here: set[str] = set()
        overlap = dup = 0
        for i, seq in enumerate(sp.sequences):
            if seq in seen_before or _rc(seq) in seen_before:
                overlap += 1
            elif seq in here:
                dup += 1
            else:
                here.add(seq)
                keep.append(i)
        if not keep and len(sp):
            raise DataError(
                f"task {task.name!r}: removing overlaps would leave the {s} split empty (all {len(sp)} rows occur in "
                "an earlier split). The splits are not independent; re-split the data (e.g. pass a single file)."
            )
        new_splits[s] = sp.subset(keep)
        removed[s] = (overlap, dup)
        seen_before |= here
    warnings = list(task.warnings)
    parts = [f"{s}: {o} rows shared with earlier splits, {d} duplicate rows" for s, (o, d) in removed.items() if o or d]
    if parts:
        warnings.append("deduplicated " + "; ".join(parts))
    return TaskData(task.name, task.source, new_splits, list(task.label_names), warnings, task.split_origin)


def describe(task: TaskData) -> dict[str, Any]:
    """Summary of a task: split sizes, class counts per split and sequence length min/median/max per split."""
    splits: dict[str, Any] = {}
    for s, sp in task.splits.items():
        counts = Counter(sp.labels)
        lengths = [len(x) for x in sp.sequences]
        splits[s] = {
            "n": len(sp),
            "class_counts": {name: counts.get(i, 0) for i, name in enumerate(task.label_names)},
            "length": (
                {"min": min(lengths), "median": statistics.median(lengths), "max": max(lengths)}
                if lengths
                else {"min": 0, "median": 0, "max": 0}
            ),
        }
    return {
        "name": task.name,
        "source": task.source,
        "split_origin": task.split_origin,
        "num_labels": task.num_labels,
        "label_names": list(task.label_names),
        "splits": splits,
        "warnings": list(task.warnings),
    }


def example_task_path() -> Path:
    """Folder of the bundled example task (binary promoter vs background, train/dev/test CSVs)."""
    return Path(__file__).resolve().parent / "examples" / "promoter"
