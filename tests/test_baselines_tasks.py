"""Linear heads and baselines for every problem type: ridge and one-vs-rest heads, the k-mer baseline, the probe."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from hubtune.evaluate import KMER_ALPHA_GRID, KMER_CHOICES, kmer_baseline, kmer_features
from hubtune.heads import (
    ALPHA_GRID,
    C_GRID,
    LinearHead,
    fit_head_tuned,
    fit_logistic_head_tuned,
    selection_score,
)
from hubtune.methods.probe import ProbeConfig
from hubtune.metrics import compute_metrics
from hubtune.metrics_regression import mean_spearman
from hubtune.problems import get_problem

MOTIFS = ("GATTACA", "CCGCGGT", "TTTAAAG")


def _motif_task(n: int, seed: int, slots: int = 8) -> tuple[list[str], list[tuple[float]], list[tuple[int, ...]]]:
    """Sequences of 10-bp slots; the first motif is planted in 0-4 slots, the others in at most one slot each.

    Returns the sequences, the regression target (occurrences of the first motif plus noise) and the label sets
    (which motifs occur)."""
    rng = np.random.default_rng(seed)
    seqs, targets, label_sets = [], [], []
    for _ in range(n):
        chunks = ["".join(rng.choice(list("ACGT"), 10)) for _ in range(slots)]
        order = rng.permutation(slots)
        for i in order[: int(rng.integers(0, 5))]:
            chunks[i] = MOTIFS[0] + chunks[i][7:]
        for motif, slot in ((MOTIFS[1], order[-1]), (MOTIFS[2], order[-2])):
            if rng.random() < 0.35:
                chunks[slot] = motif + chunks[slot][7:]
        text = "".join(chunks)
        seqs.append(text)
        targets.append((text.count(MOTIFS[0]) + float(rng.normal(0, 0.3)),))
        label_sets.append(tuple(int(m in text) for m in MOTIFS))
    return seqs, targets, label_sets


def test_ridge_head_recovers_a_planted_signal_in_the_targets_units_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 20))

    def rows(n):
        x = rng.normal(size=(n, 20)) * rng.uniform(0.5, 5, 20) + 3
        return x, [tuple(v) for v in x @ w.T * 50 + np.array([100.0, -7.0]) + rng.normal(0, 5, (n, 2))]

    (train_x, train_y), (dev_x, dev_y) = rows(300), rows(100)
    head, alpha = fit_head_tuned("regression", train_x, train_y, dev_x, dev_y, 2, seed=0)
    predicted = get_problem("regression").outputs(head.logits(dev_x))
    assert head.weight.shape == (2, 20) and alpha in ALPHA_GRID
    assert mean_spearman(np.array(dev_y), predicted) > 0.9
    # identity outputs in the targets' own units, not standardised ones
    assert np.abs(predicted.mean(axis=0) - np.mean(dev_y, axis=0)).max() < 0.1 * np.std(dev_y, axis=0).min()
    head.save(tmp_path / "ridge.safetensors")
    loaded = LinearHead.load(tmp_path / "ridge.safetensors")
    assert loaded is not None and np.allclose(loaded.logits(dev_x), predicted, rtol=1e-5, atol=1e-3)
    again, _ = fit_head_tuned("regression", train_x, train_y, dev_x, dev_y, 2, seed=0)
    assert np.array_equal(again.weight, head.weight) and np.array_equal(again.bias, head.bias)


def test_ties_go_to_the_stronger_regularisation_for_every_problem_type():
    x = np.arange(8, dtype=float).reshape(-1, 1)
    targets = [(float(v),) for v in range(8)]  # every alpha ranks dev perfectly
    assert fit_head_tuned("regression", x, targets, x, targets, 1)[1] == max(ALPHA_GRID)
    label_sets = [(int(v >= 4), int(v % 2)) for v in range(8)]
    separable = [(int(v >= 4),) for v in range(8)]  # every C ranks dev perfectly
    assert fit_head_tuned("multi_label", x, separable, x, separable, 1)[1] == min(C_GRID)
    assert fit_head_tuned("multi_label", x, label_sets, x, label_sets, 2)[1] in C_GRID


def test_one_vs_rest_head_learns_planted_labels_and_handles_labels_with_one_class():
    rng = np.random.default_rng(1)

    def rows(n):
        x = rng.normal(size=(n, 12))
        y = (x[:, :3] + rng.normal(0, 0.5, (n, 3)) > np.array([0.0, 0.8, 1.2])).astype(int)
        # label 3 never occurs in train, label 4 always does
        return x, np.column_stack([y, np.zeros(n, int), np.ones(n, int)])

    (train_x, train_y), (dev_x, dev_y) = rows(400), rows(200)
    dev_y[:5, 3] = 1  # a label unseen in train may still occur later
    head, c = fit_head_tuned("multi_label", train_x, [tuple(r) for r in train_y], dev_x, [tuple(r) for r in dev_y], 5)
    probs = get_problem("multi_label").outputs(head.logits(dev_x))
    assert head.weight.shape == (5, 12) and c in C_GRID and np.isfinite(probs).all()
    for j in range(3):
        prevalence = dev_y[:, j].mean()
        assert average_precision_score(dev_y[:, j], probs[:, j]) > prevalence + 0.3
    assert np.all(head.weight[3:] == 0)
    assert np.all(probs[:, 3] < 0.01) and np.all(probs[:, 4] > 0.99)
    assert probs[:, 3].min() == probs[:, 3].max()  # a constant: no ranking invented from noise
    assert 0 < probs[:, 3].min()  # clipped: a finite log-odds, not -inf
    assert selection_score("multi_label", dev_y, probs) > 0.5


def test_single_label_dispatch_is_the_logistic_head():
    x = np.random.default_rng(2).normal(size=(60, 4))
    y = [int(v > 0) for v in x[:, 0]]
    ours, c = fit_head_tuned("single_label", x, y, x, y, 2, seed=3)
    theirs, c_old = fit_logistic_head_tuned(x, y, x, y, 2, seed=3)
    assert c == c_old and np.array_equal(ours.weight, theirs.weight) and np.array_equal(ours.bias, theirs.bias)


@pytest.fixture(scope="module")
def motif_splits():
    return {"train": _motif_task(300, 1), "dev": _motif_task(100, 2), "test": _motif_task(100, 3)}


def test_kmer_baseline_regression_reaches_the_planted_motif_count(motif_splits):
    train, dev, test = motif_splits["train"], motif_splits["dev"], motif_splits["test"]
    result = kmer_baseline(train[0], train[1], {"dev": (dev[0], dev[1]), "test": (test[0], test[1])}, 1,
                           ["activity"], problem="regression")
    assert result["test"]["spearman"] > 0.8
    assert result["regularisation"] == "alpha" and result["c"] in KMER_ALPHA_GRID
    assert tuple(result["k"]) in KMER_CHOICES
    assert result["test"]["spearman_ci95"] is not None


def test_kmer_baseline_multi_label_is_well_above_prevalence(motif_splits):
    train, dev, test = motif_splits["train"], motif_splits["dev"], motif_splits["test"]
    problem = get_problem("multi_label")
    result = kmer_baseline(train[0], train[2], {"dev": (dev[0], dev[2]), "test": (test[0], test[2])}, 3,
                           list(MOTIFS), problem=problem)
    prevalence = float(np.mean(test[2]))
    assert result["test"]["auprc_macro"] > prevalence + 0.3
    assert result["regularisation"] == "C" and result["c"] in C_GRID
    # F1 thresholds tuned on dev and applied to test
    assert result["test"]["thresholds"] == result["dev"]["thresholds"] != [0.5, 0.5, 0.5]
    assert result["test"]["f1_macro"] > 0.7


def test_kmer_baseline_single_label_is_unchanged():
    """The same numbers as logistic regression chosen on dev MCC over the k-mer choices, computed directly."""
    seqs, _, label_sets = _motif_task(260, 5)
    labels = [s[1] for s in label_sets]  # is the second motif present
    train, dev, test = slice(0, 160), slice(160, 210), slice(210, 260)
    eval_sets = {"dev": (seqs[dev], labels[dev]), "test": (seqs[test], labels[test])}
    choices = ((2, 3), (3, 4, 5))
    result = kmer_baseline(seqs[train], labels[train], eval_sets, 2, ["absent", "present"], seed=4, choices=choices)
    best = None
    for choice in choices:
        features = {name: kmer_features(part, choice) for name, part in
                    (("train", seqs[train]), ("dev", seqs[dev]), ("test", seqs[test]))}
        head, c = fit_logistic_head_tuned(features["train"], labels[train], features["dev"], labels[dev], 2, seed=4)
        mcc = compute_metrics(labels[dev], head.probs(features["dev"]), interval=False)["mcc"]
        if best is None or mcc > best[0] + 1e-12:
            best = (mcc, head, features, list(choice), c)
    _, head, features, k, c = best
    expected = {split: compute_metrics(labels[part], head.probs(features[split]), ["absent", "present"])
                for split, part in (("dev", dev), ("test", test))}
    assert result == {**expected, "k": k, "c": c, "regularisation": "C"}
    assert result["test"]["mcc"] > 0.5


def test_probe_fits_and_describes_the_problem_type():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(120, 6))
    targets = [(float(v),) for v in x[:, 0] * 3 + rng.normal(0, 0.2, 120)]
    probe = ProbeConfig()
    head = probe.fit(x[:80], targets[:80], x[80:], targets[80:], 1, seed=0, problem="regression")
    assert mean_spearman(np.array(targets[80:]), head.logits(x[80:])) > 0.9
    fixed = ProbeConfig(c=0.01, c_fixed=True).fit(x[:80], targets[:80], x[80:], targets[80:], 1, seed=0,
                                                  problem="regression")
    assert np.array_equal(fixed.weight, fit_head_tuned("regression", x[:80], targets[:80], None, None, 1,
                                                       grid=(100.0,))[0].weight)
    assert probe.describe(None) == [
        ("classifier", "logistic regression on mean-pooled last-layer embeddings (C chosen on dev MCC)")]
    assert "one-vs-rest logistic regression" in probe.describe(None, problem="multi_label")[0][1]
    assert "macro AUPRC" in probe.describe(None, problem="multi_label")[0][1]
    assert "ridge regression" in probe.describe(None, problem="regression")[0][1]
    assert "alpha = 100" in ProbeConfig(c=0.01, c_fixed=True).describe(None, problem="regression")[0][1]


def test_kmer_features_count_every_acgt_kmer_of_each_sequence_and_skip_others():
    """Frequencies equal a direct count of the k-mers of each sequence (N and ends never counted, lowercase read as
    uppercase), column i being the i-th k-mer of itertools.product("ACGT")."""
    import random
    from itertools import product

    rng = random.Random(0)
    sequences = ["".join(rng.choice("ACGTN" if i % 3 == 0 else "acgt") for _ in range(rng.randint(1, 40)))
                 for i in range(120)]
    ks = (1, 2, 3, 6)
    expected = []
    for seq in (s.upper() for s in sequences):
        row = []
        for k in ks:
            vocabulary = {"".join(p): i for i, p in enumerate(product("ACGT", repeat=k))}
            counts = np.zeros(4**k)
            for start in range(len(seq) - k + 1):
                if seq[start:start + k] in vocabulary:
                    counts[vocabulary[seq[start:start + k]]] += 1
            row.append(counts / max(counts.sum(), 1))
        expected.append(np.concatenate(row))
    np.testing.assert_allclose(kmer_features(sequences, ks), np.array(expected), rtol=0, atol=1e-7)
    sparse = kmer_features(sequences, ks, sparse=True)
    assert sparse.format == "csr" and sparse.nnz == int((np.array(expected) > 0).sum())
    np.testing.assert_allclose(sparse.toarray(), np.array(expected), rtol=0, atol=1e-12)


def test_logistic_heads_on_sparse_features_are_the_dense_models():
    """Sparse k-mer features are only scaled, not centred (centring would fill them in); with an unpenalised
    intercept that is the same model: same C chosen, same probabilities on new rows as the standardised dense fit,
    for single-label and one-vs-rest heads."""
    seqs, _, label_sets = _motif_task(300, 11)
    y_sets = np.array(label_sets)
    train, dev = slice(0, 200), slice(200, 300)
    dense = kmer_features(seqs, (3, 4))
    sparse = kmer_features(seqs, (3, 4), sparse=True)
    labels = y_sets[:, 0].tolist()
    for fit in (lambda x: fit_logistic_head_tuned(x[train], labels[train], x[dev], labels[dev], 2, seed=0),
                lambda x: fit_head_tuned("multi_label", x[train], [tuple(r) for r in y_sets[train]], x[dev],
                                         [tuple(r) for r in y_sets[dev]], 3, seed=0)):
        (head_d, c_d), (head_s, c_s) = fit(dense), fit(sparse)
        assert c_d == c_s
        assert not np.allclose(head_s.bias, 0)  # the intercept carries the means that were not subtracted
        # Per-output sigmoid (the binary head's second row; each label's probability). The two fits stop at the
        # solver's tolerance (1e-4) along the warm-started C path, so they agree to about 1e-2, not to round-off; a
        # wrongly folded intercept would be off by far more.
        np.testing.assert_allclose(1 / (1 + np.exp(-head_s.logits(sparse[dev]))),
                                   1 / (1 + np.exp(-head_d.logits(dense[dev]))), atol=0.03)
