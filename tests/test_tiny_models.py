"""The tiny stand-in models: token embeddings are built from each token's bases, with the normalisation each tiny
model documents, deterministically."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

from hubtune.errors import ModelError
from hubtune.models import tiny_model_path
from hubtune.models.tiny import composition_embeddings, nt_vocabulary, ntv2_vocabulary

TOKENS = ["<pad>", "AAC", "GAC", "AAT", "GAT", "A", "G", "", "[CLS]"]


def _embeddings(normalisation: str, seed: int = 0) -> torch.Tensor:
    weight = torch.full((len(TOKENS), 16), 7.0)
    composition_embeddings(weight, TOKENS, seed, normalisation=normalisation)
    return weight


@pytest.mark.parametrize("normalisation", ["token_length", "longest_token"])
def test_composition_embeddings_are_sums_over_positions_and_bases(normalisation):
    weight = _embeddings(normalisation)
    row = {token: i for i, token in enumerate(TOKENS)}
    for untouched in ("<pad>", "", "[CLS]"):
        assert torch.equal(weight[row[untouched]], torch.full((16,), 7.0))
    # Changing the first base moves a token by the same vector whatever its other bases are.
    torch.testing.assert_close(weight[row["GAC"]] - weight[row["AAC"]], weight[row["GAT"]] - weight[row["AAT"]])
    assert not torch.allclose(weight[row["AAC"]], weight[row["AAT"]])
    assert torch.equal(weight, _embeddings(normalisation))
    assert not torch.allclose(weight[row["AAC"]], _embeddings(normalisation, seed=1)[row["AAC"]])


def test_the_normalisation_sets_how_token_length_scales_the_vectors():
    row = {token: i for i, token in enumerate(TOKENS)}
    for normalisation, factor in (("longest_token", 1.0), ("token_length", 1 / math.sqrt(3))):
        weight = _embeddings(normalisation)
        three_bases = weight[row["GAC"]] - weight[row["AAC"]]
        one_base = weight[row["G"]] - weight[row["A"]]
        torch.testing.assert_close(three_bases, one_base * factor)
    with pytest.raises(ValueError, match="normalisation"):
        composition_embeddings(torch.zeros(2, 4), ["A", "C"], 0, normalisation="mean")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "vocabulary", "factor"),
    [("tiny-nt", nt_vocabulary(), 1.0), ("tiny-ntv2", ntv2_vocabulary(), 1 / math.sqrt(6))],
)
def test_tiny_nt_models_keep_their_documented_normalisation(name, vocabulary, factor):
    """tiny-nt scales by the longest token (6-mers), tiny-ntv2 by each token's own length."""
    embeddings = load_file(tiny_model_path(name) / "model.safetensors")["esm.embeddings.word_embeddings.weight"]
    index = {token: i for i, token in enumerate(vocabulary)}
    six_mer_shift = embeddings[index["TAAAAA"]] - embeddings[index["AAAAAA"]]
    single_shift = embeddings[index["T"]] - embeddings[index["A"]]
    torch.testing.assert_close(six_mer_shift, single_shift * factor)


def test_an_unknown_tiny_model_is_a_model_error():
    with pytest.raises(ModelError, match="tiny-dnabert2, tiny-nt, tiny-nt-pretrained, tiny-ntv2"):
        tiny_model_path("tiny-bert")
