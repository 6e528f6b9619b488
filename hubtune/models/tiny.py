"""Tiny random-weight stand-ins with the same layout as the real checkpoints.

They let the demo and the tests run the real loading code offline: a tiny checkpoint is a normal
`save_pretrained` folder with the published config fields, parameter names and tokenizer vocabulary.
"""

from __future__ import annotations

import importlib
import itertools
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import ModelError
from .registry import FAMILIES, TINY_MODELS

# Bump when a tiny builder changes so cached copies are rebuilt.
TINY_FORMAT_VERSION = 2


def nt_vocabulary(v2: bool = False) -> list[str]:
    """The Nucleotide Transformer vocabulary: specials, the 4096 6-mers over "ATCG", single bases, (v2) eos/bos."""
    vocab = ["<unk>", "<pad>", "<mask>", "<cls>"]
    vocab += ["".join(kmer) for kmer in itertools.product("ATCG", repeat=6)]
    vocab += ["A", "T", "C", "G", "N"]
    if v2:
        vocab += ["<eos>", "<bos>"]
    return vocab


def write_nt_tokenizer(path: Path, *, v2: bool = False) -> None:
    """Write an EsmTokenizer folder with the NT vocabulary (only `<cls>` is added to each sequence)."""
    from transformers import EsmTokenizer

    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(nt_vocabulary(v2)) + "\n")
    # eos_token=None: NT prepends <cls> and appends nothing.
    tokenizer = EsmTokenizer(
        vocab_file=str(path / "vocab.txt"), eos_token=None, model_max_length=2048 if v2 else 1000
    )
    tokenizer.save_pretrained(str(path))


def build_tiny_nt(path: Path, seed: int = 0) -> Path:
    """Build `tiny-nt`: an NT v1 layout (transformers' EsmForMaskedLM) with 2 small layers and random weights."""
    import torch
    from transformers import EsmConfig, EsmForMaskedLM

    config = EsmConfig(
        vocab_size=len(nt_vocabulary()),  # 4105 as in the 500m/2.5b v1 checkpoints
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=1002,
        position_embedding_type="absolute",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-12,
        token_dropout=True,
        pad_token_id=1,
        mask_token_id=2,
        emb_layer_norm_before=False,
        tie_word_embeddings=False,
        is_folding_model=False,
        architectures=["EsmForMaskedLM"],
    )
    torch.manual_seed(seed)
    model = EsmForMaskedLM(config)
    _composition_embeddings(model.esm.embeddings.word_embeddings.weight, nt_vocabulary(), seed)
    model.save_pretrained(str(path), safe_serialization=True)
    write_nt_tokenizer(path)
    return path


def _composition_embeddings(weight, vocab: list[str], seed: int) -> None:
    """Give each k-mer token an embedding built from its bases (a random vector per base and position).

    Purely random token vectors carry no sequence content, so nothing but full fine-tuning can learn on them. Real
    pre-trained embeddings do encode composition; this cheap construction gives the stand-in that property, so
    LoRA and probing behave on it qualitatively as on a real checkpoint.
    """
    import torch

    generator = torch.Generator().manual_seed(seed + 1)
    hidden = weight.shape[1]
    per_base = torch.randn(6, 5, hidden, generator=generator) / (6**0.5)
    index = {"A": 0, "C": 1, "G": 2, "T": 3, "N": 4}
    with torch.no_grad():
        for token_id, token in enumerate(vocab):
            if token.startswith("<"):
                continue
            vector = sum(per_base[pos, index[base]] for pos, base in enumerate(token))
            weight[token_id] = vector


def tiny_cache_dir() -> Path:
    """Where built tiny models are kept: $HUBTUNE_CACHE, else $HF_HOME/hubtune, else ~/.cache/hubtune."""
    if os.environ.get("HUBTUNE_CACHE"):
        return Path(os.environ["HUBTUNE_CACHE"])
    hf_home = os.environ.get("HF_HOME")
    base = Path(hf_home) if hf_home else Path.home() / ".cache" / "huggingface"
    return base / "hubtune"


def tiny_model_path(name: str) -> Path:
    """Return the folder of built-in tiny model `name`, building it (atomically) on first use."""
    if name not in TINY_MODELS:
        raise ModelError(f"Unknown tiny model {name!r}. Built-in tiny models: {', '.join(sorted(TINY_MODELS))}.")
    family = FAMILIES[TINY_MODELS[name]]
    target = tiny_cache_dir() / "tiny" / f"{name}-v{TINY_FORMAT_VERSION}"
    if (target / "config.json").is_file():
        return target
    module_name, _, function = (family.tiny_builder or "").partition(":")
    try:
        builder = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError):
        raise ModelError(f"The tiny model {name!r} is not available in this installation of hubtune.") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        builder(staging)
        try:
            staging.rename(target)
        except OSError:
            # Another process built it first; theirs is as good as ours.
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
