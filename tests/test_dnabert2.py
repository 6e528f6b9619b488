"""Native DNABERT-2: the published checkpoint loads without remote code, computes what the remote code computes
(checked against an independent reference), and survives save/load and LoRA round trips."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from native_helpers import (
    check_lora_round_trip,
    check_padding_free_matches_padded,
    gradients,
    padded_batch,
    reference_dnabert2,
    rows_seen_by,
)
from safetensors.torch import load_file

from hubtune.errors import ModelError
from hubtune.models.dnabert2 import (
    DNABERT2_AUTO_MAP,
    Dnabert2Config,
    Dnabert2ForSequenceClassification,
    Dnabert2Model,
    alibi_slopes,
    load_dnabert2,
)
from hubtune.models.tiny import build_tiny_dnabert2
from hubtune.models.unpad import gather_rows, scatter_rows, set_padding_free, token_layout

REAL_DNABERT2_TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "models" / "dnabert2-tokenizer"
DNABERT2_LORA_TARGETS = ["Wqkv", "dense", "gated_layers", "wo"]


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

    ids, mask = padded_batch(model.config.vocab_size, [12, 7], pad_id=3)
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
    ids, mask = padded_batch(model.config.vocab_size, [20, 13, 5], pad_id=3, seed=heads)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    state = torch.load(path / "pytorch_model.bin", weights_only=True)
    expected = reference_dnabert2(state, model.config, alibi_slopes(heads), ids, mask)
    real = mask.bool()
    torch.testing.assert_close(hidden[real], expected[real], atol=1e-5, rtol=1e-5)
    assert torch.all(hidden[~real] == 0)


def test_dnabert2_sdpa_and_eager_paths_agree_and_can_be_switched(tiny_dnabert2):
    model = load_dnabert2(tiny_dnabert2)
    ids, mask = padded_batch(model.config.vocab_size, [30, 9], pad_id=3)
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
    ids, mask = padded_batch(model.config.vocab_size, [9, 40, 25], pad_id=3, seed=3)
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
    ids, mask = padded_batch(40, [70, 50], pad_id=3, seed=5)
    with torch.no_grad():
        hidden = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = model(input_ids=ids, attention_mask=mask).logits
    expected = reference_dnabert2(model.state_dict(), config, alibi_slopes(3), ids, mask)
    torch.testing.assert_close(hidden[mask.bool()], expected[mask.bool()], atol=1e-5, rtol=1e-5)
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()


def test_dnabert2_pooler_is_tanh_over_cls_and_losses_follow_bert(tiny_dnabert2):
    model = load_dnabert2(tiny_dnabert2, num_labels=3)
    ids, mask = padded_batch(model.config.vocab_size, [10, 6], pad_id=3)
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
    ids, _ = padded_batch(model.config.vocab_size, [24], pad_id=3, seed=7)
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


# --------------------------------------------------------------------------------------------------------------------
# LoRA adapters keep the published module names
# --------------------------------------------------------------------------------------------------------------------


def test_dnabert2_lora_adapter_uses_the_remote_names_and_reloads_exactly(tiny_dnabert2, tmp_path):
    expected_names = (
        "base_model.model.bert.encoder.layer.0.attention.self.Wqkv.lora_A.weight",
        "base_model.model.bert.encoder.layer.0.attention.output.dense.lora_B.weight",
        "base_model.model.bert.encoder.layer.1.mlp.gated_layers.lora_A.weight",
        "base_model.model.bert.encoder.layer.1.mlp.wo.lora_B.weight",
        "base_model.model.classifier.weight",
    )
    adapter = tmp_path / "adapter"
    saved = check_lora_round_trip(
        load_dnabert2, tiny_dnabert2, DNABERT2_LORA_TARGETS, adapter, pad_id=3, expected_names=expected_names
    )
    assert saved["base_model.model.bert.encoder.layer.0.attention.self.Wqkv.lora_B.weight"].abs().sum() > 0
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert sorted(config["target_modules"]) == sorted(DNABERT2_LORA_TARGETS)


# --------------------------------------------------------------------------------------------------------------------
# Padding-free execution
# --------------------------------------------------------------------------------------------------------------------


def test_token_layout_packs_real_tokens_and_pads_them_back():
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 1, 1, 1, 0, 0], [1, 0, 1, 0, 0, 0]])  # right, left, holes
    layout = token_layout(mask)
    assert (layout.batch, layout.width, layout.span, layout.tokens) == (3, 6, 4, 8)
    values = torch.arange(18.0).view(3, 6, 1)
    packed = layout.pack(values)
    assert packed.flatten().tolist() == [0.0, 1.0, 2.0, 7.0, 8.0, 9.0, 12.0, 14.0]
    back = layout.pad_back(packed)
    assert back.shape == (3, 6, 1) and torch.equal(back[..., 0], values[..., 0] * mask)
    assert layout.key_bias(torch.float32).shape == (3, 1, 1, 4)
    full = token_layout(torch.ones(2, 5, dtype=torch.long))  # no padding: no gather, no mask
    assert full.indices is None and full.real is None and full.key_bias(torch.float32) is None
    trimmed = token_layout(torch.tensor([[1, 1, 0], [1, 1, 0]]))  # equal lengths padded further: trim only
    assert trimmed.indices is None and trimmed.span == 2 and trimmed.pad_back(torch.ones(4, 1)).shape == (2, 3, 1)
    padded = token_layout(mask, padding_free=False)
    assert padded.span == 6 and padded.tokens == 18 and torch.equal(padded.pad_back(values.view(18, 1))[..., 0],
                                                                     values[..., 0] * mask)  # fmt: skip


def test_gather_and_scatter_rows_have_exact_gradients():
    indices = torch.tensor([4, 0, 2])
    source = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    packed = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: gather_rows(x, indices), (source,))
    assert torch.autograd.gradcheck(lambda x: scatter_rows(x, indices, 5), (packed,))
    assert torch.equal(gather_rows(scatter_rows(packed, indices, 5), indices), packed)


def test_dnabert2_padding_free_matches_the_padded_computation_and_each_sequence_alone(tiny_dnabert2):
    model = load_dnabert2(tiny_dnabert2, num_labels=3)
    check_padding_free_matches_padded(model, [40, 3, 17, 1, 40, 26], pad_id=3, first=1)


def test_dnabert2_dense_layers_and_mlp_see_only_real_tokens(tiny_dnabert2):
    model = load_dnabert2(tiny_dnabert2)
    ids, mask = padded_batch(model.config.vocab_size, [30, 4, 12], pad_id=3)
    ids, mask = F.pad(ids, (0, 5), value=3), F.pad(mask, (0, 5))
    names = ("Wqkv", "output.dense", "gated_layers", "wo")
    assert rows_seen_by(model, names, ids, mask) == {"Wqkv": {46}, "dense": {46}, "gated_layers": {46}, "wo": {46}}
    set_padding_free(model, False)
    assert rows_seen_by(model, names, ids, mask)["gated_layers"] == {3 * 35}
    set_padding_free(model, True)
    full = torch.ones_like(mask)
    assert token_layout(full).indices is None  # a batch without padding is never gathered
    assert rows_seen_by(model, names, ids, full)["Wqkv"] == {3 * 35}


def test_dnabert2_attention_weights_keep_the_padded_shape(tiny_dnabert2):
    model = load_dnabert2(tiny_dnabert2, attn_implementation="eager")
    ids, mask = padded_batch(model.config.vocab_size, [12, 5], pad_id=3)
    ids, mask = F.pad(ids, (0, 3), value=3), F.pad(mask, (0, 3))
    with torch.no_grad():
        free = model(input_ids=ids, attention_mask=mask, output_attentions=True).attentions
        set_padding_free(model, False)
        padded = model(input_ids=ids, attention_mask=mask, output_attentions=True).attentions
    assert len(free) == model.config.num_hidden_layers
    for a, b in zip(free, padded, strict=True):
        assert a.shape == b.shape == (2, model.config.num_attention_heads, 15, 15)
        torch.testing.assert_close(a[0, :, :12], b[0, :, :12])
        torch.testing.assert_close(a[1, :, :5], b[1, :, :5])
        assert torch.all(a[1, :, :, 5:] == 0)  # padded keys get no weight


def test_dnabert2_lora_trains_padding_free_with_gradient_checkpointing_and_autocast(tiny_dnabert2):
    from peft import LoraConfig, TaskType, get_peft_model

    model = load_dnabert2(tiny_dnabert2, num_labels=2)
    model.config.hidden_dropout_prob = 0.0
    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, lora_dropout=0.0,
                      target_modules=DNABERT2_LORA_TARGETS)  # fmt: skip
    peft_model = get_peft_model(model, lora).eval()  # eval: no dropout, so both runs see the same network
    ids, mask = padded_batch(model.config.vocab_size, [25, 6, 14, 25], pad_id=3)
    labels = torch.tensor([0, 1, 1, 0])
    peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    plain = gradients(peft_model)
    assert any("lora_A" in name for name in plain) and all("lora_" in n or "classifier" in n for n in plain)
    peft_model.base_model.model.gradient_checkpointing_enable()
    peft_model.base_model.model.train()
    for module in peft_model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    calls = []
    wqkv = peft_model.base_model.model.bert.encoder.layer[0].attention.self.Wqkv
    handle = wqkv.register_forward_pre_hook(lambda *_: calls.append(1))
    peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    handle.remove()
    assert len(calls) == 2  # the layer was recomputed during backward
    checkpointed = gradients(peft_model)
    assert plain.keys() == checkpointed.keys()
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, atol=1e-6, rtol=1e-5)
    peft_model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        half = peft_model(input_ids=ids, attention_mask=mask).logits
        set_padding_free(peft_model, False)
        half_padded = peft_model(input_ids=ids, attention_mask=mask).logits
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), half_padded.float(), atol=2e-2, rtol=2e-2)
