"""Reading input files as text: file kinds by suffix, gzip, encodings, and clear errors for unusable files.

A missing, empty, binary, zipped (Excel) or non-UTF-8 file is refused with a message that names the file (and the line
of the first bad byte) and says how to fix it. UTF-8 with or without a byte-order mark and UTF-16 with a byte-order mark
are read; gzip is detected from the content, not the suffix.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hubtune.errors import DataError

__all__ = [
    "FASTA_SUFFIXES",
    "TABLE_SUFFIXES",
    "file_kind",
    "file_stem",
    "fmt_list",
    "folder_listing",
    "looks_like_fasta",
    "read_text",
    "strip_gz",
]

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".ffn", ".frn")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def fmt_list(items: Iterable[Any], limit: int = 12) -> str:
    """Quoted, comma-separated list for messages, cut after ``limit`` items.

    Example:
        >>> fmt_list(["sequence", "label"])
        "['sequence', 'label']"
    """
    items = list(items)
    shown = ", ".join(repr(str(i)) for i in items[:limit])
    return f"[{shown}{', ...' if len(items) > limit else ''}]"


def read_text(path: Path) -> str:
    """Read a text file (optionally gzipped) with clear errors for missing, empty, binary and non-UTF-8 files.

    Raises:
        DataError: the file cannot be used as text; the message names the file and the fix.

    Example:
        >>> text = read_text(Path("train.csv.gz"))  # doctest: +SKIP
    """
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


def strip_gz(name: str) -> str:
    """``name`` without a trailing ``.gz`` (any case).

    Example:
        >>> strip_gz("train.csv.gz")
        'train.csv'
    """
    return name[:-3] if name.lower().endswith(".gz") else name


def file_kind(path: Path) -> str:
    """Return 'fasta', 'parquet', 'tsv', 'csv' or 'txt' from the file name (ignoring a .gz suffix).

    Example:
        >>> file_kind(Path("reads.fa.gz")), file_kind(Path("train.tab"))
        ('fasta', 'tsv')
    """
    name = strip_gz(path.name).lower()
    if name.endswith(FASTA_SUFFIXES):
        return "fasta"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".tsv") or name.endswith(".tab"):
        return "tsv"
    if name.endswith(".csv"):
        return "csv"
    return "txt"


def file_stem(path: Path) -> str:
    """File name without ``.gz`` and without its last suffix.

    Example:
        >>> file_stem(Path("data/train.csv.gz"))
        'train'
    """
    name = strip_gz(path.name)
    return name.rsplit(".", 1)[0] if "." in name else name


def looks_like_fasta(path: Path) -> bool:
    """True when the file (gzipped or not) starts with a FASTA header line ('>'); False when it cannot be read.

    Example:
        >>> looks_like_fasta(Path("reads.txt"))  # doctest: +SKIP
        True
    """
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return False
    return data[:4096].lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b">")


def folder_listing(folder: Path) -> str:
    """The names in ``folder`` (folders with a trailing '/') for messages, or a note that it is empty.

    Example:
        >>> folder_listing(Path("my_task"))  # doctest: +SKIP
        "['dev.csv', 'train.csv']"
    """
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    return fmt_list(names) if names else "nothing (the folder is empty)"
