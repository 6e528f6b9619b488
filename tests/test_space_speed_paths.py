"""The Space's one-pass inference (`hubtune.serving.passes`): the same probabilities and embeddings as
`hubtune.predict.Classifier` on every served family, LoRA merged for the pass without touching the model, and the
base model's pass computed once per base model and reused by its adapters, later requests and the projection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shared_runs import one_torch_thread

from hubtune.serving import ModelCache, SpaceBackend
from hubtune.serving.passes import (
    MERGE_MIN_WINDOWS,
    WindowMemo,
    embeddings,
    encode_windows,
    merged_lora_weights,
    token_batches,
)

LABELS = ["background", "promoter"]
MAX_LENGTH = 18  # tokens: several windows per sequence below


def make_lora_run(base: str, folder: Path, *, seed: int) -> Path:
    """A LoRA run folder as training writes it, with random LoRA, head and base-probe weights."""
    import torch

    from hubtune.heads import LinearHead
    from hubtune.jsonio import write_json
    from hubtune.methods import LoraMethodConfig
    from hubtune.models import load_base_model, resolve_model
    from hubtune.run import BASE_PROBE_FILE, METRICS_FILE, RunInfo

    resolved = resolve_model(base)
    torch.manual_seed(seed)
    model = load_base_model(base, len(LABELS), label_names=LABELS, resolved=resolved)
    method = LoraMethodConfig()
    peft_model = method.prepare(model, resolved.family)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.2)  # fresh LoRA B is zero: make the adapter change the model
            elif "modules_to_save" in name:
                param.normal_(0, 0.2)
    method.save(peft_model, folder, base_model=base, base_revision=None)
    rng = np.random.default_rng(seed)
    LinearHead(rng.normal(0, 0.5, (len(LABELS), model.config.hidden_size)), rng.normal(0, 0.1, len(LABELS))).save(
        folder / BASE_PROBE_FILE)
    window_bp = resolved.family.window_bp(MAX_LENGTH)
    RunInfo(label_names=LABELS, method=method.name, base_model=base, family=resolved.family.name, task="speed",
            max_length=MAX_LENGTH, window_bp=window_bp, stride_bp=max(1, window_bp // 2),
            method_config=method.to_dict()).write(folder)
    write_json(folder / METRICS_FILE, {})
    return folder


def _records(n: int, seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 260, size=n)  # one to several windows, many token lengths
    return [(f"s{i}", "".join(rng.choice(list("ACGT"), size=int(length)))) for i, length in enumerate(lengths)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("speed-runs")
    with one_torch_thread():
        return {base: [make_lora_run(base, root / f"{base}-{seed}", seed=seed) for seed in (1, 2)]
                for base in ("tiny-nt", "tiny-ntv2", "tiny-dnabert2")}


def _rows_counter(model):
    """Count the rows the encoder of `model` runs, with the adapter on and off."""
    inner = model.get_base_model()
    counts = {"rows": 0}

    def hook(_module, args, kwargs):
        mask = kwargs.get("attention_mask")
        counts["rows"] += int(mask.shape[0] if mask is not None else args[0].shape[0])

    return counts, inner.base_model.register_forward_pre_hook(hook, with_kwargs=True)


@pytest.mark.parametrize("base", ["tiny-nt", "tiny-ntv2", "tiny-dnabert2"])
def test_one_pass_answers_equal_the_classifier_for_adapter_and_base(runs, base):
    records = _records(12, seed=3)
    seqs = [s for _, s in records]
    with one_torch_thread():
        cache = ModelCache(device="cpu", allow_local_paths=True)
        backend = SpaceBackend(cache, batch_size=4)
        comparison = backend.classify(records, [str(runs[base][0]), str(runs[base][1])])
        for run, prediction in zip(runs[base], comparison.predictions, strict=True):
            with cache.use(str(run)) as clf:
                assert merged_lora_weights(clf.model) is not None  # the merged-weights path runs here
                probs, tracks = clf.predict_windows(seqs)
                base_probs = clf.predict_base_proba(seqs)
                assert sum(len(t) for t in tracks) >= MERGE_MIN_WINDOWS
                fine_emb = clf.embeddings(seqs)
                base_emb = clf.embeddings(seqs, fine_tuned=False)
            np.testing.assert_allclose(prediction.probs, probs, atol=1e-5, rtol=0)
            np.testing.assert_allclose(prediction.base_probs, base_probs, atol=1e-5, rtol=0)
            for new, old in zip(prediction.tracks, tracks, strict=True):
                np.testing.assert_allclose(new, old, atol=1e-5, rtol=0)
            with cache.serve(str(run)) as served:
                np.testing.assert_allclose(embeddings(served, seqs, fine_tuned=True, batch_size=4), fine_emb,
                                           atol=1e-5, rtol=0)
                np.testing.assert_allclose(embeddings(served, seqs, fine_tuned=False, batch_size=4), base_emb,
                                           atol=1e-5, rtol=0)
        assert abs(comparison.predictions[0].probs - comparison.predictions[1].probs).max() > 1e-3  # two models


def test_base_pass_runs_once_per_base_and_is_reused_by_later_requests_and_the_projection(runs):
    a, b = (str(p) for p in runs["tiny-ntv2"])
    records = _records(10, seed=5)
    with one_torch_thread():
        cache = ModelCache(device="cpu", allow_local_paths=True)
        backend = SpaceBackend(cache)
        backend.classify(_records(1, seed=6), [a, b])  # both adapters loaded on one base (other sequences)
        with cache.use(a) as clf:
            windows = sum(len(clf.windowing.windows(s)) for _, s in records)
            counts, handle = _rows_counter(clf.model)
        try:
            first = backend.classify(records, [a, b])
            # adapter a, adapter b, and the base once for both (before: the base once per adapter)
            assert counts["rows"] == 3 * windows
            counts["rows"] = 0
            again = backend.classify(records, [b, a])
            assert counts["rows"] == 0  # every window's outputs are kept
            fits = [(i, s[:100]) for i, s in records]  # one window each: projection reuses classify's pass
            backend.classify(fits, [a])
            counts["rows"] = 0
            backend.project(fits, a)
            assert counts["rows"] == 0
        finally:
            handle.remove()
    np.testing.assert_array_equal(first.predictions[0].probs, again.predictions[1].probs)
    np.testing.assert_array_equal(first.predictions[0].base_probs, again.predictions[1].base_probs)


def test_merged_lora_pass_leaves_the_model_unchanged_and_equals_peft(runs):
    import torch

    seqs = [s for _, s in _records(10, seed=7)]
    with one_torch_thread():
        cache = ModelCache(device="cpu", allow_local_paths=True, memo_bytes=0)
        with cache.use(str(runs["tiny-nt"][0])) as clf:
            before = {k: v.clone() for k, v in clf.model.state_dict().items()}
            merged = encode_windows(clf.model, clf.tokenizer, seqs, max_length=MAX_LENGTH, batch_size=4)
            peft_logits = encode_windows(clf.model, clf.tokenizer, seqs[:MERGE_MIN_WINDOWS - 1],
                                         max_length=MAX_LENGTH, batch_size=4).logits  # too few: peft's layers
            after = clf.model.state_dict()
            assert all(torch.equal(before[k], after[k]) for k in before)
            assert clf.model.active_adapter == "adapter1" and not clf.model.training
    assert merged.logits is not None and peft_logits is not None
    np.testing.assert_allclose(merged.logits[: MERGE_MIN_WINDOWS - 1], peft_logits, atol=1e-5, rtol=0)


def test_adapters_that_cannot_be_merged_run_through_peft():
    from peft import LoraConfig, get_peft_model

    from hubtune.models import load_base_model

    with one_torch_thread():
        base = load_base_model("tiny-nt", 2, label_names=LABELS)
        dora = get_peft_model(base, LoraConfig(r=4, target_modules=["query", "value"], use_dora=True))
        assert merged_lora_weights(dora) is None
        assert merged_lora_weights(dora.get_base_model()) is None  # not a peft model at all


def test_window_memo_keeps_the_most_recent_entries_within_its_byte_budget():
    memo = WindowMemo(max_bytes=3 * 16)
    for i in range(4):
        memo.put(i, None, np.zeros(4, dtype=np.float32))  # 16 bytes each
    assert len(memo) == 3 and memo.get(0) is None and memo.nbytes == 48
    assert memo.get(1) is not None  # now most recent
    memo.put(4, np.zeros(2, dtype=np.float32), np.zeros(2, dtype=np.float32))
    assert memo.get(2) is None and memo.get(1) is not None and memo.nbytes == 48
    memo.put(5, None, np.zeros(100, dtype=np.float32))  # larger than the whole budget: not kept
    assert memo.get(5) is None and len(memo) == 3
    assert len(WindowMemo(max_bytes=0)) == 0


def test_token_batches_group_similar_lengths_within_rows_and_tokens():
    lengths = [51, 10, 51, 9, 30, 51, 11]
    batches = token_batches(lengths, max_rows=2, max_tokens=120)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 2 and len(batch) * max(lengths[i] for i in batch) <= 120
    assert batches[0] == [3, 1]  # the shortest together
    assert token_batches([500], max_rows=4, max_tokens=100) == [[0]]  # a window longer than the budget runs alone
