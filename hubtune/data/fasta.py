"""FASTA: records with labels in the header (``label=NAME`` or ``id|NAME``) or from a separate id,label file.

A ``split=NAME`` header token assigns a record to a split; either every record carries one or none does.
"""

from __future__ import annotations

from pathlib import Path

from hubtune.errors import DataError

from .files import read_text
from .records import Records, label_str
from .sequences import clean_sequence
from .tables import find_column, missing_column_error, read_table
from .task import split_value

__all__ = ["parse_fasta", "read_labels_file", "records_from_fasta"]


def parse_fasta(text: str, origin: str) -> list[tuple[str, int, str]]:
    """Parse FASTA text into ``(header, header_line, raw_sequence)`` triples; sequence lines are concatenated.

    Blank lines and ';' comment lines are skipped; the sequences are not validated here.

    Raises:
        DataError: sequence data before the first header (named with ``origin`` and the line).

    Example:
        >>> parse_fasta(">a x\\nAC\\nGT\\n", "pasted text")
        [('a x', 1, 'ACGT')]
    """
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


def records_from_fasta(path: Path, label_column: str, labels: dict[str, tuple[str, int]] | None) -> Records:
    """Read a labelled FASTA file: labels from ``label_column=NAME`` / ``id|NAME`` headers or from ``labels``.

    Args:
        path: the FASTA file (optionally gzipped).
        label_column: the header key holding the label (``label`` reads ``label=NAME``).
        labels: record id -> (label, line in the labels file), from :func:`read_labels_file`; overrides headers.

    Raises:
        DataError: no records, an empty header, a record without label or sequence, a bad base, duplicate ids
            with a labels file, or split tokens on some records only.

    Example:
        >>> records_from_fasta(Path("seqs.fa"), "label", None).ids[:2]  # doctest: +SKIP
        ['r0', 'r1']
    """
    text = read_text(path)
    rec = Records(str(path), path.name, "line")
    parsed = parse_fasta(text, str(path))
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
                split = split_value(tok[6:], f"{path}, line {line}", "split=")
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
        label = label_str(label)
        if label is None:
            raise DataError(
                f"{path}, line {line}: record {tokens[0]!r} has no label. Write the header as "
                f"'>{tokens[0]} {key}NAME' or '>{tokens[0]}|NAME', or pass --labels-file with columns id,label."
            )
        seq, n = clean_sequence(raw, where=f"{path}, record {rid!r} (line {line})")
        rec.count_iupac(n, f"record {rid!r}, line {line}")
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


def read_labels_file(path: Path, label_column: str) -> dict[str, tuple[str, int]]:
    """Read a CSV/TSV/Parquet labels file with columns ``id`` and ``label_column``: id -> (label, line).

    Raises:
        DataError: a column is missing, an id or label is empty, or an id appears twice.

    Example:
        >>> read_labels_file(Path("labels.csv"), "label")["id0"]  # doctest: +SKIP
        ('promoter', 2)
    """
    table = read_table(path)
    id_i = find_column(table.header, "id")
    if id_i is None:
        raise missing_column_error(table.path, "id", "id", table.header, "a header 'id,label' and", table.unit)
    lab_i = find_column(table.header, label_column)
    if lab_i is None:
        raise missing_column_error(table.path, "label", label_column, table.header, "--label-column", table.unit)
    out: dict[str, tuple[str, int]] = {}
    for row, line in zip(table.rows, table.lines, strict=True):
        rid = label_str(row[id_i])
        if rid is None:
            raise DataError(f"{path}, {table.unit} {line}: the id is empty. Every row needs the FASTA record id.")
        label = label_str(row[lab_i])
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
