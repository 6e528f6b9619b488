"""The pre-trained tiny stand-ins: a random tiny model after `hubtune pretrain` on hubtune's synthetic genome.

`tiny-nt-pretrained` is `tiny-nt-tied` (`hubtune.models.tiny.build_tiny_nt_tied`: `tiny-nt` with its masked-LM
decoder tied to the token embeddings, as in ESM; same encoder weights, so `tiny-nt` stays its random-init twin)
pre-trained with `STANDIN_RECIPE` on `STANDIN_GENOME_BP` bases of the synthetic genome (`hubtune.data.genome`, seed
`GENOME_SEED`), on the CPU with one thread, deterministically: the same hubtune, torch and transformers on the same
kind of CPU give the same weights bit for bit. Windows of 100 bp, as long as the bundled example task's sequences,
so the model sees NT's tokenization of such inputs (16 6-mers, then single bases). The tied decoder is what makes a
few hundred CPU steps count: each step trains the token embeddings too (an untied tiny-nt learns little more than
the unigram of its head in as many steps, and its probe features barely change).

hubtune ships the result (weights stored in float16, under 1 MB: the tied decoder is not stored) under
`hubtune/models/standin/`; the cache gets a float32 copy on first use (`hubtune.models.tiny_model_path`). This module
made those files:

    python -m hubtune.pretraining.standin            # rewrites hubtune/models/standin/ (about two minutes)

which is the same as

    python -c "from hubtune.models.tiny import build_tiny_nt_tied; build_tiny_nt_tied('tiny-nt-tied')"
    python -c "from hubtune.data.genome import write_genome_fasta; write_genome_fasta('genome.fa.gz', 600000)"
    hubtune pretrain --model tiny-nt-tied --data genome.fa.gz --output tiny-nt-pretrained --max-steps 600 \\
        --lr 0.01 --batch-size 64 --chunk-bp 100 --seed 0

run with one torch thread, then the weights rounded to float16 (`half_precision_weights`).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..data.genome import GENOME_SEED, write_genome_fasta
from ..jsonio import write_json
from ..models.tiny import SHIPPED_MANIFEST, SHIPPED_STANDIN_DIR, SHIPPED_WEIGHTS, build_tiny_nt_tied
from ..pretrained_folder import PLOT_FILE
from .config import PretrainConfig
from .runner import pretrain

__all__ = ["STANDIN_BASE", "STANDIN_GENOME_BP", "STANDIN_RECIPE", "build_tiny_nt_pretrained", "half_precision_weights", "main",
           "ship_standin", "standin_config"]

STANDIN_GENOME_BP = 600_000
STANDIN_RECIPE: dict[str, Any] = {"max_steps": 600, "lr": 1e-2, "batch_size": 64, "chunk_bp": 100, "seed": 0}
STANDIN_BASE = "tiny-nt-tied"  # the random model that is pre-trained (`build_tiny_nt_tied`)
STANDIN_COMMAND = "python -m hubtune.pretraining.standin"


def standin_config(model: str, genome: Path, output: Path) -> PretrainConfig:
    """The pre-training settings of a stand-in (`STANDIN_RECIPE`; no intermediate checkpoints).

    Example:
        >>> standin_config("tiny-nt-tied", Path("genome.fa.gz"), Path("out")).chunk_bp
        100
    """
    return PretrainConfig(model=model, data=str(genome), output=str(output), extra={"save_strategy": "no"},
                          **STANDIN_RECIPE)


def _build(path: Path) -> Path:
    import torch

    from ..progress import info

    path = Path(path)
    info(f"building tiny-nt-pretrained: masked-LM pre-training on a {STANDIN_GENOME_BP:,} bp synthetic genome")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the order of floating-point sums, hence the weights, depends on the thread count
    try:
        with tempfile.TemporaryDirectory(prefix="hubtune-genome-") as tmp:
            genome = write_genome_fasta(Path(tmp) / "synthetic-genome.fa.gz", STANDIN_GENOME_BP, seed=GENOME_SEED)
            base = build_tiny_nt_tied(Path(tmp) / STANDIN_BASE)
            # `path` is an empty folder made for the build: the pre-trained model is committed into it.
            pretrain(standin_config(str(base), genome, path))
    finally:
        torch.set_num_threads(threads)
    return path


def build_tiny_nt_pretrained(path: Path) -> Path:
    """Build `tiny-nt-pretrained` in float32 into the empty folder `path` with the recipe (see the module
    docstring); returns `path`. Used when the shipped weights are missing, and to check that they are reproducible.

    Example:
        >>> build_tiny_nt_pretrained(Path("tiny-nt-pretrained"))  # doctest: +SKIP
    """
    return _build(path)


def half_precision_weights(folder: Path) -> dict[str, Any]:
    """The tensors of `folder`/model.safetensors rounded to float16 (how the stand-in is shipped).

    Example:
        >>> half_precision_weights(Path("tiny-nt-pretrained"))["lm_head.bias"].dtype  # doctest: +SKIP
        torch.float16
    """
    from safetensors.torch import load_file

    return {name: tensor.half().contiguous() for name, tensor in load_file(str(folder / SHIPPED_WEIGHTS)).items()}


def ship_standin(built: Path, out: Path, name: str = "tiny-nt-pretrained") -> dict[str, Any]:
    """Write the built stand-in `built` as shipped files into `out`/`name` (float16 weights, config, tokenizer,
    pretraining.json; no plot, no owner file) and its entry (SHA-256 of the weights, the command) into
    `out`/manifest.json; returns that entry.

    Example:
        >>> ship_standin(Path("tiny-nt-pretrained"), Path("hubtune/models/standin"))["sha256"]  # doctest: +SKIP
        '3f1c...'
    """
    import json

    from safetensors.torch import save_file

    target = out / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for file in sorted(built.iterdir()):
        if file.is_file() and not file.name.startswith(".") and file.name not in (SHIPPED_WEIGHTS, PLOT_FILE):
            shutil.copyfile(file, target / file.name)
    save_file(half_precision_weights(built), str(target / SHIPPED_WEIGHTS), metadata={"format": "pt"})
    (target / SHIPPED_WEIGHTS).chmod(0o644)  # readable by all, as the other package files
    digest = hashlib.sha256((target / SHIPPED_WEIGHTS).read_bytes()).hexdigest()
    manifest_path = out / SHIPPED_MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    manifest[name] = {"sha256": digest, "dtype": "float16", "command": STANDIN_COMMAND, "base": STANDIN_BASE,
                      "genome_bp": STANDIN_GENOME_BP, "genome_seed": GENOME_SEED, "recipe": STANDIN_RECIPE}
    write_json(manifest_path, manifest, sort_keys=True)
    return manifest[name]


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: rebuild the shipped stand-in with the recipe (see the module docstring)."""
    parser = argparse.ArgumentParser(prog=STANDIN_COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED_STANDIN_DIR, help="folder of the shipped stand-ins")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hubtune-standin-") as tmp:
        built = build_tiny_nt_pretrained(Path(tmp) / "tiny-nt-pretrained")
        entry = ship_standin(built, args.out)
    print(f"wrote {args.out / 'tiny-nt-pretrained'} (weights sha256 {entry['sha256']})")


if __name__ == "__main__":
    main()
