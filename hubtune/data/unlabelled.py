"""Unlabelled input for prediction: pasted text or a file (FASTA, one sequence per line, or a table) -> (id, DNA)."""

from __future__ import annotations

from pathlib import Path

from hubtune.errors import DataError

from .fasta import parse_fasta
from .files import file_kind, read_text
from .records import label_str
from .sequences import clean_sequence
from .tables import find_column, missing_column_error, read_table

__all__ = ["parse_sequence_text", "read_sequences"]


def parse_sequence_text(text: str) -> list[tuple[str, str]]:
    """Parse pasted text (FASTA, or one sequence per line) into ``(id, clean_sequence)`` pairs.

    FASTA ids are the first word of each header; plain lines get ids ``seq1``, ``seq2``, ... Blank lines and lines
    starting with ``#`` are skipped.

    Raises:
        DataError: no sequence, or a bad character (the message names the line/record and position).

    Example:
        >>> parse_sequence_text(">a x\\nAC\\ngt\\n>b\\nTT")
        [('a', 'ACGT'), ('b', 'TT')]
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
        for header, line, raw in parse_fasta(text, origin):
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

    Example:
        >>> read_sequences("ACGT\\ngggg")
        [('seq1', 'ACGT'), ('seq2', 'GGGG')]
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
    kind = file_kind(path)
    if kind in ("csv", "tsv", "parquet"):
        table = read_table(path)
        seq_i = find_column(table.header, sequence_column)
        if seq_i is None and len(table.header) == 1:
            seq_i = 0
        if seq_i is None:
            raise missing_column_error(
                path, "sequence", sequence_column, table.header, "--sequence-column", table.unit
            )
        id_i = find_column(table.header, "id")
        out = []
        for row, line in zip(table.rows, table.lines, strict=True):
            seq, _ = clean_sequence(row[seq_i], where=f"{path}, {table.unit} {line}, column {table.header[seq_i]!r}")
            rid = label_str(row[id_i]) if id_i is not None else None
            out.append((rid or f"{path.name}:{line}", seq))
        if not out:
            raise DataError(f"{path}: the file has a header but no rows. Add sequences.")
        return out
    text = read_text(path)
    # A FASTA suffix always means FASTA, so a missing first header is reported as such, not as a bad base.
    return _parse_unlabelled(text, str(path), path.name, fasta=True if kind == "fasta" else None)
