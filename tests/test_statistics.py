"""Statistics that say what was measured: intervals, seed summaries, the k-mer baseline's k, one validator per door."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import matthews_corrcoef

from hubtune.data import DataError, as_model_input
from hubtune.evaluate import kmer_baseline, kmer_features
from hubtune.metrics import (
    bootstrap_mcc_ci,
    compute_metrics,
    format_score,
    intervals_overlap,
    mcc_from_confusion,
    seed_summary,
    summary_text,
)
from hubtune.tables import comparison_table


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_vectorised_mcc_equals_scikit_learn(n_classes):
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(n_classes)
    for _ in range(5):
        y = rng.integers(0, n_classes, 300)
        pred = np.where(rng.random(300) < 0.5, y, rng.integers(0, n_classes, 300))
        cm = confusion_matrix(y, pred, labels=range(n_classes))
        assert float(mcc_from_confusion(cm)) == pytest.approx(matthews_corrcoef(y, pred), abs=1e-12)
    assert float(mcc_from_confusion(np.array([[4, 0], [6, 0]]))) == 0.0  # constant prediction: 0, like sklearn


def test_bootstrap_interval_brackets_the_mcc_narrows_with_n_and_is_reproducible():
    rng = np.random.default_rng(0)

    def sample(n):
        y = rng.integers(0, 2, n)
        return y, np.where(rng.random(n) < 0.75, y, 1 - y)

    y_small, p_small = sample(400)
    y_big, p_big = sample(8000)
    small = bootstrap_mcc_ci(y_small, p_small, 2)
    big = bootstrap_mcc_ci(y_big, p_big, 2)
    assert small[0] < matthews_corrcoef(y_small, p_small) < small[1]
    assert big[0] < matthews_corrcoef(y_big, p_big) < big[1]
    # At n = 400 an MCC near 0.5 has a standard error of about 0.04: the interval is roughly ±0.08 wide.
    assert 0.1 < small[1] - small[0] < 0.25
    assert big[1] - big[0] < (small[1] - small[0]) / 3
    assert bootstrap_mcc_ci(y_small, p_small, 2) == small
    assert compute_metrics(y_small, np.eye(2)[p_small])["mcc_ci95"] == small


def test_single_seed_summary_is_the_seed_with_its_interval():
    summary = seed_summary([{"mcc": 0.51, "mcc_ci95": [0.43, 0.59]}], [42], 42)
    assert summary["statistic"] == "single seed, 95% bootstrap CI"
    assert summary["test_score"] == 0.51 and summary["test_score_ci95"] == [0.43, 0.59] and summary["test_score_sd"] is None
    assert summary_text(summary) == "0.510 (95% CI 0.430–0.590)"


def test_several_seeds_report_mean_and_sd_never_the_best_seed_as_the_result():
    tests = [{"mcc": 0.302}, {"mcc": 0.1}, {"mcc": 0.177}]
    summary = seed_summary(tests, [1, 2, 3], best_seed=1)
    assert summary["test_score"] == pytest.approx(np.mean([0.302, 0.1, 0.177]))
    assert summary["test_score_sd"] == pytest.approx(np.std([0.302, 0.1, 0.177], ddof=1))
    assert summary["best_seed"] == 1 and summary["best_seed_test_score"] == 0.302
    assert summary_text(summary) == f"{summary['test_score']:.3f} ± {summary['test_score_sd']:.3f} (mean ± sd, 3 seeds)"
    assert format_score(None) == "-"


def test_overlapping_intervals():
    assert intervals_overlap([0.02, 0.15], [0.01, 0.14]) is True
    assert intervals_overlap([0.5, 0.6], [0.1, 0.2]) is False
    assert intervals_overlap(None, [0.1, 0.2]) is None


def test_comparison_table_shows_intervals_and_says_what_the_numbers_are():
    metrics = {
        "finetuned": {"seed": 1, "test": {"mcc": 0.302, "mcc_ci95": [0.2, 0.4]}, "dev": {"mcc": 0.4}},
        "kmer": {"test": {"mcc": 0.219, "mcc_ci95": [0.12, 0.31]}, "k": [3, 4, 5, 6]},
        "per_seed": [{"seed": 1, "test": {"mcc": 0.302}, "dev": {"mcc": 0.4}},
                     {"seed": 2, "test": {"mcc": 0.1}, "dev": {"mcc": 0.3}}],
        "summary": {"finetuned": seed_summary([{"mcc": 0.302}, {"mcc": 0.1}], [1, 2], 1)},
    }
    table = comparison_table(metrics)
    assert table.rows[0][1] == "0.201 ± 0.143"  # several seeds: mean ± sd, not the best seed's 0.302
    assert table.rows[1][1] == "0.219 (0.120–0.310)"
    text = table.text()
    assert "mean ± sample sd over 2 training seeds (1, 2)" in text
    assert "seed 1's (best dev MCC); its own test MCC is 0.302" in text
    assert "k = 3, 4, 5, 6, chosen on dev" in text
    assert table.note in table.markdown()


def _motif_task(n: int, seed: int):
    """Class 1 carries one of two 6-mers that share every 3-mer count with class 0's pair (so only long k-mers see
    the difference)."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        label = i % 2
        motif = ("ACGTTGCA", "TGCAACGT")[label]  # same composition, different order
        background = "".join(rng.choice(list("ACGT"), 40))
        at = int(rng.integers(0, 32))
        seqs.append(background[:at] + motif + background[at:])
        labels.append(label)
    return seqs, labels


def test_kmer_baseline_chooses_its_k_on_dev():
    train, dev, test = _motif_task(300, 1), _motif_task(120, 2), _motif_task(120, 3)
    eval_sets = {"dev": dev, "test": test}
    picked = kmer_baseline(*train, eval_sets, 2, ["a", "b"])
    dev_mcc = {tuple(c): kmer_baseline(*train, eval_sets, 2, ["a", "b"], choices=[c])["dev"]["mcc"]
               for c in ((2, 3, 4), (3, 4, 5), (3, 4, 5, 6))}
    assert tuple(picked["k"]) == max(dev_mcc, key=lambda c: dev_mcc[c] + 1e-9 * (c == (2, 3, 4)))
    assert picked["dev"]["mcc"] == pytest.approx(max(dev_mcc.values()))
    assert picked["test"]["mcc_ci95"] is not None


def test_every_door_to_a_tokenizer_uppercases_and_refuses_non_dna():
    assert as_model_input(["acgtn", "ACGT", "ggrc"]) == ["ACGTN", "ACGT", "GGNC"]
    with pytest.raises(DataError, match="sequence 2: character 'X' at position 3"):
        as_model_input(["ACGT", "ACXT"])
    lower = kmer_features(["acgtacgtaa"], (2, 3))
    assert np.array_equal(lower, kmer_features(["ACGTACGTAA"], (2, 3))) and lower.sum() > 0


def test_classifier_and_low_level_inference_treat_lowercase_as_uppercase(tiny_run):
    from hubtune.evaluate import extract_embeddings, predict_logits
    from hubtune.predict import load_classifier

    clf = load_classifier(tiny_run, device="cpu")
    upper = ["TATAAAAGGCGCGCCGATCGATCGATTTACG", "GGGCGCGCCCATATATGGCCAAT"]
    lower = [s.lower() for s in upper]
    np.testing.assert_array_equal(clf.predict_proba(lower), clf.predict_proba(upper))
    np.testing.assert_array_equal(clf.predict_windows(lower)[0], clf.predict_windows(upper)[0])
    np.testing.assert_array_equal(clf.embeddings(lower), clf.embeddings(upper))
    if clf.base_probe_head is not None:
        np.testing.assert_array_equal(clf.predict_base_proba(lower), clf.predict_base_proba(upper))
    kwargs = {"max_length": clf.max_length}
    np.testing.assert_array_equal(predict_logits(clf.model, clf.tokenizer, lower, **kwargs),
                                  predict_logits(clf.model, clf.tokenizer, upper, **kwargs))
    np.testing.assert_array_equal(extract_embeddings(clf.model, clf.tokenizer, lower, **kwargs),
                                  extract_embeddings(clf.model, clf.tokenizer, upper, **kwargs))
    for bad in (["ACGTX"], ["ACZGT"]):
        with pytest.raises(DataError, match="is not a DNA base"):
            clf.predict_proba(bad)
