"""The pre-trained embeddings cache: computed once per model, weights, token budget and sequences; reused exactly."""

from __future__ import annotations

import os

import numpy as np

from hubtune.embedding_cache import base_embeddings, cache_key, weights_fingerprint
from hubtune.models import load_base_model, load_tokenizer, resolve_model

SEQUENCES = {"train": ["ACGTACGTTTGACA", "TTTTAAAACCCCGG", "GATTACAGATTACA"], "dev": ["ACGTTGCAACGT"]}


def _embed(resolved, tokenizer, loads: list[int], max_length: int = 8):
    def load_base():
        loads.append(1)
        return load_base_model(resolved.name, 2, resolved=resolved)

    return base_embeddings(resolved, load_base, tokenizer, SEQUENCES, max_length=max_length, batch_size=2)


def test_second_computation_is_served_from_the_cache_bit_for_bit(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBTUNE_CACHE", str(tmp_path))
    resolved = resolve_model("tiny-nt")
    tokenizer = load_tokenizer("tiny-nt", resolved=resolved)
    loads: list[int] = []
    first, hits = _embed(resolved, tokenizer, loads)
    assert hits == 0 and len(loads) == 1
    again, hits = _embed(resolved, tokenizer, loads)
    assert hits == 2 and len(loads) == 1, "a fully cached run never loads the base model"
    for split in SEQUENCES:
        np.testing.assert_array_equal(first[split], again[split])
    _, hits = _embed(resolved, tokenizer, loads, max_length=6)  # another token budget: other embeddings
    assert hits == 0 and len(loads) == 2
    assert len(list((tmp_path / "embeddings").glob("*.safetensors"))) == 4


def test_keys_follow_weights_sequences_and_revision(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"x")
    local = weights_fingerprint(tmp_path, None)
    assert cache_key("m", local, 8, ["ACGT"]) != cache_key("m", local, 8, ["ACGA"])
    os.utime(weights, ns=(1, 1))  # the weights changed on disk
    assert weights_fingerprint(tmp_path, None) != local
    assert cache_key("user/m", weights_fingerprint("user/m", None), 8, ["ACGT"]) is None  # unknown revision: no cache
    assert cache_key("user/m", "rev:abc", 8, ["ACGT"]) != cache_key("user/m", "rev:abd", 8, ["ACGT"])


def test_a_damaged_entry_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBTUNE_CACHE", str(tmp_path))
    resolved = resolve_model("tiny-nt")
    tokenizer = load_tokenizer("tiny-nt", resolved=resolved)
    first, _ = _embed(resolved, tokenizer, [])
    for entry in (tmp_path / "embeddings").glob("*.safetensors"):
        entry.write_bytes(b"not safetensors")
    again, hits = _embed(resolved, tokenizer, [])
    assert hits == 0
    np.testing.assert_array_equal(first["train"], again["train"])


def test_caching_can_be_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBTUNE_EMBEDDING_CACHE", "off")
    resolved = resolve_model("tiny-nt")
    tokenizer = load_tokenizer("tiny-nt", resolved=resolved)
    loads: list[int] = []
    _embed(resolved, tokenizer, loads)
    _, hits = _embed(resolved, tokenizer, loads)
    assert hits == 0 and len(loads) == 2
