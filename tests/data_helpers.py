"""Helpers shared by the data tests: small labelled tables, task folders and the GUE data location."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUE = REPO / ".." / "shared" / "data" / "GUE"


def write(path: Path, text: str, *, newline: str = "\n") -> Path:
    """Write ``text`` as UTF-8 with the given line ending, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def rows(n: int, labels=("a", "b"), length: int = 12, seed: int = 0) -> list[tuple[str, str]]:
    """Distinct pseudo-random sequences with cycling labels."""
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        s = "".join(rng.choice("ACGT") for _ in range(length))
        if s not in seen:
            seen.add(s)
            out.append((s, labels[len(out) % len(labels)]))
    return out


def csv_text(data, header="sequence,label", sep=",") -> str:
    """A delimited table of (sequence, label) rows under ``header``."""
    return header + "\n" + "".join(f"{s}{sep}{lab}\n" for s, lab in data)


def make_folder(root: Path, splits=("train", "dev", "test"), n=(40, 10, 10), suffix=".csv") -> Path:
    """A task folder with one file per split, sizes ``n``, distinct sequences across all splits."""
    data = rows(sum(n))
    start = 0
    for name, k in zip(splits, n, strict=False):
        chunk = data[start : start + k]
        start += k
        sep = "\t" if suffix.startswith(".tsv") else ","
        text = csv_text(chunk, header=f"sequence{sep}label", sep=sep)
        if suffix.endswith(".gz"):
            (root / f"{name}{suffix}").parent.mkdir(parents=True, exist_ok=True)
            (root / f"{name}{suffix}").write_bytes(gzip.compress(text.encode()))
        else:
            write(root / f"{name}{suffix}", text)
    return root


def gue(task: str) -> Path:
    """Folder of a GUE task; the test is skipped where the benchmark data is absent."""
    path = GUE / task
    if not path.is_dir():
        pytest.skip(f"GUE benchmark data not found at {GUE.resolve()} (only available next to the repository in CI)")
    return path
