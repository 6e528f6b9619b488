"""The model-family registry: one entry per genomic LM family.

Each entry knows what a caller would otherwise have to look up in papers and issue trackers: which modules LoRA
should target, how many base pairs a token covers (to pick a max length), which special tokens the tokenizer adds,
whether the published checkpoint needs remote code, and — when hubtune carries a native implementation — the
function that builds it. Adding a family means adding one `ModelFamily` to `FAMILIES`.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError


@dataclass(frozen=True)
class ModelFamily:
    """Everything hubtune needs to know about one family of genomic language models."""

    name: str
    display_name: str
    hub_ids: tuple[str, ...]
    lora_targets: tuple[str, ...]
    # Module names that peft must train and save in full next to the adapter (the task head).
    head_modules: tuple[str, ...]
    # Prefixes of the embedding module and of the per-layer modules ("<prefix>.<N>.") in the state dict.
    embeddings_prefix: str
    layers_prefix: str
    bp_per_token: float
    special_tokens: int
    model_max_tokens: int | None
    needs_remote_code: bool
    # "module:function" of a native loader that replaces remote code; resolved lazily so a missing optional
    # implementation never breaks importing the registry.
    native_loader: str | None = None
    tiny_name: str | None = None
    tiny_builder: str | None = None
    license: str = "other"
    paper: str = ""
    citation: str = ""
    # k-mer tokenizers (NT) cut a sequence into non-overlapping k-mers and leftover bases become one token each.
    kmer_leftover_singles: bool = False
    # Extra keyword arguments the family's tokenizer needs.
    tokenizer_kwargs: dict[str, Any] = field(default_factory=dict)

    def default_max_length(self, sequence_length_bp: int) -> int:
        """Token budget that covers a sequence of `sequence_length_bp` bases plus the special tokens.

        Example:
            >>> get_family("nt").default_max_length(300)
            51
        """
        if self.kmer_leftover_singles:
            k = int(self.bp_per_token)
            tokens = sequence_length_bp // k + sequence_length_bp % k + self.special_tokens
        else:
            tokens = math.ceil(sequence_length_bp / self.bp_per_token) + self.special_tokens
        if self.model_max_tokens is not None:
            tokens = min(tokens, self.model_max_tokens)
        return max(tokens, self.special_tokens + 1)

    def window_bp(self, max_length: int) -> int:
        """How many base pairs fit in one model window of `max_length` tokens (for sliding-window prediction).

        Example:
            >>> get_family("dnabert2").window_bp(128)
            504
        """
        return max(1, int((max_length - self.special_tokens) * self.bp_per_token))

    def load_native(self) -> Callable[..., Any] | None:
        """The family's native loader (e.g. `load_dnabert2`), or None when hubtune has none for it.

        Example:
            >>> get_family("dnabert2").load_native().__name__
            'load_dnabert2'
        """
        if self.native_loader is None:
            return None
        module_name, _, function = self.native_loader.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
        return getattr(module, function, None)


_DNABERT2_CITATION = """@inproceedings{zhou2024dnabert2,
  title={{DNABERT-2}: Efficient Foundation Model and Benchmark for Multi-Species Genome},
  author={Zhou, Zhihan and Ji, Yanrong and Li, Weijian and Dutta, Pratik and Davuluri, Ramana and Liu, Han},
  booktitle={International Conference on Learning Representations},
  year={2024}
}"""

_NT_CITATION = """@article{dalla-torre2024nucleotide,
  title={Nucleotide Transformer: building and evaluating robust foundation models for human genomics},
  author={Dalla-Torre, Hugo and Gonzalez, Liam and Mendoza-Revilla, Javier and others},
  journal={Nature Methods},
  year={2024}
}"""

FAMILIES: dict[str, ModelFamily] = {
    "dnabert2": ModelFamily(
        name="dnabert2",
        display_name="DNABERT-2",
        hub_ids=("zhihan1996/DNABERT-2-117M",),
        lora_targets=("Wqkv", "dense", "gated_layers", "wo"),
        # The published checkpoint has no pooler weights: the new pooler trains and ships with the head.
        head_modules=("classifier", "pooler"),
        embeddings_prefix="bert.embeddings",
        layers_prefix="bert.encoder.layer",
        # BPE tokens cover ~4-5 bp: the DNABERT-2 recipe uses max length ~0.25 x sequence length.
        bp_per_token=4.0,
        special_tokens=2,
        model_max_tokens=None,  # ALiBi: no hard cap
        needs_remote_code=True,
        native_loader="hubtune.models.dnabert2:load_dnabert2",
        tiny_name="tiny-dnabert2",
        tiny_builder="hubtune.models.tiny:build_tiny_dnabert2",
        license="apache-2.0",
        paper="https://arxiv.org/abs/2306.15006",
        citation=_DNABERT2_CITATION,
    ),
    "nt": ModelFamily(
        name="nt",
        display_name="Nucleotide Transformer v1",
        hub_ids=(
            "InstaDeepAI/nucleotide-transformer-500m-human-ref",
            "InstaDeepAI/nucleotide-transformer-500m-1000g",
            "InstaDeepAI/nucleotide-transformer-2.5b-1000g",
            "InstaDeepAI/nucleotide-transformer-2.5b-multi-species",
        ),
        lora_targets=("query", "key", "value", "dense"),
        head_modules=("classifier",),
        embeddings_prefix="esm.embeddings",
        layers_prefix="esm.encoder.layer",
        bp_per_token=6.0,
        special_tokens=1,  # only <cls>
        model_max_tokens=1000,
        kmer_leftover_singles=True,
        needs_remote_code=False,
        tiny_name="tiny-nt",
        tiny_builder="hubtune.models.tiny:build_tiny_nt",
        license="cc-by-nc-sa-4.0",
        paper="https://www.nature.com/articles/s41592-024-02523-z",
        citation=_NT_CITATION,
    ),
    "ntv2": ModelFamily(
        name="ntv2",
        display_name="Nucleotide Transformer v2",
        hub_ids=tuple(
            f"InstaDeepAI/nucleotide-transformer-v2-{size}-multi-species" for size in ("50m", "100m", "250m", "500m")
        ),
        lora_targets=("query", "key", "value", "dense"),
        head_modules=("classifier",),
        embeddings_prefix="esm.embeddings",
        layers_prefix="esm.encoder.layer",
        bp_per_token=6.0,
        special_tokens=1,
        model_max_tokens=2048,
        kmer_leftover_singles=True,
        needs_remote_code=True,
        native_loader="hubtune.models.ntv2:load_ntv2",
        tiny_name="tiny-ntv2",
        tiny_builder="hubtune.models.tiny:build_tiny_ntv2",
        license="cc-by-nc-sa-4.0",
        paper="https://www.nature.com/articles/s41592-024-02523-z",
        citation=_NT_CITATION,
    ),
    # Any other AutoModelForSequenceClassification checkpoint. LoRA targets are guessed from the module names.
    "auto": ModelFamily(
        name="auto",
        display_name="generic sequence-classification model",
        hub_ids=(),
        lora_targets=(),
        head_modules=("classifier", "score"),
        embeddings_prefix="embeddings",
        layers_prefix="layer",
        bp_per_token=1.0,
        special_tokens=2,
        model_max_tokens=512,
        needs_remote_code=False,
    ),
}

# Tiny stand-ins with trained weights: name -> (family, "module:function" of the builder). `tiny-nt-pretrained` is
# `tiny-nt` with a tied masked-LM decoder (`build_tiny_nt_tied`; the encoder is tiny-nt's, so tiny-nt stays its fair
# random-init twin) pre-trained by `hubtune pretrain` on hubtune's synthetic genome (`hubtune.data.genome`),
# deterministically; its weights ship in the package and are copied into the cache on first use
# (`hubtune.models.tiny.tiny_model_path`), or built when absent.
PRETRAINED_TINY_MODELS: dict[str, tuple[str, str]] = {
    "tiny-nt-pretrained": ("nt", "hubtune.pretraining.standin:build_tiny_nt_pretrained"),
}
# Every built-in tiny name -> its family: the random-weight stand-ins, then the pre-trained ones.
TINY_MODELS: dict[str, str] = {f.tiny_name: f.name for f in FAMILIES.values() if f.tiny_name}
TINY_MODELS.update({name: family for name, (family, _) in PRETRAINED_TINY_MODELS.items()})


def get_family(name: str) -> ModelFamily:
    """Return the registered family called `name` ("dnabert2", "nt", "ntv2", "auto").

    Example:
        >>> get_family("ntv2").display_name
        'Nucleotide Transformer v2'
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise ModelError(f"Unknown model family {name!r}. Known families: {', '.join(sorted(FAMILIES))}.") from None


def family_from_config(config: dict[str, Any], name_or_path: str = "") -> ModelFamily:
    """Identify the family of a checkpoint from its raw config.json (no code from the repo is run).

    Example:
        >>> family_from_config({"model_type": "esm", "position_embedding_type": "rotary"}).name
        'ntv2'
    """
    auto_map = json.dumps(config.get("auto_map", {}))
    model_type = config.get("model_type", "")
    if "bert_layers" in auto_map or model_type == "hubtune_dnabert2":
        return FAMILIES["dnabert2"]
    if model_type in ("esm", "hubtune_ntv2"):
        is_v2 = (
            model_type == "hubtune_ntv2"
            or config.get("add_bias_fnn") is False
            or config.get("position_embedding_type") == "rotary"
            or "modeling_esm" in auto_map
        )
        return FAMILIES["ntv2" if is_v2 else "nt"]
    for family in FAMILIES.values():
        if name_or_path in family.hub_ids:
            return family
    return FAMILIES["auto"]


def family_from_name(name_or_path: str) -> ModelFamily | None:
    """Identify the family from a known Hub id or tiny name alone, without reading any file.

    Example:
        >>> family_from_name("zhihan1996/DNABERT-2-117M").name
        'dnabert2'
    """
    if name_or_path in TINY_MODELS:
        return FAMILIES[TINY_MODELS[name_or_path]]
    for family in FAMILIES.values():
        if name_or_path in family.hub_ids:
            return family
    return None


def guess_lora_targets(module_names: list[str]) -> tuple[str, ...]:
    """LoRA targets for an unknown architecture: the attention projections it actually has.

    Example:
        >>> guess_lora_targets(["encoder.0.attn.q_proj", "encoder.0.attn.k_proj", "encoder.0.attn.v_proj"])
        ('q_proj', 'k_proj', 'v_proj')
    """
    leaf_names = {name.rsplit(".", 1)[-1] for name in module_names}
    for candidates in (("query", "key", "value"), ("q_proj", "k_proj", "v_proj"), ("Wqkv",), ("qkv",), ("c_attn",)):
        if set(candidates) <= leaf_names:
            return candidates
    raise ModelError(
        "Could not find attention projections to put LoRA on in this model. Pass them explicitly with "
        "--lora-targets (comma-separated module names)."
    )


def read_local_config(path: Path) -> dict[str, Any]:
    """The config.json of a local model folder as a dict; ModelError when it is missing or not valid JSON.

    Example:
        >>> read_local_config(tiny_model_path("tiny-nt"))["model_type"]  # doctest: +SKIP
        'esm'
    """
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelError(f"{path} has no config.json: it is not a model folder saved with save_pretrained.")
    try:
        return json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{config_file} is not valid JSON (line {exc.lineno}): {exc.msg}.") from None
