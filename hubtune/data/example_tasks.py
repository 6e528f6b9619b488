"""Generators of the bundled regression and multi-label example tasks, each with an exactly known ground truth.

Both tasks are synthetic DNA of 150-200 bp with motifs planted into random background; the values and labels are a
fixed function of the final sequence (:func:`activity_ground_truth`, :func:`binding_ground_truth`) plus noise, so a
user can read below what a model should find. A site counts wherever its pattern matches on either strand
(IUPAC codes: R = A/G, Y = C/T, S = C/G, W = A/T, K = G/T, M = A/C, N = any); a site's position is its first base
on the forward strand, counted from 0.

**activity** (regression; ``hubtune/examples/activity/``; columns ``sequence,developmental,housekeeping``): two
log2 activities per sequence, as an MPRA or STARR-seq screen measures them for developmental and housekeeping
enhancers. The motifs (:data:`ACTIVITY_MOTIFS`) are AP1 ``TGAGTCAT``, GATA ``AGATAAGC``, TWIST ``CAGCTGTC``,
ETS ``ACCGGAAG``, DREF ``TATCGATA``, OHLER1 ``GTGTGACC`` and the repressor SNAIL ``GCAGGTGT``. With ``n_X`` the
number of sites of motif X, ``gc`` the G+C fraction and ``L`` the length::

    developmental = 1.5 + 1.0, 0.6, 0.3 for the first, second, third AP1 site (more add nothing: saturation)
                        + 0.9 if n_GATA > 0
                        + 0.4 if n_TWIST > 0
                        + 1.2 if some GATA and some TWIST site start at most 30 bp apart (cooperative spacing)
                        + 0.3 if n_ETS > 0
                        - 1.2 if n_SNAIL > 0 (repressor)
                        - 4.0 * (gc - 0.48) (AT-rich developmental enhancers)
    housekeeping  = 1.5 + 1.2 if n_DREF > 0, + 0.5 more if n_DREF > 1
                        + per ETS site 1.0 if it starts at L - 50 or later (next to a core promoter at the 3' end),
                          0.3 elsewhere; the two strongest ETS sites count
                        + 0.8 if n_OHLER1 > 0
                        + 0.3 if n_AP1 > 0
                        - 1.2 if n_SNAIL > 0 (repressor)
                        + 8.0 * (gc - 0.48) (GC-rich housekeeping promoters)

plus independent Gaussian noise (standard deviation :data:`ACTIVITY_NOISE_SD`, 0.25) on each target; values,
mostly between 0 and 6, are printed with 4 decimals. AP1, GATA and TWIST drive developmental activity, DREF, ETS
and OHLER1 housekeeping activity; AP1 and ETS act weakly in the other target and SNAIL represses both. Sites are
planted on the forward strand, as in a designed library; one-mismatch copies of AP1, GATA, DREF and ETS are planted
as decoys and do nothing. About half of the GATA+TWIST pairs are planted close enough to cooperate, and about half of
the ETS sites next to the 3' end. A bag of k-mers sees the additive part; the spacing, position and saturation terms
need a model that sees where the motifs are.

**binding** (multi-label; ``hubtune/examples/binding/``; columns ``sequence,CTCF,GATA,ETS,AP1,FOX``, one 0/1
column per label): label X is 1 exactly when a site matching the IUPAC pattern ``BINDING_MOTIFS[X]`` occurs on either
strand (CTCF ``CCASYAGRKGGCR``, GATA ``TWGATAAG``, ETS ``ACCGGAAGTR``, AP1 ``ATGASTCAT``, FOX ``TGTTTACWTW``), then
each label is flipped with probability :data:`BINDING_LABEL_NOISE` (0.03). Sites are planted on either strand.
Decoys that do not count are planted too: copies with one fixed base changed to a base the pattern does not allow,
and bare cores (GATA, GGAA, TGAC, CCCTC, TGTTT). Sequences come from five kinds of region, so labels co-occur:
insulators (CTCF), endoderm enhancers (GATA with FOX), promoters (ETS, some CTCF, GC-rich), stress-response
enhancers (AP1 with ETS) and background (each label rarely). In the shipped files the prevalences are CTCF 24 %,
GATA 21 %, ETS 31 %, AP1 21 %, FOX 17 %; about a quarter of the sequences have no label.

Outputs are deterministic for a seed; no sequence repeats within or across splits. Run
``python -m hubtune.data.example_tasks`` to regenerate the shipped CSVs (:func:`activity_task_path`,
:func:`binding_task_path`).
"""

from __future__ import annotations

import argparse
import csv
import functools
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "ACTIVITY_MOTIFS",
    "ACTIVITY_NOISE_SD",
    "ACTIVITY_TARGETS",
    "BINDING_LABELS",
    "BINDING_LABEL_NOISE",
    "BINDING_MOTIFS",
    "activity_ground_truth",
    "activity_task_path",
    "binding_ground_truth",
    "binding_task_path",
    "find_sites",
    "generate_activity_task",
    "generate_binding_task",
    "write_activity_task",
    "write_binding_task",
]

ACTIVITY_TARGETS = ("developmental", "housekeeping")
ACTIVITY_MOTIFS = MappingProxyType({
    "AP1": "TGAGTCAT",  # developmental activator (saturating copies), weak in housekeeping
    "GATA": "AGATAAGC",  # developmental activator, cooperates with TWIST when close
    "TWIST": "CAGCTGTC",  # developmental activator
    "ETS": "ACCGGAAG",  # housekeeping activator (position-dependent), weak in developmental
    "DREF": "TATCGATA",  # housekeeping activator (a second copy adds)
    "OHLER1": "GTGTGACC",  # housekeeping activator
    "SNAIL": "GCAGGTGT",  # repressor of both
})
ACTIVITY_NOISE_SD = 0.25
_ACTIVITY_BASE = 1.5
_ACTIVITY_FORWARD = 1.0  # share of planted sites written on the forward strand
_GC_WEIGHT = (-4.0, 8.0)
_PLANT_PROB = {"AP1": 0.45, "GATA": 0.4, "TWIST": 0.4, "ETS": 0.45, "DREF": 0.35, "OHLER1": 0.3, "SNAIL": 0.25}
_GC_CENTRE = 0.48

BINDING_LABELS = ("CTCF", "GATA", "ETS", "AP1", "FOX")
BINDING_MOTIFS = MappingProxyType({
    "CTCF": "CCASYAGRKGGCR",
    "GATA": "TWGATAAG",
    "ETS": "ACCGGAAGTR",
    "AP1": "ATGASTCAT",
    "FOX": "TGTTTACWTW",
})
BINDING_LABEL_NOISE = 0.03
_BINDING_CORES = ("GATA", "GGAA", "TGAC", "CCCTC", "TGTTT")
# Region kinds: (weight, GC range, probability of each label's site in BINDING_LABELS order).
_REGION_KINDS = (
    (0.15, (0.45, 0.58), (0.90, 0.05, 0.10, 0.05, 0.05)),  # insulator
    (0.20, (0.36, 0.48), (0.05, 0.80, 0.05, 0.05, 0.60)),  # endoderm enhancer
    (0.25, (0.52, 0.64), (0.20, 0.05, 0.80, 0.05, 0.03)),  # promoter
    (0.20, (0.40, 0.54), (0.05, 0.05, 0.40, 0.85, 0.05)),  # stress-response enhancer
    (0.20, (0.38, 0.56), (0.05, 0.05, 0.05, 0.05, 0.05)),  # background
)

_MIN_LENGTH, _MAX_LENGTH = 150, 200
_IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "N": "ACGT",
}
_COMPLEMENT = str.maketrans("ACGTRYSWKMN", "TGCAYRSWMKN")
_SPLIT_NAMES = ("train", "dev", "test")

ActivityRow = tuple[str, float, float]
BindingRow = tuple[str, int, int, int, int, int]


# ---------------------------------------------------------------------------------------------------------------------
# Sites
# ---------------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(f"[{_IUPAC[c]}]" if len(_IUPAC[c]) > 1 else c for c in pattern)
    return re.compile(f"(?=({body}))")


def find_sites(sequence: str, pattern: str) -> list[int]:
    """Forward-strand start positions where an IUPAC ``pattern`` matches ``sequence`` on either strand (sorted).

    Example:
        >>> find_sites("AAGATAAGCTTATCTAA", "AGATAAG")  # forward at 1, reverse complement (CTTATCT) at 8
        [1, 8]
    """
    sequence = sequence.upper()
    regex = _pattern_regex(pattern.upper())
    m, n = len(pattern), len(sequence)
    starts = {hit.start() for hit in regex.finditer(sequence)}
    starts.update(n - hit.start() - m for hit in regex.finditer(_reverse_complement(sequence)))
    return sorted(starts)


def _reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def _gc(sequence: str) -> float:
    s = sequence.upper()
    return (s.count("G") + s.count("C")) / max(len(s), 1)


def activity_ground_truth(sequence: str) -> tuple[float, float]:
    """Noise-free (developmental, housekeeping) log2 activity of a sequence, exactly as the module docstring states.

    Example:
        >>> dev, hk = activity_ground_truth("TGAGTCAT" + "ACGT" * 40)
        >>> round(dev - activity_ground_truth("TTGAGCAT" + "ACGT" * 40)[0], 4)  # one AP1 site: +1.0
        1.0
    """
    sites = {name: find_sites(sequence, motif) for name, motif in ACTIVITY_MOTIFS.items()}
    gc, length = _gc(sequence), len(sequence)

    dev = _ACTIVITY_BASE + sum((1.0, 0.6, 0.3)[: len(sites["AP1"])])
    dev += 0.9 * bool(sites["GATA"]) + 0.4 * bool(sites["TWIST"]) + 0.3 * bool(sites["ETS"])
    if any(abs(g - t) <= 30 for g in sites["GATA"] for t in sites["TWIST"]):
        dev += 1.2
    dev -= 1.2 * bool(sites["SNAIL"])
    dev += _GC_WEIGHT[0] * (gc - _GC_CENTRE)

    ets = sorted((1.0 if start >= length - 50 else 0.3 for start in sites["ETS"]), reverse=True)
    hk = _ACTIVITY_BASE + 1.2 * bool(sites["DREF"]) + 0.5 * (len(sites["DREF"]) > 1) + sum(ets[:2])
    hk += 0.8 * bool(sites["OHLER1"]) + 0.3 * bool(sites["AP1"]) - 1.2 * bool(sites["SNAIL"])
    hk += _GC_WEIGHT[1] * (gc - _GC_CENTRE)
    return dev, hk


def binding_ground_truth(sequence: str) -> tuple[int, ...]:
    """Noise-free labels of a sequence in :data:`BINDING_LABELS` order: 1 where the label's site occurs.

    Example:
        >>> binding_ground_truth("ACGT" * 10 + "TAGATAAG" + "ACGT" * 10)
        (0, 1, 0, 0, 0)
    """
    return tuple(int(bool(find_sites(sequence, BINDING_MOTIFS[name]))) for name in BINDING_LABELS)


# ---------------------------------------------------------------------------------------------------------------------
# Planting
# ---------------------------------------------------------------------------------------------------------------------


class _Draft:
    """A random background sequence and the stretches already holding a planted motif."""

    def __init__(self, rng: random.Random, length: int, gc: float, forward_share: float = 0.5) -> None:
        self.rng = rng
        self.forward_share = forward_share
        at = (1 - gc) / 2
        self.bases = rng.choices("ACGT", weights=(at, gc / 2, gc / 2, at), k=length)
        self.used: list[tuple[int, int]] = []

    def free(self, start: int, size: int) -> bool:
        return 0 <= start <= len(self.bases) - size and all(
            start + size + 1 <= a or b + 1 <= start for a, b in self.used
        )

    def plant(self, motif: str, lo: int = 0, hi: int | None = None, tries: int = 60) -> int | None:
        """Write ``motif`` (forward with probability ``forward_share``, else its reverse complement) at a free start
        in [lo, hi], keeping 1 bp from other planted motifs; the start, or None when nothing fits."""
        hi = len(self.bases) - len(motif) if hi is None else min(hi, len(self.bases) - len(motif))
        lo = max(lo, 0)
        if hi < lo:
            return None
        for _ in range(tries):
            start = self.rng.randint(lo, hi)
            if self.free(start, len(motif)):
                site = motif if self.rng.random() < self.forward_share else _reverse_complement(motif)
                self.bases[start : start + len(site)] = list(site)
                self.used.append((start, start + len(site)))
                return start
        return None

    def text(self) -> str:
        return "".join(self.bases)


def _instance(rng: random.Random, pattern: str) -> str:
    """A random sequence matching an IUPAC pattern."""
    return "".join(rng.choice(_IUPAC[c]) for c in pattern)


def _broken(rng: random.Random, pattern: str) -> str:
    """A copy of ``pattern`` with one fixed-base position changed to a base the pattern does not allow there."""
    text = list(_instance(rng, pattern))
    fixed = [i for i, c in enumerate(pattern) if len(_IUPAC[c]) == 1]
    i = rng.choice(fixed)
    text[i] = rng.choice([b for b in "ACGT" if b not in _IUPAC[pattern[i]]])
    return "".join(text)


def _activity_sequence(rng: random.Random) -> str:
    draft = _Draft(rng, rng.randint(_MIN_LENGTH, _MAX_LENGTH), rng.uniform(0.36, 0.62), _ACTIVITY_FORWARD)
    length = len(draft.bases)
    motifs = ACTIVITY_MOTIFS
    if rng.random() < _PLANT_PROB["AP1"]:
        for _ in range(rng.choices((1, 2, 3, 4), weights=(5, 3, 2, 1))[0]):
            draft.plant(motifs["AP1"])
    gata = draft.plant(motifs["GATA"]) if rng.random() < _PLANT_PROB["GATA"] else None
    if rng.random() < _PLANT_PROB["TWIST"]:
        if gata is not None and rng.random() < 0.5:  # close enough to cooperate
            offset = rng.randint(10, 28) * rng.choice((-1, 1))
            if draft.plant(motifs["TWIST"], gata + offset, gata + offset) is None:
                draft.plant(motifs["TWIST"], gata - offset, gata - offset)
        elif gata is not None:  # too far apart to cooperate
            far = [s for s in range(length - len(motifs["TWIST"])) if abs(s - gata) >= 45]
            if far:
                start = rng.choice(far)
                draft.plant(motifs["TWIST"], start, start)
        else:
            draft.plant(motifs["TWIST"])
    if rng.random() < _PLANT_PROB["ETS"]:
        for _ in range(rng.choices((1, 2), weights=(3, 1))[0]):
            if rng.random() < 0.5:
                draft.plant(motifs["ETS"], length - 50, length - len(motifs["ETS"]))
            else:
                draft.plant(motifs["ETS"], 0, length - 60)
    if rng.random() < _PLANT_PROB["DREF"]:
        for _ in range(rng.choices((1, 2), weights=(2, 1))[0]):
            draft.plant(motifs["DREF"])
    if rng.random() < _PLANT_PROB["OHLER1"]:
        draft.plant(motifs["OHLER1"])
    if rng.random() < _PLANT_PROB["SNAIL"]:
        draft.plant(motifs["SNAIL"])
    for name in ("AP1", "GATA", "DREF", "ETS"):  # decoys: one mismatch, no effect
        if rng.random() < 0.15:
            draft.plant(_broken(rng, motifs[name]))
    return draft.text()


def _binding_sequence(rng: random.Random) -> str:
    weights = [kind[0] for kind in _REGION_KINDS]
    _, gc_range, site_probs = rng.choices(_REGION_KINDS, weights=weights)[0]
    draft = _Draft(rng, rng.randint(_MIN_LENGTH, _MAX_LENGTH), rng.uniform(*gc_range))
    for name, p in zip(BINDING_LABELS, site_probs, strict=True):
        if rng.random() < p:
            for _ in range(rng.choices((1, 2), weights=(4, 1))[0]):
                draft.plant(_instance(rng, BINDING_MOTIFS[name]))
        if rng.random() < 0.2:  # decoy: one base outside the pattern
            draft.plant(_broken(rng, BINDING_MOTIFS[name]))
    for _ in range(rng.randint(0, 3)):
        draft.plant(rng.choice(_BINDING_CORES))
    return draft.text()


# ---------------------------------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------------------------------


def _check_sizes(n_train: int, n_dev: int, n_test: int) -> None:
    if min(n_train, n_dev, n_test) < 2:
        raise ValueError("n_train, n_dev and n_test must each be at least 2")


def _splits(rng: random.Random, sizes: Sequence[int], make: Callable[[random.Random], tuple]) -> dict[str, list]:
    seen: set[str] = set()
    out: dict[str, list] = {}
    for name, n in zip(_SPLIT_NAMES, sizes, strict=True):
        rows: list = []
        while len(rows) < n:
            row = make(rng)
            if row[0] in seen:  # random 150-mers practically never collide; keeps the splits leak-free anyway
                continue
            seen.add(row[0])
            rows.append(row)
        out[name] = rows
    return out


def generate_activity_task(
    *, n_train: int = 800, n_dev: int = 100, n_test: int = 100, seed: int = 0
) -> dict[str, list[ActivityRow]]:
    """Rows ``(sequence, developmental, housekeeping)`` of the activity task per split (``train``, ``dev``, ``test``).

    Values are the ground truth plus noise, rounded to 4 decimals (as written). Deterministic for equal arguments.

    Raises:
        ValueError: a split size is below 2.

    Example:
        >>> rows = generate_activity_task(n_train=4, n_dev=2, n_test=2)
        >>> len(rows["train"]), len(rows["train"][0])
        (4, 3)
    """
    _check_sizes(n_train, n_dev, n_test)

    def make(rng: random.Random) -> ActivityRow:
        seq = _activity_sequence(rng)
        dev, hk = activity_ground_truth(seq)
        return seq, round(dev + rng.gauss(0, ACTIVITY_NOISE_SD), 4), round(hk + rng.gauss(0, ACTIVITY_NOISE_SD), 4)

    return _splits(random.Random(seed), (n_train, n_dev, n_test), make)


def generate_binding_task(
    *, n_train: int = 800, n_dev: int = 100, n_test: int = 100, seed: int = 0
) -> dict[str, list[BindingRow]]:
    """Rows ``(sequence, CTCF, GATA, ETS, AP1, FOX)`` (0/1 labels) of the binding task per split.

    Labels are the ground truth with each flipped with probability :data:`BINDING_LABEL_NOISE`. Deterministic for
    equal arguments.

    Raises:
        ValueError: a split size is below 2.

    Example:
        >>> rows = generate_binding_task(n_train=4, n_dev=2, n_test=2)
        >>> len(rows["test"]), len(rows["test"][0])
        (2, 6)
    """
    _check_sizes(n_train, n_dev, n_test)

    def make(rng: random.Random) -> BindingRow:
        seq = _binding_sequence(rng)
        labels = tuple(y ^ (rng.random() < BINDING_LABEL_NOISE) for y in binding_ground_truth(seq))
        return (seq, *labels)

    return _splits(random.Random(seed), (n_train, n_dev, n_test), make)


def _write(out_dir: str | Path, header: Sequence[str], splits: dict[str, list], fmt: Callable[[object], str]) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows([row[0], *(fmt(v) for v in row[1:])] for row in rows)
    return out


def write_activity_task(out_dir: str | Path, **sizes_and_seed: int) -> Path:
    """Write the activity task's ``train.csv``, ``dev.csv``, ``test.csv`` into ``out_dir``; returns the folder.

    Keyword arguments are those of :func:`generate_activity_task`; the defaults reproduce the shipped files.

    Example:
        >>> write_activity_task("/tmp/activity", n_train=40, n_dev=10, n_test=10)  # doctest: +SKIP
        PosixPath('/tmp/activity')
    """
    return _write(out_dir, ("sequence", *ACTIVITY_TARGETS), generate_activity_task(**sizes_and_seed),
                  lambda v: f"{v:.4f}")


def write_binding_task(out_dir: str | Path, **sizes_and_seed: int) -> Path:
    """Write the binding task's ``train.csv``, ``dev.csv``, ``test.csv`` into ``out_dir``; returns the folder.

    Keyword arguments are those of :func:`generate_binding_task`; the defaults reproduce the shipped files.

    Example:
        >>> write_binding_task("/tmp/binding", seed=1)  # doctest: +SKIP
        PosixPath('/tmp/binding')
    """
    return _write(out_dir, ("sequence", *BINDING_LABELS), generate_binding_task(**sizes_and_seed), str)


def _examples_folder() -> Path:
    return Path(__file__).resolve().parent.parent / "examples"


def activity_task_path() -> Path:
    """Folder of the bundled regression example (two activity targets; train/dev/test CSVs).

    Example:
        >>> activity_task_path().name
        'activity'
    """
    return _examples_folder() / "activity"


def binding_task_path() -> Path:
    """Folder of the bundled multi-label example (five 0/1 binding labels; train/dev/test CSVs).

    Example:
        >>> binding_task_path().name
        'binding'
    """
    return _examples_folder() / "binding"


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: regenerate the example tasks (defaults reproduce the shipped files)."""
    parser = argparse.ArgumentParser(prog="python -m hubtune.data.example_tasks", description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("activity", "binding", "all"), default="all")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (one task) or parent folder (all); default: the shipped folders")
    parser.add_argument("--n-train", type=int, default=800)
    parser.add_argument("--n-dev", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    options = {"n_train": args.n_train, "n_dev": args.n_dev, "n_test": args.n_test, "seed": args.seed}
    for task, write, default in (("activity", write_activity_task, activity_task_path()),
                                 ("binding", write_binding_task, binding_task_path())):
        if args.task not in (task, "all"):
            continue
        out = default if args.out is None else (args.out / task if args.task == "all" else args.out)
        write(out, **options)
        print(f"wrote {out / 'train.csv'}, {out / 'dev.csv'}, {out / 'test.csv'}")


if __name__ == "__main__":
    main()
