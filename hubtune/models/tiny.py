"""Tiny random-weight stand-ins with the same layout as the real checkpoints, and the cache that holds them.

They let the demo and the tests run the real loading code offline: a tiny checkpoint has the published config
fields, parameter names, weight file and tokenizer vocabulary of its family (`tiny-nt`: NT v1 as transformers' ESM;
`tiny-ntv2` and `tiny-dnabert2`: the published remote-code layout, without any Python file). Token embeddings are
built from each token's bases (`composition_embeddings`), so LoRA and probing behave on a tiny model qualitatively
as on a pre-trained one. Every builder is deterministic for a given seed.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import math
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ModelError
from ..jsonio import write_json
from ..paths import hubtune_cache_dir
from .registry import FAMILIES, PRETRAINED_TINY_MODELS, TINY_MODELS

if TYPE_CHECKING:
    import torch

__all__ = [
    "DNABERT2_SPECIAL_TOKENS",
    "PRETRAINED_TINY_VERSION",
    "SHIPPED_MANIFEST",
    "SHIPPED_STANDIN_DIR",
    "SHIPPED_WEIGHTS",
    "TINY_FORMAT_VERSION",
    "build_tiny_dnabert2",
    "build_tiny_nt",
    "build_tiny_nt_tied",
    "build_tiny_ntv2",
    "composition_embeddings",
    "nt_vocabulary",
    "ntv2_vocabulary",
    "shipped_standin",
    "tiny_cache_dir",
    "tiny_model_path",
    "write_dnabert2_tokenizer",
    "write_nt_tokenizer",
    "write_ntv2_tokenizer",
]

# Bump when a tiny builder changes so cached copies are rebuilt.
TINY_FORMAT_VERSION = 2
# Bump when the pre-trained stand-ins (their genome, their pre-training recipe, the shipped weights) change.
PRETRAINED_TINY_VERSION = 3
# The pre-trained stand-ins ship with hubtune (float16 weights; `python -m hubtune.pretraining.standin` made them).
SHIPPED_STANDIN_DIR = Path(__file__).resolve().parent / "standin"
SHIPPED_MANIFEST = "manifest.json"
SHIPPED_WEIGHTS = "model.safetensors"

DNABERT2_SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")

Normalisation = Literal["token_length", "longest_token"]


# --------------------------------------------------------------------------------------------------------------------
# Vocabularies and tokenizer files
# --------------------------------------------------------------------------------------------------------------------


def nt_vocabulary(v2: bool = False) -> list[str]:
    """The Nucleotide Transformer vocabulary: specials, the 4096 6-mers over "ATCG", single bases, (v2) eos/bos.

    Example:
        >>> len(nt_vocabulary()), len(nt_vocabulary(v2=True)), nt_vocabulary()[4]
        (4105, 4107, 'AAAAAA')
    """
    vocab = ["<unk>", "<pad>", "<mask>", "<cls>"]
    vocab += ["".join(kmer) for kmer in itertools.product("ATCG", repeat=6)]
    vocab += ["A", "T", "C", "G", "N"]
    if v2:
        vocab += ["<eos>", "<bos>"]
    return vocab


def ntv2_vocabulary() -> list[str]:
    """The 4107-token NT v2 vocabulary: the NT v1 vocabulary (`nt_vocabulary`) plus <eos>, <bos>.

    Example:
        >>> ntv2_vocabulary()[-2:]
        ['<eos>', '<bos>']
    """
    return nt_vocabulary(v2=True)


def write_nt_tokenizer(path: Path) -> None:
    """Write an EsmTokenizer folder with the NT v1 vocabulary (only `<cls>` is added to each sequence; NT v2's
    published files come from `write_ntv2_tokenizer`).

    Example:
        >>> write_nt_tokenizer(Path("my-nt"))  # doctest: +SKIP
    """
    from transformers import EsmTokenizer

    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(nt_vocabulary()) + "\n")
    # eos_token=None: NT prepends <cls> and appends nothing.
    tokenizer = EsmTokenizer(vocab_file=str(path / "vocab.txt"), eos_token=None, model_max_length=1000)
    tokenizer.save_pretrained(str(path))


def write_ntv2_tokenizer(path: Path) -> None:
    """Write the published NT v2 tokenizer files: vocab.txt, tokenizer_config.json (EsmTokenizer, eos_token null so
    only <cls> is prepended, 2048 tokens) and special_tokens_map.json.

    Example:
        >>> write_ntv2_tokenizer(Path("my-ntv2"))  # doctest: +SKIP
    """
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(ntv2_vocabulary()) + "\n", encoding="utf-8")
    write_json(
        path / "tokenizer_config.json",
        {
            "clean_up_tokenization_spaces": True,
            "eos_token": None,
            "model_max_length": 2048,
            "tokenizer_class": "EsmTokenizer",
        },
        sort_keys=True,
    )
    write_json(
        path / "special_tokens_map.json",
        {"cls_token": "<cls>", "mask_token": "<mask>", "pad_token": "<pad>", "unk_token": "<unk>"},
        sort_keys=True,
    )


def _dna_corpus(seed: int, count: int = 400, length: int = 240) -> list[str]:
    """Deterministic DNA with recurring motifs, so BPE learns multi-base tokens as on real genomes."""
    rng = random.Random(seed)
    motifs = ["".join(rng.choice("ACGT") for _ in range(rng.randint(3, 9))) for _ in range(24)]
    motifs += ["TATAAA", "CACGTG", "GGGCGG", "AAAAAA", "TTTTTT", "CGCGCG"]
    sequences = []
    for _ in range(count):
        parts: list[str] = []
        size = 0
        while size < length:
            piece = (
                rng.choice(motifs)
                if rng.random() < 0.6
                else "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 6)))
            )
            parts.append(piece)
            size += len(piece)
        sequences.append("".join(parts)[:length])
    return sequences


def write_dnabert2_tokenizer(path: Path, *, seed: int = 0, vocab_size: int = 512) -> int:
    """Train a small DNABERT-2-style BPE tokenizer and write tokenizer.json + configs; returns the vocabulary size.

    Layout as published: [UNK]=0, [CLS]=1, [SEP]=2, [PAD]=3, [MASK]=4, then A, C, G, T, then merges; Whitespace
    pre-tokenizer; post-processor ``[CLS] $A [SEP]``; tokenizer_class PreTrainedTokenizerFast.

    Example:
        >>> write_dnabert2_tokenizer(Path("my-bpe"), vocab_size=256)  # doctest: +SKIP
        256
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(DNABERT2_SPECIAL_TOKENS),
        initial_alphabet=list("ACGT"),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_dna_corpus(seed), trainer=trainer)
    ids = {token: tokenizer.token_to_id(token) for token in (*DNABERT2_SPECIAL_TOKENS, "A", "C", "G", "T")}
    if [ids[t] for t in (*DNABERT2_SPECIAL_TOKENS, "A", "C", "G", "T")] != list(range(9)):
        raise RuntimeError(f"unexpected BPE id layout: {ids}")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 1), ("[SEP]", 2)],
    )
    path.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path / "tokenizer.json"))
    specials = {
        "unk_token": "[UNK]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "mask_token": "[MASK]",
    }
    tokenizer_config = {
        "clean_up_tokenization_spaces": True,
        **specials,
        "model_max_length": 512,
        "padding_side": "right",
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    write_json(path / "tokenizer_config.json", tokenizer_config, sort_keys=True)
    write_json(path / "special_tokens_map.json", specials, sort_keys=True)
    return tokenizer.get_vocab_size()


# --------------------------------------------------------------------------------------------------------------------
# Embeddings built from each token's bases
# --------------------------------------------------------------------------------------------------------------------


def composition_embeddings(
    weight: torch.Tensor, tokens: list[str], seed: int, *, normalisation: Normalisation
) -> None:
    """Overwrite the rows of DNA tokens in `weight` with sums of per-(position, base) random vectors.

    Purely random token vectors carry no sequence content, so only full fine-tuning could learn on a tiny random
    model. Embeddings built from each token's bases give the tiny stand-in that property of a pre-trained model,
    so LoRA and layer probing behave on it qualitatively as on the real checkpoint. Rows of tokens that are not
    DNA (specials, empty strings) keep their values. The vectors are drawn from ``seed + 1``, never from torch's
    global generator.

    `normalisation` sets the scale:
      - ``"token_length"``: each token's sum is divided by sqrt(its own length), so tokens of any length have the
        spread of one base vector (BPE vocabularies with tokens of mixed length: tiny-dnabert2, tiny-ntv2);
      - ``"longest_token"``: every base vector is divided by sqrt(the longest token's length) before summing, so a
        full-length k-mer has the spread of one base vector and a shorter leftover token less (tiny-nt).

    Example:
        >>> import torch
        >>> weight = torch.zeros(3, 8)
        >>> composition_embeddings(weight, ["<pad>", "ACG", "A"], seed=0, normalisation="token_length")
        >>> bool(weight[0].eq(0).all()), bool(weight[1].ne(0).any())
        (True, True)
    """
    import torch

    if normalisation not in ("token_length", "longest_token"):
        raise ValueError(f"normalisation must be 'token_length' or 'longest_token', not {normalisation!r}")
    dna = {index: token for index, token in enumerate(tokens) if token and set(token) <= set("ACGTN")}
    if not dna:
        return
    generator = torch.Generator().manual_seed(seed + 1)
    longest = max(len(token) for token in dna.values())
    per_base = torch.randn(longest, 5, weight.shape[1], generator=generator)
    if normalisation == "longest_token":
        per_base = per_base / longest**0.5
    column = {base: i for i, base in enumerate("ACGTN")}
    with torch.no_grad():
        for index, token in dna.items():
            vector = sum(per_base[position, column[base]] for position, base in enumerate(token))
            if normalisation == "token_length":
                vector = vector / math.sqrt(len(token))
            weight[index] = vector.to(weight.dtype)


# --------------------------------------------------------------------------------------------------------------------
# Builders, one per family (referenced by `ModelFamily.tiny_builder`)
# --------------------------------------------------------------------------------------------------------------------


def build_tiny_nt(path: Path, seed: int = 0) -> Path:
    """Build `tiny-nt`: an NT v1 layout (transformers' EsmForMaskedLM) with 2 small layers and random weights.

    Writes ``model.safetensors``, config.json and the EsmTokenizer files; embeddings use ``"longest_token"``.
    Leaves torch's global generator seeded with `seed`.

    Example:
        >>> build_tiny_nt(Path("tiny-nt"))  # doctest: +SKIP
        PosixPath('tiny-nt')
    """
    return _build_nt(path, seed, tied_decoder=False)


def build_tiny_nt_tied(path: Path, seed: int = 0) -> Path:
    """Build `tiny-nt` with its masked-LM decoder tied to the token embeddings (ESM's own layout): the starting point
    of the pre-trained stand-in.

    Its encoder (embeddings and layers) is `tiny-nt`'s, tensor for tensor, so `tiny-nt` is its random-init twin for
    probes. The tied decoder scores a 6-mer by its bases (the embeddings are `composition_embeddings`), and every
    masked-LM step also trains the token embeddings, which is what lets a few hundred CPU steps change the encoder's
    features. No decoder weight is stored (transformers ties it on loading).

    Example:
        >>> build_tiny_nt_tied(Path("tiny-nt-tied"))  # doctest: +SKIP
        PosixPath('tiny-nt-tied')
    """
    return _build_nt(path, seed, tied_decoder=True)


def _build_nt(path: Path, seed: int, *, tied_decoder: bool) -> Path:
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
        tie_word_embeddings=tied_decoder,
        is_folding_model=False,
        architectures=["EsmForMaskedLM"],
    )
    # Seeds torch's global generator (the other builders restore it): unseeded draws made after a first build
    # in the same process, such as a new classification head, depend on this.
    torch.manual_seed(seed)
    model = EsmForMaskedLM(config)
    composition_embeddings(
        model.esm.embeddings.word_embeddings.weight, nt_vocabulary(), seed, normalisation="longest_token"
    )
    model.save_pretrained(str(path), safe_serialization=True)
    write_nt_tokenizer(path)
    return path


def _masked_lm_state(
    config_class: type[Any],
    model_class: type[Any],
    published: dict[str, Any],
    tokens: list[str],
    seed: int,
    *,
    extra: Callable[[], dict[str, torch.Tensor]] | None = None,
) -> dict[str, torch.Tensor]:
    """The state dict of a native masked-LM model built from a published config.json with torch seeded from `seed`,
    token embeddings from `tokens` (``"token_length"``); `extra` adds, under the same seed, the tensors a published
    checkpoint carries beyond the native model."""
    from .checkpoint import config_kwargs
    from .native import seeded_build

    config = config_class(**config_kwargs(config_class, published))

    def build() -> dict[str, torch.Tensor]:
        model = model_class(config)
        composition_embeddings(model.get_input_embeddings().weight, tokens, seed, normalisation="token_length")
        state = {name: tensor.detach().clone().contiguous() for name, tensor in model.state_dict().items()}
        return state | (extra() if extra is not None else {})

    return seeded_build(seed, build)


def build_tiny_dnabert2(
    path: Path,
    seed: int = 0,
    *,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    intermediate_size: int = 128,
    vocab_size: int = 512,
) -> Path:
    """Write a tiny random DNABERT-2 checkpoint in the published layout: config.json (model_type "bert" + the real
    auto_map), `pytorch_model.bin` with the remote BertForMaskedLM key names, and a BPE tokenizer. Token
    embeddings use ``"token_length"`` (see `composition_embeddings`). Fully offline; no Python files are written.

    Example:
        >>> model = load_dnabert2(build_tiny_dnabert2(Path("tiny-dnabert2")))  # doctest: +SKIP
    """
    import torch

    from .dnabert2 import DNABERT2_AUTO_MAP, Dnabert2Config, Dnabert2ForMaskedLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    actual_vocab = write_dnabert2_tokenizer(path, seed=seed, vocab_size=vocab_size)
    published = {
        "_name_or_path": "zhihan1996/DNABERT-2-117M",
        "alibi_starting_size": 512,
        "attention_probs_dropout_prob": 0.0,
        "auto_map": DNABERT2_AUTO_MAP,
        "classifier_dropout": None,
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": intermediate_size,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": num_attention_heads,
        "num_hidden_layers": num_hidden_layers,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.28.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": actual_vocab,
    }
    vocab = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    tokens = [""] * actual_vocab
    for token, index in vocab.items():
        tokens[index] = token
    # A state dict as the remote BertForMaskedLM saves it: `bert.*` (no pooler) + `cls.predictions.*`, with the
    # tied decoder weight stored under both names.
    state = _masked_lm_state(Dnabert2Config, Dnabert2ForMaskedLM, published, tokens, seed)
    state["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]
    torch.save(state, path / "pytorch_model.bin")
    write_json(path / "config.json", published, sort_keys=True)
    return path


def build_tiny_ntv2(
    path: Path,
    seed: int = 0,
    *,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    intermediate_size: int = 128,
) -> Path:
    """Write a tiny random NT v2 checkpoint in the published layout: config.json (model_type "esm" + the real
    auto_map), `model.safetensors` with the remote EsmForMaskedLM key names (including the per-layer rotary
    `inv_freq`, the unused position table and ESM's contact head) and the EsmTokenizer files. Token embeddings use
    ``"token_length"`` (see `composition_embeddings`). Fully offline; no Python files are written.

    Example:
        >>> model = load_ntv2(build_tiny_ntv2(Path("tiny-ntv2")), task="mlm")  # doctest: +SKIP
    """
    from safetensors.torch import save_file
    from torch import nn

    from .ntv2 import NTV2_AUTO_MAP, NTv2Config, NTv2ForMaskedLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vocab_size = len(ntv2_vocabulary())
    published = {
        "add_bias_fnn": False,
        "architectures": ["EsmForMaskedLM"],
        "attention_probs_dropout_prob": 0.0,
        "auto_map": NTV2_AUTO_MAP,
        "emb_layer_norm_before": False,
        "esmfold_config": None,
        "hidden_dropout_prob": 0.0,
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": intermediate_size,
        "is_folding_model": False,
        "layer_norm_eps": 1e-12,
        "mask_token_id": 2,
        "max_position_embeddings": 2050,
        "model_type": "esm",
        "num_attention_heads": num_attention_heads,
        "num_hidden_layers": num_hidden_layers,
        "pad_token_id": 1,
        "position_embedding_type": "rotary",
        "tie_word_embeddings": False,
        "token_dropout": False,
        "torch_dtype": "float32",
        "transformers_version": "4.32.0.dev0",
        "use_cache": False,
        "vocab_list": None,
        "vocab_size": vocab_size,
    }

    def contact_head() -> dict[str, torch.Tensor]:
        contact = nn.Linear(num_hidden_layers * num_attention_heads, 1)
        return {
            "esm.contact_head.regression.weight": contact.weight.detach().clone(),
            "esm.contact_head.regression.bias": contact.bias.detach().clone(),
        }

    state = _masked_lm_state(NTv2Config, NTv2ForMaskedLM, published, ntv2_vocabulary(), seed, extra=contact_head)
    save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    write_json(path / "config.json", published, sort_keys=True)
    write_ntv2_tokenizer(path)
    return path


# --------------------------------------------------------------------------------------------------------------------
# The cache of built tiny models
# --------------------------------------------------------------------------------------------------------------------


def tiny_cache_dir() -> Path:
    """Where built tiny models are kept: hubtune's cache folder (`hubtune.paths.hubtune_cache_dir`).

    Example:
        >>> tiny_cache_dir()  # doctest: +SKIP
        PosixPath('/home/me/.cache/huggingface/hubtune')
    """
    return hubtune_cache_dir()


def shipped_standin(name: str) -> Path | None:
    """The folder of a pre-trained stand-in shipped with hubtune (float16 weights), or None when it is not shipped.

    Example:
        >>> shipped_standin("tiny-nt-pretrained").name  # doctest: +SKIP
        'tiny-nt-pretrained'
    """
    folder = SHIPPED_STANDIN_DIR / name
    return folder if name in PRETRAINED_TINY_MODELS and (folder / SHIPPED_WEIGHTS).is_file() else None


def _widen_shipped(shipped: Path) -> Callable[[Path], None]:
    """A builder that copies the shipped stand-in `shipped` into a folder, its float16 weights widened to float32."""

    def build(path: Path) -> None:
        from safetensors.torch import load_file, save_file

        for file in sorted(shipped.iterdir()):
            if file.is_file() and file.name != SHIPPED_WEIGHTS:
                shutil.copyfile(file, path / file.name)
        state = {key: tensor.float().contiguous() for key, tensor in load_file(str(shipped / SHIPPED_WEIGHTS)).items()}
        save_file(state, str(path / SHIPPED_WEIGHTS), metadata={"format": "pt"})

    return build


def tiny_model_path(name: str) -> Path:
    """Return the folder of built-in tiny model `name`, building it (atomically) on first use.

    The random-weight stand-ins take a second to build; the pre-trained ones (`PRETRAINED_TINY_MODELS`, e.g.
    ``tiny-nt-pretrained``) are copied from the weights shipped with hubtune (`shipped_standin`), or, where those
    are missing, made by running `hubtune pretrain` on the synthetic genome (about two minutes on a CPU).

    Example:
        >>> (tiny_model_path("tiny-nt") / "config.json").is_file()  # doctest: +SKIP
        True
    """
    if name not in TINY_MODELS:
        raise ModelError(f"Unknown tiny model {name!r}. Built-in tiny models: {', '.join(sorted(TINY_MODELS))}.")
    family = FAMILIES[TINY_MODELS[name]]
    version = f"v{TINY_FORMAT_VERSION}"
    builder_name = family.tiny_builder or ""
    builder: Callable[[Path], Any] | None = None
    if name in PRETRAINED_TINY_MODELS:
        # Built by a higher layer (`hubtune pretrain`), named here by string only: models never imports it.
        version += f"-p{PRETRAINED_TINY_VERSION}"
        builder_name = PRETRAINED_TINY_MODELS[name][1]
        shipped = shipped_standin(name)
        if shipped is not None:  # a cached copy of other shipped weights is never reused
            version += "-" + hashlib.sha256((shipped / SHIPPED_WEIGHTS).read_bytes()).hexdigest()[:12]
            builder = _widen_shipped(shipped)
    target = tiny_cache_dir() / "tiny" / f"{name}-{version}"
    if (target / "config.json").is_file():
        return target
    if builder is None:
        module_name, _, function = builder_name.partition(":")
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
