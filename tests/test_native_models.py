"""Native DNABERT-2 and Nucleotide Transformer v2: published checkpoints load without remote code, compute what the
remote code computes, survive save/load and LoRA round trips, and never execute Python shipped with a checkpoint."""

from __future__ import annotations

import json
import math
import shutil
import sys
import uuid
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from hubtune.errors import ModelError
from hubtune.models.dnabert2 import (
    DNABERT2_AUTO_MAP,
    Dnabert2Config,
    Dnabert2ForSequenceClassification,
    Dnabert2Model,
    alibi_slopes,
    build_tiny_dnabert2,
    load_dnabert2,
)
from hubtune.models.ntv2 import (
    NTV2_AUTO_MAP,
    NTv2Config,
    NTv2ForMaskedLM,
    NTv2ForSequenceClassification,
    build_tiny_ntv2,
    load_ntv2,
)

REAL_DNABERT2_TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "models" / "dnabert2-tokenizer"
DNABERT2_LORA_TARGETS = ["Wqkv", "dense", "gated_layers", "wo"]
NTV2_LORA_TARGETS = ["query", "key", "value", "dense"]


@pytest.fixture(scope="module")
def tiny_dnabert2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_dnabert2(tmp_path_factory.mktemp("tiny-dnabert2"))


@pytest.fixture(scope="module")
def tiny_ntv2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_ntv2(tmp_path_factory.mktemp("tiny-ntv2"))


def _padded_batch(vocab: int, lengths: list[int], *, pad_id: int, seed: int = 0, first: int = 1, low: int = 5):
    """Random ids (first token = CLS-like `first`), right-padded with `pad_id`, plus the attention mask."""
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.full((len(lengths), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(lengths), width), dtype=torch.long)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(low, vocab, (length,), generator=generator)
        ids[row, 0] = first
        mask[row, :length] = 1
    return ids, mask


# --------------------------------------------------------------------------------------------------------------------
# Independent reference implementations, written from the published semantics (loops over heads, -10000 masking)
# --------------------------------------------------------------------------------------------------------------------


def reference_dnabert2(state: dict, config: Dnabert2Config, slopes: list[float], ids, mask) -> torch.Tensor:
    """softmax(QK^T/sqrt(d) - slope_h*|i-j| + mask)V per head, post-LN blocks, GEGLU; returns the last hidden state."""
    hidden, heads = config.hidden_size, config.num_attention_heads
    head_dim, inter = hidden // heads, config.intermediate_size

    def ln(x, name):
        return F.layer_norm(x, (hidden,), state[f"{name}.weight"], state[f"{name}.bias"], eps=config.layer_norm_eps)

    def linear(x, name, bias=True):
        out = x @ state[f"{name}.weight"].T
        return out + state[f"{name}.bias"] if bias else out

    x = state["bert.embeddings.word_embeddings.weight"][ids] + state["bert.embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "bert.embeddings.LayerNorm")
    positions = torch.arange(ids.shape[1], dtype=torch.float32)
    distance = (positions[None, :] - positions[:, None]).abs()
    key_mask = (1.0 - mask.float())[:, None, :] * -10000.0
    for n in range(config.num_hidden_layers):
        prefix = f"bert.encoder.layer.{n}."
        qkv = linear(x, prefix + "attention.self.Wqkv")
        outputs = []
        for h in range(heads):
            q = qkv[..., h * head_dim : (h + 1) * head_dim]
            k = qkv[..., hidden + h * head_dim : hidden + (h + 1) * head_dim]
            v = qkv[..., 2 * hidden + h * head_dim : 2 * hidden + (h + 1) * head_dim]
            scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim) - slopes[h] * distance + key_mask
            outputs.append(scores.softmax(-1) @ v)
        attended = torch.cat(outputs, dim=-1)
        x = ln(linear(attended, prefix + "attention.output.dense") + x, prefix + "attention.output.LayerNorm")
        gated = linear(x, prefix + "mlp.gated_layers", bias=False)
        mlp = linear(F.gelu(gated[..., :inter]) * gated[..., inter:], prefix + "mlp.wo")
        x = ln(mlp + x, prefix + "mlp.layernorm")
    return x


def reference_ntv2(state: dict, config: NTv2Config, ids, mask) -> torch.Tensor:
    """Pre-LN ESM blocks with rotary q/k (q scaled first), SwiGLU without bias, emb_layer_norm_after."""
    hidden, heads = config.hidden_size, config.num_attention_heads
    head_dim = hidden // heads

    def ln(x, name):
        return F.layer_norm(x, (hidden,), state[f"{name}.weight"], state[f"{name}.bias"], eps=config.layer_norm_eps)

    def linear(x, name, bias=True):
        out = x @ state[f"{name}.weight"].T
        return out + state[f"{name}.bias"] if bias else out

    def rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin

    x = state["esm.embeddings.word_embeddings.weight"][ids] * mask[..., None]
    inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
    angles = torch.outer(torch.arange(ids.shape[1]).float(), inv_freq)
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    key_mask = (1.0 - mask.float())[:, None, :] * -10000.0
    for n in range(config.num_hidden_layers):
        prefix = f"esm.encoder.layer.{n}."
        normed = ln(x, prefix + "attention.LayerNorm")
        q_all, k_all = linear(normed, prefix + "attention.self.query"), linear(normed, prefix + "attention.self.key")
        v_all = linear(normed, prefix + "attention.self.value")
        outputs = []
        for h in range(heads):
            part = slice(h * head_dim, (h + 1) * head_dim)
            q = rotate(q_all[..., part] * head_dim**-0.5, cos, sin)
            k = rotate(k_all[..., part], cos, sin)
            outputs.append((q @ k.transpose(-1, -2) + key_mask).softmax(-1) @ v_all[..., part])
        x = linear(torch.cat(outputs, -1), prefix + "attention.output.dense") + x
        gate, up = linear(ln(x, prefix + "LayerNorm"), prefix + "intermediate.dense", bias=False).chunk(2, dim=-1)
        x = linear(F.silu(gate) * up, prefix + "output.dense", bias=False) + x
    return ln(x, "esm.encoder.emb_layer_norm_after")


# --------------------------------------------------------------------------------------------------------------------
# DNABERT-2: published layout, loading, saving
# --------------------------------------------------------------------------------------------------------------------


def test_tiny_dnabert2_has_the_published_layout_and_is_deterministic(tiny_dnabert2, tmp_path):
    config = json.loads((tiny_dnabert2 / "config.json").read_text())
    assert config["model_type"] == "bert" and config["auto_map"] == DNABERT2_AUTO_MAP
    for field in ("alibi_starting_size", "attention_probs_dropout_prob", "type_vocab_size", "layer_norm_eps"):
        assert field in config
    assert sorted(p.name for p in tiny_dnabert2.iterdir()) == [
        "config.json",
        "pytorch_model.bin",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    state = torch.load(tiny_dnabert2 / "pytorch_model.bin", weights_only=True)
    assert "bert.encoder.layer.0.attention.self.Wqkv.weight" in state
    assert "cls.predictions.decoder.weight" in state and "bert.pooler.dense.weight" not in state
    assert state["bert.encoder.layer.1.mlp.gated_layers.weight"].shape == (2 * 128, 64)

    again = build_tiny_dnabert2(tmp_path / "again")
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (again / name).read_bytes() == (tiny_dnabert2 / name).read_bytes()
    state_again = torch.load(again / "pytorch_model.bin", weights_only=True)
    assert state.keys() == state_again.keys() and all(torch.equal(state[k], state_again[k]) for k in state)
    other = torch.load(build_tiny_dnabert2(tmp_path / "seed1", seed=1) / "pytorch_model.bin", weights_only=True)
    assert not torch.equal(
        other["bert.encoder.layer.0.attention.self.Wqkv.weight"],
        state["bert.encoder.layer.0.attention.self.Wqkv.weight"],
    )


def test_tiny_dnabert2_tokenizer_has_the_dnabert2_id_layout(tiny_dnabert2):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dnabert2)
    ids = [
        tokenizer.convert_tokens_to_ids(t) for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "A", "C", "G", "T")
    ]
    assert ids == list(range(9))
    encoded = tokenizer("ACGTTGCAACGTAAATTTGGGCCC")["input_ids"]
    assert encoded[0] == 1 and encoded[-1] == 2 and len(encoded) < 24  # BPE merges: fewer tokens than bases
    assert (
        tokenizer.pad_token_id == 3 and tokenizer.vocab_size == Dnabert2Config.from_pretrained(tiny_dnabert2).vocab_size
    )


@pytest.mark.parametrize("task", ["classification", "mlm", "base"])
def test_published_dnabert2_checkpoint_loads_every_weight(tiny_dnabert2, task):
    model = load_dnabert2(tiny_dnabert2, task=task, num_labels=3)
    report = model.load_report
    assert report.ok and report.missing_keys == [] and report.unexpected_keys == []
    assert report.weights_file.endswith("pytorch_model.bin")
    expected_new = {
        "classification": [
            "bert.pooler.dense.bias",
            "bert.pooler.dense.weight",
            "classifier.bias",
            "classifier.weight",
        ],
        "mlm": [],
        "base": ["pooler.dense.bias", "pooler.dense.weight"],
    }[task]
    assert report.newly_initialized == expected_new
    published = torch.load(tiny_dnabert2 / "pytorch_model.bin", weights_only=True)
    own = model.state_dict()
    for key, tensor in published.items():
        name = key if task != "base" else key.removeprefix("bert.")
        if name in own:
            assert torch.equal(own[name], tensor), name
    assert not model.training
    if task == "classification":
        assert model.classifier.out_features == 3


def test_dnabert2_head_initialisation_is_reproducible(tiny_dnabert2):
    first, second = load_dnabert2(tiny_dnabert2), load_dnabert2(tiny_dnabert2)
    assert torch.equal(first.classifier.weight, second.classifier.weight)
    assert torch.equal(first.bert.pooler.dense.weight, second.bert.pooler.dense.weight)
    other = load_dnabert2(tiny_dnabert2, init_seed=1)
    assert not torch.equal(first.classifier.weight, other.classifier.weight)


def test_dnabert2_save_pretrained_round_trip_is_exact(tiny_dnabert2, tmp_path):
    from transformers import AutoModelForSequenceClassification

    model = load_dnabert2(tiny_dnabert2, num_labels=2)
    model.save_pretrained(tmp_path / "saved")
    saved = load_file(tmp_path / "saved" / "model.safetensors")
    assert "bert.encoder.layer.0.attention.self.Wqkv.weight" in saved and "classifier.weight" in saved
    assert not list((tmp_path / "saved").glob("*.py")) and not (tmp_path / "saved" / "pytorch_model.bin").exists()
    assert json.loads((tmp_path / "saved" / "config.json").read_text()).get("auto_map") is None

    ids, mask = _padded_batch(model.config.vocab_size, [12, 7], pad_id=3)
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask).logits
    for reloaded in (
        load_dnabert2(tmp_path / "saved", num_labels=2),
        Dnabert2ForSequenceClassification.from_pretrained(tmp_path / "saved"),
        AutoModelForSequenceClassification.from_pretrained(tmp_path / "saved"),
    ):
        assert isinstance(reloaded, Dnabert2ForSequenceClassification)
        state = reloaded.state_dict()
        assert state.keys() == model.state_dict().keys()
        assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
        with torch.no_grad():
            assert torch.equal(reloaded.eval()(input_ids=ids, attention_mask=mask).logits, expected)
    assert load_dnabert2(tmp_path / "saved", num_labels=2).load_report.newly_initialized == []


def test_dnabert2_mlm_save_round_trip_keeps_the_tied_decoder(tiny_dnabert2, tmp_path):
    model = load_dnabert2(tiny_dnabert2, task="mlm")
    model.save_pretrained(tmp_path / "mlm")
    reloaded = load_dnabert2(tmp_path / "mlm", task="mlm")
    assert reloaded.load_report.ok
    assert reloaded.cls.predictions.decoder.weight is reloaded.bert.embeddings.word_embeddings.weight
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), reloaded.state_dict().values(), strict=True)
    )


# --------------------------------------------------------------------------------------------------------------------
# DNABERT-2: semantics
# --------------------------------------------------------------------------------------------------------------------


def test_alibi_slopes_follow_the_alibi_recipe_for_any_head_count():
    assert alibi_slopes(8) == [2.0**-i for i in range(1, 9)]
    twelve = [2.0**-i for i in range(1, 9)] + [2.0**-0.5, 2.0**-1.5, 2.0**-2.5, 2.0**-3.5]
    assert alibi_slopes(12) == pytest.approx(twelve)
    assert alibi_slopes(6) == pytest.approx([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3])


@pytest.mark.parametrize("heads", [4, 6])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_dnabert2_attention_matches_a_loop_over_heads_reference(tmp_path, heads, attn):
    path = build_tiny_dnabert2(tmp_path / f"h{heads}", hidden_size=8 * heads, num_attention_heads=heads)
    model = load_dnabert2(path, task="base", attn_implementation=attn)
    assert model.config._attn_implementation == attn
    ids, mask = _padded_batch(model.config.vocab_size, [20, 13, 5], pad_id=3, seed=heads)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    state = torch.load(path / "pytorch_model.bin", weights_only=True)
    expected = reference_dnabert2(state, model.config, alibi_slopes(heads), ids, mask)
    real = mask.bool()
    torch.testing.assert_close(hidden[real], expected[real], atol=1e-5, rtol=1e-5)
    assert torch.all(hidden[~real] == 0)


def test_dnabert2_sdpa_and_eager_paths_agree_and_can_be_switched(tiny_dnabert2):
    model = load_dnabert2(tiny_dnabert2)
    ids, mask = _padded_batch(model.config.vocab_size, [30, 9], pad_id=3)
    with torch.no_grad():
        sdpa = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        model.set_attn_implementation("eager")
        eager = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    torch.testing.assert_close(sdpa.logits, eager.logits, atol=1e-5, rtol=1e-5)
    for a, b in zip(sdpa.hidden_states, eager.hidden_states, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    with pytest.raises(ModelError, match="sdpa"):
        model.set_attn_implementation("flash_attention_2")


def test_dnabert2_outputs_do_not_depend_on_padding_or_batch_mates(tiny_dnabert2):
    model = load_dnabert2(tiny_dnabert2)
    ids, mask = _padded_batch(model.config.vocab_size, [9, 40, 25], pad_id=3, seed=3)
    with torch.no_grad():
        batched = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        alone = model(input_ids=ids[:1, :9], output_hidden_states=True)
    torch.testing.assert_close(batched.logits[:1], alone.logits, atol=1e-5, rtol=1e-5)
    assert len(batched.hidden_states) == model.config.num_hidden_layers + 1
    for layer_batched, layer_alone in zip(batched.hidden_states, alone.hidden_states, strict=True):
        torch.testing.assert_close(layer_batched[0, :9], layer_alone[0], atol=1e-5, rtol=1e-5)
        assert torch.all(layer_batched[0, 9:] == 0)  # padded positions are exactly zero, as in the remote code


def test_dnabert2_masks_by_attention_mask_not_by_token_id():
    """config pad_token_id is 0 ([UNK]) while the tokenizer pads with 3: an [UNK] inside a sequence is attended."""
    config = Dnabert2Config(
        vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64
    )
    model = Dnabert2Model(config).eval()
    ids = torch.tensor([[1, 0, 7, 8, 2], [1, 9, 2, 3, 3]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        without_unk = model(input_ids=torch.tensor([[1, 5, 7, 8, 2]])).last_hidden_state
        short = model(input_ids=ids[1:, :3]).last_hidden_state
    assert not torch.allclose(out[0, 0], without_unk[0, 0])  # the [UNK]=0 token was attended to
    torch.testing.assert_close(out[1, :3], short[0], atol=1e-5, rtol=1e-5)


def test_dnabert2_runs_past_alibi_starting_size_without_a_length_cap():
    config = Dnabert2Config(
        vocab_size=40, hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=48,
        alibi_starting_size=16, max_position_embeddings=16,
    )  # fmt: skip
    model = Dnabert2ForSequenceClassification(config).eval()
    ids, mask = _padded_batch(40, [70, 50], pad_id=3, seed=5)
    with torch.no_grad():
        hidden = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = model(input_ids=ids, attention_mask=mask).logits
    expected = reference_dnabert2(model.state_dict(), config, alibi_slopes(3), ids, mask)
    torch.testing.assert_close(hidden[mask.bool()], expected[mask.bool()], atol=1e-5, rtol=1e-5)
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
    assert model.bert.encoder._alibi.shape[-1] >= 70


def test_dnabert2_pooler_is_tanh_over_cls_and_losses_follow_bert(tiny_dnabert2):
    model = load_dnabert2(tiny_dnabert2, num_labels=3)
    ids, mask = _padded_batch(model.config.vocab_size, [10, 6], pad_id=3)
    with torch.no_grad():
        out = model.bert(input_ids=ids, attention_mask=mask)
        pooled = torch.tanh(
            out.last_hidden_state[:, 0] @ model.bert.pooler.dense.weight.T + model.bert.pooler.dense.bias
        )
        torch.testing.assert_close(out.pooler_output, pooled)
        single = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 2]))
        torch.testing.assert_close(single.loss, F.cross_entropy(single.logits, torch.tensor([0, 2])))
        as_tuple = model(input_ids=ids, attention_mask=mask, return_dict=False)
    assert model.config.problem_type == "single_label_classification"
    assert isinstance(as_tuple, tuple) and torch.equal(as_tuple[0], single.logits)
    multi_label = load_dnabert2(tiny_dnabert2, num_labels=3)
    targets = torch.tensor([[1.0, 0, 1], [0, 1, 0]])
    with torch.no_grad():
        multi = multi_label(input_ids=ids, attention_mask=mask, labels=targets)
    torch.testing.assert_close(multi.loss, F.binary_cross_entropy_with_logits(multi.logits, targets))
    regression = load_dnabert2(tiny_dnabert2, num_labels=1)
    assert regression.config.problem_type == "regression"
    with torch.no_grad():
        out = regression(input_ids=ids, attention_mask=mask, labels=torch.tensor([0.5, -1.0]))
    torch.testing.assert_close(out.loss, F.mse_loss(out.logits.squeeze(-1), torch.tensor([0.5, -1.0])))


def test_dnabert2_mlm_head_is_tied_and_learns(tiny_dnabert2):
    model = load_dnabert2(tiny_dnabert2, task="mlm")
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    ids, _ = _padded_batch(model.config.vocab_size, [24], pad_id=3, seed=7)
    ids = ids.repeat(4, 1)
    labels = torch.full_like(ids, -100)
    masked = ids.clone()
    for row in range(4):
        positions = torch.arange(2 + row, 22, 5)
        labels[row, positions] = ids[row, positions]
        masked[row, positions] = 4  # [MASK]
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        out = model(input_ids=masked, labels=labels)
        assert out.logits.shape == (4, 24, model.config.vocab_size)
        losses.append(out.loss.item())
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert losses[-1] < losses[0] * 0.7
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight


def test_real_dnabert2_tokenizer_ids_and_native_model_agree():
    if not REAL_DNABERT2_TOKENIZER.is_dir():
        pytest.skip(f"the real DNABERT-2 tokenizer copy is not at {REAL_DNABERT2_TOKENIZER}")
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    for tokenizer in (
        AutoTokenizer.from_pretrained(REAL_DNABERT2_TOKENIZER),
        PreTrainedTokenizerFast(
            tokenizer_file=str(REAL_DNABERT2_TOKENIZER / "tokenizer.json"),
            **json.loads((REAL_DNABERT2_TOKENIZER / "special_tokens_map.json").read_text()),
        ),
    ):
        assert (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id) == (1, 2, 3)
        assert tokenizer.convert_tokens_to_ids(["[UNK]", "[MASK]", "A", "C", "G", "T"]) == [0, 4, 5, 6, 7, 8]
        batch = tokenizer(["ACGTAGCATCGGATCTATCTATCGACACTTGG", "ACGT"], padding=True, return_tensors="pt")
        assert batch["input_ids"][0, 0] == 1 and batch["input_ids"][1, -1] == 3
    # A 4096-token native model consumes the real tokenizer's batches; [PAD]=3 is masked by attention_mask alone.
    config = Dnabert2Config(
        vocab_size=4096, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    model = Dnabert2ForSequenceClassification(config).eval()
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        short = tokenizer(["ACGT"], return_tensors="pt")
        alone = model(**{k: v for k, v in short.items() if k != "token_type_ids"}).logits
    torch.testing.assert_close(logits[1:], alone, atol=1e-5, rtol=1e-5)


def test_dnabert2_rejects_other_checkpoints_and_mismatched_heads(tiny_dnabert2, tiny_ntv2, tmp_path):
    with pytest.raises(ModelError, match="DNABERT-2"):
        load_dnabert2(tiny_ntv2)
    model = load_dnabert2(tiny_dnabert2, num_labels=2)
    model.save_pretrained(tmp_path / "two")
    with pytest.raises(ModelError, match="num_labels"):
        load_dnabert2(tmp_path / "two", num_labels=5)
    with pytest.raises(ModelError, match="task"):
        load_dnabert2(tiny_dnabert2, task="token-classification")
    with pytest.raises(ModelError, match="no weights"):
        shutil.copy(tiny_dnabert2 / "config.json", tmp_path / "config.json")
        load_dnabert2(tmp_path)


def test_hostile_pickle_weights_are_refused(tiny_dnabert2, tmp_path):
    folder = tmp_path / "hostile"
    shutil.copytree(tiny_dnabert2, folder)
    marker = tmp_path / "pickle-ran"
    torch.save({"weights": _PickleBomb(str(marker))}, folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match="weights_only"):
        load_dnabert2(folder)
    assert not marker.exists()


class _PickleBomb:
    """Unpickling this would create a file: torch.load(weights_only=True) must refuse it."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


# --------------------------------------------------------------------------------------------------------------------
# Remote code is never executed
# --------------------------------------------------------------------------------------------------------------------

BOOBY_TRAP = """import pathlib
pathlib.Path(__file__).with_name("REMOTE_CODE_RAN").write_text("{name}")
raise RuntimeError("remote code from {name} was executed")
"""


def _booby_trap(folder: Path, names: list[str]) -> None:
    for name in names:
        (folder / name).write_text(BOOBY_TRAP.format(name=name))


def test_loading_never_executes_code_shipped_with_the_checkpoint(tiny_dnabert2, tiny_ntv2, tmp_path):
    from transformers import AutoTokenizer

    dnabert2 = tmp_path / "dnabert2"
    shutil.copytree(tiny_dnabert2, dnabert2)
    _booby_trap(dnabert2, ["bert_layers.py", "configuration_bert.py", "bert_padding.py", "flash_attn_triton.py"])
    ntv2 = tmp_path / "ntv2"
    shutil.copytree(tiny_ntv2, ntv2)
    _booby_trap(ntv2, ["modeling_esm.py", "esm_config.py"])
    for task in ("classification", "mlm", "base"):
        assert load_dnabert2(dnabert2, task=task).load_report.ok
        assert load_ntv2(ntv2, task=task).load_report.ok
    assert Dnabert2ForSequenceClassification.from_pretrained(dnabert2) is not None
    AutoTokenizer.from_pretrained(dnabert2)
    AutoTokenizer.from_pretrained(ntv2)
    assert not (dnabert2 / "REMOTE_CODE_RAN").exists() and not (ntv2 / "REMOTE_CODE_RAN").exists()
    assert not {"bert_layers", "configuration_bert", "modeling_esm", "esm_config"} & set(sys.modules)


def test_loading_from_a_hub_repo_downloads_no_code(hub_server, tiny_dnabert2, tiny_ntv2, tmp_path):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    for folder, loader, traps in (
        (tiny_dnabert2, load_dnabert2, ["bert_layers.py", "configuration_bert.py"]),
        (tiny_ntv2, load_ntv2, ["modeling_esm.py", "esm_config.py"]),
    ):
        staged = tmp_path / folder.name
        shutil.copytree(folder, staged)
        _booby_trap(staged, traps)
        repo_id = f"alice/native-{uuid.uuid4().hex[:8]}"
        api.create_repo(repo_id)
        api.upload_folder(repo_id=repo_id, folder_path=staged)
        cache = tmp_path / f"cache-{folder.name}"
        model = loader(repo_id, cache_dir=cache, token=hub_server.token)
        assert model.load_report.ok and model.load_report.source == repo_id
        downloaded = {p.name for p in cache.rglob("*") if p.is_file() or p.is_symlink()}
        assert not {name for name in downloaded if name.endswith(".py")}
        assert "config.json" in downloaded
    with pytest.raises(ModelError, match="not found"):
        load_dnabert2(f"alice/missing-{uuid.uuid4().hex[:8]}", cache_dir=tmp_path / "none", token=hub_server.token)


# --------------------------------------------------------------------------------------------------------------------
# LoRA adapters keep the published module names
# --------------------------------------------------------------------------------------------------------------------


def _train_lora_and_reload(loader, path: Path, targets: list[str], adapter_dir: Path, pad_id: int):
    from peft import LoraConfig, PeftModel, TaskType, get_peft_model

    model = loader(path, num_labels=2)
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, lora_dropout=0.0, target_modules=targets,
        modules_to_save=["classifier"],
    )  # fmt: skip
    peft_model = get_peft_model(model, lora)
    ids, mask = _padded_batch(model.config.vocab_size, [16, 11, 16, 7], pad_id=pad_id, first=1 if pad_id == 3 else 3)
    labels = torch.tensor([0, 1, 0, 1])
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-2)
    peft_model.train()
    for _ in range(3):
        peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    peft_model.eval()
    with torch.no_grad():
        trained = peft_model(input_ids=ids, attention_mask=mask).logits
    peft_model.save_pretrained(adapter_dir)
    saved = load_file(adapter_dir / "adapter_model.safetensors")
    reloaded = PeftModel.from_pretrained(loader(path, num_labels=2), adapter_dir).eval()
    with torch.no_grad():
        again = reloaded(input_ids=ids, attention_mask=mask).logits
    return saved, trained, again


def test_dnabert2_lora_adapter_uses_the_remote_names_and_reloads_exactly(tiny_dnabert2, tmp_path):
    saved, trained, again = _train_lora_and_reload(
        load_dnabert2, tiny_dnabert2, DNABERT2_LORA_TARGETS, tmp_path / "adapter", pad_id=3
    )
    for name in (
        "base_model.model.bert.encoder.layer.0.attention.self.Wqkv.lora_A.weight",
        "base_model.model.bert.encoder.layer.0.attention.output.dense.lora_B.weight",
        "base_model.model.bert.encoder.layer.1.mlp.gated_layers.lora_A.weight",
        "base_model.model.bert.encoder.layer.1.mlp.wo.lora_B.weight",
        "base_model.model.classifier.weight",
    ):
        assert name in saved, name
    assert saved["base_model.model.bert.encoder.layer.0.attention.self.Wqkv.lora_B.weight"].abs().sum() > 0
    assert torch.equal(trained, again)
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert sorted(config["target_modules"]) == sorted(DNABERT2_LORA_TARGETS)


def test_ntv2_lora_adapter_uses_the_remote_names_and_reloads_exactly(tiny_ntv2, tmp_path):
    saved, trained, again = _train_lora_and_reload(
        load_ntv2, tiny_ntv2, NTV2_LORA_TARGETS, tmp_path / "adapter", pad_id=1
    )
    for name in (
        "base_model.model.esm.encoder.layer.0.attention.self.query.lora_A.weight",
        "base_model.model.esm.encoder.layer.0.attention.self.value.lora_B.weight",
        "base_model.model.esm.encoder.layer.1.attention.output.dense.lora_A.weight",
        "base_model.model.esm.encoder.layer.1.intermediate.dense.lora_A.weight",
        "base_model.model.esm.encoder.layer.1.output.dense.lora_B.weight",
        "base_model.model.classifier.out_proj.weight",
    ):
        assert name in saved, name
    assert torch.equal(trained, again)


# --------------------------------------------------------------------------------------------------------------------
# Nucleotide Transformer v2
# --------------------------------------------------------------------------------------------------------------------


def test_tiny_ntv2_has_the_published_layout(tiny_ntv2, tmp_path):
    config = json.loads((tiny_ntv2 / "config.json").read_text())
    assert config["model_type"] == "esm" and config["auto_map"] == NTV2_AUTO_MAP
    assert (config["add_bias_fnn"], config["position_embedding_type"], config["token_dropout"]) == (
        False,
        "rotary",
        False,
    )
    assert config["vocab_size"] == 4107
    state = load_file(tiny_ntv2 / "model.safetensors")
    for name in (
        "esm.encoder.layer.0.attention.self.rotary_embeddings.inv_freq",
        "esm.embeddings.position_embeddings.weight",
        "esm.encoder.emb_layer_norm_after.weight",
        "lm_head.decoder.weight",
        "lm_head.bias",
    ):
        assert name in state, name
    assert state["esm.encoder.layer.0.intermediate.dense.weight"].shape == (256, 64)
    assert (
        "esm.encoder.layer.0.intermediate.dense.bias" not in state
        and "esm.encoder.layer.0.output.dense.bias" not in state
    )
    again = load_file(build_tiny_ntv2(tmp_path / "again") / "model.safetensors")
    assert all(torch.equal(state[k], again[k]) for k in state)


def test_ntv2_tokenizer_makes_non_overlapping_6mers_with_only_cls(tiny_ntv2):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_ntv2)
    assert type(tokenizer).__name__ == "EsmTokenizer" and tokenizer.vocab_size == 4107
    encoded = tokenizer("ATCGATCGATTTNAAAAAACG")
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert tokens == ["<cls>", "ATCGAT", "CGATTT", "N", "AAAAAA", "C", "G"]
    assert (tokenizer.pad_token_id, tokenizer.mask_token_id, tokenizer.cls_token_id) == (1, 2, 3)
    assert tokenizer.convert_tokens_to_ids("AAAAAA") == 4 and tokenizer.convert_tokens_to_ids("<bos>") == 4106


@pytest.mark.parametrize("task", ["classification", "mlm", "base"])
def test_published_ntv2_checkpoint_loads_every_weight(tiny_ntv2, task):
    model = load_ntv2(tiny_ntv2, task=task)
    report = model.load_report
    assert report.ok and report.missing_keys == [] and report.unexpected_keys == []
    assert report.weights_file.endswith("model.safetensors")
    assert report.newly_initialized == (
        ["classifier.dense.bias", "classifier.dense.weight", "classifier.out_proj.bias", "classifier.out_proj.weight"]
        if task == "classification"
        else []
    )
    assert all("contact_head" in k or k.startswith(("lm_head.", "classifier.")) for k in report.unused_keys)
    published = load_file(tiny_ntv2 / "model.safetensors")
    own = model.state_dict()
    for key, tensor in published.items():
        name = key if task != "base" else key.removeprefix("esm.")
        if name in own:
            assert torch.equal(own[name], tensor), name


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_ntv2_matches_a_loop_over_heads_reference(tiny_ntv2, attn):
    model = load_ntv2(tiny_ntv2, task="mlm", attn_implementation=attn)
    ids, mask = _padded_batch(4107, [18, 11, 4], pad_id=1, first=3, seed=2)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    expected = reference_ntv2(model.state_dict(), model.config, ids, mask)
    real = mask.bool()
    torch.testing.assert_close(out.hidden_states[-1][real], expected[real], atol=1e-5, rtol=1e-5)
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1
    with torch.no_grad():
        alone = model(input_ids=ids[2:, :4]).logits
    torch.testing.assert_close(out.logits[2, :4], alone[0], atol=1e-5, rtol=1e-5)


def test_ntv2_matches_transformers_esm_with_a_swiglu_feed_forward(tiny_ntv2):
    """The parts NT v2 shares with ESM (query scaling, rotary, pre-LN, masking, LM head) match transformers' Esm."""
    from transformers import EsmConfig, EsmForMaskedLM

    from hubtune.models.ntv2 import NTv2Intermediate, NTv2Output

    ours = load_ntv2(tiny_ntv2, task="mlm")
    c = ours.config
    esm_config = EsmConfig(
        vocab_size=c.vocab_size, hidden_size=c.hidden_size, num_hidden_layers=c.num_hidden_layers,
        num_attention_heads=c.num_attention_heads, intermediate_size=c.intermediate_size,
        position_embedding_type="rotary", token_dropout=False, emb_layer_norm_before=False, pad_token_id=1,
        mask_token_id=2, layer_norm_eps=c.layer_norm_eps, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        max_position_embeddings=c.max_position_embeddings, tie_word_embeddings=False,
    )  # fmt: skip
    esm = EsmForMaskedLM(esm_config)
    for layer in esm.esm.encoder.layer:  # only the feed-forward differs
        layer.intermediate, layer.output = NTv2Intermediate(c), NTv2Output(c)
    missing, unexpected = esm.load_state_dict(ours.state_dict(), strict=False)
    assert all("contact_head" in k for k in missing) and unexpected == ["esm.embeddings.position_embeddings.weight"]
    esm.eval()
    ids, mask = _padded_batch(4107, [21, 12], pad_id=1, first=3, seed=4)
    with torch.no_grad():
        expected = esm(input_ids=ids, attention_mask=mask).logits
        got = ours(input_ids=ids, attention_mask=mask).logits
    real = mask.bool()
    torch.testing.assert_close(got[real], expected[real], atol=1e-4, rtol=1e-4)


def test_ntv2_save_round_trip_and_rejects_nt_v1(tiny_ntv2, tmp_path):
    from transformers import AutoModelForSequenceClassification, EsmConfig, EsmForMaskedLM

    model = load_ntv2(tiny_ntv2, num_labels=3)
    model.save_pretrained(tmp_path / "saved")
    saved = load_file(tmp_path / "saved" / "model.safetensors")
    assert "esm.encoder.layer.1.attention.self.rotary_embeddings.inv_freq" in saved
    ids, mask = _padded_batch(4107, [9, 5], pad_id=1, first=3)
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask).logits
    for reloaded in (
        load_ntv2(tmp_path / "saved", num_labels=3),
        NTv2ForSequenceClassification.from_pretrained(tmp_path / "saved"),
        AutoModelForSequenceClassification.from_pretrained(tmp_path / "saved"),
    ):
        assert all(torch.equal(reloaded.state_dict()[k], v) for k, v in model.state_dict().items())
        with torch.no_grad():
            assert torch.equal(reloaded.eval()(input_ids=ids, attention_mask=mask).logits, expected)
    mlm = NTv2ForMaskedLM.from_pretrained(tiny_ntv2)  # transformers' own loader reads the published layout too
    assert mlm.lm_head.decoder.weight is not mlm.esm.embeddings.word_embeddings.weight  # NT v2 does not tie

    v1 = EsmForMaskedLM(EsmConfig(vocab_size=4105, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=64, pad_token_id=1, mask_token_id=2))  # fmt: skip
    v1.save_pretrained(tmp_path / "v1")
    with pytest.raises(ModelError, match="v1"):
        load_ntv2(tmp_path / "v1")
    with pytest.raises(ModelError, match="Nucleotide Transformer v2"):
        load_ntv2(build_tiny_dnabert2(tmp_path / "d2"))


def test_ntv2_mlm_loss_decreases(tiny_ntv2):
    model = load_ntv2(tiny_ntv2, task="mlm")
    ids, _ = _padded_batch(4107, [20], pad_id=1, first=3, seed=9)
    ids = ids.repeat(3, 1)
    labels = torch.full_like(ids, -100)
    labels[:, 5:15:3] = ids[:, 5:15:3]
    masked = ids.masked_fill(labels != -100, 2)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(6):
        loss = model(input_ids=masked, labels=labels).loss
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert losses[-1] < losses[0] - 1.0  # clearly learning, not noise
