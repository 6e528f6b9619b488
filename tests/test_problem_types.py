"""Multi-label and regression tasks end to end: reading the labels, training (LoRA and full), the reported metrics,
the saved model in the targets' units, plain peft, prediction and evaluation, and the command line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import average_precision_score, r2_score

from hubtune.cli import main
from hubtune.data import load_task
from hubtune.data.example_tasks import ACTIVITY_TARGETS, BINDING_LABELS, activity_task_path, binding_task_path
from hubtune.errors import ConfigError, DataError
from hubtune.predict import evaluate_run, load_classifier
from hubtune.problems import get_problem
from hubtune.run import Run
from hubtune.train import TrainConfig, finetune

ACTIVITY = str(activity_task_path())
BINDING = str(binding_task_path())
FAST = {"model": "tiny-nt", "max_steps": 8, "eval_steps": 4, "batch_size": 16, "max_rows": 80}


def _table(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _random_rows(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), 40)) for _ in range(n)]


# ---------------------------------------------------------------------------------------------------------------------
# What the labels are
# ---------------------------------------------------------------------------------------------------------------------


def test_the_problem_type_is_read_from_the_labels(tmp_path):
    seqs = _random_rows(60)
    table = _table(tmp_path / "t.csv", ["sequence", "activity", "sets", "a", "b", "cls"],
                   [[s, f"{i / 7:.3f}", ["x;y", "y", "x"][i % 3], i % 2, (i // 2) % 2, i % 2] for i, s in
                    enumerate(seqs)])
    assert load_task(table, label_column="activity").problem_type == "regression"
    assert load_task(table, label_column="cls").problem_type == "single_label"  # 0/1 integers stay classes
    both = load_task(table, label_columns="a,b")
    assert both.problem_type == "multi_label" and both.label_names == ["a", "b"]
    assert set(both.splits["train"].labels) <= {(0, 0), (0, 1), (1, 0), (1, 1)}
    sets = load_task(table, label_column="sets", problem_type="multi_label")
    assert sets.label_names == ["x", "y"] and set(sets.splits["test"].labels) <= {(1, 1), (0, 1), (1, 0)}
    two = load_task(table, label_columns="activity,a")
    assert two.problem_type == "regression" and two.label_names == ["activity", "a"]
    assert isinstance(two.splits["train"].labels[0][0], float)


def test_a_label_set_in_a_single_label_task_names_the_line_and_the_option(tmp_path):
    table = _table(tmp_path / "t.csv", ["sequence", "label"], [[s, "a" if i != 3 else "a;b"]
                                                                for i, s in enumerate(_random_rows(20))])
    with pytest.raises(DataError, match=r"t\.csv, line 5.*--problem-type multi_label"):
        load_task(table)


def test_a_non_number_in_a_regression_column_names_the_line(tmp_path):
    rows = [[s, f"{i}.5", f"{i}.25"] for i, s in enumerate(_random_rows(20))]
    rows[6][2] = "high"
    table = _table(tmp_path / "t.csv", ["sequence", "x", "y"], rows)
    with pytest.raises(DataError, match=r"t\.csv, line 8, column 'y': 'high' is not a number"):
        load_task(table, label_columns="x,y", problem_type="regression")


def test_a_constant_target_is_refused(tmp_path):
    table = _table(tmp_path / "t.csv", ["sequence", "x", "y"], [[s, "1.5", f"{i}.5"]
                                                                for i, s in enumerate(_random_rows(30))])
    with pytest.raises(DataError, match="target 'x' has the same value in every train row"):
        load_task(table, label_columns="x,y")


def test_class_weights_do_not_apply_to_regression(tmp_path):
    with pytest.raises(ConfigError, match="--class-weights"):
        TrainConfig(model="tiny-nt", data=ACTIVITY, problem_type="regression", class_weights=True).validate()
    with pytest.raises(ConfigError, match="--class-weights.*holds numbers"):  # regression read from the labels
        finetune(TrainConfig(data=ACTIVITY, label_columns=",".join(ACTIVITY_TARGETS), class_weights=True,
                             output=str(tmp_path / "run"), **FAST))
    assert not (tmp_path / "run").exists()


def test_multilabel_class_weights_weight_each_labels_positives(tmp_path, multilabel_full):
    """--class-weights on a multi-label task: BCE with per-label positive weights negatives / positives."""
    from hubtune.trainer import loss_weights

    problem = get_problem("multi_label")
    train = load_task(BINDING, label_columns=list(BINDING_LABELS), max_rows=80).splits["train"]
    weights = loss_weights(problem, train.labels, len(BINDING_LABELS))
    y = np.asarray(train.labels)
    assert weights == pytest.approx(((len(y) - y.sum(axis=0)) / y.sum(axis=0)).tolist())
    weighted = _train(tmp_path / "weighted", BINDING, BINDING_LABELS, method="full", class_weights=True)
    assert weighted.info.training["class_weights"] is True
    assert weighted.metrics["finetuned"]["test"] != multilabel_full.metrics["finetuned"]["test"]


# ---------------------------------------------------------------------------------------------------------------------
# Training and what it reports
# ---------------------------------------------------------------------------------------------------------------------


def _train(folder: Path, data: str, columns, **kwargs) -> Run:
    run = finetune(TrainConfig(data=data, label_columns=",".join(columns), output=str(folder), **FAST, **kwargs))
    assert run is not None
    return run


@pytest.fixture(scope="module")
def regression_full(tmp_path_factory) -> Run:
    return _train(tmp_path_factory.mktemp("reg") / "run", ACTIVITY, ACTIVITY_TARGETS, method="full")


@pytest.fixture(scope="module")
def multilabel_full(tmp_path_factory) -> Run:
    return _train(tmp_path_factory.mktemp("ml") / "run", BINDING, BINDING_LABELS, method="full")


def _as_run(value) -> Run:
    return value if isinstance(value, Run) else Run(value)


def _test_split(run: Run):
    task = load_task(run.info.data_source, label_columns=run.info.training["label_columns"],
                     max_rows=run.info.training["max_rows"], seed=run.info.training["data_seed"])
    return task.splits["test"]


@pytest.mark.parametrize("fixture", ["regression_run", "regression_full"])
def test_regression_reports_what_the_saved_model_computes_in_target_units(fixture, request):
    run = _as_run(request.getfixturevalue(fixture))
    assert run.info.problem_type == "regression" and run.info.label_names == list(ACTIVITY_TARGETS)
    test = _test_split(run)
    values = load_classifier(run.path).predict_values(test.sequences)
    truth = np.asarray(test.labels)
    reported = run.metrics["finetuned"]["test"]
    assert reported["spearman"] == pytest.approx(np.mean([spearmanr(truth[:, j], values[:, j]).statistic
                                                          for j in range(2)]), abs=1e-6)
    assert reported["pearson"] == pytest.approx(np.mean([pearsonr(truth[:, j], values[:, j]).statistic
                                                         for j in range(2)]), abs=1e-6)
    assert reported["r2"] == pytest.approx(np.mean([r2_score(truth[:, j], values[:, j]) for j in range(2)]), abs=1e-5)
    # Outputs are in the targets' own units (the standardisation is folded into the saved head): their mean sits
    # near the targets' mean, not near 0.
    assert abs(values.mean(axis=0) - truth.mean(axis=0)).max() < 0.5 * truth.std(axis=0).min() + 1.0
    summary = run.metrics["summary"]["finetuned"]
    assert summary["metric"] == "spearman" and summary["test_score"] == reported["spearman"]
    assert summary["test_score_ci95"][0] <= reported["spearman"] <= summary["test_score_ci95"][1]
    for baseline in ("probe", "kmer"):
        assert set(run.metrics[baseline]["test"]) >= {"spearman", "pearson", "r2", "mse", "per_target"}


@pytest.mark.parametrize("fixture", ["multilabel_run", "multilabel_full"])
def test_multilabel_reports_what_the_saved_model_computes(fixture, request):
    run = _as_run(request.getfixturevalue(fixture))
    assert run.info.problem_type == "multi_label" and run.info.label_names == list(BINDING_LABELS)
    assert len(run.info.thresholds) == len(BINDING_LABELS)
    test = _test_split(run)
    probs = load_classifier(run.path).predict_proba(test.sequences)
    assert ((probs >= 0) & (probs <= 1)).all() and not np.allclose(probs.sum(axis=1), 1.0)  # sigmoids, not softmax
    truth = np.asarray(test.labels)
    scored = [j for j in range(truth.shape[1]) if 0 < truth[:, j].sum() < len(truth)]
    expected = np.mean([average_precision_score(truth[:, j], probs[:, j]) for j in scored])
    reported = run.metrics["finetuned"]["test"]
    assert reported["auprc_macro"] == pytest.approx(expected, abs=1e-6)
    assert reported["thresholds"] == run.info.thresholds
    assert run.metrics["summary"]["finetuned"]["metric"] == "auprc_macro"
    predictions = load_classifier(run.path).predict(test.sequences[:5])
    for row, p in zip(probs[:5], predictions, strict=True):
        assert p.labels == [n for n, v, t in zip(BINDING_LABELS, row, run.info.thresholds, strict=True) if v >= t]
        assert p.label == (";".join(p.labels) or "none")


def test_the_same_seed_gives_identical_metrics(tmp_path, regression_full):
    again = _train(tmp_path / "again", ACTIVITY, ACTIVITY_TARGETS, method="full")
    assert again.metrics["finetuned"] == regression_full.metrics["finetuned"]
    assert again.metrics["kmer"] == regression_full.metrics["kmer"]


def test_plain_peft_loads_a_regression_adapter_with_values_in_target_units(regression_run):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from hubtune.models import tiny_model_path

    info = Run(regression_run).info
    base = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_path("tiny-nt"), num_labels=len(info.label_names), problem_type="regression")
    model = PeftModel.from_pretrained(base, str(regression_run)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(regression_run))
    sequences = _test_split(Run(regression_run)).sequences[:4]
    with torch.no_grad():
        plain = torch.cat([model(**tokenizer([s], return_tensors="pt")).logits for s in sequences]).numpy()
    ours = load_classifier(regression_run).predict_values(sequences)
    np.testing.assert_allclose(plain, ours, atol=1e-5)


def test_probe_method_on_regression_uses_ridge_and_reports_spearman(tmp_path):
    run = _train(tmp_path / "probe", ACTIVITY, ACTIVITY_TARGETS, method="probe")
    test = _test_split(run)
    values = load_classifier(run.path).predict_values(test.sequences)
    truth = np.asarray(test.labels)
    expected = np.mean([spearmanr(truth[:, j], values[:, j]).statistic for j in range(2)])
    assert run.metrics["finetuned"]["test"]["spearman"] == pytest.approx(expected, abs=1e-6)
    from hubtune.card import render_card

    card = str(render_card(run.path, repo_id="alice/activity-probe", base_repo="alice/tiny-nt"))
    assert "ridge regression on mean-pooled last-layer embeddings" in card and "logistic regression" not in card


# ---------------------------------------------------------------------------------------------------------------------
# Other doors: evaluate, predict, the command line
# ---------------------------------------------------------------------------------------------------------------------


def test_evaluate_run_scores_new_data_with_the_runs_columns_and_thresholds(multilabel_run, regression_run):
    results = evaluate_run(regression_run, ACTIVITY, max_rows=100)
    assert results["test"]["spearman"] == pytest.approx(Run(regression_run).metrics["finetuned"]["test"]["spearman"],
                                                        abs=1e-6)
    results = evaluate_run(multilabel_run, BINDING, max_rows=100)
    assert results["test"]["thresholds"] == Run(multilabel_run).info.thresholds
    assert results["test"]["f1_macro"] == pytest.approx(Run(multilabel_run).metrics["finetuned"]["test"]["f1_macro"],
                                                        abs=1e-6)


def test_predict_command_writes_values_or_label_sets(tmp_path, regression_run, multilabel_run, capsys):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\n" + "acgt" * 30 + "\n>b\n" + "GATAAGGC" * 15 + "\n")
    out = tmp_path / "reg.csv"
    assert main(["predict", str(regression_run), "--input", str(fasta), "--output", str(out)]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["id", *ACTIVITY_TARGETS, "windows"]
    values = load_classifier(regression_run).predict_values(["ACGT" * 30, "GATAAGGC" * 15])
    assert [float(x) for x in rows[1][1:3]] == pytest.approx(values[0].tolist(), rel=1e-5)
    out = tmp_path / "ml.csv"
    assert main(["predict", str(multilabel_run), "--input", str(fasta), "--output", str(out)]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["id", "labels", *[f"p_{n}" for n in BINDING_LABELS], "windows"]
    assert all(set(r[1].split(";")) <= {*BINDING_LABELS, "none"} for r in rows[1:])


def test_data_command_describes_targets_and_labels(capsys):
    assert main(["data", ACTIVITY, "--label-columns", ",".join(ACTIVITY_TARGETS), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["stats"]
    assert stats["problem_type"] == "regression"
    assert set(stats["splits"]["train"]["target_stats"]) == set(ACTIVITY_TARGETS)
    assert main(["data", BINDING, "--label-columns", ",".join(BINDING_LABELS)]) == 0
    assert "multi-label classification" in capsys.readouterr().out


def test_problem_lookup_rejects_unknown_names():
    with pytest.raises(ConfigError, match="--problem-type must be one of"):
        get_problem("ordinal")


def test_the_kmer_baseline_finds_the_planted_regression_signal():
    """The generated activity task carries a k-mer signal: hubtune's own k-mer baseline must find it (Spearman > 0.8
    on test), chosen on dev like every run's baseline."""
    from hubtune.evaluate import kmer_baseline

    task = load_task(ACTIVITY, label_columns=list(ACTIVITY_TARGETS))
    train = task.splits["train"]
    result = kmer_baseline(train.sequences, train.labels,
                           {s: (task.splits[s].sequences, task.splits[s].labels) for s in ("dev", "test")},
                           len(task.label_names), task.label_names, problem="regression")
    assert result["test"]["spearman"] > 0.8
    assert result["regularisation"] == "alpha" and result["dev"]["spearman"] > 0.8


def test_datasets_give_label_sets_and_several_targets(tmp_path):
    """A `datasets` dataset: a list-valued label column (names, or ClassLabel ids) holds label sets; several numeric
    columns are regression targets, as in tables."""
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    seqs = _random_rows(60, seed=3)
    sets = [["CTCF", "GATA"][: i % 3] for i in range(60)]
    Dataset.from_dict({"sequence": seqs, "marks": sets}).save_to_disk(str(tmp_path / "names"))
    task = load_task(tmp_path / "names", label_column="marks", problem_type="multi_label")
    assert task.label_names == ["CTCF", "GATA"]
    by_id = dict(zip(seqs, sets, strict=True))
    for split in task.splits.values():
        for seq, label in zip(split.sequences, split.labels, strict=True):
            assert label == (int("CTCF" in by_id[seq]), int("GATA" in by_id[seq]))
    features = Features({"sequence": Value("string"), "marks": Sequence(ClassLabel(names=["CTCF", "GATA"]))})
    ids = [[0, 1][: i % 3] for i in range(60)]
    Dataset.from_dict({"sequence": seqs, "marks": ids}, features=features).save_to_disk(str(tmp_path / "ids"))
    same = load_task(tmp_path / "ids", label_column="marks", problem_type="multi_label")
    assert same.splits["test"].labels == task.splits["test"].labels
    Dataset.from_dict({"sequence": seqs, "a": [i / 3 for i in range(60)], "b": [i % 7 / 2 for i in range(60)]}
                      ).save_to_disk(str(tmp_path / "values"))
    values = load_task(tmp_path / "values", label_columns="a,b")
    assert values.problem_type == "regression" and values.label_names == ["a", "b"]
