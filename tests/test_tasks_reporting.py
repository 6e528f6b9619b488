"""What reports a multi-label or regression run: the comparison table, the pitfall diagnostics and `hubtune compare`
name the task's own metric (macro AUPRC, Spearman), show the values metrics.json holds, judge chance against the
right level, and never call "ok" what was not measured."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

import hubtune.comparison.plots as compare_plots
from hubtune.comparison import CompareConfig, compare
from hubtune.comparison.grid import task_columns
from hubtune.data.example_tasks import ACTIVITY_TARGETS, activity_task_path
from hubtune.diagnostics import at_chance, chance_level, check_underfitting, diagnose_run, rule_notes
from hubtune.errors import ConfigError
from hubtune.metrics import seed_summary
from hubtune.predict import load_classifier
from hubtune.problems import get_problem
from hubtune.run import Run
from hubtune.tables import PROBLEM_COLUMNS, comparison_table, fmt, grid_table

pytestmark = pytest.mark.usefixtures("quiet_single_thread")


# ---------------------------------------------------------------------------------------------------------------------
# The comparison table
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture, problem, headline", [("regression_run", "regression", "Spearman"),
                                                        ("multilabel_run", "multi_label", "macro AUPRC")])
def test_comparison_table_shows_the_problems_metrics_with_the_values_of_metrics_json(request, fixture, problem,
                                                                                      headline):
    run = Run(request.getfixturevalue(fixture))
    metrics = run.metrics
    table = comparison_table(metrics)
    columns = PROBLEM_COLUMNS[problem]
    assert table.header == ["model", *(f"test {name}" for _, name in columns), f"dev {headline}"]
    assert [row[0] for row in table.rows] == ["fine-tuned", "pre-trained probe", "k-mer baseline"]
    for row, key in zip(table.rows, ("finetuned", "probe", "kmer"), strict=True):
        test = metrics[key]["test"]
        metric, ci = columns[0][0], test[f"{columns[0][0]}_ci95"]
        assert row[1] == f"{test[metric]:.3f} ({ci[0]:.3f}–{ci[1]:.3f})"
        assert row[2:5] == [fmt(test[k]) for k, _ in columns[1:]]
        assert row[5] == fmt(metrics[key]["dev"][metric])
        assert "–" not in row
    assert f"Test {headline} with its 95% bootstrap interval" in table.note
    assert "MCC" not in table.text()
    if problem == "regression":
        assert f"means over the 2 targets ({', '.join(ACTIVITY_TARGETS)})" in table.note
    else:
        assert "thresholds tuned on dev" in table.note
    # The problem may be given; a table of the same metrics.json as single-label shows nothing, not other numbers.
    assert comparison_table(metrics, problem=problem).rows == table.rows


def test_comparison_table_of_several_seeds_names_the_metric_of_the_shipped_seed():
    per_seed = [{"seed": 1, "test": {"spearman": 0.6}, "dev": {"spearman": 0.7}},
                {"seed": 2, "test": {"spearman": 0.4}, "dev": {"spearman": 0.5}}]
    metrics = {"finetuned": {"seed": 1, "test": {"spearman": 0.6, "pearson": 0.5}, "dev": {"spearman": 0.7}},
               "per_seed": per_seed,
               "summary": {"finetuned": seed_summary([s["test"] for s in per_seed], [1, 2], 1, metric="spearman")}}
    table = comparison_table(metrics)
    assert table.header[1] == "test Spearman" and table.rows[0][1] == "0.500 ± 0.141"
    assert "seed 1's (best dev Spearman); its own test Spearman is 0.600" in table.note
    # Single-label tables keep their columns.
    assert comparison_table({"finetuned": {"test": {"mcc": 0.5}}}).header[1:3] == ["test MCC", "test macro F1"]


def test_grid_table_names_each_rows_metric_and_reads_rows_written_before_problem_types():
    rows = [{"task": "activity", "model": "m", "method": "lora", "n_seeds": 1, "metric": "spearman",
             "metric_label": "Spearman", "test_score_mean": 0.61, "probe_test_score": 0.3, "kmer_test_score": 0.8,
             "leakage_status": "flagged", "dedup_test_score": 0.55},
            {"task": "binding", "model": "m", "method": "lora", "n_seeds": 1, "metric": "auprc_macro",
             "metric_label": "macro AUPRC", "test_score_mean": 0.42}]
    one = grid_table(rows[:1])
    assert one.header[3] == "test Spearman (mean ± sd)" and one.rows[0][3:6] == ["0.610", "0.300", "0.800"]
    assert one.rows[0][-1] == "**flagged** (dedup 0.550)"
    mixed = grid_table(rows)
    assert mixed.header[3:5] == ["metric", "test (mean ± sd)"]
    assert [r[3:5] for r in mixed.rows] == [["Spearman", "0.610"], ["macro AUPRC", "0.420"]]
    legacy = grid_table([{"task": "t", "model": "m", "method": "lora", "n_seeds": 1, "test_mcc_mean": 0.5,
                          "probe_test_mcc": 0.3}])
    assert legacy.header[3] == "test MCC (mean ± sd)" and legacy.rows[0][3:5] == ["0.500", "0.300"]


# ---------------------------------------------------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture, headline", [("regression_run", "Spearman"), ("multilabel_run", "macro AUPRC")])
def test_diagnostics_name_the_runs_metric_and_measure_the_signal(request, fixture, headline):
    run = Run(request.getfixturevalue(fixture))
    problem = run.info.problem
    verdicts = {v.name: v for v in diagnose_run(run.path, forgetting=False)}
    for verdict in verdicts.values():
        assert "MCC" not in verdict.summary, verdict.summary
    over, under = verdicts["overfitting"], verdicts["underfitting"]
    train, dev = run.metrics["finetuned"]["train"][problem.metric], run.metrics["finetuned"]["dev"][problem.metric]
    assert f"train {headline} {train:.3f} vs dev {headline} {dev:.3f}" in over.summary
    assert f"kept checkpoint (best dev {headline}): seed" in over.summary
    assert (over.details["train_score"], over.details["dev_score"]) == (train, dev)
    assert under.details["metric"] == problem.metric and under.details["train_score"] == train
    # Majority collapse does not apply: recorded as not checked, never as a collapse found or ruled out.
    assert under.details["collapse"] is None and under.details["collapse_checked"] is False
    assert "majority collapse:" not in under.summary
    if under.status != "ok":
        assert "majority collapse not checked" in under.summary
    # The learnable-signal check measured all three models with the run's metric (nothing "not run").
    signal = under.details["signal"]
    assert signal["missing"] == []
    assert [s["model"] for s in signal["scores"]] == ["finetuned", "probe", "kmer"]
    assert {s["metric"] for s in signal["scores"]} == {headline}
    assert [s["value"] for s in signal["scores"]] == [run.metrics[k]["test"][problem.metric]
                                                      for k in ("finetuned", "probe", "kmer")]
    if problem.name == "multi_label":
        prevalences = [p["prevalence"] for p in run.metrics["finetuned"]["train"]["per_label"]]
        assert under.details["train_chance"] == pytest.approx(np.mean(prevalences))
        assert f"(chance = {np.mean(prevalences):.3f}, the mean label prevalence)" in under.summary
    else:
        assert under.details["train_chance"] == 0.0 and f"train Spearman {train:.3f} (chance = 0)" in under.summary


def test_chance_is_zero_for_spearman_and_the_prevalence_for_macro_auprc():
    regression, multi = get_problem("regression"), get_problem("multi_label")
    assert at_chance({"spearman": 0.03, "n": 100, "spearman_ci95": [-0.16, 0.22]}, regression)[0] is True
    assert at_chance({"spearman": 0.45, "n": 100, "spearman_ci95": [0.28, 0.6]}, regression)[0] is False
    assert at_chance({"spearman": 0.1, "n": 400}, regression) == (True, "|Spearman| <= 2.394 x SE 1/sqrt(n)")
    per_label = [{"label": "a", "auprc": 0.35, "prevalence": 0.3}, {"label": "b", "auprc": 0.55, "prevalence": 0.5}]
    block = {"auprc_macro": 0.45, "n": 100, "auprc_macro_ci95": [0.38, 0.52], "per_label": per_label}
    assert chance_level(multi, block) == pytest.approx(0.4)
    judged = at_chance(block, multi)
    assert judged[0] is True and judged[1].startswith("|macro AUPRC - 0.400|")
    # The same AUPRC is far above chance when the labels are rare.
    rare = [{**p, "prevalence": 0.05} for p in per_label]
    assert at_chance({**block, "per_label": rare}, multi)[0] is False
    # Without an interval (or without the prevalences) macro AUPRC cannot be judged: nothing is concluded.
    assert at_chance({"auprc_macro": 0.45, "n": 100, "per_label": per_label}, multi) is None
    assert at_chance({"auprc_macro": 0.45, "n": 100, "auprc_macro_ci95": [0.38, 0.52]}, multi) is None
    # An MCC in a regression block is not the regression metric.
    assert at_chance({"mcc": 0.0, "n": 100}, regression) is None
    notes = "\n".join(rule_notes())
    assert "macro AUPRC the mean prevalence" in notes and "(single-label tasks only)" in notes


def _at_chance_copy(run_dir: Path, tmp_path: Path) -> Run:
    """A copy of a run whose fine-tuned model and baselines all score at chance on test."""
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    problem = get_problem(json.loads((copy / "hubtune.json").read_text())["problem_type"])
    for key in ("finetuned", "probe", "kmer"):
        blocks = [metrics[key]["test"]] + [s["test"] for s in metrics.get("per_seed", [])] * (key == "finetuned")
        for test in blocks:
            chance = chance_level(problem, test)
            test[problem.metric] = chance + 0.01
            test[f"{problem.metric}_ci95"] = [chance - 0.1, chance + 0.12]
    (copy / "metrics.json").write_text(json.dumps(metrics))
    return Run(copy)


@pytest.mark.parametrize("fixture, headline", [("regression_run", "Spearman"), ("multilabel_run", "macro AUPRC")])
def test_all_models_at_chance_is_no_learnable_signal_in_the_runs_metric(request, tmp_path, fixture, headline):
    run = _at_chance_copy(request.getfixturevalue(fixture), tmp_path)
    verdict = check_underfitting(run)
    assert verdict.details["cause"] == "no learnable signal" and verdict.status != "ok"
    assert "no learnable signal: check labels and splits" in verdict.summary
    assert f"fine-tuned {headline} " in verdict.summary and f"k-mer baseline {headline} " in verdict.summary
    assert "MCC" not in verdict.summary


# ---------------------------------------------------------------------------------------------------------------------
# compare with a regression task
# ---------------------------------------------------------------------------------------------------------------------

PLANTED = 10


@pytest.fixture(scope="module")
def leaky_activity(tmp_path_factory) -> Path:
    """100 rows per split of the generated activity task, the first 10 train rows planted in test."""
    folder = tmp_path_factory.mktemp("tasks") / "activity"
    folder.mkdir()
    for split in ("train", "dev", "test"):
        with open(activity_task_path() / f"{split}.csv") as handle:
            rows = list(csv.reader(handle))
        header, body = rows[0], rows[1:101]
        if split == "train":
            planted = body[:PLANTED]
        else:
            body = (planted + body[PLANTED:]) if split == "test" else body
        with open(folder / f"{split}.csv", "w", newline="") as handle:
            csv.writer(handle).writerows([header, *body])
    return folder


def test_columns_of_each_task_come_from_label_columns():
    config = CompareConfig(data=["tasks/promoter", "tasks/activity", "data/binding.csv"],
                           label_columns=["activity=developmental+housekeeping", "binding=CTCF+GATA"])
    assert task_columns(config) == {"tasks/promoter": None, "tasks/activity": "developmental,housekeeping",
                                    "data/binding.csv": "CTCF,GATA"}
    shared = CompareConfig(data=["tasks/activity"], label_columns=["developmental", "housekeeping"])
    assert task_columns(shared) == {"tasks/activity": "developmental,housekeeping"}
    with pytest.raises(ConfigError, match="names the task 'enhancers', which is none of the --data items"):
        task_columns(CompareConfig(data=["tasks/activity"], label_columns=["enhancers=a+b"]))


def test_compare_with_a_regression_task_scores_plots_and_checks_leakage_with_spearman(tmp_path, leaky_activity,
                                                                                      monkeypatch):
    ylabels: dict[str, list[str]] = {}
    save = compare_plots.save_figure

    def recording_save(fig, path):
        ylabels[Path(path).name] = [ax.get_ylabel() for ax in fig.axes]
        return save(fig, path)

    monkeypatch.setattr(compare_plots, "save_figure", recording_save)
    config = CompareConfig(models=["tiny-nt"], data=[str(leaky_activity)], methods=["lora"], max_steps=20,
                           eval_steps=10, max_rows=100, label_columns=list(ACTIVITY_TARGETS),
                           output=str(tmp_path / "report"), forgetting_sequences=16)
    report = compare(config)
    out = report.parent
    text = report.read_text()
    results = json.loads((out / "results.json").read_text())
    (row,) = results["rows"]
    run = Run(out / row["run_folder"])
    assert run.info.problem_type == "regression" and run.label_names == list(ACTIVITY_TARGETS)

    # The row, the CSV and the table carry Spearman values from the run's metrics.json.
    assert (row["metric"], row["metric_label"]) == ("spearman", "Spearman")
    assert row["test_score_mean"] == pytest.approx(run.metrics["finetuned"]["test"]["spearman"])
    assert row["kmer_test_score"] == pytest.approx(run.metrics["kmer"]["test"]["spearman"])
    with open(out / "results.csv") as handle:
        (csv_row,) = list(csv.DictReader(handle))
    assert csv_row["metric"] == "spearman" and float(csv_row["test_score_mean"]) == pytest.approx(
        row["test_score_mean"])
    assert "| task | model | method | test Spearman (mean ± sd) |" in text
    assert "Test Spearman is the mean ± sd over seeds" in text and "scored by Spearman" in text
    assert "MCC" not in text.split("## How the diagnostics decide")[0]

    # Every figure of the task is labelled with Spearman.
    assert (out / "spearman_activity.png").is_file() and not (out / "mcc_activity.png").exists()
    assert ylabels["spearman_activity.png"] == ["test Spearman (mean ± sd over seeds)"]
    assert ylabels["params_activity.png"] == ["test Spearman"]
    assert ylabels["layers_activity.png"] == ["probe Spearman"]
    assert ylabels["curves_tiny-nt_activity.png"] == ["loss", "dev Spearman"]
    assert "test Spearman" in ylabels["overview.png"]
    layers = results["layer_probe"]["activity"]["tiny-nt"]
    assert [r["layer"] for r in layers] == [0, 1, 2] and all(np.isfinite(r["test_spearman"]) for r in layers)

    # The leakage verdict re-scores the deduplicated test rows with Spearman (mean over targets).
    leakage = row["verdicts"]["data leakage"]
    assert leakage["status"] == "flagged" and leakage["details"]["metric"] == "spearman"
    assert f"{PLANTED} test rows also in train" in leakage["summary"] and "test Spearman" in leakage["summary"]
    with open(leaky_activity / "test.csv") as handle:
        test_rows = list(csv.DictReader(handle))[PLANTED:]
    values = load_classifier(run.path).predict_values([r["sequence"] for r in test_rows])
    expected = np.mean([spearmanr([float(r[t]) for r in test_rows], values[:, j]).statistic
                        for j, t in enumerate(ACTIVITY_TARGETS)])
    assert leakage["details"]["test_score_dedup"] == pytest.approx(expected, abs=1e-6)
    assert row["dedup_test_score"] == pytest.approx(expected, abs=1e-6)
    assert leakage["details"]["n_test_dedup"] == 100 - PLANTED
