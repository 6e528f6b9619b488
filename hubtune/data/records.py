"""Records: the rows of one source (file, table or dataset split) with cleaned sequences and still-raw labels.

Label ids are assigned later, once the train split fixes the label map; until then each row keeps its label as a
string together with its id and position, so every error can still name the file and line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hubtune.errors import DataError

from .sequences import clean_sequence
from .tables import Table, find_column, missing_column_error
from .task import split_value

__all__ = ["MISSING_LABELS", "Records", "label_str", "records_from_table"]

# Cell values that mean "no label" (pandas writes NaN as an empty cell or as one of these).
MISSING_LABELS = frozenset({"", "nan", "na", "n/a", "null", "<na>"})


@dataclass
class Records:
    """Rows of one source (file or dataset split), sequences already cleaned, labels still raw strings.

    Example:
        >>> rec = records_from_table(read_table(Path("all.csv")), "sequence", "label")  # doctest: +SKIP
        >>> rec.where(0)  # doctest: +SKIP
        'all.csv, line 2'
    """

    origin: str  # file path or dataset split, used in messages
    short: str  # file name used in ids and warnings
    unit: str  # "line", "row" or "record"
    sequences: list[str] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)  # a string per row; a tuple of strings with several label columns
    ids: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    splits: list[str] | None = None
    iupac: int = 0
    first_iupac: str = ""

    def where(self, i: int) -> str:
        """Location of row ``i`` for messages: origin and line/row number."""
        return f"{self.origin}, {self.unit} {self.positions[i]}"

    def take(self, idx: Sequence[int]) -> Records:
        """A copy holding only the rows at ``idx`` (the IUPAC count of the whole source is kept)."""
        out = Records(self.origin, self.short, self.unit)
        out.sequences = [self.sequences[i] for i in idx]
        out.labels = [self.labels[i] for i in idx]
        out.ids = [self.ids[i] for i in idx]
        out.positions = [self.positions[i] for i in idx]
        out.iupac, out.first_iupac = self.iupac, self.first_iupac
        return out

    def count_iupac(self, converted: int, where: str) -> None:
        """Add ``converted`` IUPAC-to-N conversions found at ``where`` (the first location is remembered)."""
        if converted:
            if not self.iupac:
                self.first_iupac = where
            self.iupac += converted

    def iupac_warning(self) -> str | None:
        """The warning that counts the IUPAC codes converted to N, or None when there were none."""
        if not self.iupac:
            return None
        codes = "code" if self.iupac == 1 else "codes"
        return f"converted {self.iupac} IUPAC {codes} to N in {self.short} (first at {self.first_iupac})"


def label_str(value: Any) -> str | None:
    """Normalise a label (or id) cell to its string form; None when it is missing.

    Example:
        >>> label_str(1.0), label_str(" promoter "), label_str("NaN")
        ('1', 'promoter', None)
    """
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
    return None if text.lower() in MISSING_LABELS else text


def records_from_table(
    table: Table,
    sequence_column: str,
    label_column: str,
    *,
    origin_name: str | None = None,
    use_split_column: bool = True,
    label_columns: Sequence[str] | None = None,
    empty_labels: bool = False,
) -> Records:
    """Clean the sequences and collect the labels, ids and (optional) split column of a table.

    With `label_columns` (several label or target columns) each row's label is the tuple of those cells.
    `empty_labels` lets an empty label cell through as "" (an empty label set of a multi-label task).

    Raises:
        DataError: a column is missing, a sequence or label is bad or empty, or the table has no rows.

    Example:
        >>> rec = records_from_table(read_table(Path("all.csv")), "sequence", "label")  # doctest: +SKIP
    """
    seq_i = find_column(table.header, sequence_column)
    if seq_i is None:
        raise missing_column_error(
            table.path, "sequence", sequence_column, table.header, "--sequence-column", table.unit
        )
    wanted = list(label_columns) if label_columns else [label_column]
    option = "--label-columns" if label_columns else "--label-column"
    lab_idx = []
    for name in wanted:
        found = find_column(table.header, name)
        if found is None:
            raise missing_column_error(table.path, "label", name, table.header, option, table.unit)
        lab_idx.append(found)
    id_i = find_column(table.header, "id")
    split_i = find_column(table.header, "split") if use_split_column else None
    short = origin_name or table.path.name
    rec = Records(str(table.path), short, table.unit)
    if split_i is not None:
        rec.splits = []
    seq_col = table.header[seq_i]
    for row, line in zip(table.rows, table.lines, strict=True):
        seq, n = clean_sequence(row[seq_i], where=f"{table.path}, {table.unit} {line}, column {seq_col!r}")
        rec.count_iupac(n, f"{table.unit} {line}")
        cells = []
        for lab_i in lab_idx:
            label = label_str(row[lab_i])
            if label is None and not empty_labels:
                raise DataError(
                    f"{table.path}, {table.unit} {line}, column {table.header[lab_i]!r}: the label is empty or NaN. "
                    "Every row needs a label; fill it in or remove the row."
                )
            cells.append(label or "")
        rec.sequences.append(seq)
        rec.labels.append(tuple(cells) if label_columns else cells[0])
        rid = label_str(row[id_i]) if id_i is not None else None
        rec.ids.append(rid if rid else f"{short}:{line}")
        rec.positions.append(line)
        if rec.splits is not None:
            rec.splits.append(split_value(row[split_i], f"{table.path}, {table.unit} {line}", table.header[split_i]))
    if not rec.sequences:
        raise DataError(f"{table.path}: the file has a header but no data rows. Add rows or point to another file.")
    return rec
