"""Diagnostics that name the cause: no learnable signal, class imbalance and majority collapse, advice that never
names the run's own method, and a forgetting check that measures against what pre-training gained (or says it cannot).

The rule-based verdicts run on small hand-made run folders (hubtune.json, metrics.json, a training log); the
forgetting check runs on tiny models, one of them given a trained masked-LM head by a few optimisation steps here.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
from shared_runs import train_tiny_masked_lm

from hubtune.config import TrainConfig
from hubtune.data import Split, TaskData
from hubtune.data.balance import imbalance_warnings
from hubtune.diagnostics import (
    NOT_MEASURABLE,
    STATUSES,
    at_chance,
    check_forgetting,
    check_overfitting,
    check_underfitting,
    diagnose_run,
    forgetting_status,
    forgotten_fraction,
    format_verdicts,
    rule_notes,
    unigram_reference_loss,
)
from hubtune.diagnostics.causes import lighter_options
from hubtune.metrics import compute_metrics
from hubtune.run import Run, RunInfo
from hubtune.train import finetune

NAMES = ["negative", "positive"]


pytestmark = pytest.mark.usefixtures("quiet_single_thread")


# ---------------------------------------------------------------------------------------------------------------------
# Hand-made run folders
# ---------------------------------------------------------------------------------------------------------------------


def scores(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """metrics.json block of these predictions (confident probabilities on the predicted class)."""
    probs = np.full((len(labels), len(NAMES)), 0.1)
    probs[np.arange(len(labels)), predictions] = 0.9
    return compute_metrics(labels, probs, NAMES)


def noisy(labels: np.ndarray, accuracy: float, rng: np.random.Generator) -> np.ndarray:
    """Predictions right with probability `accuracy`, else the other class."""
    return np.where(rng.random(len(labels)) < accuracy, labels, 1 - labels)


def flat_log(steps: int = 200, loss: float = 0.693) -> list[dict]:
    log = [{"step": s, "loss": loss + 0.001 * ((s // 10) % 2)} for s in range(10, steps + 1, 10)]
    return log + [{"step": s, "eval_loss": loss, "eval_mcc": 0.0} for s in range(50, steps + 1, 50)]


def write_run(folder: Path, *, finetuned: dict, probe: dict | None, kmer: dict | None, method: str = "lora",
              training: dict | None = None, log: list[dict] | None = None, strip_ci: bool = False) -> Run:
    """A run folder with the given metrics blocks (each {"train"?, "dev", "test"}) and a clean leakage report."""
    folder.mkdir(parents=True)
    settings = {"learning_rate": 2e-3, "max_steps": 200, "patience": None, "class_weights": False,
                **(training or {})}
    RunInfo(label_names=list(NAMES), method=method, base_model="tiny-nt", max_length=32, window_bp=60, stride_bp=30,
            family="nt", seeds=[1], best_seed=1, training=settings).write(folder)
    metrics = {"finetuned": finetuned, "per_seed": [{"seed": 1, **{k: finetuned[k] for k in ("dev", "test")},
                                                     "best_step": 200}]}
    metrics.update({k: v for k, v in (("probe", probe), ("kmer", kmer)) if v is not None})
    text = json.dumps(metrics)
    if strip_ci:  # a metrics.json written before intervals were recorded
        text = json.dumps(json.loads(text, object_hook=lambda d: {k: v for k, v in d.items() if k != "mcc_ci95"}))
    (folder / "metrics.json").write_text(text)
    pair = {"exact": 0, "exact_rows": 0, "reverse_complement": 0, "reverse_complement_rows": 0}
    (folder / "leakage.json").write_text(json.dumps({
        "split_sizes": {"train": 1000, "dev": 400, "test": 400},
        "pairs": {key: pair for key in ("train/dev", "train/test", "dev/test")},
        "within_split": {s: {"extra_rows": 0} for s in ("train", "dev", "test")}}))
    (folder / "training_log.json").write_text(json.dumps({"seed-1": log if log is not None else flat_log()}))
    return Run(folder)


def labelled(n: int, positive: float, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(n) < positive).astype(np.int64)


def shuffled_label_run(folder: Path, *, kmer_accuracy: float = 0.5, strip_ci: bool = False,
                       one_class: bool = False) -> Run:
    """Labels unrelated to the sequence: every model's predictions are independent of the labels (with `one_class`
    the fine-tuned model predicts the first class for everything)."""
    rng = np.random.default_rng(0)
    y = {split: labelled(n, 0.5, rng) for split, n in (("train", 1000), ("dev", 400), ("test", 400))}
    guess = {split: labelled(len(labels), 0.5 if not one_class else 0.0, rng) for split, labels in y.items()}
    finetuned = {split: scores(y[split], guess[split]) for split in y}
    baseline = {split: scores(y[split], labelled(400, 0.5, rng)) for split in ("dev", "test")}
    kmer = {split: scores(y[split], noisy(y[split], kmer_accuracy, rng)) for split in ("dev", "test")}
    return write_run(folder, finetuned=finetuned, probe=baseline, kmer=kmer, strip_ci=strip_ci)


def test_chance_level_everywhere_is_no_learnable_signal_not_more_training(tmp_path):
    verdict = check_underfitting(shuffled_label_run(tmp_path / "shuffled"))
    assert verdict.status == "flagged"
    assert verdict.summary.startswith("no learnable signal: check labels and splits")
    assert "try more steps" not in verdict.summary  # the cure for too little training does not apply ...
    assert "more steps or a higher learning rate will not help" in verdict.summary  # ... and it says so
    assert verdict.details["cause"] == "no learnable signal"
    shown = {s["model"]: s for s in verdict.details["signal"]["scores"]}
    assert set(shown) == {"finetuned", "probe", "kmer"} and all(s["at_chance"] for s in shown.values())
    assert all(s["ci95"][0] <= 0 <= s["ci95"][1] for s in shown.values())
    assert all("bootstrap interval" in s["rule"] for s in shown.values())
    assert "95% CI" in verdict.summary and "AUROC" in verdict.summary  # with the numbers behind it

    # A metrics.json without intervals (older runs) falls back to |MCC| < 1.96/sqrt(n): the same call.
    old = check_underfitting(shuffled_label_run(tmp_path / "old", strip_ci=True))
    assert old.summary.startswith("no learnable signal") and old.status == "flagged"
    assert all("1/sqrt(n)" in s["rule"] for s in old.details["signal"]["scores"])


def test_a_model_stuck_on_one_class_of_balanced_data_still_shows_no_signal(tmp_path):
    verdict = check_underfitting(shuffled_label_run(tmp_path / "one-class", one_class=True))
    assert verdict.details["collapse"]["predicted"] == "negative"
    assert verdict.details["cause"] == "no learnable signal"
    assert verdict.summary.startswith("no learnable signal: check labels and splits")


def test_a_baseline_above_chance_keeps_the_training_advice(tmp_path):
    # The k-mer baseline finds a signal the fine-tuned model missed: the data are fine, the training is not.
    verdict = check_underfitting(shuffled_label_run(tmp_path / "kmer-learns", kmer_accuracy=0.75))
    assert verdict.status == "flagged"
    assert "no learnable signal" not in verdict.summary and verdict.details["cause"] is None
    assert "higher learning rate" in verdict.summary


def test_without_baselines_the_signal_is_not_measurable_and_says_so(tmp_path):
    rng = np.random.default_rng(1)
    y = {split: labelled(400, 0.5, rng) for split in ("train", "dev", "test")}
    finetuned = {split: scores(y[split], labelled(400, 0.5, rng)) for split in y}
    verdict = check_underfitting(write_run(tmp_path / "no-baselines", finetuned=finetuned, probe=None, kmer=None))
    assert verdict.details["cause"] is None and "no learnable signal" not in verdict.summary
    assert ("whether the labels carry any signal is not measurable: pre-trained probe (not run), k-mer baseline "
            "(not run)") in verdict.summary


def test_at_chance_allows_for_three_models_and_judges_one_class_predictors_by_auroc():
    # One of three models with a 95% interval that excludes 0 happens by chance one time in seven: not a signal.
    assert at_chance({"mcc": 0.12, "n": 400, "mcc_ci95": [0.02, 0.22]})[0] is True
    assert at_chance({"mcc": 0.15, "n": 400, "mcc_ci95": [0.05, 0.25]})[0] is False
    # Without an interval (older metrics.json): SE 1/sqrt(n), 2.394 / 20 = 0.12.
    assert at_chance({"mcc": 0.11, "n": 400})[0] is True and at_chance({"mcc": 0.13, "n": 400})[0] is False
    # A model that predicts one class has MCC 0 whatever it learnt; its AUROC (ranking) tells.
    one_class = {"mcc": 0.0, "n": 400, "mcc_ci95": [0.0, 0.0], "confusion_matrix": [[200, 0], [200, 0]],
                 "per_class": [{"support": 200}, {"support": 200}]}
    assert at_chance({**one_class, "auroc": 0.56})[0] is True  # null SE 0.029
    assert at_chance({**one_class, "auroc": 0.65})[0] is False
    assert at_chance({**one_class, "auroc": None}) is None  # cannot tell
    assert at_chance({"n": 400}) is None


def test_memorised_noise_is_named_in_the_overfitting_verdict(tmp_path):
    rng = np.random.default_rng(2)
    y = {split: labelled(400, 0.5, rng) for split in ("train", "dev", "test")}
    finetuned = {"train": scores(y["train"], y["train"]),  # memorised
                 **{split: scores(y[split], labelled(400, 0.5, rng)) for split in ("dev", "test")}}
    chance = {split: scores(y[split], labelled(400, 0.5, rng)) for split in ("dev", "test")}
    run = write_run(tmp_path / "memorised", finetuned=finetuned, probe=chance, kmer=chance, method="full")
    verdict = check_overfitting(run)
    assert verdict.status == "flagged"
    assert "no learnable signal: check labels and splits" in verdict.summary
    assert "weight decay" not in verdict.summary  # the training cures do not apply


# ---------------------------------------------------------------------------------------------------------------------
# Class imbalance and majority collapse
# ---------------------------------------------------------------------------------------------------------------------


def task_with(counts: list[int], names: list[str] | None = None) -> TaskData:
    labels = [i for i, n in enumerate(counts) for _ in range(n)]
    names = names or [f"class{i}" for i in range(len(counts))]
    split = Split(["ACGT"] * len(labels), labels, [str(i) for i in range(len(labels))])
    return TaskData("t", "t.csv", {"train": split, "test": Split(["ACGT"], [0], ["x"])}, names)


def test_imbalance_warnings_name_the_split_counts_and_the_remedies():
    (warning,) = imbalance_warnings(task_with([950, 50], ["background", "promoter"]))
    assert "class imbalance in train" in warning and "background 950 (95.0%)" in warning
    assert "promoter 50 (5.0%)" in warning
    assert "--class-weights" in warning and "MCC or AUROC" in warning and "accuracy" in warning
    (weighted,) = imbalance_warnings(task_with([950, 50]), class_weights=True)
    assert "consider --class-weights" not in weighted and "weighted by inverse class frequency" in weighted
    assert imbalance_warnings(task_with([800, 200]))  # 80/20 is already skewed
    assert imbalance_warnings(task_with([790, 210])) == []
    assert imbalance_warnings(task_with([500, 500])) == []
    (three,) = imbalance_warnings(task_with([480, 480, 40]))  # a class under 5% in a three-class task
    assert "under 5%: class2" in three
    assert imbalance_warnings(task_with([45, 35, 20])) == []  # 45% majority of three classes is not skewed
    assert imbalance_warnings(task_with([950, 50]), split="dev") == []  # no such split


def collapsed_run(folder: Path, *, class_weights: bool) -> Run:
    """95/5 data; the fine-tuned model predicts the majority class for everything, the k-mer baseline does not."""
    rng = np.random.default_rng(3)
    y = {split: np.array([0] * int(0.95 * n) + [1] * (n - int(0.95 * n))) for split, n in
         (("train", 1000), ("dev", 400), ("test", 400))}
    finetuned = {split: scores(labels, np.zeros_like(labels)) for split, labels in y.items()}
    kmer = {split: scores(y[split], noisy(y[split], 0.9, rng)) for split in ("dev", "test")}
    return write_run(folder, finetuned=finetuned, probe=kmer, kmer=kmer, training={"class_weights": class_weights},
                     log=flat_log(loss=0.2))


def test_majority_collapse_is_named_with_class_weights_as_the_cure(tmp_path):
    verdict = check_underfitting(collapsed_run(tmp_path / "collapse", class_weights=False))
    assert verdict.status == "flagged"
    assert verdict.summary.startswith("majority collapse: the model predicts negative (95% of train) for 100% of "
                                      "test sequences")
    assert "train with --class-weights" in verdict.summary
    assert "read MCC or AUROC" in verdict.summary
    assert "try more steps" not in verdict.summary
    assert verdict.details["collapse"]["predicted"] == "negative" and verdict.details["cause"] == "majority collapse"

    # Every model stuck on the majority (baselines at chance too): the skew is the first thing to fix.
    y = np.array([0] * 380 + [1] * 20)
    stuck = {split: scores(y, np.zeros_like(y)) for split in ("dev", "test")}
    run = write_run(tmp_path / "all-stuck", finetuned={s: scores(y, np.zeros_like(y)) for s in ("train", "dev", "test")},
                    probe=stuck, kmer=stuck, log=flat_log(loss=0.2))
    both = check_underfitting(run)
    assert both.details["cause"] == "majority collapse" and "train with --class-weights" in both.summary
    assert "the baselines show no signal either: check the labels and splits as well" in both.summary

    weighted = check_underfitting(collapsed_run(tmp_path / "weighted", class_weights=True))
    assert weighted.summary.startswith("majority collapse")
    assert "already used --class-weights" in weighted.summary
    assert "train with --class-weights" not in weighted.summary


def test_when_every_model_predicts_the_majority_the_collapse_is_named_not_a_missing_signal(tmp_path):
    # On 95/5 data a model predicting only the majority scores MCC 0 whatever it learnt: that is no evidence of an
    # absent signal; the k-mer baseline's ranking (AUROC) shows there is one.
    rng = np.random.default_rng(6)
    y = np.array([0] * 380 + [1] * 20)
    constant = np.full((len(y), 2), [0.9, 0.1])
    constant[y == 1, 1] += rng.uniform(0.0, 0.3, int(y.sum()))  # ranks positives higher, never above 0.5
    ranked = compute_metrics(y, constant, NAMES)
    assert ranked["mcc"] == 0.0 and ranked["auroc"] > 0.9
    finetuned = {split: scores(y, np.zeros_like(y)) for split in ("train", "dev", "test")}
    run = write_run(tmp_path / "all-collapsed", finetuned=finetuned, probe={"dev": ranked, "test": ranked},
                    kmer={"dev": ranked, "test": ranked}, log=flat_log(loss=0.2))
    verdict = check_underfitting(run)
    assert verdict.details["cause"] == "majority collapse" and "no learnable signal" not in verdict.summary
    assert "train with --class-weights" in verdict.summary


def test_a_minority_that_is_recognised_is_no_collapse(tmp_path):
    rng = np.random.default_rng(4)
    y = {split: np.array([0] * 380 + [1] * 20) for split in ("train", "dev", "test")}
    good = {split: scores(labels, noisy(labels, 0.97, rng)) for split, labels in y.items()}
    verdict = check_underfitting(write_run(tmp_path / "fine", finetuned=good, probe=good, kmer=good,
                                           log=flat_log(loss=0.2)))
    assert verdict.details["collapse"] is None and "collapse" not in verdict.summary


# ---------------------------------------------------------------------------------------------------------------------
# Advice never names the run's own method
# ---------------------------------------------------------------------------------------------------------------------


def _overfit_log() -> list[dict]:
    log = [{"step": s, "loss": 0.7 * (1 - s / 220)} for s in range(10, 201, 10)]
    return log + [{"step": s, "eval_loss": 0.5 + (0.4 if s > 100 else 0.0), "eval_mcc": 0.3} for s in range(50, 201, 25)]


@pytest.mark.parametrize("method", ["lora", "full", "freeze"])
def test_overfitting_advice_never_recommends_the_method_in_use(tmp_path, method):
    rng = np.random.default_rng(5)
    y = {split: labelled(400, 0.5, rng) for split in ("train", "dev", "test")}
    finetuned = {"train": scores(y["train"], y["train"]),
                 **{split: scores(y[split], noisy(y[split], 0.7, rng)) for split in ("dev", "test")}}
    run = write_run(tmp_path / method, finetuned=finetuned, probe=finetuned, kmer=finetuned, method=method,
                    log=_overfit_log())
    verdict = check_overfitting(run)
    assert verdict.status == "flagged"
    advice = verdict.summary.split("; try ")[1]
    if method == "lora":
        assert "smaller LoRA rank" in advice and "LoRA," not in advice and not advice.endswith("LoRA")
    else:
        assert "LoRA" in advice
    assert ("freeze" in advice) == (method == "full")
    assert lighter_options(run) == advice.split(", ")[3:]


# ---------------------------------------------------------------------------------------------------------------------
# Forgetting
# ---------------------------------------------------------------------------------------------------------------------


def test_forgetting_rules_are_relative_to_what_pre_training_gained():
    assert forgotten_fraction(3.0, 2.0, 2.0) == 0.0
    assert forgotten_fraction(3.0, 2.0, 2.5) == pytest.approx(0.5)
    assert forgotten_fraction(8.3, 8.4, 8.4) is None  # no better than the reference: nothing to lose
    assert forgetting_status(0.05) == "ok"
    assert forgetting_status(0.15) == "warning"
    assert forgetting_status(1 / 3) == "flagged"  # a third of the gain lost is a problem, not a detail
    assert NOT_MEASURABLE in STATUSES and "not measured" in STATUSES
    notes = "\n".join(rule_notes())
    assert "10%" in notes and "33%" in notes and "unigram" in notes


def test_forgetting_is_not_measurable_with_an_untrained_masked_lm_head(tiny_run):
    verdict = check_forgetting(Run(tiny_run), max_sequences=16)
    assert verdict.status == NOT_MEASURABLE
    assert "untrained" in verdict.summary and "unigram" in verdict.summary
    details = verdict.details
    assert details["loss_pretrained"] >= details["loss_reference"] - 0.05  # the head is no better than frequencies
    assert "ratio" not in details  # nothing pretends to have been measured
    line = format_verdicts([verdict])
    assert line.startswith("catastrophic forgetting  not measurable  the base model's masked-LM loss")


_MOTIF_RNG = random.Random(100)
MOTIFS = ["".join(_MOTIF_RNG.choice("ACGT") for _ in range(6)) for _ in range(12)]


def motif_rows(n: int, seed: int) -> list[tuple[str, str]]:
    """60 bp of 6-mer motif repeats; the label says whether the first motif is one of the first six."""
    rng, rows, seen = random.Random(seed), [], set()
    while len(rows) < n:
        a, b, c = (rng.randrange(len(MOTIFS)) for _ in range(3))
        seq = MOTIFS[a] * 4 + MOTIFS[b] * 3 + MOTIFS[c] * 3
        if seq not in seen:
            seen.add(seq)
            rows.append((seq, NAMES[int(a < 6)]))
    return rows


@pytest.fixture(scope="module")
def motif_lm(tmp_path_factory) -> tuple[str, str]:
    """(a tiny-nt whose masked-LM head was trained on motif DNA, a motif task folder)."""
    rows = motif_rows(300, seed=1)
    task = tmp_path_factory.mktemp("motif-task")
    for split, part in (("train", rows[:40]), ("dev", rows[40:70]), ("test", rows[70:100])):
        with open(task / f"{split}.csv", "w", newline="") as handle:
            csv.writer(handle).writerows([("sequence", "label"), *part])
    folder = train_tiny_masked_lm([seq for seq, _ in rows], 120, tmp_path_factory.mktemp("motif-lm") / "tiny-motif-lm")
    return folder, str(task)


def test_probe_forgetting_is_measured_not_set(tmp_path, motif_lm):
    model, task = motif_lm
    run = finetune(TrainConfig(model=model, data=task, method="probe", seeds=[1], baselines=False,
                               output=str(tmp_path / "probe")))
    verdict = check_forgetting(run, max_sequences=24)
    details = verdict.details
    assert verdict.status == "ok"
    assert details["pretraining_gain"] > 0.3, "the trained head predicts motif DNA far better than token frequencies"
    assert details["loss_finetuned"] == pytest.approx(details["loss_pretrained"], rel=1e-6)  # measured: unchanged
    assert details["ratio"] == pytest.approx(1.0, abs=1e-6) and details["relative_weight_change"] == 0.0
    assert "measured, not assumed" in details["compared"]
    assert "unigram reference" in verdict.summary and "kept all of that gain" in verdict.summary
    tokenizer_free_reference = details["loss_reference"]
    assert tokenizer_free_reference == pytest.approx(details["pretraining_gain"] + details["loss_pretrained"])


def test_the_pre_trained_masked_lm_losses_are_computed_once_per_model_and_data(tmp_path, motif_lm, monkeypatch):
    """The forgetting check's two pre-trained losses come from the cache of what the base computes on the data (as the
    probe's embeddings do): a second check, or another run on the same data and base, runs only the fine-tuned
    passes, and reports the very same numbers."""
    import hubtune.diagnostics.forgetting as forgetting

    monkeypatch.setenv("HUBTUNE_CACHE", str(tmp_path / "cache"))
    calls: list[int] = []
    real = forgetting.masked_lm_loss

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(forgetting, "masked_lm_loss", counted)
    model, task = motif_lm
    run = finetune(TrainConfig(model=model, data=task, method="probe", seeds=[1], baselines=False,
                               output=str(tmp_path / "probe")))
    first = check_forgetting(run, max_sequences=24)
    assert len(calls) == 4 and first.status == "ok"  # pre-trained and fine-tuned, on test and shuffled controls
    calls.clear()
    second = check_forgetting(run, max_sequences=24)
    assert len(calls) == 2 and second.details == first.details and second.summary == first.summary
    calls.clear()
    assert check_forgetting(run, max_sequences=20).details["loss_pretrained"] != first.details["loss_pretrained"]
    assert len(calls) == 4  # other sequences: computed again
    monkeypatch.setenv("HUBTUNE_EMBEDDING_CACHE", "off")
    calls.clear()
    assert check_forgetting(run, max_sequences=24).details == first.details and len(calls) == 4


def test_full_fine_tuning_at_a_high_lr_loses_the_gain_and_is_told_a_lighter_method(tmp_path, motif_lm):
    model, task = motif_lm
    run = finetune(TrainConfig(model=model, data=task, method="full", lr=5e-3, max_steps=30, eval_steps=10,
                               patience=None, seeds=[1], baselines=False, output=str(tmp_path / "full")))
    verdict = check_forgetting(run, max_sequences=24)
    details = verdict.details
    fraction = (details["loss_finetuned"] - details["loss_pretrained"]) / details["pretraining_gain"]
    assert details["forgotten_fraction"] == pytest.approx(fraction)
    assert fraction >= 1 / 3 and verdict.status == "flagged"
    expected = (f"lost all of that gain and more ({fraction:.0%})" if fraction > 1
                else f"lost {fraction:.0%} of that gain")
    assert expected in verdict.summary
    assert "LoRA" in verdict.summary and "freeze" in verdict.summary and "learning rate (used 0.005)" in verdict.summary
    # The whole diagnosis of that run prints one line per check, none of them an unmeasured "ok".
    verdicts = diagnose_run(run.path, max_sequences=24)
    assert [v.name for v in verdicts] == ["overfitting", "underfitting", "catastrophic forgetting", "data leakage"]


def test_unigram_reference_is_counted_on_unscored_sequences_smoothed_and_never_worse_than_uniform():
    from hubtune.diagnostics.forgetting import SMOOTHING
    from hubtune.models import load_tokenizer

    tokenizer = load_tokenizer("tiny-nt")
    special = set(tokenizer.all_special_ids)
    dna_tokens = sum(1 for token_id in tokenizer.get_vocab().values() if token_id not in special)
    scored = ["ACGTAC" * 8]  # 8 tokens, all ACGTAC
    # Frequencies come from other sequences (50 x 10 tokens of ACGTAC), add-half smoothed over every DNA token.
    counted = 500
    expected = -np.log((counted + SMOOTHING) / (counted + SMOOTHING * dna_tokens))
    assert unigram_reference_loss(tokenizer, scored, counted_on=["ACGTAC" * 10] * 50, max_length=16) == pytest.approx(
        expected)
    # The scored sequences themselves are never counted: a token seen only there is as unlikely as any unseen one,
    # and the reference is then capped at a uniform guess over the DNA tokens.
    assert unigram_reference_loss(tokenizer, scored, counted_on=["AAAAAA" * 10], max_length=16) == pytest.approx(
        np.log(dna_tokens))
    assert unigram_reference_loss(tokenizer, scored, counted_on=[], max_length=16) == pytest.approx(np.log(dna_tokens))


@pytest.mark.parametrize("fixture", ["tiny_run", "regression_run", "multilabel_run"])
def test_a_run_records_the_test_outputs_it_reported_and_the_leakage_check_reuses_them(fixture, request, tmp_path):
    """The kept model's test outputs are in the run: scored again they give exactly the reported test metric, they
    are what the saved model predicts, and the leakage check's deduplicated score is the same with or without them
    (without, it runs the model again)."""
    import shutil

    from hubtune.diagnostics.base import load_run_task
    from hubtune.diagnostics.leakage import _dedup_scores
    from hubtune.predict import load_classifier
    from hubtune.run import TEST_OUTPUTS_FILE

    run = Run(request.getfixturevalue(fixture))
    problem = run.info.problem
    test = load_run_task(run).splits["test"]
    outputs = run.test_outputs(test.sequences)
    assert outputs is not None and outputs.shape[0] == len(test) == run.info.split_sizes["test"]
    rescored = problem.score(test.labels, outputs, run.label_names, interval=False, thresholds=run.info.thresholds)
    assert rescored[problem.metric] == run.metrics["finetuned"]["test"][problem.metric]
    predicted = load_classifier(run.path).predict_outputs(test.sequences)
    np.testing.assert_allclose(outputs, predicted, rtol=0, atol=1e-5)
    assert run.test_outputs(test.sequences[::-1]) is None  # other rows (or another order): predict instead

    recorded = _dedup_scores(run, batch_size=16)
    copy = tmp_path / "without-outputs"
    shutil.copytree(run.path, copy)
    (copy / TEST_OUTPUTS_FILE).unlink()
    assert Run(copy).test_outputs(test.sequences) is None
    again = _dedup_scores(Run(copy), batch_size=16)
    assert recorded["all"] == run.metrics["finetuned"]["test"][problem.metric]
    assert again == pytest.approx(recorded, abs=1e-6)
