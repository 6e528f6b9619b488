"""Generator of the bundled example task: core promoters vs. background DNA.

The task imitates what a model has to learn on real promoter data (e.g. GUE prom_core_tata), at a size that trains
in seconds on a CPU:

* ``promoter`` sequences have a transcription start site (TSS) at 70 % of the length, often a TATA box
  (TATAAA/TATATA-like, sometimes with one mismatch) starting 25-35 bp upstream of it, often an initiator
  (YYANWYY) on the TSS, a GC-leaning composition and extra CpG dinucleotides, as in CpG-island promoters;
  a fifth of them are TATA-less, like most human promoters;
* ``background`` sequences are AT-leaning random DNA; many carry decoy half-motifs (TATA, TAAA), some a full
  TATA box at a position where it does not act, a few a CpG.

Compositions of the two classes overlap and a few labels are flipped, so the task is learnable (a k-mer baseline
clearly beats chance) but not trivially separable. Output is deterministic for a given seed.

Run ``python -m hubtune.data.example_task`` to regenerate the shipped CSVs under ``hubtune/examples/promoter/``
(:func:`example_task_path`).
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

__all__ = ["LABELS", "example_task_path", "generate_promoter_task"]

LABELS = ("background", "promoter")
_TATA_VARIANTS = ("TATAAA", "TATAAAA", "TATATA", "TATAAAAG", "TATATAA", "TATAAT")
_TATA_WEIGHTS = (5, 3, 3, 2, 2, 1)
_HALF_MOTIFS = ("TATA", "TAAA", "ATAA", "TTTA")
_LABEL_NOISE = 0.05


def _random_dna(rng: random.Random, n: int, gc: float) -> list[str]:
    at = (1 - gc) / 2
    return rng.choices("ACGT", weights=(at, gc / 2, gc / 2, at), k=n)


def _put(seq: list[str], start: int, motif: str) -> None:
    start = max(0, min(start, len(seq) - len(motif)))
    seq[start : start + len(motif)] = list(motif)


def _mutate_one(rng: random.Random, motif: str) -> str:
    i = rng.randrange(len(motif))
    return motif[:i] + rng.choice([b for b in "ACGT" if b != motif[i]]) + motif[i + 1 :]


def _initiator(rng: random.Random) -> str:
    # Inr consensus YYANWYY with the A at +1 (the TSS).
    y, w = "CT", "AT"
    return rng.choice(y) + rng.choice(y) + "A" + rng.choice("ACGT") + rng.choice(w) + rng.choice(y) + rng.choice(y)


def _promoter(rng: random.Random, length: int) -> str:
    seq = _random_dna(rng, length, rng.uniform(0.44, 0.60))
    tss = int(length * 0.7)
    # CpG enrichment around the core promoter.
    for _ in range(rng.randint(1, 5)):
        _put(seq, rng.randrange(max(1, tss - 50), min(length - 2, tss + 20)), "CG")
    if rng.random() < 0.8:  # TATA-containing promoter
        box = rng.choices(_TATA_VARIANTS, weights=_TATA_WEIGHTS)[0]
        if rng.random() < 0.15:
            box = _mutate_one(rng, box)
        _put(seq, tss - rng.randint(25, 35), box)
    if rng.random() < 0.5:
        _put(seq, tss - 2, _initiator(rng))
    return "".join(seq)


def _background(rng: random.Random, length: int) -> str:
    seq = _random_dna(rng, length, rng.uniform(0.36, 0.54))
    if rng.random() < 0.6:
        for _ in range(rng.randint(1, 2)):
            motif = rng.choice(_HALF_MOTIFS)
            _put(seq, rng.randrange(length - len(motif)), motif)
    if rng.random() < 0.12:
        # A full TATA box far from the TSS-like window: a decoy only position-aware models can dismiss.
        box = rng.choices(_TATA_VARIANTS, weights=_TATA_WEIGHTS)[0]
        window = range(int(length * 0.7) - 40, int(length * 0.7) - 20)
        starts = [s for s in range(length - len(box)) if s not in window]
        _put(seq, rng.choice(starts), box)
    if rng.random() < 0.25:
        _put(seq, rng.randrange(length - 2), "CG")
    return "".join(seq)


def _make_split(rng: random.Random, n: int, length: int) -> list[tuple[str, str]]:
    n_promoter = n // 2
    kinds = [1] * n_promoter + [0] * (n - n_promoter)
    rng.shuffle(kinds)
    rows = []
    for kind in kinds:
        seq = _promoter(rng, length) if kind else _background(rng, length)
        label = kind if rng.random() >= _LABEL_NOISE else 1 - kind
        rows.append((seq, LABELS[label]))
    return rows


def generate_promoter_task(
    out_dir: str | Path, *, n_train: int = 800, n_dev: int = 100, n_test: int = 100, length: int = 100, seed: int = 0
) -> Path:
    """Write ``train.csv``, ``dev.csv`` and ``test.csv`` (columns ``sequence,label``) into ``out_dir``.

    Labels are ``"background"`` and ``"promoter"`` (about half each). The files are byte-identical for equal
    arguments. Returns the output folder.

    Raises:
        ValueError: a size is not positive or ``length`` is below 60 bp (too short for the TSS/TATA layout).

    Example:
        >>> generate_promoter_task("/tmp/promoter", n_train=40, n_dev=10, n_test=10)  # doctest: +SKIP
        PosixPath('/tmp/promoter')
    """
    if min(n_train, n_dev, n_test) < 2:
        raise ValueError("n_train, n_dev and n_test must each be at least 2")
    if length < 60:
        raise ValueError("length must be at least 60 bp so a TATA box fits 25-35 bp upstream of the TSS")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    seen: set[str] = set()
    for name, n in (("train", n_train), ("dev", n_dev), ("test", n_test)):
        rows = []
        for seq, label in _make_split(rng, n, length):
            # Random 100-mers practically never collide; the check keeps the example free of leakage anyway.
            if seq in seen:
                continue
            seen.add(seq)
            rows.append((seq, label))
        with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(("sequence", "label"))
            writer.writerows(rows)
    return out


def example_task_path() -> Path:
    """Folder of the bundled example task (binary promoter vs background, train/dev/test CSVs).

    Example:
        >>> sorted(p.name for p in example_task_path().glob("*.csv"))
        ['dev.csv', 'test.csv', 'train.csv']
    """
    return Path(__file__).resolve().parent.parent / "examples" / "promoter"


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: regenerate the example task (defaults reproduce the shipped files)."""
    parser = argparse.ArgumentParser(prog="python -m hubtune.data.example_task", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=example_task_path(), help="output folder")
    parser.add_argument("--n-train", type=int, default=800)
    parser.add_argument("--n-dev", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = generate_promoter_task(
        args.out, n_train=args.n_train, n_dev=args.n_dev, n_test=args.n_test, length=args.length, seed=args.seed
    )
    print(f"wrote {out / 'train.csv'}, {out / 'dev.csv'}, {out / 'test.csv'}")


if __name__ == "__main__":
    main()
