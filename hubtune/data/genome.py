"""A synthetic genome: unlabelled DNA with the statistics of a real assembly, for offline masked-LM pre-training.

What the generator plants, chromosome by chromosome (deterministic for a given seed):

* **isochores**: blocks of 4-16 kb whose GC content is drawn from 0.30-0.58, as in mammalian genomes;
* **CpG depletion**: outside CpG islands most CG dinucleotides have decayed to TG or CA (methylated cytosines
  deaminate), so CG is rare in bulk DNA;
* **genes** every two kb or so (a quarter of the planted pieces are promoters), on either strand, with the
  promoter grammar of the bundled example task (:mod:`hubtune.data.example_task`): a GC-leaning core with a CpG
  island around the transcription start site (TSS), a TATA box (TATAAA-like, sometimes with one mismatch) starting
  25-35 bp upstream of the TSS in 80 % of promoters, an initiator (YYANWYY) on the TSS in half of them;
* **interspersed repeats**: copies of three families (a GC-rich ~300 bp SINE with a poly-A tail, a 1.2 kb LINE of
  which mostly 5'-truncated fragments are inserted, an AT-rich DNA transposon), each copy 4-18 % diverged from its
  consensus, in lowercase (soft-masked, as RepeatMasker writes assemblies);
* **microsatellites** ((CA)n, (A)n, (AT)n, (GGC)n) and **assembly gaps** (runs of N).

A masked-LM trained on it has something to learn beyond base frequencies (repeat families, CpG depletion, the
promoter grammar), as on a real genome, yet it is generated in a second or two.

Example:
    >>> genome = generate_genome(20_000, seed=1)
    >>> len(genome[0][1]), set(genome[0][1].upper()) <= set("ACGTN")
    (10000, True)
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

__all__ = ["GENOME_SEED", "TATA_VARIANTS", "generate_genome", "write_genome_fasta"]

GENOME_SEED = 0
TATA_VARIANTS = ("TATAAA", "TATAAAA", "TATATA", "TATAAAAG", "TATATAA", "TATAAT")  # as in the example task
TATA_WEIGHTS = (5, 3, 3, 2, 2, 1)
_CHROMOSOME_BP = 10_000
ISOCHORE_GC = (0.30, 0.58)  # GC content of isochores: the range of mammalian genomes
_MICROSATELLITES = ("CA", "A", "AT", "GGC", "TTTC")
_COMPLEMENT = str.maketrans("ACGTacgtNn", "TGCAtgcaNn")


def _dna(rng: random.Random, n: int, gc: float) -> str:
    at = (1 - gc) / 2
    return "".join(rng.choices("ACGT", weights=(at, gc / 2, gc / 2, at), k=n))


def _deplete_cpg(rng: random.Random, seq: str, keep: float = 0.22) -> str:
    """Turn most CG into TG or CA (deamination of methylated cytosines), keeping about `keep` of them."""
    parts = seq.split("CG")
    out = [parts[0]]
    for part in parts[1:]:
        out.append("CG" if rng.random() < keep else rng.choice(("TG", "CA")))
        out.append(part)
    return "".join(out)


def _reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def _mutate(rng: random.Random, seq: str, rate: float) -> str:
    chars = list(seq)
    for i in range(len(chars)):
        if rng.random() < rate:
            chars[i] = rng.choice("ACGT")
    return "".join(chars)


def _initiator(rng: random.Random) -> str:
    return rng.choice("CT") + rng.choice("CT") + "A" + rng.choice("ACGT") + rng.choice("AT") + rng.choice("CT") * 2


def _promoter(rng: random.Random, upstream: int = 300, downstream: int = 200) -> str:
    """A promoter region with its TSS at `upstream` (plus strand), following the example task's grammar."""
    seq = list(_dna(rng, upstream + downstream, rng.uniform(0.5, 0.64)))
    tss = upstream
    if rng.random() < 0.8:
        box = rng.choices(TATA_VARIANTS, weights=TATA_WEIGHTS)[0]
        if rng.random() < 0.15:
            i = rng.randrange(len(box))
            box = box[:i] + rng.choice([b for b in "ACGT" if b != box[i]]) + box[i + 1:]
        start = tss - rng.randint(25, 35)
        seq[start:start + len(box)] = box
    if rng.random() < 0.5:
        seq[tss - 2:tss + 5] = _initiator(rng)
    return "".join(seq)


def _repeat_families(rng: random.Random) -> list[tuple[str, float, bool]]:
    """(consensus, share of inserted copies, insert 5'-truncated fragments) for each family."""
    sine = _dna(rng, 280, 0.58) + "A" * 18
    line = _dna(rng, 1200, 0.40)
    transposon = _dna(rng, 420, 0.34)
    return [(sine, 0.55, False), (line, 0.30, True), (transposon, 0.15, False)]


def _repeat_copy(rng: random.Random, families: list[tuple[str, float, bool]]) -> str:
    consensus, _, truncate = rng.choices(families, weights=[share for _, share, _ in families])[0]
    if truncate:
        consensus = consensus[rng.randrange(0, len(consensus) - 150):]
    copy = _mutate(rng, consensus, rng.uniform(0.04, 0.18))
    if rng.random() < 0.5:
        copy = _reverse_complement(copy)
    return copy.lower()  # soft-masked


def _chromosome(rng: random.Random, length: int, families: list[tuple[str, float, bool]]) -> str:
    pieces: list[str] = []
    size = 0
    gc = rng.uniform(ISOCHORE_GC[0], ISOCHORE_GC[1])
    next_isochore = rng.randint(4000, 16000)
    while size < length:
        if size >= next_isochore:
            gc = rng.uniform(ISOCHORE_GC[0], ISOCHORE_GC[1])
            next_isochore = size + rng.randint(4000, 16000)
        roll = rng.random()
        if roll < 0.25:
            piece = _promoter(rng)
            if rng.random() < 0.5:
                piece = _reverse_complement(piece)
        elif roll < 0.55:
            piece = _repeat_copy(rng, families)
        elif roll < 0.60:
            unit = rng.choice(_MICROSATELLITES)
            piece = (unit * rng.randint(8, 30)).lower()
        elif roll < 0.605 and pieces:
            piece = "N" * rng.randint(50, 400)  # an assembly gap
        else:
            piece = _deplete_cpg(rng, _dna(rng, rng.randint(150, 900), gc))
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces)[:length]


def generate_genome(length_bp: int, *, seed: int = GENOME_SEED,
                    chromosome_bp: int = _CHROMOSOME_BP) -> list[tuple[str, str]]:
    """A synthetic genome of `length_bp` bases as ``(name, sequence)`` chromosomes of `chromosome_bp` each.

    Sequences hold A, C, G, T (uppercase), a, c, g, t (soft-masked repeats) and N (gaps). The same arguments give
    the same genome on every machine and Python version (only `random.Random` is used).

    Raises:
        ValueError: a length below 1000 bp.

    Example:
        >>> [name for name, _ in generate_genome(25_000, seed=3)]
        ['chr1', 'chr2', 'chr3']
    """
    if length_bp < 1000 or chromosome_bp < 1000:
        raise ValueError("length_bp and chromosome_bp must be at least 1000")
    rng = random.Random(seed)
    families = _repeat_families(rng)
    chromosomes = []
    remaining, index = length_bp, 1
    while remaining > 0:
        size = min(chromosome_bp, remaining)
        chromosomes.append((f"chr{index}", _chromosome(rng, size, families)))
        remaining -= size
        index += 1
    return chromosomes


def write_genome_fasta(path: str | Path, length_bp: int, *, seed: int = GENOME_SEED,
                       chromosome_bp: int = _CHROMOSOME_BP, line_width: int = 60) -> Path:
    """Write `generate_genome` as FASTA (gzipped when `path` ends in .gz, with a fixed timestamp); returns the path.

    The file is byte-identical for equal arguments.

    Example:
        >>> write_genome_fasta("/tmp/genome.fa.gz", 50_000)  # doctest: +SKIP
        PosixPath('/tmp/genome.fa.gz')
    """
    path = Path(path)
    lines = []
    for name, seq in generate_genome(length_bp, seed=seed, chromosome_bp=chromosome_bp):
        lines.append(f">{name} synthetic seed={seed}")
        lines += [seq[i:i + line_width] for i in range(0, len(seq), line_width)]
    data = ("\n".join(lines) + "\n").encode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.lower().endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path
