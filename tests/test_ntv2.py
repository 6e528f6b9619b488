"""Native Nucleotide Transformer v2: the published checkpoint loads without remote code, matches an independent
reference and transformers' ESM (apart from the SwiGLU feed-forward), and survives save/load and LoRA round trips."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from native_helpers import (
    check_lora_round_trip,
    check_padding_free_matches_padded,
    padded_batch,
    reference_ntv2,
    rows_seen_by,
)
from safetensors.torch import load_file

from hubtune.errors import ModelError
from hubtune.models.ntv2 import (
    NTV2_AUTO_MAP,
    NTv2ForMaskedLM,
    NTv2ForSequenceClassification,
    load_ntv2,
)
from hubtune.models.tiny import build_tiny_dnabert2, build_tiny_ntv2
from hubtune.models.unpad import set_padding_free

NTV2_LORA_TARGETS = ["query", "key", "value", "dense"]


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
    ids, mask = padded_batch(4107, [18, 11, 4], pad_id=1, first=3, seed=2)
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
    ids, mask = padded_batch(4107, [21, 12], pad_id=1, first=3, seed=4)
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
    ids, mask = padded_batch(4107, [9, 5], pad_id=1, first=3)
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
    ids, _ = padded_batch(4107, [20], pad_id=1, first=3, seed=9)
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


def test_ntv2_lora_adapter_uses_the_remote_names_and_reloads_exactly(tiny_ntv2, tmp_path):
    expected_names = (
        "base_model.model.esm.encoder.layer.0.attention.self.query.lora_A.weight",
        "base_model.model.esm.encoder.layer.0.attention.self.value.lora_B.weight",
        "base_model.model.esm.encoder.layer.1.attention.output.dense.lora_A.weight",
        "base_model.model.esm.encoder.layer.1.intermediate.dense.lora_A.weight",
        "base_model.model.esm.encoder.layer.1.output.dense.lora_B.weight",
        "base_model.model.classifier.out_proj.weight",
    )
    check_lora_round_trip(
        load_ntv2, tiny_ntv2, NTV2_LORA_TARGETS, tmp_path / "adapter", pad_id=1, expected_names=expected_names
    )


# --------------------------------------------------------------------------------------------------------------------
# Padding-free execution
# --------------------------------------------------------------------------------------------------------------------


def test_ntv2_padding_free_matches_the_padded_computation_and_each_sequence_alone(tiny_ntv2):
    model = load_ntv2(tiny_ntv2, num_labels=3)
    check_padding_free_matches_padded(model, [2, 45, 11, 1, 45, 30], pad_id=1, first=3, seed=1)


def test_ntv2_linear_layers_see_only_real_tokens_and_left_padding_changes_nothing(tiny_ntv2):
    model = load_ntv2(tiny_ntv2, task="mlm")
    ids, mask = padded_batch(4107, [20, 3, 9], pad_id=1, first=3)
    names = ("query", "key", "value", "output.dense", "intermediate.dense")
    seen = rows_seen_by(model, names, ids, mask)
    assert seen == {name: {32} for name in ("query", "key", "value", "dense")}
    set_padding_free(model, False)
    assert rows_seen_by(model, names, ids, mask)["query"] == {60}
    set_padding_free(model, True)
    left_ids, left_mask = ids.clone(), mask.clone()
    left_ids[1] = torch.cat([ids[1, 3:], ids[1, :3]])
    left_mask[1] = torch.cat([mask[1, 3:], mask[1, :3]])
    with torch.no_grad():
        right = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        left = model(input_ids=left_ids, attention_mask=left_mask, output_hidden_states=True)
    torch.testing.assert_close(left.hidden_states[-1][1, -3:], right.hidden_states[-1][1, :3], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(left.logits[0], right.logits[0])
    assert torch.all(left.hidden_states[-1][1, :-3] == 0)


def test_ntv2_attention_weights_and_half_precision_padding_free(tiny_ntv2):
    model = load_ntv2(tiny_ntv2, attn_implementation="eager")
    ids, mask = padded_batch(4107, [10, 4], pad_id=1, first=3)
    ids, mask = F.pad(ids, (0, 2), value=1), F.pad(mask, (0, 2))
    with torch.no_grad():
        free = model(input_ids=ids, attention_mask=mask, output_attentions=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model(input_ids=ids, attention_mask=mask).logits
        set_padding_free(model, False)
        padded = model(input_ids=ids, attention_mask=mask, output_attentions=True)
    for a, b in zip(free.attentions, padded.attentions, strict=True):
        assert a.shape == b.shape == (2, model.config.num_attention_heads, 12, 12)
        torch.testing.assert_close(a[1, :, :4], b[1, :, :4])
        assert torch.all(a[1, :, :, 4:] == 0)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), free.logits, atol=5e-2, rtol=5e-2)
