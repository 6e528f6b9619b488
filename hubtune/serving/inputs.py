"""What a Space request may contain: the limits, and the sequences read from pasted text or an uploaded file.

Limits are checked right after parsing, before any download or model work. Sequences are read with the data
package's readers and checked by its one sequence validator (`hubtune.data.clean_sequence`).
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from ..data import clean_sequence, parse_sequence_text, read_sequences
from ..errors import ConfigError, DataError

ENV_ADAPTERS = "HUBTUNE_SPACE_ADAPTERS"
UPLOAD_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz", ".txt", ".txt.gz", ".csv", ".csv.gz",
                   ".tsv")
NO_SEQUENCES = "No sequences given. Paste DNA sequences (one per line, or FASTA) or upload a file."


@dataclass(frozen=True)
class Limits:
    """Caps on one request, enforced before any model work. Environment overrides: HUBTUNE_SPACE_MAX_SEQUENCES,
    HUBTUNE_SPACE_MAX_TOTAL_BP, HUBTUNE_SPACE_MAX_SEQUENCE_BP, HUBTUNE_SPACE_MAX_ISM_BP,
    HUBTUNE_SPACE_MAX_ADAPTERS_PER_REQUEST, HUBTUNE_SPACE_MAX_INPUT_BYTES, HUBTUNE_SPACE_MAX_WINDOWS.

    `max_windows` bounds the model work of one request: model windows over every adapter, the base model's
    comparison included (a repo's window and stride decide how many windows a base pair costs).

    Example:
        >>> Limits(max_sequences=10).max_sequences
        10
    """

    max_sequences: int = 200
    max_total_bp: int = 200_000
    max_sequence_bp: int = 50_000
    max_ism_bp: int = 1_000
    max_adapters_per_request: int = 4
    max_input_bytes: int = 10_000_000
    max_windows: int = 20_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """Defaults, overridden by `HUBTUNE_SPACE_MAX_*` variables (positive integers).

        Raises:
            ConfigError: a variable that is not a positive integer (the message names it).

        Example:
            >>> Limits.from_env({"HUBTUNE_SPACE_MAX_ISM_BP": "300"}).max_ism_bp
            300
        """
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for item in fields(cls):
            var = f"HUBTUNE_SPACE_{item.name.upper()}"
            raw = env.get(var)
            if raw is None or not raw.strip():
                continue
            try:
                value = int(raw)
            except ValueError:
                value = 0
            if value < 1:
                raise ConfigError(f"The environment variable {var}={raw!r} must be a positive integer.")
            values[item.name] = value
        return cls(**values)


def check_limits(records: Sequence[tuple[str, str]], limits: Limits) -> None:
    """Refuse a request that is too large (count, total length, single length), before any model work.

    Raises:
        DataError: the message names the limit, the value found and, for a long sequence, its id.

    Example:
        >>> check_limits([("s1", "ACGT")], Limits())
    """
    if not records:
        raise DataError(NO_SEQUENCES)
    if len(records) > limits.max_sequences:
        raise DataError(
            f"{len(records)} sequences were given; this Space classifies at most {limits.max_sequences} per request. "
            "Split the input into smaller batches, or run `hubtune predict` locally for large files."
        )
    for seq_id, seq in records:
        if len(seq) > limits.max_sequence_bp:
            raise DataError(
                f"Sequence {seq_id!r} is {len(seq):,} bp long; the limit for one sequence is "
                f"{limits.max_sequence_bp:,} bp. Cut it into pieces, or run `hubtune predict` locally."
            )
    total = sum(len(seq) for _, seq in records)
    if total > limits.max_total_bp:
        raise DataError(
            f"The input holds {total:,} bp in total; the limit per request is {limits.max_total_bp:,} bp. "
            "Send fewer or shorter sequences per request."
        )


def check_ism_length(seq_id: str, sequence: str, limits: Limits) -> None:
    """Refuse in-silico mutagenesis of a sequence longer than `limits.max_ism_bp` (before any model work).

    Raises:
        DataError: the sequence is too long (the message names it and the limit).

    Example:
        >>> check_ism_length("s1", "ACGT", Limits())
    """
    if len(sequence) > limits.max_ism_bp:
        raise DataError(
            f"Sequence {seq_id!r} is {len(sequence):,} bp; in-silico mutagenesis scores 3 variants per base and is "
            f"limited to {limits.max_ism_bp:,} bp here. Paste the region of interest only."
        )


def check_windows(windows: int, limits: Limits, what: str) -> None:
    """Refuse a request whose model work (`windows` model inputs) exceeds `limits.max_windows`, before any of it runs.

    Raises:
        DataError: the message names the work asked for and the limit.

    Example:
        >>> check_windows(10, Limits(), "classification")
    """
    if windows > limits.max_windows:
        raise DataError(
            f"This {what} needs {windows:,} model windows; this Space runs at most {limits.max_windows:,} per request. "
            "Send fewer or shorter sequences, fewer adapters, or run `hubtune predict` locally."
        )


def _check_text_size(text: str, limits: Limits, what: str) -> None:
    size = len(text.encode("utf-8", errors="replace"))
    if size > limits.max_input_bytes:
        raise DataError(
            f"The {what} is {size:,} bytes; the limit is {limits.max_input_bytes:,} bytes. Send a smaller input."
        )


def _check_file_size(path: Path, limits: Limits) -> None:
    """Refuse oversized uploads, including gzip files that decompress to more than the limit (read in chunks)."""
    try:
        size = path.stat().st_size
    except OSError:
        raise DataError(f"The uploaded file {path.name!r} cannot be read. Upload it again.") from None
    if size > limits.max_input_bytes:
        raise DataError(
            f"The uploaded file {path.name!r} is {size:,} bytes; the limit is {limits.max_input_bytes:,} bytes."
        )
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    if not gzipped:
        return
    total = 0
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                total += len(chunk)
                if total > limits.max_input_bytes:
                    raise DataError(
                        f"The uploaded file {path.name!r} decompresses to more than {limits.max_input_bytes:,} bytes, "
                        "the limit. Upload a smaller file."
                    )
    except (OSError, EOFError) as exc:
        raise DataError(f"The uploaded file {path.name!r} is not valid gzip data ({exc}). Compress it again.") from None


def _unique_ids(records: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Duplicate ids get a suffix (`id_2`, ...): table rows and the sequence picker must stay unambiguous."""
    seen: dict[str, int] = {}
    unique = []
    for seq_id, seq in records:
        count = seen.get(seq_id, 0)
        seen[seq_id] = count + 1
        unique.append((seq_id if count == 0 else f"{seq_id}_{count + 1}", seq))
    return unique


def read_input(text: str | None, file: str | Path | None, limits: Limits) -> list[tuple[str, str]]:
    """Sequences from pasted text (raw lines or FASTA) and/or an uploaded file, validated and within `limits`.

    File types: FASTA (.fa/.fasta/.fna, optionally .gz), one sequence per line (.txt) or a table with a `sequence`
    column (.csv/.tsv). Ids: FASTA headers' first word, an `id` column, or `seq1`, `seq2`, ... for pasted lines.

    Raises:
        DataError: no input, a bad character (with record/line and position), an unsupported file, or a limit.

    Example:
        >>> read_input(">a\\nacgt\\n", None, Limits())
        [('a', 'ACGT')]
    """
    records: list[tuple[str, str]] = []
    if text is not None and text.strip():
        _check_text_size(text, limits, "pasted text")
        records += parse_sequence_text(text)
    if file:
        path = Path(file)
        if not path.name.lower().endswith(UPLOAD_SUFFIXES):
            raise DataError(
                f"The uploaded file {path.name!r} has an unsupported type. Upload FASTA (.fa, .fasta, .fa.gz), "
                "plain text with one sequence per line (.txt), or a CSV with a 'sequence' column."
            )
        _check_file_size(path, limits)
        try:
            records += read_sequences(path)
        except DataError as exc:
            # The server-side upload folder is nobody's business: name the file only.
            raise DataError(str(exc).replace(str(path), path.name)) from None
    if not records:
        raise DataError(NO_SEQUENCES)
    unique = _unique_ids(records)
    check_limits(unique, limits)
    return unique


def read_pairs(pairs: Sequence[tuple[str, str]], limits: Limits) -> list[tuple[str, str]]:
    """(id, sequence) pairs given directly (not as text), validated and within `limits`.

    Raises:
        DataError: a sequence that is not DNA (named by its id), no sequences, or a limit.

    Example:
        >>> read_pairs([("s1", "acgt")], Limits())
        [('s1', 'ACGT')]
    """
    records = [(str(i), clean_sequence(s, where=f"sequence {str(i)!r}")[0]) for i, s in pairs]
    check_limits(records, limits)
    return records


def parse_adapter_list(value: str | Sequence[str] | None) -> list[str]:
    """Adapter ids from a list or a comma/space/newline separated string, deduplicated, order kept.

    Example:
        >>> parse_adapter_list("alice/a, bob/b\\nalice/a")
        ['alice/a', 'bob/b']
    """
    if value is None:
        return []
    items = re.split(r"[\s,;]+", value) if isinstance(value, str) else [str(v) for v in value]
    return list(dict.fromkeys(item.strip() for item in items if item and item.strip()))


def adapters_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """The adapters to preload, from HUBTUNE_SPACE_ADAPTERS (comma or space separated repo ids).

    Example:
        >>> adapters_from_env({"HUBTUNE_SPACE_ADAPTERS": "alice/a,bob/b"})
        ['alice/a', 'bob/b']
    """
    env = os.environ if environ is None else environ
    return parse_adapter_list(env.get(ENV_ADAPTERS))


__all__ = [
    "ENV_ADAPTERS",
    "UPLOAD_SUFFIXES",
    "Limits",
    "adapters_from_env",
    "check_ism_length",
    "check_limits",
    "check_windows",
    "parse_adapter_list",
    "read_input",
    "read_pairs",
]
