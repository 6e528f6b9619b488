"""The one DNA sequence validator: what a valid sequence is, how it is cleaned, and how a bad one is reported.

A valid sequence holds the bases A, C, G, T and N in any case, with whitespace anywhere (dropped). The IUPAC
ambiguity codes R Y S W K M B D H V are accepted and become ``N`` (the models only know A/C/G/T/N); anything else is
an error whose message names where the sequence came from, the 1-based position and the character, with a hint for
RNA, gaps, digits and binary data.

Every place that takes DNA from a user (files, pasted text, API calls, Space inputs) goes through
:func:`clean_sequence` or its batch form :func:`clean_sequences`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from hubtune.errors import DataError

__all__ = [
    "IUPAC_AMBIGUOUS",
    "as_model_input",
    "clean_sequence",
    "clean_sequences",
    "is_plain_dna",
    "reverse_complement",
    "reverse_complement_unchecked",
]

# Ambiguity codes other than N; each one is replaced by N because the models only know A/C/G/T/N.
IUPAC_AMBIGUOUS = frozenset("RYSWKMBDHV")
_PLAIN_RE = re.compile(r"[ACGTN]+")
_RC_TABLE = str.maketrans("ACGTNacgtnRYSWKMBDHVryswkmbdhv", "TGCANtgcanYRSWMKVHDByrswmkvhdb")
_RC_VALID_RE = re.compile(r"[ACGTNRYSWKMBDHV]*", re.IGNORECASE)


def is_plain_dna(text: str) -> bool:
    """True when ``text`` is non-empty and holds only the uppercase bases A, C, G, T and N (an already clean sequence).

    Example:
        >>> is_plain_dna("ACGTN"), is_plain_dna("acgt"), is_plain_dna("")
        (True, False, False)
    """
    return _PLAIN_RE.fullmatch(text) is not None


def clean_sequence(raw: Any, *, where: str) -> tuple[str, int]:
    """Clean one DNA sequence.

    Whitespace anywhere is removed, lowercase is upper-cased, ``N`` is kept and the IUPAC ambiguity codes
    R Y S W K M B D H V become ``N``. Returns ``(clean, n_iupac_converted)``.

    Args:
        raw: the sequence as read (a missing value such as ``None`` or NaN is reported as empty).
        where: where the sequence comes from, e.g. ``"data.csv, line 3, column 'sequence'"``; every error
            message starts with it.

    Raises:
        DataError: the sequence is empty, not text, or holds another character; the message names ``where``, the
            1-based position in ``raw`` and the character.

    Example:
        >>> clean_sequence("acg tR", where="pasted text, line 1")
        ('ACGTN', 1)
    """
    if not isinstance(raw, str):
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            raise DataError(f"{where}: the sequence is empty (missing value). Fill in the sequence or remove the row.")
        raise DataError(
            f"{where}: the sequence is a {type(raw).__name__} ({raw!r}), not text. "
            "The sequence column must hold DNA strings such as 'ACGTTGCA'; check --sequence-column."
        )
    upper = raw.upper()
    if _PLAIN_RE.fullmatch(upper):  # fast path: the overwhelming majority of rows
        return upper, 0
    out: list[str] = []
    converted = 0
    for pos, ch in enumerate(raw, start=1):
        if ch.isspace():
            continue
        c = ch.upper()
        if c in "ACGTN":
            out.append(c)
        elif c in IUPAC_AMBIGUOUS:
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


def clean_sequences(
    items: Iterable[str | tuple[Any, str]], *, where: str = "sequence {n} ({id})"
) -> list[tuple[Any, str]]:
    """Clean a batch of sequences given as raw strings or ``(id, sequence)`` tuples; returns ``(id, clean)`` pairs.

    A bare string gets the id ``seq1``, ``seq2``, ... by its 1-based position; a tuple's id is kept as given.
    ``where`` is a :meth:`str.format` template for error messages with the fields ``n`` (1-based position) and
    ``id``, e.g. ``"sequence {id!r}"``. An empty input gives an empty list.

    Raises:
        DataError: a sequence is empty or holds a character that is not a base (see :func:`clean_sequence`).

    Example:
        >>> clean_sequences(["acgt", ("enh1", "GGRC")])
        [('seq1', 'ACGT'), ('enh1', 'GGNC')]
    """
    out: list[tuple[Any, str]] = []
    for i, item in enumerate(items):
        seq_id, raw = item if isinstance(item, tuple) else (f"seq{i + 1}", item)
        clean, _ = clean_sequence(raw, where=where.format(n=i + 1, id=seq_id))
        out.append((seq_id, clean))
    return out


def as_model_input(sequences: Sequence[str], *, where: str = "sequence {n}") -> list[str]:
    """The gate in front of every tokenizer: clean sequences pass unchanged, anything else goes through
    :func:`clean_sequence` (so lowercase, soft-masked DNA is uppercased, never silently turned into unknown tokens).

    Raises:
        DataError: a sequence is empty or not DNA; ``where`` (with ``{n}``, 1-based) names it.

    Example:
        >>> as_model_input(["ACGT", "acgtr"])
        ['ACGT', 'ACGTN']
    """
    return [seq if isinstance(seq, str) and _PLAIN_RE.fullmatch(seq) else
            clean_sequence(seq, where=where.format(n=i + 1))[0] for i, seq in enumerate(sequences)]


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

    Example:
        >>> reverse_complement("AACGTN")
        'NACGTT'
    """
    if not _RC_VALID_RE.fullmatch(seq):
        bad = next(ch for ch in seq if not _RC_VALID_RE.fullmatch(ch))
        raise DataError(f"reverse_complement: character {bad!r} in the sequence is not a DNA base or IUPAC code.")
    return seq.translate(_RC_TABLE)[::-1]


def reverse_complement_unchecked(seq: str) -> str:
    """Reverse complement of an already clean sequence, without the character check (fast path for bulk work).

    Example:
        >>> reverse_complement_unchecked("AAAACCCG")
        'CGGGTTTT'
    """
    return seq.translate(_RC_TABLE)[::-1]
