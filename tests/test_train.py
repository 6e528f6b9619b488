"""Training, evaluation and the run folder: the four methods, reproducibility, baselines, multi-process runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hubtune.data import example_task_path
from hubtune.errors import ConfigError, DataError, ModelError, RunFolderError
from hubtune.methods import FreezeConfig, LoraMethodConfig
from hubtune.predict import load_classifier
from hubtune.run import Run, RunInfo
from hubtune.tables import comparison_table
from hubtune.train import TrainConfig, finetune

EXAMPLE = str(example_task_path())
FAST = {"max_steps": 8, "eval_steps": 4, "batch_size": 16, "max_rows": 160}


def _train(tmp_path: Path, name: str, **kwargs) -> Run:
    options = {"model": "tiny-nt", "data": EXAMPLE, "output": str(tmp_path / name), **FAST, **kwargs}
    run = finetune(TrainConfig(**options))
    assert run is not None
    return run


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory) -> Run:
    return _train(tmp_path_factory.mktemp("lora"), "run", method="lora")


def test_lora_run_folder_contract(lora_run: Run):
    files = {p.name for p in lora_run.path.iterdir()}
    assert {"hubtune.json", "metrics.json", "leakage.json", "adapter_config.json", "adapter_model.safetensors",
            "base_probe_head.safetensors", "training_log.json", "tokenizer_config.json"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files), "everything written must be safetensors/JSON"
    assert "README.md" not in files  # peft's placeholder card is dropped; the real card is generated at push time
    assert not (lora_run.path / "checkpoints").exists()
    assert not lora_run.path.with_name(lora_run.path.name + ".partial").exists()

    adapter_config = json.loads((lora_run.path / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == "tiny-nt"  # the model id, not a cache path
    keys = load_file(str(lora_run.path / "adapter_model.safetensors"))
    assert any(".attention.self.query.lora_A" in k for k in keys)
    assert any(".attention.self.value.lora_B" in k for k in keys)
    assert any(k.startswith("base_model.model.classifier.") for k in keys), "the head must be saved with the adapter"
    assert not any("classifier" in k and "lora_" in k for k in keys), "the head trains in full, not through LoRA"

    info = lora_run.info
    assert info.label_names == ["background", "promoter"]
    assert info.family == "nt" and info.method == "lora"
    assert info.max_length == 21  # 100 bp = 16 six-mers + 4 single bases + <cls>
    assert {"torch", "transformers", "peft"} <= set(info.versions)
    assert 0 < info.trainable_parameters < info.total_parameters

    metrics = lora_run.metrics
    for block in ("finetuned", "probe", "kmer"):
        for split in ("dev", "test"):
            m = metrics[block][split]
            assert {"mcc", "f1_macro", "accuracy", "auroc", "per_class", "confusion_matrix"} <= set(m)
            assert np.sum(m["confusion_matrix"]) == m["n"] == lora_run.info.split_sizes[split]
    table = comparison_table(metrics).text()
    kmer_line = next(line for line in table.splitlines() if line.startswith("k-mer baseline"))
    assert f"{metrics['kmer']['test']['mcc']:.3f}" in kmer_line


def test_saved_adapter_reproduces_reported_metrics(lora_run: Run):
    """Loading the adapter like a user does gives exactly the metrics the run reported."""
    from hubtune import data
    from hubtune.metrics import compute_metrics

    task = data.load_task(EXAMPLE, max_rows=FAST["max_rows"], seed=42)
    classifier = load_classifier(lora_run.path, device="cpu")
    for split in ("dev", "test"):  # dev comes from the Trainer's evaluation of the kept checkpoint
        scores = compute_metrics(task.splits[split].labels, classifier.predict_proba(task.splits[split].sequences))
        reported = lora_run.metrics["finetuned"][split]
        assert scores["mcc"] == pytest.approx(reported["mcc"], abs=1e-9)
        assert scores["auroc"] == pytest.approx(reported["auroc"], abs=1e-6)


def test_bf16_training_on_a_cpu_reports_the_saved_weights_fp32_metrics(tmp_path: Path):
    """--precision bf16 trains under CPU autocast; the reported dev and test metrics are still those of the saved
    weights run in fp32, as users load them (the Trainer's bf16 dev logits are not reused)."""
    from hubtune import data
    from hubtune.metrics import compute_metrics

    run = _train(tmp_path, "bf16", method="full", precision="bf16", baselines=False)
    assert run.info.training["precision"] == "bf16"
    task = data.load_task(EXAMPLE, max_rows=FAST["max_rows"], seed=42)
    classifier = load_classifier(run.path, device="cpu")
    for split in ("dev", "test"):
        scores = compute_metrics(task.splits[split].labels, classifier.predict_proba(task.splits[split].sequences))
        reported = run.metrics["finetuned"][split]
        assert scores["auroc"] == pytest.approx(reported["auroc"], abs=1e-9)
        assert scores["confusion_matrix"] == reported["confusion_matrix"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "full", "freeze", "probe"])
def test_same_seed_gives_bit_identical_metrics(tmp_path: Path, method: str):
    first = _train(tmp_path, "a", method=method, baselines=False, seed=7)
    second = _train(tmp_path, "b", method=method, baselines=False, seed=7)
    assert first.metrics["finetuned"] == second.metrics["finetuned"]
    if method == "lora":
        other = _train(tmp_path, "c", method=method, baselines=False, seed=8)
        assert other.metrics["finetuned"]["dev"]["confusion_matrix"] != first.metrics["finetuned"]["dev"][
            "confusion_matrix"] or other.metrics["finetuned"]["dev"]["auroc"] != first.metrics["finetuned"]["dev"]["auroc"]


def test_freeze_keeps_embeddings_and_lower_layers(tmp_path: Path):
    from safetensors.torch import load_file as load

    from hubtune.models import tiny_model_path

    run = _train(tmp_path, "freeze", method=FreezeConfig(layers=1), baselines=False, lr=1e-2)
    trained = load(str(run.path / "model.safetensors"))
    base = load(str(tiny_model_path("tiny-nt") / "model.safetensors"))
    assert torch.equal(trained["esm.embeddings.word_embeddings.weight"], base["esm.embeddings.word_embeddings.weight"])
    assert torch.equal(trained["esm.encoder.layer.0.attention.self.query.weight"],
                       base["esm.encoder.layer.0.attention.self.query.weight"])
    assert not torch.equal(trained["esm.encoder.layer.1.attention.self.query.weight"],
                           base["esm.encoder.layer.1.attention.self.query.weight"])
    assert run.info.method_config["layers"] == 1 and run.info.method == "freeze"


def test_probe_method_writes_head_and_predicts(tmp_path: Path):
    run = _train(tmp_path, "probe", method="probe")
    assert (run.path / "probe_head.safetensors").is_file()
    assert not (run.path / "adapter_model.safetensors").exists()
    predictions = load_classifier(run.path).predict(["acgt" * 30, "TATAAA" * 20])  # lowercase is accepted
    assert [p.id for p in predictions] == ["seq1", "seq2"]
    assert all(abs(sum(p.probabilities.values()) - 1) < 1e-6 for p in predictions)


def test_several_seeds_report_mean_and_sd(tmp_path: Path):
    run = _train(tmp_path, "seeds", method="lora", seeds=[1, 2], baselines=False)
    summary = run.metrics["summary"]["finetuned"]
    assert summary["n_seeds"] == 2
    per_seed = summary["test_score_per_seed"]
    assert summary["test_score_mean"] == pytest.approx(np.mean(per_seed))
    assert summary["test_score_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    assert [s["seed"] for s in run.metrics["per_seed"]] == [1, 2]
    row = comparison_table(run.metrics).rows[0]
    assert row[1] == f"{summary['test_score_mean']:.3f} ± {summary['test_score_sd']:.3f}"


def test_training_seeds_see_the_same_rows_and_report_one_statistic(tmp_path: Path):
    """--max-rows samples with --data-seed: the probe (no randomness of its own) scores identically for every seed."""
    run = _train(tmp_path, "probe-seeds", method="probe", seeds=[1, 2], max_rows=120)
    per_seed = run.metrics["per_seed"]
    assert per_seed[0]["test"]["mcc"] == per_seed[1]["test"]["mcc"]
    assert run.info.training["data_seed"] == 42
    summary = run.metrics["summary"]["finetuned"]
    assert summary["statistic"] == "mean ± sd over 2 seeds" and summary["test_score"] == summary["test_score_mean"]
    assert run.metrics["finetuned"]["seed"] == summary["best_seed"]
    other = _train(tmp_path, "probe-data-seed", method="probe", seed=1, max_rows=120, data_seed=7)
    assert other.info.split_sizes == run.info.split_sizes
    assert other.metrics["finetuned"]["test"]["mcc"] != per_seed[0]["test"]["mcc"]  # other rows, other score


def test_a_single_seed_reports_its_test_mcc_with_a_bootstrap_interval(lora_run: Run):
    summary = lora_run.metrics["summary"]["finetuned"]
    test = lora_run.metrics["finetuned"]["test"]
    assert summary["statistic"] == "single seed, 95% bootstrap CI"
    assert summary["test_score"] == test["mcc"] and summary["test_score_ci95"] == test["mcc_ci95"]
    assert test["mcc_ci95"][0] <= test["mcc"] <= test["mcc_ci95"][1]
    assert lora_run.metrics["kmer"]["k"] in ([2, 3, 4], [3, 4, 5], [3, 4, 5, 6])


def test_a_run_needs_a_model(tmp_path: Path):
    with pytest.raises(ConfigError, match="No model given.*tiny-nt"):
        finetune(TrainConfig(data=EXAMPLE, output=str(tmp_path / "x")))
    assert not (tmp_path / "x").exists()


def test_long_sequences_are_scored_with_sliding_windows(lora_run: Run):
    window = lora_run.info.window_bp
    long_seq = "ACGTTATAAAGC" * (window // 4)  # three windows' worth
    (pred,) = load_classifier(lora_run.path).predict([long_seq])
    assert pred.windows > 1


def test_class_weights_and_grad_accum_run(tmp_path: Path):
    run = _train(tmp_path, "cw", method="lora", class_weights=True, grad_accum=2, baselines=False)
    assert run.info.training["class_weights"] is True and run.info.training["grad_accum"] == 2


def test_dedup_removes_leaked_test_sequences(tmp_path: Path):
    import csv

    task = tmp_path / "leaky"
    task.mkdir()
    rows = list(csv.reader(open(Path(EXAMPLE) / "train.csv")))
    header, body = rows[0], rows[1:201]
    for split, part in (("train", body[:150]), ("dev", body[150:175]), ("test", body[175:] + body[:5])):
        with open(task / f"{split}.csv", "w", newline="") as handle:
            csv.writer(handle).writerows([header, *part])
    run = _train(tmp_path, "dedup", data=str(task), dedup=True, baselines=False, max_rows=None)
    assert run.leakage["has_leak"] is True
    assert run.info.split_sizes["test"] == 25
    assert run.leakage["pairs"]["train/test"]["exact"] == 5  # reported before dedup removed them


def test_dedup_removes_duplicates_that_sit_only_inside_test(tmp_path: Path):
    import csv

    task = tmp_path / "repeats"
    task.mkdir()
    rows = list(csv.reader(open(Path(EXAMPLE) / "train.csv")))
    header, body = rows[0], rows[1:201]
    from hubtune.data import reverse_complement

    repeats = [body[175], body[176], [reverse_complement(body[177][0]), body[177][1]]]
    for split, part in (("train", body[:150]), ("dev", body[150:175]), ("test", body[175:] + repeats)):
        with open(task / f"{split}.csv", "w", newline="") as handle:
            csv.writer(handle).writerows([header, *part])
    run = _train(tmp_path, "dedup-within", data=str(task), dedup=True, baselines=False, max_rows=None)
    assert run.leakage["has_leak"] is False
    assert run.leakage["within_split"]["test"]["duplicated_sequences"] == 2
    assert run.leakage["within_split"]["test"]["reverse_complement_pairs"] == 1
    assert run.info.split_sizes["test"] == 25  # 28 rows, 3 repeats removed


def test_failed_run_leaves_no_complete_folder(tmp_path: Path):
    output = tmp_path / "broken"
    with pytest.raises(ConfigError, match="freeze-layers 9 is larger than the model, which has 2 layers"):
        finetune(TrainConfig(model="tiny-nt", data=EXAMPLE, method=FreezeConfig(layers=9), output=str(output),
                             **FAST))
    assert not (output / "hubtune.json").exists()


def test_existing_run_is_not_overwritten_by_accident(lora_run: Run):
    with pytest.raises(ConfigError, match="already holds a finished run"):
        finetune(TrainConfig(model="tiny-nt", data=EXAMPLE, output=str(lora_run.path), **FAST))
    assert (lora_run.path / "hubtune.json").is_file()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"method": "adapterx"}, ConfigError, "Unknown method 'adapterx'"),
        ({"lr": -1.0}, ConfigError, "--lr must be a non-negative"),
        ({"method": LoraMethodConfig(r=0)}, ConfigError, "--lora-r must be a positive"),
        ({"method": FreezeConfig(layers=-1)}, ConfigError, "--freeze-layers must be 0 or more"),
        ({"max_length": 0}, ConfigError, "--max-length must be at least 2"),
        ({"model": "./no/such/model"}, ModelError, "neither a built-in tiny model"),
        ({"data": "/nonexistent/task"}, DataError, "/nonexistent/task"),
        ({"method": LoraMethodConfig(targets=["Wqkv"])}, ConfigError, "Wqkv do not exist"),
    ],
)
def test_bad_settings_raise_named_errors(tmp_path: Path, options, error, message):
    config = {"model": "tiny-nt", "data": EXAMPLE, "output": str(tmp_path / "x"), **FAST, **options}
    with pytest.raises(error, match=message):
        finetune(TrainConfig(**config))
    assert not (tmp_path / "x" / "hubtune.json").exists()


@pytest.mark.slow
def test_runs_under_accelerate_launch_with_two_processes(tmp_path: Path):
    """Two CPU processes (gloo) train one model through accelerate; only the main process writes the run folder."""
    output = tmp_path / "ddp"
    env = {**os.environ, "HUBTUNE_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    command = [
        # --multi_gpu selects accelerate's torchrun launcher; without CUDA each process trains on the CPU over gloo.
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "hubtune.cli", "train", "--model", "tiny-nt", "--data", EXAMPLE,
        "--max-steps", "6", "--eval-steps", "3", "--max-rows", "120", "--output", str(output), "--no-baselines",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    run = Run(output)
    assert run.info.world_size == 2
    assert run.metrics["finetuned"]["test"]["n"] == run.info.split_sizes["test"]


def test_a_peft_lora_config_is_used_as_given(tmp_path: Path):
    from peft import LoraConfig

    config = LoraConfig(r=4, lora_alpha=8, target_modules=["query"])
    run = _train(tmp_path, "peft", method=config, baselines=False)
    adapter_config = json.loads((run.path / "adapter_config.json").read_text())
    assert adapter_config["r"] == 4 and adapter_config["target_modules"] == ["query"]
    keys = load_file(str(run.path / "adapter_model.safetensors"))
    assert any(".query.lora_A" in k for k in keys) and not any(".value.lora_A" in k for k in keys)
    assert run.info.method_config["r"] == 4
    assert load_classifier(run.path).predict(["ACGT" * 20])[0].label in run.info.label_names


def test_run_info_refuses_foreign_damaged_and_newer_files(lora_run: Run, tmp_path: Path):
    data = lora_run.info.to_dict()
    assert RunInfo.from_dict(data) == lora_run.info  # a round trip keeps every field
    with pytest.raises(RunFolderError, match="newer than this hubtune reads"):
        RunInfo.from_dict({**data, "format_version": 99})
    with pytest.raises(RunFolderError, match="lacks the field"):
        RunInfo.from_dict({k: v for k, v in data.items() if k != "window_bp"})
    with pytest.raises(RunFolderError, match="not written by hubtune"):
        RunInfo.from_dict({**data, "format": "something-else"})
    with pytest.raises(RunFolderError, match="unknown method 'adapterx'"):
        RunInfo.from_dict({**data, "method": "adapterx"})
    (tmp_path / "hubtune.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="not valid JSON"):
        RunInfo.read(tmp_path)


@pytest.mark.parametrize(("total", "n_dev", "per_step"), [(150, 613, 8), (2000, 600, 32), (1839, 613, 8), (15, 613, 8),
                                                         (300, 100, 16)])
def test_dev_evaluations_cost_about_a_fifth_of_training_at_most(total, n_dev, per_step):
    """Evaluations (every `interval` steps, plus the Trainer's own at the last step) cost at most ~20% of training
    compute (3 forwards per trained sequence) once a run can afford one, and there are at most about ten."""
    import math

    from hubtune.trainer import evaluation_interval

    interval = evaluation_interval(total, n_dev, per_step)
    evaluations = total // interval + (total % interval != 0)
    assert evaluations <= 11
    if 0.2 * 3 * total * per_step >= n_dev:  # the run affords one evaluation
        assert evaluations * n_dev <= 0.2 * 3 * total * per_step * 1.1
    else:
        assert evaluations == 1
    assert interval == total or total - (evaluations - 1) * interval >= math.floor(0.5 * interval)
