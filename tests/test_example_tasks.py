"""The generated regression (activity) and multi-label (binding) example tasks: shipped files regenerate byte for
byte, the documented ground truth holds on the rows, and a k-mer model finds the signal."""

from __future__ import annotations

import csv
import subprocess
import sys
from itertools import product

import numpy as np
import pytest
from data_helpers import REPO

from hubtune.data.example_tasks import (
    ACTIVITY_MOTIFS,
    ACTIVITY_NOISE_SD,
    ACTIVITY_TARGETS,
    BINDING_LABEL_NOISE,
    BINDING_LABELS,
    BINDING_MOTIFS,
    activity_ground_truth,
    activity_task_path,
    binding_ground_truth,
    binding_task_path,
    find_sites,
    generate_activity_task,
    generate_binding_task,
    write_activity_task,
    write_binding_task,
)

SPLITS = ("train", "dev", "test")


def read_rows(folder, split):
    with open(folder / f"{split}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def activity():
    return generate_activity_task()


@pytest.fixture(scope="module")
def binding():
    return generate_binding_task()


# ---------------------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("write", "shipped"), [(write_activity_task, activity_task_path()),
                                                (write_binding_task, binding_task_path())])
def test_shipped_files_equal_a_fresh_generation(tmp_path, write, shipped):
    out = write(tmp_path / "regen")
    total = 0
    for split in SPLITS:
        assert (out / f"{split}.csv").read_bytes() == (shipped / f"{split}.csv").read_bytes(), split
        total += (shipped / f"{split}.csv").stat().st_size
    assert total < 250_000


def test_rows_are_what_the_files_hold(activity, binding):
    for split, n in zip(SPLITS, (800, 100, 100), strict=True):
        act = read_rows(activity_task_path(), split)
        assert act[0] == ["sequence", *ACTIVITY_TARGETS]
        assert len(act) == n + 1
        assert [(s, float(a), float(b)) for s, a, b in act[1:]] == activity[split]
        assert all(len(v.split(".")[1]) == 4 for row in act[1:] for v in row[1:])
        bind = read_rows(binding_task_path(), split)
        assert bind[0] == ["sequence", *BINDING_LABELS]
        assert [(row[0], *map(int, row[1:])) for row in bind[1:]] == binding[split]
        assert all(v in ("0", "1") for row in bind[1:] for v in row[1:])


def test_sequences_are_dna_of_150_to_200_bp_and_never_repeat(activity, binding):
    for rows in (activity, binding):
        seqs = [row[0] for split in SPLITS for row in rows[split]]
        assert len(set(seqs)) == len(seqs) == 1000
        assert all(150 <= len(s) <= 200 and set(s) <= set("ACGT") for s in seqs)


def test_generation_is_deterministic_for_a_seed():
    assert generate_activity_task(n_train=5, n_dev=2, n_test=2, seed=3) == generate_activity_task(
        n_train=5, n_dev=2, n_test=2, seed=3)
    assert generate_binding_task(n_train=5, n_dev=2, n_test=2, seed=3) != generate_binding_task(
        n_train=5, n_dev=2, n_test=2, seed=4)
    with pytest.raises(ValueError, match="at least 2"):
        generate_binding_task(n_dev=1)


def test_module_entry_point_writes_both_tasks(tmp_path):
    subprocess.run([sys.executable, "-m", "hubtune.data.example_tasks", "--out", str(tmp_path), "--n-train", "6",
                    "--n-dev", "3", "--n-test", "3"], check=True, cwd=REPO, capture_output=True)
    for task, header in (("activity", ["sequence", *ACTIVITY_TARGETS]), ("binding", ["sequence", *BINDING_LABELS])):
        counts = [len(read_rows(tmp_path / task, split)) - 1 for split in SPLITS]
        assert counts == [6, 3, 3]
        assert read_rows(tmp_path / task, "dev")[0] == header


# ---------------------------------------------------------------------------------------------------------------------
# Ground truth, exactly as documented
# ---------------------------------------------------------------------------------------------------------------------


def with_sites(*sites, length=180):
    """``ACGT`` repeats (no motif, G+C 0.5) with motifs written at multiples of 4 (so G+C stays the same)."""
    bases = list("ACGT" * (length // 4))
    for start, motif in sites:
        assert start % 4 == 0
        bases[start : start + len(motif)] = motif
    return "".join(bases)


def motif_terms(*sites):
    """(developmental, housekeeping) of ``with_sites(*sites)`` less the documented baseline and G+C terms."""
    seq = with_sites(*sites)
    gc = (seq.count("G") + seq.count("C")) / len(seq)
    dev, hk = activity_ground_truth(seq)
    return round(dev - 1.5 + 4.0 * (gc - 0.48), 6), round(hk - 1.5 - 8.0 * (gc - 0.48), 6)


def test_activity_ground_truth_terms():
    m = ACTIVITY_MOTIFS
    assert activity_ground_truth(with_sites()) == (pytest.approx(1.5 - 4.0 * 0.02), pytest.approx(1.5 + 8.0 * 0.02))
    assert activity_ground_truth("GC" * 90) == (pytest.approx(1.5 - 4.0 * 0.52), pytest.approx(1.5 + 8.0 * 0.52))
    assert motif_terms() == (0.0, 0.0)
    ap1 = [(i * 40, m["AP1"]) for i in range(4)]
    assert [motif_terms(*ap1[:n]) for n in (1, 2, 3, 4)] == [(1.0, 0.3), (1.6, 0.3), (1.9, 0.3), (1.9, 0.3)]
    assert motif_terms((20, m["GATA"])) == (0.9, 0.0)
    assert motif_terms((20, m["TWIST"])) == (0.4, 0.0)
    assert motif_terms((20, m["GATA"]), (48, m["TWIST"])) == (2.5, 0.0)  # cooperative spacing: +1.2
    assert motif_terms((48, m["GATA"]), (20, m["TWIST"])) == (2.5, 0.0)
    assert motif_terms((20, m["GATA"]), (100, m["TWIST"])) == (1.3, 0.0)
    assert motif_terms((172, m["ETS"])) == (0.3, 1.0)  # next to the 3' end
    assert motif_terms((40, m["ETS"])) == (0.3, 0.3)
    assert motif_terms((40, m["ETS"]), (80, m["ETS"]), (172, m["ETS"])) == (0.3, 1.3)  # the two strongest count
    assert motif_terms((40, m["DREF"])) == (0.0, 1.2)
    assert motif_terms((40, m["DREF"]), (80, m["DREF"])) == (0.0, 1.7)
    assert motif_terms((40, m["OHLER1"])) == (0.0, 0.8)
    assert motif_terms((40, m["SNAIL"])) == (-1.2, -1.2)
    rc_gata = m["GATA"].translate(str.maketrans("ACGT", "TGCA"))[::-1]
    assert motif_terms((40, rc_gata)) == (0.9, 0.0)  # either strand


def test_activity_values_are_truth_plus_gaussian_noise(activity):
    rows = [row for split in SPLITS for row in activity[split]]
    truth = np.array([activity_ground_truth(row[0]) for row in rows])
    residual = np.array([row[1:] for row in rows]) - truth
    assert np.all(np.abs(residual.mean(axis=0)) < 0.05)
    assert np.all(np.abs(residual.std(axis=0) - ACTIVITY_NOISE_SD) < 0.03)
    values = np.array([row[1:] for row in rows])
    assert np.all(np.percentile(values, 1, axis=0) > -0.5) and np.all(np.percentile(values, 99, axis=0) < 6.5)


def test_activity_motifs_act_on_the_shipped_rows(activity):
    rows = [row for split in SPLITS for row in activity[split]]
    seqs = [row[0] for row in rows]
    dev, hk = (np.array([row[i] for row in rows]) for i in (1, 2))
    has = {name: np.array([bool(find_sites(s, motif)) for s in seqs]) for name, motif in ACTIVITY_MOTIFS.items()}

    def gain(values, mask):
        return values[mask].mean() - values[~mask].mean()

    assert gain(dev, has["AP1"]) > 0.8 and gain(dev, has["GATA"]) > 0.5
    assert gain(hk, has["DREF"]) > 0.8 and abs(gain(dev, has["DREF"])) < 0.4
    assert gain(dev, has["SNAIL"]) < -0.7 and gain(hk, has["SNAIL"]) < -0.7
    pairs = has["GATA"] & has["TWIST"]
    close = np.array([any(abs(g - t) <= 30 for g in find_sites(s, ACTIVITY_MOTIFS["GATA"])
                          for t in find_sites(s, ACTIVITY_MOTIFS["TWIST"])) for s in seqs])
    assert 30 < (pairs & close).sum() and 30 < (pairs & ~close).sum()
    assert dev[pairs & close].mean() - dev[pairs & ~close].mean() > 0.8
    one_ets = [(s, v) for s, v in zip(seqs, hk, strict=True) if len(find_sites(s, ACTIVITY_MOTIFS["ETS"])) == 1]
    near = np.array([find_sites(s, ACTIVITY_MOTIFS["ETS"])[0] >= len(s) - 50 for s, _ in one_ets])
    one_hk = np.array([v for _, v in one_ets])
    assert one_hk[near].mean() - one_hk[~near].mean() > 0.4


def test_binding_ground_truth_patterns():
    site = "CCAGCAGAGGGCA"  # an instance of the CTCF pattern
    assert binding_ground_truth(with_sites((40, site))) == (1, 0, 0, 0, 0)
    rc = site.translate(str.maketrans("ACGT", "TGCA"))[::-1]
    assert binding_ground_truth(with_sites((40, rc))) == (1, 0, 0, 0, 0)
    assert binding_ground_truth(with_sites((40, "CCAGCAGAGTGCA"))) == (0, 0, 0, 0, 0)  # G->T at a fixed base
    assert binding_ground_truth(with_sites((0, "TAGATAAG"), (40, "ACCGGAAGTA"), (80, "ATGACTCAT"),
                                           (120, "TGTTTACATA"))) == (0, 1, 1, 1, 1)
    assert binding_ground_truth(with_sites((0, "GATA"), (40, "GGAA"), (80, "TGTTT"))) == (0, 0, 0, 0, 0)
    assert set(BINDING_MOTIFS) == set(BINDING_LABELS)


def test_binding_labels_follow_the_planted_sites(binding):
    rows = [row for split in SPLITS for row in binding[split]]
    labels = np.array([row[1:] for row in rows])
    truth = np.array([binding_ground_truth(row[0]) for row in rows])
    agreement = (labels == truth).mean(axis=0)
    assert np.all(agreement >= 0.9)
    assert np.all(np.abs((1 - agreement) - BINDING_LABEL_NOISE) < 0.025)
    prevalence = labels.mean(axis=0)
    assert np.all((prevalence >= 0.1) & (prevalence <= 0.5))
    col = {name: labels[:, i].astype(bool) for i, name in enumerate(BINDING_LABELS)}
    assert col["FOX"][col["GATA"]].mean() > 2 * col["FOX"].mean()  # endoderm enhancers: GATA with FOX
    assert col["ETS"][col["AP1"]].mean() > col["ETS"].mean()
    assert 0.1 < (labels.sum(axis=1) == 0).mean() < 0.4 and (labels.sum(axis=1) >= 2).mean() > 0.2


# ---------------------------------------------------------------------------------------------------------------------
# k-mer signal check: a bag of k-mers (k 3-6, frequencies) finds most of the signal, not all of it
# ---------------------------------------------------------------------------------------------------------------------


def kmer_frequencies(seqs, ks=(3, 4, 5, 6)):
    from sklearn.feature_extraction.text import CountVectorizer

    blocks = []
    for k in ks:
        vocabulary = {"".join(p): i for i, p in enumerate(product("ACGT", repeat=k))}
        counts = CountVectorizer(analyzer="char", ngram_range=(k, k), lowercase=False, vocabulary=vocabulary,
                                 dtype=np.float64).transform(seqs).toarray()
        blocks.append(counts / counts.sum(axis=1, keepdims=True))
    return np.concatenate(blocks, axis=1)


def test_kmer_ridge_reaches_spearman_above_0_8_on_activity(activity):
    from scipy.stats import spearmanr
    from sklearn.linear_model import Ridge

    x = {split: kmer_frequencies([row[0] for row in activity[split]]) for split in SPLITS}
    y = {split: np.array([row[1:] for row in activity[split]]) for split in SPLITS}
    truth = np.array([activity_ground_truth(row[0]) for row in activity["test"]])
    test_rho, truth_rho = [], []
    for j in range(len(ACTIVITY_TARGETS)):
        fits = [Ridge(alpha=alpha).fit(x["train"], y["train"][:, j]) for alpha in (1e-3, 1e-2, 1e-1)]
        best = max(fits, key=lambda m: spearmanr(m.predict(x["dev"]), y["dev"][:, j])[0])
        test_rho.append(spearmanr(best.predict(x["test"]), y["test"][:, j])[0])
        truth_rho.append(spearmanr(truth[:, j], y["test"][:, j])[0])
    assert np.mean(test_rho) > 0.8
    assert np.mean(truth_rho) > np.mean(test_rho) + 0.05  # room above the k-mer baseline


def test_kmer_logistic_beats_prevalence_on_binding(binding):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    x_train = kmer_frequencies([row[0] for row in binding["train"]], ks=(4, 5, 6))
    x_test = kmer_frequencies([row[0] for row in binding["test"]], ks=(4, 5, 6))
    y_train = np.array([row[1:] for row in binding["train"]])
    y_test = np.array([row[1:] for row in binding["test"]])
    auprc = [average_precision_score(y_test[:, j], LogisticRegression(C=1000, max_iter=1000).fit(
        x_train, y_train[:, j]).predict_proba(x_test)[:, 1]) for j in range(len(BINDING_LABELS))]
    assert np.mean(auprc) > y_test.mean() + 0.3


def test_tasks_load_as_regression_and_multi_label_without_leakage():
    from hubtune.data import leakage_report, load_task

    for folder, columns, problem in ((activity_task_path(), ACTIVITY_TARGETS, "regression"),
                                     (binding_task_path(), BINDING_LABELS, "multi_label")):
        task = load_task(folder, label_columns=list(columns))
        assert task.problem_type == problem
        assert list(task.label_names) == list(columns)
        assert [len(task.splits[s]) for s in SPLITS] == [800, 100, 100]
        assert task.warnings == []
        assert not leakage_report(task).has_leak
