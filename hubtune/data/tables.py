"""Tables: CSV/TSV text (the delimiter comes from the suffix) and Parquet, read into a header plus located rows.

Every row keeps its physical line number (text) or 1-based row number (Parquet), so later errors can point at it.
A file whose header is split by another delimiter, or whose first line already looks like data, is refused with a
message saying so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubtune.errors import DataError

from .files import file_kind, fmt_list, read_text
from .sequences import is_plain_dna

__all__ = ["Table", "find_column", "missing_column_error", "parse_delimited", "read_table"]

# Largest csv field accepted: 2**31 - 1 fits a C long on every platform (sys.maxsize overflows on Windows).
CSV_FIELD_LIMIT = 2**31 - 1
_OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe", ",": "comma"}


@dataclass
class Table:
    """A parsed table: header plus rows with the physical line number (or Parquet row number) of each row."""

    path: Path
    header: list[str]
    rows: list[list[Any]]
    lines: list[int]
    unit: str = "line"  # "line" for text files, "row" for Parquet and datasets


def parse_delimited(path: Path, text: str, delimiter: str) -> Table:
    """Parse delimited text into a :class:`Table`; blank lines are skipped, ragged rows are errors.

    Raises:
        DataError: no header, a header that is data or uses another delimiter, a row with the wrong field count.

    Example:
        >>> parse_delimited(Path("x.csv"), "sequence,label\\nACGT,a\\n", ",").lines
        [2]
    """
    # csv refuses fields over 131,072 characters by default; a chromosome-scale sequence in one cell is valid input.
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[Any]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line (also the trailing one)
            if header is None:
                header = [h.strip() for h in row]
                _check_header(path, header, reader.line_num, delimiter)
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path}, line {reader.line_num}: expected {len(header)} fields like the header "
                    f"({fmt_list(header)}), found {len(row)}. A field that contains the delimiter "
                    f"{_OTHER_DELIMITERS.get(delimiter, delimiter)!s} must be quoted; fix or remove this line."
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{path}, line {reader.line_num}: malformed {delimiter!r}-separated text ({exc}).") from exc
    if header is None:
        raise DataError(f"{path}: the file has no header line. The first line must name the columns.")
    return Table(path, header, rows, lines)


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
    if len(first) >= 8 and is_plain_dna(first):
        raise DataError(
            f"{path}, line {line}: the first line looks like data ({header[0][:20]!r}...), not a header. "
            "Add a header line naming the columns, e.g. 'sequence,label'."
        )


def find_column(table_cols: Sequence[str], wanted: str) -> int | None:
    """Index of column ``wanted``: exact name first, else the one name equal to it ignoring case and spaces.

    Example:
        >>> find_column(["ID", " Sequence "], "sequence")
        1
    """
    cols = list(table_cols)
    if wanted in cols:
        return cols.index(wanted)
    folded = [c.strip().lower() for c in cols]
    if folded.count(wanted.strip().lower()) == 1:
        return folded.index(wanted.strip().lower())
    return None


def missing_column_error(path: Any, what: str, wanted: str, found: Sequence[str], option: str, unit: str) -> DataError:
    """The error for a missing column: names the columns found and the option that picks another.

    Example:
        >>> error = missing_column_error("x.csv", "label", "label", ["seq", "y"], "--label-column", "line")
        >>> str(error).split(";")[0]
        "x.csv, line 1: no label column named 'label'"
    """
    where = f"{path}, line 1" if unit == "line" else f"{path}"
    return DataError(
        f"{where}: no {what} column named {wanted!r}; the columns found are {fmt_list(found)}. "
        f"Rename the column or pass {option} NAME with one of the names found."
    )


def read_table(path: Path) -> Table:
    """Read CSV/TSV/Parquet into a :class:`Table` (cells are strings from text, Python objects from Parquet).

    Raises:
        DataError: the file cannot be read or parsed (see :func:`~hubtune.data.files.read_text`).

    Example:
        >>> read_table(Path("train.tsv")).header  # doctest: +SKIP
        ['sequence', 'label']
    """
    kind = file_kind(path)
    if kind == "parquet":
        return _read_parquet(path)
    text = read_text(path)
    return parse_delimited(path, text, "\t" if kind == "tsv" else ",")


def _read_parquet(path: Path) -> Table:
    if not path.exists():
        raise DataError(f"{path}: file not found. Check the path.")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes). Write the Parquet file again.")
    import pyarrow.parquet as pq  # third-party, imported here: only Parquet users pay for it

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: cannot be read as Parquet ({exc}). Write it again or use CSV.") from exc
    header = [str(c) for c in table.column_names]
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    return Table(path, header, rows, list(range(1, len(rows) + 1)), unit="row")
