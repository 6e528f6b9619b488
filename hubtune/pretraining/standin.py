"""The pre-trained tiny stand-ins: a random tiny model after `hubtune pretrain` on hubtune's synthetic genome.

`tiny-nt-pretrained` is `tiny-nt` pre-trained with the recipe below on `STANDIN_GENOME_BP` bases of the synthetic
genome (`hubtune.data.genome`, seed `GENOME_SEED`), on the CPU and deterministically: the same hubtune, torch,
transformers and thread count give the same weights bit for bit. `hubtune.models.tiny_model_path("tiny-nt-pretrained")` builds it
on first use (under a minute on two CPU cores) and caches it. The equivalent command line:

    python -c "from hubtune.data.genome import write_genome_fasta; write_genome_fasta('genome.fa.gz', 600000)"
    hubtune pretrain --model tiny-nt --data genome.fa.gz --output tiny-nt-pretrained --max-steps 600 --lr 0.005 \\
        --batch-size 64 --chunk-bp 120 --seed 0
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..data.genome import GENOME_SEED, write_genome_fasta
from .config import PretrainConfig
from .runner import pretrain

__all__ = ["STANDIN_GENOME_BP", "STANDIN_RECIPE", "build_tiny_nt_pretrained", "standin_config"]

STANDIN_GENOME_BP = 600_000
STANDIN_RECIPE: dict[str, Any] = {"max_steps": 600, "lr": 5e-3, "batch_size": 64, "chunk_bp": 120, "seed": 0}


def standin_config(model: str, genome: Path, output: Path) -> PretrainConfig:
    """The pre-training settings of a stand-in (`STANDIN_RECIPE`; no intermediate checkpoints).

    Example:
        >>> standin_config("tiny-nt", Path("genome.fa.gz"), Path("out")).max_steps
        600
    """
    return PretrainConfig(model=model, data=str(genome), output=str(output), extra={"save_strategy": "no"},
                          **STANDIN_RECIPE)


def _build(model: str, path: Path) -> Path:
    from ..progress import info

    path = Path(path)
    info(f"building {model}-pretrained once: masked-LM pre-training on a {STANDIN_GENOME_BP:,} bp synthetic genome "
         "(cached afterwards)")
    with tempfile.TemporaryDirectory(prefix="hubtune-genome-") as tmp:
        genome = write_genome_fasta(Path(tmp) / "synthetic-genome.fa.gz", STANDIN_GENOME_BP, seed=GENOME_SEED)
        # `path` is an empty folder made for the build: the pre-trained model is committed into it.
        pretrain(standin_config(model, genome, path))
    return path


def build_tiny_nt_pretrained(path: Path) -> Path:
    """Build `tiny-nt-pretrained` into the empty folder `path` (see the module docstring); returns `path`.

    Example:
        >>> build_tiny_nt_pretrained(Path("tiny-nt-pretrained"))  # doctest: +SKIP
    """
    return _build("tiny-nt", path)
