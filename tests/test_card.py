"""Model cards: valid Hub YAML, complete body, no local paths, the right snippet for each family and method, and a
golden card that pins the whole rendering.

The run folders here are written from fixed values (no training), so every card is reproducible. Rewrite the golden
file after an intended change with `HUBTUNE_UPDATE_GOLDEN=1 pytest tests/test_card.py`, and read the diff.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import ModelCard, metadata_load

from hubtune.card import EXAMPLE_SEQUENCE, build_card_data, compare_section, render_base_card, render_card, write_card
from hubtune.cli import main
from hubtune.data import gue_dataset
from hubtune.errors import ConfigError, HubError, RunFolderError
from hubtune.heads import LinearHead
from hubtune.metrics import seed_summary
from hubtune.run import Run, RunInfo

REPO = "alice/promoter-lora"
GOLDEN = Path(__file__).parent / "golden" / "model_card.md"
LABELS = ["non-promoter", "promoter"]


# ---------------------------------------------------------------------------------------------------------------------
# A run folder from fixed values
# ---------------------------------------------------------------------------------------------------------------------


def _scores(mcc: float, f1: float, accuracy: float, auroc: float, per_class=None, ci=None) -> dict:
    block = {"n": 50, "mcc": mcc, "f1_macro": f1, "accuracy": accuracy, "precision_macro": f1, "recall_macro": f1,
             "auroc": auroc}
    if ci:
        block["mcc_ci95"] = list(ci)
    if per_class:
        block["per_class"] = [{"label": name, "precision": p, "recall": r, "f1": f, "support": n}
                              for name, (p, r, f, n) in zip(LABELS, per_class, strict=True)]
        block["confusion_matrix"] = [[20, 5], [6, 19]]
    return block


def write_run(folder: Path) -> Path:
    """A complete LoRA run folder on tiny-nt, trained on a local folder, with one seed and no leakage."""
    folder.mkdir(parents=True)
    test = _scores(0.5612, 0.7799, 0.78, 0.8544, [(0.7692, 0.8, 0.7843, 25), (0.7917, 0.76, 0.7755, 25)],
                   ci=(0.3301, 0.7702))
    dev = _scores(0.6024, 0.7998, 0.8, 0.8816)
    metrics = {
        "finetuned": {"dev": dev, "test": test},
        "probe": {"dev": _scores(0.4406, 0.7196, 0.72, 0.7904),
                  "test": _scores(0.4034, 0.7013, 0.7, 0.7712, ci=(0.1502, 0.6403))},
        "kmer": {"dev": _scores(0.3621, 0.6799, 0.68, 0.7408),
                 "test": _scores(0.3273, 0.6635, 0.66, 0.7296, ci=(0.0601, 0.5725))},
        "per_seed": [{"seed": 42, "dev": dev, "test": test, "train_seconds": 12.5, "best_step": 20}],
        "summary": {"finetuned": seed_summary([test], [42], 42)},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    pair = {"exact": 0, "exact_rows": 0, "reverse_complement": 0, "reverse_complement_rows": 0, "label_conflicts": 0,
            "examples": []}
    within = {"duplicated_sequences": 0, "extra_rows": 0, "label_conflicts": 0, "examples": []}
    sizes = {"train": 100, "dev": 50, "test": 50}
    leakage = {"task": "promoter", "has_leak": False, "split_sizes": sizes, "distinct_sequences": sizes,
               "pairs": {key: pair for key in ("train/dev", "train/test", "dev/test")},
               "within_split": {key: within for key in sizes}}
    (folder / "leakage.json").write_text(json.dumps(leakage, indent=2))
    (folder / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "task_type": "SEQ_CLS", "base_model_name_or_path": "tiny-nt", "revision": None, "r": 8,
        "lora_alpha": 16, "lora_dropout": 0.05, "modules_to_save": ["classifier"]}))
    LinearHead(np.zeros((2, 4), dtype=np.float32), np.zeros(2, dtype=np.float32)).save(
        folder / "base_probe_head.safetensors")
    training = {"model": "tiny-nt", "data": "/home/someone/data/promoter", "method": "lora",
                "output": "/home/someone/runs/promoter-lora", "epochs": 3.0, "max_steps": 20, "lr": None,
                "learning_rate": 0.0005, "batch_size": 16, "grad_accum": 1, "seed": 42, "eval_steps": 10,
                "patience": 5, "class_weights": False, "weight_decay": 0.01, "warmup_ratio": 0.05, "dedup": False,
                "precision": "auto"}
    RunInfo(
        label_names=list(LABELS), method="lora", base_model="tiny-nt", family="nt", max_length=64, window_bp=378,
        stride_bp=189, task="promoter", data_source="/home/someone/data/promoter", split_origin="given",
        split_sizes=dict(sizes),
        method_config={"method": "lora", "r": 8, "alpha": 16, "dropout": 0.05, "targets": None,
                       "resolved_targets": ["query", "key", "value", "dense"]},
        seeds=[42], best_seed=42, trainable_parameters=18_562, total_parameters=402_818, train_seconds=12.5,
        training=training, dataset=dict(gue_dataset("GUE/prom/prom_core_tata"), length_bp_in_data=[70, 70]),
        versions={"python": "3.11.9", "hubtune": "0.1.0", "torch": "2.5.1", "transformers": "5.0.0",
                  "peft": "0.17.1", "huggingface_hub": "2.4.0"},
        created="2025-01-15T10:00:00Z",
    ).write(folder)
    return folder


@pytest.fixture
def run_copy(tmp_path) -> Path:
    """A run folder of this test's own, whose JSON files the test may edit."""
    return write_run(tmp_path / "promoter-run")


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def assert_clean(text: str, run_path: Path) -> None:
    assert "More information needed" not in text
    assert str(run_path) not in text and "someone" not in text
    assert "/tmp/" not in text and "/home/" not in text


# ---------------------------------------------------------------------------------------------------------------------
# The whole card
# ---------------------------------------------------------------------------------------------------------------------


def test_card_matches_the_golden_card(run_copy, tmp_path):
    out = write_card(run_copy, tmp_path / "README.md", repo_id=REPO)
    rendered = out.read_bytes()
    if os.environ.get("HUBTUNE_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_bytes(rendered)
        pytest.skip(f"rewrote {GOLDEN.name}: review the diff")
    assert rendered == GOLDEN.read_bytes(), (
        "The model card changed. If intended, rewrite the golden file with HUBTUNE_UPDATE_GOLDEN=1 and review the diff."
    )


def test_cli_card_writes_a_card_whose_yaml_validates(run_copy, hub_server, tmp_path):
    out = tmp_path / "card.md"
    assert main(["card", str(run_copy), "--output", str(out), "--repo", REPO]) == 0
    run = Run(run_copy)
    metadata = metadata_load(out)
    assert metadata["library_name"] == "peft"
    assert metadata["pipeline_tag"] == "text-classification"
    assert metadata["base_model"] == "alice/tiny-nt"
    assert metadata["license"] == "cc-by-nc-sa-4.0"
    assert {"genomics", "dna", "hubtune", "nt", "lora", "promoter"} <= set(metadata["tags"])
    assert "datasets" not in metadata  # local data is not a Hub dataset
    # the block list_adapters reads without downloading anything
    assert metadata["hubtune"] == {"task": "promoter", "labels": LABELS, "family": "nt", "method": "lora",
                                   "base_model": "alice/tiny-nt", "max_length": 64, "window_bp": 378,
                                   "stride_bp": 189, "problem_type": "single_label", "metric": "mcc",
                                   "test_score": 0.5612, "test_score_statistic": "single seed", "n_seeds": 1}
    card = ModelCard.load(out)  # huggingface_hub's own parsing, model-index included (raises on malformed YAML)
    card.validate()  # and the hub's validate-yaml route
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    test = run.metrics["finetuned"]["test"]
    assert results == {"matthews_correlation": round(test["mcc"], 4), "f1": round(test["f1_macro"], 4),
                       "accuracy": round(test["accuracy"], 4)}
    names = {r.metric_type: r.metric_name for r in card.data.eval_results}
    assert names["matthews_correlation"] == "Test MCC (95% CI 0.330–0.770)"  # what the value is, as in the text
    assert "test MCC 0.561 (95% CI 0.330–0.770) on the held-out test split" in out.read_text()
    assert card.data.model_name == "promoter-lora"
    text = out.read_text()
    assert_clean(text, run_copy)
    for label in run.label_names:
        assert f"| `{label}` |" in text
    assert f"| fine-tuned | {test['mcc']:.3f} " in text
    kmer_row = next(line for line in text.splitlines() if line.startswith("| k-mer baseline"))
    assert f"| {run.metrics['kmer']['test']['mcc']:.3f} " in kmer_row
    assert "no sequence is shared between splits" in text
    assert "`promoter` (local files; only the name is shown)" in text
    assert "Nature Methods" in text  # the base family's citation
    assert f"| torch | {run.info.versions['torch']} |" in text and "Trained 2025-01-15T10:00:00Z" in text
    assert "hubtune's tiny random-weight stand-in" in text


def test_card_default_location_and_placeholder_repo(run_copy):
    path = write_card(run_copy)
    assert path == run_copy / "README.md"
    text = path.read_text()
    assert 'PeftModel.from_pretrained(base, "your-username/promoter-run")' in text
    assert '"your-username/tiny-nt"' in text
    assert_clean(text, run_copy)
    with pytest.raises(HubError, match="repo id"):
        write_card(run_copy, repo_id="not a repo")


def _several_seeds(run_copy: Path, mccs=(0.1, 0.2, 0.3), best_seed: int = 3) -> None:
    """Make the run a 3-seed run whose shipped (best-on-dev) seed is `best_seed`, as training writes it."""
    metrics = json.loads((run_copy / "metrics.json").read_text())
    template = metrics["per_seed"][0]
    per_seed = []
    for seed, mcc in zip((1, 2, 3), mccs, strict=True):
        entry = json.loads(json.dumps(template))
        entry["seed"], entry["test"]["mcc"], entry["dev"]["mcc"] = seed, mcc, mcc
        entry["test"]["f1_macro"] = 0.5 + mcc
        per_seed.append(entry)
    metrics["per_seed"] = per_seed
    metrics["finetuned"] = {"dev": per_seed[best_seed - 1]["dev"], "test": per_seed[best_seed - 1]["test"]}
    metrics["summary"]["finetuned"] = seed_summary([s["test"] for s in per_seed], [1, 2, 3], best_seed)
    (run_copy / "metrics.json").write_text(json.dumps(metrics))
    edit_json(run_copy / "hubtune.json", seeds=[1, 2, 3], best_seed=best_seed)


def test_several_seeds_show_mean_and_sd(run_copy):
    _several_seeds(run_copy)
    card = render_card(run_copy, repo_id=REPO)
    assert "| fine-tuned | 0.200 ± 0.100 |" in card.text
    assert "over 3 training seeds (1, 2, 3)" in card.text and "from seed 3" in card.text
    assert "test MCC 0.200 ± 0.100 (mean ± sd, 3 seeds)" in card.text
    assert "| seeds | 1, 2, 3 (shipped: 3) |" in card.text
    assert card.data.to_dict()["hubtune"]["n_seeds"] == 3


def test_card_text_and_model_index_carry_the_same_statistic(run_copy):
    """Several seeds: the model-index holds the mean over seeds (as the text does), named so; the shipped best seed's
    own test MCC appears only labelled as such."""
    _several_seeds(run_copy)
    card = render_card(run_copy, repo_id=REPO)
    index = {r.metric_type: (r.metric_value, r.metric_name) for r in card.data.eval_results}
    assert index["matthews_correlation"] == (0.2, "Test MCC (mean of 3 seeds)")  # not the best seed's 0.3
    assert index["f1"] == (0.7, "Test macro F1 (mean of 3 seeds)")
    assert card.data.to_dict()["hubtune"]["test_score"] == 0.2
    assert "test MCC 0.200 ± 0.100 (mean ± sd, 3 seeds) on the held-out test split" in card.text
    assert "best seed's own test MCC 0.300; the result of the run is the mean above" in card.text
    # one seed: the value with its bootstrap interval, in the text and in the model-index name
    card = render_card(write_run(run_copy.parent / "single"), repo_id=REPO)
    value, name = next((r.metric_value, r.metric_name) for r in card.data.eval_results
                       if r.metric_type == "matthews_correlation")
    assert (value, name) == (0.5612, "Test MCC (95% CI 0.330–0.770)")
    assert "test MCC 0.561 (95% CI 0.330–0.770)" in card.text


def _with_test_mccs(run_copy: Path, finetuned, kmer, probe=(0.01, [-0.08, 0.1])) -> None:
    metrics = json.loads((run_copy / "metrics.json").read_text())
    for key, (mcc, ci) in (("finetuned", finetuned), ("kmer", kmer), ("probe", probe)):
        metrics[key]["test"].update(mcc=mcc)
        metrics[key]["test"].pop("mcc_ci95", None)
        if ci is not None:
            metrics[key]["test"]["mcc_ci95"] = ci
    metrics["per_seed"][0]["test"] = metrics["finetuned"]["test"]
    metrics["summary"]["finetuned"] = seed_summary([metrics["finetuned"]["test"]], [42], 42)
    (run_copy / "metrics.json").write_text(json.dumps(metrics))


def test_a_baseline_as_good_within_the_intervals_is_called_out(run_copy):
    _with_test_mccs(run_copy, (0.5, [0.45, 0.55]), (0.3, [0.25, 0.35]))
    text = render_card(run_copy, repo_id=REPO).text
    assert "scores at least as well" not in text and "may be as good" not in text
    _with_test_mccs(run_copy, (0.5, [0.45, 0.55]), (0.6, [0.55, 0.65]))
    text = render_card(run_copy, repo_id=REPO).text
    assert ("On this test set the k-mer baseline scores at least as well as the fine-tuned model (MCC 0.600 (95% CI "
            "0.550–0.650) vs 0.500 (95% CI 0.450–0.550))") in text
    # a small lead inside overlapping intervals is not a win (0.086 vs 0.075 on a few hundred sequences)
    _with_test_mccs(run_copy, (0.086, [-0.01, 0.18]), (0.075, [-0.02, 0.17]))
    text = render_card(run_copy, repo_id=REPO).text
    assert ("the k-mer baseline may be as good as the fine-tuned model: the difference is within the uncertainty of "
            "the measurement (MCC 0.075 (95% CI -0.020–0.170) vs 0.086 (95% CI -0.010–0.180)") in text
    assert "pre-trained probe may be as good" in text  # 0.01 in [-0.08, 0.1] overlaps [-0.01, 0.18] too


def test_card_of_an_older_run_without_intervals(run_copy):
    """metrics.json written before intervals existed: no CI anywhere, old summary keys; the card still renders."""
    metrics = json.loads((run_copy / "metrics.json").read_text())
    for key in ("finetuned", "kmer", "probe"):
        metrics[key]["test"].pop("mcc_ci95", None)
    metrics["summary"]["finetuned"] = {"n_seeds": 1, "test_mcc_mean": 0.5612, "test_mcc_sd": 0.0,
                                       "test_mcc_per_seed": [0.5612], "best_seed": 42}
    (run_copy / "metrics.json").write_text(json.dumps(metrics))
    edit_json(run_copy / "hubtune.json", dataset=None)
    card = render_card(run_copy, repo_id=REPO)
    index = {r.metric_type: (r.metric_value, r.metric_name) for r in card.data.eval_results}
    assert index["matthews_correlation"] == (0.5612, "Test MCC")
    assert "test MCC 0.561 on the held-out test split." in card.text
    assert "| benchmark |" not in card.text and "may be as good" not in card.text


def test_hub_dataset_is_listed_and_local_files_show_only_their_name(run_copy):
    edit_json(run_copy / "hubtune.json", data_source="InstaDeepAI/nucleotide_transformer_downstream_tasks")
    data = build_card_data(run_copy, REPO, "alice/tiny-nt")
    assert data.datasets == ["InstaDeepAI/nucleotide_transformer_downstream_tasks"]
    assert {r.dataset_type for r in data.eval_results} == {"InstaDeepAI/nucleotide_transformer_downstream_tasks"}
    card = render_card(run_copy, repo_id=REPO)
    assert "[`InstaDeepAI/nucleotide_transformer_downstream_tasks`](/datasets/" in card.text
    edit_json(run_copy / "hubtune.json", data_source="/home/someone/secret-project/promoters.csv")
    card = render_card(run_copy, repo_id=REPO)
    assert card.data.datasets is None
    assert "`promoters.csv` (local files" in card.text and "secret-project" not in str(card)


def test_snippets_follow_the_family_and_method(run_copy):
    # DNABERT-2: remote code is broken on transformers 5, so the base comes from hubtune; the peft line is unchanged.
    edit_json(run_copy / "hubtune.json", family="dnabert2", base_model="zhihan1996/DNABERT-2-117M",
              base_model_revision="0123abc")
    card = render_card(run_copy, repo_id="alice/dnabert2-promoter")
    assert card.data.base_model == "zhihan1996/DNABERT-2-117M" and card.data.license == "apache-2.0"
    assert "dnabert2" in card.data.tags
    assert ('hubtune.load_base_model("zhihan1996/DNABERT-2-117M", num_labels=2, label_names=labels, '
            'revision="0123abc")') in card.text
    assert 'PeftModel.from_pretrained(base, "alice/dnabert2-promoter")' in card.text
    assert 'hubtune.load_tokenizer("zhihan1996/DNABERT-2-117M", revision="0123abc")' in card.text
    assert "AutoModelForSequenceClassification" not in card.text
    assert "DNABERT-2}: Efficient Foundation Model" in card.text
    assert "tiny random-weight" not in card.text
    # a full fine-tune is a standalone transformers model
    edit_json(run_copy / "hubtune.json", family="nt", base_model="tiny-nt", method="full",
              method_config={"method": "full"})
    card = render_card(run_copy, repo_id="alice/full-promoter")
    assert card.data.library_name == "transformers" and "full" in card.data.tags
    assert 'AutoModelForSequenceClassification.from_pretrained("alice/full-promoter")' in card.text
    assert 'AutoTokenizer.from_pretrained("alice/full-promoter")' in card.text
    assert "PeftModel" not in card.text
    assert "`config.json`, `model.safetensors`: the whole fine-tuned model" in card.text
    # partial fine-tuning says how much was frozen
    edit_json(run_copy / "hubtune.json", method="freeze", method_config={"method": "freeze", "layers": 1})
    card = render_card(run_copy, repo_id="alice/freeze-promoter")
    assert "| frozen | embeddings + the lowest 1 layers |" in card.text and "freeze" in card.data.tags
    # a probe has no transformers weights: only the hubtune loader
    edit_json(run_copy / "hubtune.json", method="probe", method_config={"method": "probe", "c": 1.0})
    card = render_card(run_copy, repo_id="alice/probe-promoter")
    assert card.data.library_name is None
    assert 'hubtune.load_classifier("alice/probe-promoter")' in card.text and "PeftModel" not in card.text
    assert "`probe_head.safetensors`" in card.text
    assert "| learning rate |" not in card.text  # a probe is not trained by gradient descent
    assert card.text.count("```python") == 1


def test_data_section_says_what_the_data_is(run_copy):
    text = render_card(run_copy, repo_id=REPO).text
    assert "| 0 | `non-promoter` | not a promoter (constructed negative) |" in text
    assert "| species | Homo sapiens (human) |" in text
    assert "| sequence length | 70 bp (in the data used: 70 bp) |" in text
    assert "| negatives | non-promoter sequences from the human genome" in text
    assert "EPDnew" in text and "Dreos et al. (2013)" in text
    assert "| licence | No licence is stated for the GUE data files" in text
    citation = text[text.index("## Citation"):]
    assert "Training data: the GUE task `prom/prom_core_tata`" in citation and "zhou2024dnabert2" in citation
    # covid: which id is which variant is not documented, so the card says so instead of naming them
    edit_json(run_copy / "hubtune.json", label_names=[str(i) for i in range(9)],
              dataset=gue_dataset("GUE/virus/covid"))
    text = render_card(run_copy, repo_id=REPO).text
    assert "does not document which id is which variant" in text and "| meaning |" not in text
    assert "GISAID terms of use" in text


def test_snippets_uppercase_and_print_label_names(run_copy):
    text = render_card(run_copy, repo_id=REPO).text
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    for code in blocks:
        upper = code.index("sequences = [s.upper() for s in sequences]  #")
        assert upper < code.index("predict(" if "hubtune.load_classifier" in code else "tokenizer(sequences")
        assert "uppercase bases" in code.splitlines()[code[:upper].count("\n")]
    assert "model.config.id2label[i]" in blocks[0]
    assert 'AutoConfig.from_pretrained("alice/promoter-lora")' in blocks[0]
    assert "other IUPAC codes are rejected" not in text
    assert "turns the other IUPAC ambiguity codes (R, Y, S, W, K, M, B, D, H, V) into N, and rejects any other" in text


def test_leakage_is_reported_in_the_card(run_copy):
    leakage = json.loads((run_copy / "leakage.json").read_text())
    leakage["has_leak"] = True
    leakage["pairs"]["train/test"].update(exact=3, exact_rows=4)
    (run_copy / "leakage.json").write_text(json.dumps(leakage))
    text = render_card(run_copy, repo_id=REPO).text
    assert "the test scores are optimistic" in text
    assert "3 distinct test sequences also occur in train" in text
    assert "| train/test | 3 | 0 | 0 |" in text


def test_compare_report_table_and_plots_are_embedded(run_copy, tmp_path):
    report = tmp_path / "compare-report"
    report.mkdir()
    row = {"task": "promoter", "model": "/home/someone/models/my-nt", "method": "lora", "n_seeds": 2,
           "test_mcc_mean": 0.42, "test_mcc_sd": 0.01, "probe_test_mcc": 0.3, "kmer_test_mcc": 0.25,
           "trainable_params": 18_600, "train_seconds_per_seed": 3.2, "peak_memory_mib": 512.0,
           "overfitting_status": "ok", "leakage_status": "flagged", "dedup_test_mcc": 0.4}
    (report / "results.json").write_text(json.dumps({"rows": [row]}))
    (report / "mcc_by_method.png").write_bytes(b"\x89PNG")
    section = compare_section(report)
    assert section["plots"] == ["compare/mcc_by_method.png"]
    assert section["table"].splitlines()[0].startswith("| task | model | method | test MCC (mean ± sd) |")
    text = render_card(run_copy, repo_id=REPO, compare_report=report).text
    assert "| promoter | my-nt | lora | 0.420 ± 0.010 | 0.300 | 0.250 | 18.6k |" in text
    assert "**flagged** (dedup 0.400)" in text and "someone" not in text
    assert "![compare/mcc_by_method.png](compare/mcc_by_method.png)" in text
    (report / "results.json").unlink()
    (report / "report.md").write_text("# Report\n\n| model | MCC |\n|---|--:|\n")
    with pytest.raises(ConfigError, match="results.json"):
        render_card(run_copy, repo_id=REPO, compare_report=report)
    with pytest.raises(ConfigError, match="results.json"):
        render_card(run_copy, repo_id=REPO, compare_report=tmp_path / "nowhere")


def test_base_model_card_for_a_tiny_stand_in():
    from hubtune.models import FAMILIES, tiny_model_path

    card = render_base_card(tiny_model_path("tiny-nt"), "alice/tiny-nt", origin="tiny-nt", family=FAMILIES["nt"])
    parsed = ModelCard(str(card))
    assert {"genomics", "dna", "hubtune-base", "nt", "tiny-random"} <= set(parsed.data.tags)
    assert parsed.data.library_name == "transformers" and parsed.data.pipeline_tag == "fill-mask"
    assert "no pre-training" in card.text and "InstaDeepAI/nucleotide-transformer-500m-human-ref" in card.text
    assert 'hubtune.load_base_model("alice/tiny-nt", num_labels=2)' in card.text
    assert re.search(r"^\| num hidden layers \| \d+ \|$", card.text, re.M)
    assert "More information needed" not in card.text and "/tmp/" not in card.text


def test_card_errors_name_the_problem(run_copy, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short path: the CLI wraps long error lines, whatever pytest's folder is called
    assert main(["card", "no-such-run"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (run_copy / "metrics.json").unlink()
    with pytest.raises(RunFolderError, match="metrics.json"):
        write_card(run_copy)


# ---------------------------------------------------------------------------------------------------------------------
# The snippets run when pasted
# ---------------------------------------------------------------------------------------------------------------------

_RUN_SNIPPETS = r"""
import contextlib, io, json, re, sys

from huggingface_hub import hf_hub_download

results = {}
for repo_id in sys.argv[1:]:
    readme = open(hf_hub_download(repo_id, "README.md")).read()
    outputs = []
    for code in re.findall(r"```python\n(.*?)```", readme, re.S):
        namespace = {"__name__": "__main__"}
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "README.md", "exec"), namespace)
        if "probs" in namespace:
            outputs.append([namespace["probs"][0].tolist(), printed.getvalue()])
        else:
            outputs.append([list(namespace["prediction"].probabilities.values()), printed.getvalue()])
    results[repo_id] = outputs
# plain transformers reads the class names from the repo
from transformers import AutoConfig
results["id2label"] = {repo_id: AutoConfig.from_pretrained(repo_id).id2label for repo_id in sys.argv[1:]}
print(json.dumps(results))
"""


def _with_weights(folder: Path, method_name: str) -> Path:
    """Give a fixed-value run real (untrained, seeded) tiny weights of `method_name`, saved as training would."""
    import torch

    from hubtune.methods import make_method
    from hubtune.models import FAMILIES, load_base_model, load_tokenizer

    method = make_method(method_name)
    (folder / "adapter_config.json").unlink()
    torch.manual_seed(0)
    model = method.prepare(load_base_model("tiny-nt", 2, label_names=LABELS), FAMILIES["nt"])
    method.save(model, folder, base_model="tiny-nt", base_revision=None)
    load_tokenizer("tiny-nt").save_pretrained(str(folder))
    edit_json(folder / "hubtune.json", method=method_name, method_config=method.to_dict())
    return folder


def test_pasted_snippets_load_the_pushed_weights(hub_server, tmp_path):
    """Every Python snippet of a LoRA and a full fine-tune card runs in a fresh process against the hub and gives
    the run's own probabilities."""
    from hubtune.hub import push_to_hub
    from hubtune.predict import load_classifier

    expected = {}
    for method_name in ("lora", "full"):
        folder = _with_weights(write_run(tmp_path / method_name), method_name)
        repo_id = f"alice/card-snippets-{method_name}"
        push_to_hub(folder, repo_id, token=hub_server.token)
        expected[repo_id] = load_classifier(str(folder), device="cpu").predict_proba([EXAMPLE_SEQUENCE])[0]

    env = dict(os.environ, HF_HOME=str(tmp_path / "fresh-hf-home"))  # empty cache: everything comes from the hub
    env.pop("HF_TOKEN", None)
    result = subprocess.run([sys.executable, "-c", _RUN_SNIPPETS, *expected], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    for repo_id, probs in expected.items():
        assert len(outputs[repo_id]) == 2  # the plain-library snippet and the hubtune one
        for values, printed in outputs[repo_id]:
            np.testing.assert_allclose(values, probs, atol=1e-5)
            assert any(name in printed for name in LABELS) and "LABEL_" not in printed, printed
        assert outputs["id2label"][repo_id] == {"0": LABELS[0], "1": LABELS[1]}  # also for the LoRA adapter repo
    shutil.rmtree(tmp_path / "fresh-hf-home", ignore_errors=True)
