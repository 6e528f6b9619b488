"""`hubtune compare` and the pitfall diagnostics: the grid and its report, resuming, refusing bad grids up front, and
each diagnostic firing on a run built to trigger it (and staying quiet where the call is reliable)."""

from __future__ import annotations

import csv
import json
import random
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from shared_runs import train_tiny_masked_lm

import hubtune.comparison.measure as measure_module
import hubtune.comparison.runner as runner_module
from hubtune.comparison import FINGERPRINT_KEYS, MEMORY_LABELS, CompareConfig, PeakMemory, compare
from hubtune.config import TrainConfig, default_of
from hubtune.data import example_task_path, load_task
from hubtune.diagnostics import Verdict, check_forgetting, diagnose_run, format_verdicts
from hubtune.errors import ConfigError, DataError, ModelError
from hubtune.methods import METHODS
from hubtune.metrics import compute_metrics, mean_sd
from hubtune.predict import load_classifier
from hubtune.run import Run
from hubtune.tables import grid_table
from hubtune.train import finetune

EXAMPLE = str(example_task_path())
LABELS = ("background", "promoter")


pytestmark = pytest.mark.usefixtures("quiet_single_thread")


def _rc(seq: str) -> str:
    return seq[::-1].translate(str.maketrans("ACGT", "TGCA"))


def write_task(folder: Path, splits: dict[str, list[tuple[str, str]]]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        with open(folder / f"{name}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sequence", "label"])
            writer.writerows(rows)
    return str(folder)


def unique_sequences(n: int, make, seed: int) -> list[str]:
    """n distinct sequences, none the reverse complement of another (so only planted leaks are leaks)."""
    rng, seen, out = random.Random(seed), set(), []
    for _ in range(100 * n):
        if len(out) == n:
            break
        seq = make(rng)
        if seq not in seen and _rc(seq) not in seen:
            seen.add(seq)
            out.append(seq)
    assert len(out) == n, "the generator cannot make that many distinct sequences"
    return out


def random_dna(rng: random.Random, length: int = 60) -> str:
    return "".join(rng.choice("ACGT") for _ in range(length))


# Motif DNA: 6-mer repeats from a small motif set, which a tiny masked LM learns to predict in a few dozen steps.
_MOTIF_RNG = random.Random(100)
MOTIFS = ["".join(_MOTIF_RNG.choice("ACGT") for _ in range(6)) for _ in range(12)]


def motif_dna(rng: random.Random) -> str:
    a, b, c = (rng.randrange(len(MOTIFS)) for _ in range(3))
    return MOTIFS[a] * 4 + MOTIFS[b] * 3 + MOTIFS[c] * 3


# ---------------------------------------------------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------------------------------------------------

PLANTED = 6


@pytest.fixture(scope="module")
def leaky_task(tmp_path_factory) -> str:
    seqs = unique_sequences(60, random_dna, seed=7)
    rng = random.Random(8)
    # 30 train rows: the grid's max_rows=30 keeps every row, planted ones included.
    train = [(s, rng.choice(LABELS)) for s in seqs[:30]]
    dev = [(s, rng.choice(LABELS)) for s in seqs[30:45]]
    test = [(s, rng.choice(LABELS)) for s in seqs[45:60]]
    test[:PLANTED] = train[:PLANTED]  # planted train/test duplicates
    return write_task(tmp_path_factory.mktemp("leaky") / "leaky", {"train": train, "dev": dev, "test": test})


def grid_config(output: Path, leaky: str, **overrides) -> CompareConfig:
    options = dict(models=["tiny-nt"], data=[EXAMPLE, leaky], methods=["lora", "probe"], seeds=[1, 2],
                   output=str(output), max_steps=6, eval_steps=3, max_rows=30, forgetting_sequences=32)
    options.update(overrides)
    return CompareConfig(**options)


@pytest.fixture(scope="module")
def grid(tmp_path_factory, leaky_task) -> tuple[CompareConfig, Path]:
    config = grid_config(tmp_path_factory.mktemp("compare") / "report", leaky_task)
    report = compare(config)
    return config, report


def _results(report: Path) -> list[dict[str, str]]:
    with open(report.parent / "results.csv") as handle:
        return list(csv.DictReader(handle))


def _first_table(text: str) -> list[str]:
    return re.search(r"(^\|.*\|\n)+", text, re.M).group(0).strip().splitlines()


@pytest.mark.slow
def test_grid_writes_report_tables_and_every_plot(grid):
    config, report = grid
    out = report.parent
    text = report.read_text()
    rows = _results(report)
    assert {(r["task"], r["method"]) for r in rows} == {(t, m) for t in ("promoter", "leaky") for m in ("lora", "probe")}
    for row in rows:
        assert row["n_seeds"] == "2"
        assert row["probe_test_score"] and row["kmer_test_score"], "baselines beside every cell"
        assert (row["problem_type"], row["metric"]) == ("single_label", "mcc")
        assert int(row["trainable_params"]) > 0 and float(row["train_seconds_per_seed"]) > 0
        assert row["memory_measure"] in MEMORY_LABELS and float(row["peak_memory_mib"]) > 50
        assert (out / row["run_folder"] / "hubtune.json").is_file()
    lora = next(r for r in rows if r["method"] == "lora")
    assert int(lora["trainable_params"]) < int(lora["total_params"])

    # The main table comes first (a model card attaches exactly that table) and has one line per cell.
    first_table = _first_table(text)
    assert first_table[0].startswith("| task | model | method | test MCC (mean ± sd) | pre-trained probe | k-mer")
    assert len(first_table) == 2 + len(rows)
    for name in ("overfitting", "underfitting", "catastrophic forgetting", "data leakage"):
        assert text.count(f"- {name}: **") == len(rows)

    expected = {"overview.png"} | {f"{kind}_{task}.png" for kind in ("mcc", "params", "cost", "layers")
                                   for task in ("promoter", "leaky")}
    expected |= {f"curves_tiny-nt_{task}.png" for task in ("promoter", "leaky")}
    pngs = {p.name for p in out.glob("*.png")}
    assert pngs == expected
    for name in pngs:
        assert f"]({name})" in text
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    results = json.loads((out / "results.json").read_text())
    assert results["config"]["seeds"] == [1, 2] and len(results["rows"]) == len(rows)
    layers = results["layer_probe"]["promoter"]["tiny-nt"]
    assert [r["layer"] for r in layers] == [0, 1, 2]  # embeddings + the tiny model's 2 layers

    # results.json rows carry what the one grid table reads: the report's table is that table, and so is the card's.
    assert "\n".join(first_table) == grid_table(results["rows"]).markdown()
    from hubtune.card import compare_section

    section = compare_section(out)
    assert section["table"].splitlines() == first_table
    assert sorted(section["plots"]) == sorted(f"compare/{p}" for p in pngs)


@pytest.mark.slow
def test_mean_and_sd_are_over_the_seeds_of_each_run(grid):
    config, report = grid
    results = json.loads((report.parent / "results.json").read_text())
    for row in results["rows"]:
        per_seed = [s["test"]["mcc"] for s in Run(report.parent / row["run_folder"]).metrics["per_seed"]]
        assert len(per_seed) == 2 and row["test_score_per_seed"] == pytest.approx(per_seed)
        assert (row["test_score_mean"], row["test_score_sd"]) == pytest.approx(mean_sd(per_seed))
        # The table shows "mean ± sd" for several seeds.
        assert f"{row['test_score_mean']:.3f} ± {row['test_score_sd']:.3f}" in grid_table([row]).rows[0]


@pytest.mark.slow
def test_same_splits_and_budget_in_every_cell(grid):
    config, report = grid
    infos = [Run(report.parent / r["run_folder"]).info for r in _results(report)]
    for task in ("promoter", "leaky"):
        sizes = {json.dumps(i.split_sizes) for i in infos if i.data_source.endswith(task)}
        assert len(sizes) == 1
    assert {i.training["max_steps"] for i in infos} == {6}
    assert {tuple(i.seeds) for i in infos} == {(1, 2)}


@pytest.mark.slow
def test_planted_duplicates_flag_leakage_with_the_deduplicated_metric(grid, leaky_task):
    config, report = grid
    cells = {(r["task"], r["method"]): r for r in _results(report)}
    assert cells[("promoter", "probe")]["leakage_status"] == "ok"
    run_dir = report.parent / cells[("leaky", "probe")]["run_folder"]
    verdict = next(v for v in diagnose_run(run_dir, forgetting=False) if v.name == "data leakage")
    assert verdict.status == "flagged"
    assert verdict.details["shared_rows"]["train/test"] == PLANTED
    assert verdict.details["n_test"] == 15 and verdict.details["n_test_dedup"] == 15 - PLANTED
    assert f"{PLANTED} test rows also in train" in verdict.summary

    # The recomputed metric is the same classifier scored on the test rows that are not in train.
    task = load_task(leaky_task, max_rows=30)
    train = set(task.splits["train"].sequences)
    clean = [(s, y) for s, y in zip(task.splits["test"].sequences, task.splits["test"].labels, strict=True)
             if s not in train]
    probs = load_classifier(run_dir).predict_proba([s for s, _ in clean])
    expected = compute_metrics([y for _, y in clean], probs, list(LABELS))["mcc"]
    assert verdict.details["metric"] == "mcc" and "test MCC" in verdict.summary
    assert verdict.details["test_score_dedup"] == pytest.approx(expected, abs=1e-6)
    assert float(cells[("leaky", "probe")]["dedup_test_score"]) == pytest.approx(expected, abs=1e-6)
    assert cells[("leaky", "probe")]["leakage_status"] == "flagged"


@pytest.mark.slow
def test_rerun_skips_finished_cells_and_changed_settings_are_refused(grid, monkeypatch):
    config, report = grid

    def no_work(*args, **kwargs):
        raise AssertionError("a finished cell was trained or diagnosed again")

    for name in ("finetune", "probe_layers", "diagnose_run"):
        monkeypatch.setattr(runner_module, name, no_work)
    before = _results(report)
    (report.parent / "results.csv").unlink()
    assert compare(config) == report
    assert _results(report) == before  # rebuilt from the run folders and the stored measurements

    # Verdicts stored by an older version of the diagnostics are recomputed (and only those).
    cell_file = report.parent / "cells" / "tiny-nt__leaky__lora.json"
    record = json.loads(cell_file.read_text())
    cell_file.write_text(json.dumps({**record, "diagnostics_version": 0}))
    calls = []
    monkeypatch.setattr(runner_module, "diagnose_run",
                        lambda path, **k: calls.append(Path(path).name) or [Verdict(**v) for v in record["verdicts"]])
    compare(config)
    assert calls == ["tiny-nt__leaky__lora"]

    with pytest.raises(ConfigError, match=r"other settings.*max_steps=6, now 7.*--overwrite"):
        compare(grid_config(report.parent, config.data[1], max_steps=7))


def test_resume_fingerprint_and_defaults_come_from_train_config():
    names = {f.name for f in fields(TrainConfig)}
    assert set(FINGERPRINT_KEYS) <= names, "a fingerprint key is no longer a TrainConfig field"
    grid = CompareConfig()
    for name in ("epochs", "max_steps", "batch_size", "max_rows", "lr", "patience", "eval_steps", "trust_remote_code"):
        assert getattr(grid, name) == default_of(name)
    assert grid.split_seed == default_of("seed") and grid.seeds == [default_of("seed")]
    assert grid.methods == list(METHODS)
    assert CompareConfig(patience=0).patience is None  # 0 turns early stopping off, as in `hubtune train`


def test_peak_memory_says_not_measured_where_no_peak_can_be_read(monkeypatch):
    # A platform without Linux's resettable high-water mark and without a lifetime peak (e.g. macOS): sampled RSS.
    monkeypatch.setattr(measure_module, "_reset_linux_peak", lambda: False)
    monkeypatch.setattr(measure_module, "_lifetime_peak_mib", lambda: None)
    with PeakMemory() as sampled:
        block = bytearray(64 * 2**20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
    assert sampled.kind == "rss-sampled"
    assert sampled.peak_mib >= sampled.start_mib + 48, "the 64 MiB held during the block count toward the peak"
    del block

    # Nothing readable at all: no number, and the report's label says so.
    monkeypatch.setattr(measure_module, "_rss_mib", lambda: None)
    with PeakMemory() as nothing:
        pass
    assert (nothing.kind, nothing.peak_mib) == ("not measured", None)
    assert MEMORY_LABELS[nothing.kind].startswith("not measured")
    # (a row as written before problem types, keyed test_mcc_mean: still read)
    row = {"task": "t", "model": "m", "method": "lora", "n_seeds": 1, "test_mcc_mean": 0.5,
           "peak_memory_mib": nothing.peak_mib}
    assert grid_table([row]).rows[0][8] == "–"


def test_importing_and_plotting_leave_matplotlib_backend_alone(tmp_path):
    script = f"""
import sys, matplotlib
matplotlib.use("svg")
import hubtune, hubtune.comparison, hubtune.diagnostics, hubtune.plots
assert "matplotlib.pyplot" not in sys.modules, "importing hubtune loaded pyplot"
hubtune.plots.plot_layer_probe([{{"layer": 0, "dev_mcc": 0.1, "test_mcc": 0.2}}], {str(tmp_path / "l.png")!r})
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "l.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        ({"methods": ["lora", "prefix-tuning"]}, ConfigError, r"unknown method\(s\) 'prefix-tuning'"),
        ({"models": ["tiny-nt", "./no-such-model"]}, ModelError, r"--models item 2 \('\./no-such-model'\)"),
        ({"data": [EXAMPLE, "/nonexistent/task"]}, DataError, r"--data item 2 \(/nonexistent/task\)"),
        ({"seeds": []}, ConfigError, r"--seeds is empty"),
        ({"lr": -1.0}, ConfigError, r"--lr must be a non-negative"),
    ],
)
def test_bad_grids_are_refused_before_any_training(tmp_path, monkeypatch, overrides, error, message):
    monkeypatch.setattr(runner_module, "finetune", lambda *a, **k: pytest.fail("training started"))
    monkeypatch.setattr(runner_module, "probe_layers", lambda *a, **k: pytest.fail("probing started"))
    config = grid_config(tmp_path / "out", EXAMPLE, **overrides)
    with pytest.raises(error, match=message):
        compare(config)
    assert not (tmp_path / "out").exists()


def test_tasks_with_different_classes_share_one_report_each_with_its_labels(tmp_path):
    """GUE tasks have different classes (promoters, binding sites): one grid compares them by MCC."""
    from hubtune.comparison.grid import plan_grid

    seqs = unique_sequences(30, random_dna, seed=3)
    other = write_task(tmp_path / "enhancers", {"train": [(s, "enhancer" if i % 2 else "other")
                                                          for i, s in enumerate(seqs[:20])],
                                                "test": [(s, "enhancer" if i % 2 else "other")
                                                         for i, s in enumerate(seqs[20:])]})
    plan = plan_grid(grid_config(tmp_path / "out", other))
    labels = {task["name"]: task["label_names"] for task in plan.tasks.values()}
    assert labels == {"promoter": ["background", "promoter"], "enhancers": ["enhancer", "other"]}
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------------------------------
# Diagnostics on runs built to trigger them
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> str:
    """tiny-nt after a short masked-LM pre-training on motif DNA: its MLM loss there is far below chance."""
    corpus = unique_sequences(256, motif_dna, seed=11)  # all 60 bp: same length, no padding
    return train_tiny_masked_lm(corpus, 50, tmp_path_factory.mktemp("pretrained") / "tiny-motif-lm")


@pytest.fixture(scope="module")
def motif_task(tmp_path_factory) -> str:
    """Motif DNA with random labels and only 12 training rows: nothing to learn but the training set itself."""
    seqs = unique_sequences(60, motif_dna, seed=5)
    rng = random.Random(6)
    label = [LABELS[i % 2] for i in range(60)]
    rng.shuffle(label)
    rows = list(zip(seqs, label, strict=True))
    return write_task(tmp_path_factory.mktemp("motif") / "motif",
                      {"train": rows[:12], "dev": rows[12:36], "test": rows[36:]})


def _verdicts(run: Run) -> dict[str, Verdict]:
    return {v.name: v for v in diagnose_run(run.path, max_sequences=24)}


@pytest.fixture(scope="module")
def overfit(tmp_path_factory, pretrained, motif_task) -> dict[str, Verdict]:
    # Full fine-tuning, a high learning rate, 40 steps over 12 rows (40 epochs) and no early stopping.
    run = finetune(TrainConfig(model=pretrained, data=motif_task, method="full", lr=2e-3, max_steps=40, eval_steps=4,
                               patience=None, seeds=[1], baselines=False,
                               output=str(tmp_path_factory.mktemp("overfit") / "run")))
    return _verdicts(run)


@pytest.fixture(scope="module")
def zero_lr(tmp_path_factory, pretrained, motif_task) -> dict[str, Verdict]:
    run = finetune(TrainConfig(model=pretrained, data=motif_task, method="lora", lr=0.0, max_steps=6, eval_steps=3,
                               seeds=[1], baselines=False, output=str(tmp_path_factory.mktemp("zero") / "run")))
    return _verdicts(run)


@pytest.mark.slow
def test_tiny_train_set_with_many_steps_is_flagged_as_overfitting(overfit, zero_lr):
    verdict = overfit["overfitting"]
    assert verdict.status == "flagged"
    curve = verdict.details["curves"][0]
    assert curve["dev_loss_rise"] >= 0.2 and curve["train_loss_fall"] >= 0.5
    assert "kept checkpoint (best dev MCC): seed 1 step" in verdict.summary
    assert verdict.details["kept_checkpoints"][0]["last_step"] == 40
    assert zero_lr["overfitting"].status == "ok"  # nothing trained: nothing to overfit


@pytest.mark.slow
def test_zero_learning_rate_is_flagged_as_underfitting(zero_lr, overfit):
    verdict = zero_lr["underfitting"]
    assert verdict.status == "flagged"
    assert verdict.details["learning_rate"] == 0.0
    assert abs(verdict.details["loss"][0]["relative_drop"]) < 0.05
    assert "higher learning rate" in verdict.summary
    assert overfit["underfitting"].status == "ok"  # train loss fell ~100%, train MCC 1


@pytest.mark.slow
def test_full_fine_tuning_at_a_high_lr_shows_forgetting_and_lr_zero_none(overfit, zero_lr):
    verdict = overfit["catastrophic forgetting"]
    assert verdict.details["loss_pretrained"] < 4.0, "the pre-trained LM predicts motif DNA far better than chance"
    assert verdict.details["ratio"] > 1.25 and verdict.status == "flagged"
    assert verdict.details["relative_weight_change"] > 0
    assert "ratio_shuffled" in verdict.details and f"ratio {verdict.details['ratio']:.3f}" in verdict.summary
    quiet = zero_lr["catastrophic forgetting"]
    assert quiet.status == "ok" and quiet.details["ratio"] == pytest.approx(1.0, abs=1e-6)  # nothing learnt
    assert quiet.details["relative_weight_change"] == pytest.approx(0.0, abs=1e-9)  # the adapter merges to nothing
    assert quiet.details["loss_pretrained"] == pytest.approx(verdict.details["loss_pretrained"], rel=1e-5)
    assert overfit["data leakage"].status == "ok" and zero_lr["data leakage"].status == "ok"


@pytest.mark.slow
def test_forgetting_is_not_measured_without_a_masked_lm_head(tmp_path):
    from hubtune.models import load_base_model, load_tokenizer

    folder = tmp_path / "classifier-only"
    load_base_model("tiny-nt", 2).save_pretrained(str(folder))  # a sequence-classification checkpoint: no lm_head
    load_tokenizer("tiny-nt").save_pretrained(str(folder))
    run = finetune(TrainConfig(model=str(folder), data=EXAMPLE, method="lora", max_steps=2, eval_steps=2, max_rows=20,
                               seeds=[1], baselines=False, output=str(tmp_path / "run")))
    verdict = check_forgetting(run, max_sequences=8)
    assert verdict.status == "not measurable"
    assert "no masked-LM head weights" in verdict.summary and "lm_head" in verdict.summary


@pytest.mark.slow
def test_format_verdicts_one_line_each(overfit):
    text = format_verdicts(list(overfit.values()))
    lines = text.splitlines()
    assert len(lines) == 4
    for line, name in zip(lines, ("overfitting", "underfitting", "catastrophic forgetting", "data leakage"),
                          strict=True):
        assert line.startswith(name) and overfit[name].status in line
    assert np.isfinite(overfit["catastrophic forgetting"].details["ratio"])
