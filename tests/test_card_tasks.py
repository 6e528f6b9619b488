"""Cards, pushes and Hub listings of multi-label and regression runs.

The rendered card parses (huggingface_hub's own parsers) and its model-index carries the problem's metrics with
metrics.json's values, as the same statistic as the text; golden cards of fixed-value runs pin the whole rendering
(rewrite them after an intended change with `HUBTUNE_UPDATE_GOLDEN=1 pytest tests/test_card_tasks.py`, and read the
diff). A pushed run loads with plain `PeftModel.from_pretrained` on a base built from the pushed config.json, and the
card's pasted snippet, with the outputs of `hubtune.load_classifier`; `list_adapters` names each model's metric.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi, ModelCard, hf_hub_download, metadata_load
from huggingface_hub.repocard_data import model_index_to_eval_results
from test_card import assert_clean, edit_json, write_run

from hubtune.card import EXAMPLE_SEQUENCE, render_card, write_card
from hubtune.hub import list_adapters, push_to_hub
from hubtune.metrics import seed_summary, summary_text
from hubtune.predict import load_classifier
from hubtune.run import Run

GOLDEN_DIR = Path(__file__).parent / "golden"
# model-index metric type -> key in metrics.json's scores, per problem type
INDEX_KEYS = {
    "regression": {"spearmanr": "spearman", "pearsonr": "pearson", "r_squared": "r2", "mse": "mse"},
    "multi_label": {"average_precision": "auprc_macro", "roc_auc": "auroc_macro", "f1": "f1_macro"},
}
HEADLINE = {"regression": ("spearmanr", "Spearman", "spearman"),
            "multi_label": ("average_precision", "macro AUPRC", "auprc_macro")}
PUSHED = {"regression": "alice/activity-lora", "multi_label": "alice/binding-lora"}


# ---------------------------------------------------------------------------------------------------------------------
# Fixed-value run folders (reproducible cards)
# ---------------------------------------------------------------------------------------------------------------------

TARGETS = ["developmental", "housekeeping"]
LABELS = ["CTCF", "GATA", "ETS"]
THRESHOLDS = [0.31, 0.42, 0.27]


def _regression_scores(spearman: float, shift: float, ci=None) -> dict:
    per_target = [{"target": name, "spearman": spearman + d, "pearson": spearman + d - 0.02, "r2": spearman ** 2 + d,
                   "mse": 1.0 - spearman + d + shift, "n": 50} for name, d in zip(TARGETS, (0.05, -0.05), strict=True)]
    block = {"n": 50, **{key: float(np.mean([row[key] for row in per_target]))
                         for key in ("spearman", "pearson", "r2", "mse")}, "per_target": per_target}
    block["spearman_ci95"] = list(ci) if ci else None
    return block


def _multilabel_scores(auprc: float, ci=None) -> dict:
    per_label = [{"label": name, "auprc": auprc + d, "auroc": 0.5 + auprc / 2 + d, "f1": auprc - 0.1 + d,
                  "threshold": t, "positives": 10 + i, "prevalence": (10 + i) / 50}
                 for i, (name, d, t) in enumerate(zip(LABELS, (0.1, 0.0, -0.1), THRESHOLDS, strict=True))]
    block = {"n": 50, "auprc_macro": auprc, "auprc_micro": auprc + 0.01, "auroc_macro": 0.5 + auprc / 2,
             "auroc_micro": 0.51 + auprc / 2, "f1_macro": auprc - 0.1, "f1_micro": auprc - 0.09,
             "thresholds": list(THRESHOLDS), "labels_scored": 3, "per_label": per_label}
    block["auprc_macro_ci95"] = list(ci) if ci else None
    return block


def write_task_run(folder: Path, problem: str, *, seeds: tuple[int, ...] = (42,)) -> Path:
    """A complete LoRA run folder of a multi-label or regression task, written from fixed values."""
    write_run(folder)
    if problem == "regression":
        names, task, metric = TARGETS, "activity", "spearman"
        per_seed = [{"seed": seed, "dev": _regression_scores(0.55 + i / 10, 0.0),
                     "test": _regression_scores(0.5 + i / 10, 0.0, ci=(0.35 + i / 10, 0.63 + i / 10))}
                    for i, seed in enumerate(seeds)]
        probe = {"dev": _regression_scores(0.31, 0.2), "test": _regression_scores(0.28, 0.2, ci=(0.1, 0.45))}
        kmer = {"dev": _regression_scores(0.44, 0.1), "test": _regression_scores(0.41, 0.1, ci=(0.25, 0.55)),
                "k": [3, 4, 5], "c": 100.0, "regularisation": "alpha"}
    else:
        names, task, metric = LABELS, "binding", "auprc_macro"
        per_seed = [{"seed": seed, "dev": _multilabel_scores(0.62 + i / 10),
                     "test": _multilabel_scores(0.6 + i / 10, ci=(0.51 + i / 10, 0.69 + i / 10))}
                    for i, seed in enumerate(seeds)]
        probe = {"dev": _multilabel_scores(0.4), "test": _multilabel_scores(0.38, ci=(0.3, 0.47))}
        kmer = {"dev": _multilabel_scores(0.35), "test": _multilabel_scores(0.33, ci=(0.25, 0.41)),
                "k": [4], "c": 0.1, "regularisation": "C"}
    best = per_seed[-1]
    metrics = {"finetuned": {"dev": best["dev"], "test": best["test"]}, "probe": probe, "kmer": kmer,
               "per_seed": per_seed,
               "summary": {"finetuned": seed_summary([s["test"] for s in per_seed], list(seeds), seeds[-1], metric)}}
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    edit_json(folder / "hubtune.json", label_names=names, task=task, problem_type=problem, dataset=None,
              thresholds=list(THRESHOLDS) if problem == "multi_label" else None, seeds=list(seeds),
              best_seed=seeds[-1], data_source=f"/home/someone/data/{task}")
    return folder


def _index(card: ModelCard) -> dict[str, tuple[float, str, str | None]]:
    return {r.metric_type: (r.metric_value, r.metric_name, r.metric_config) for r in card.data.eval_results}


# ---------------------------------------------------------------------------------------------------------------------
# Cards of trained runs
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture(params=["regression", "multi_label"])
def task_run(request) -> tuple[str, Path]:
    fixture = "regression_run" if request.param == "regression" else "multilabel_run"
    return request.param, request.getfixturevalue(fixture)


def test_card_of_a_trained_run_parses_and_carries_metrics_json_values(task_run, hub_server, tmp_path):
    problem, path = task_run
    run = Run(path)
    out = write_card(path, tmp_path / "README.md", repo_id=PUSHED[problem])
    text = out.read_text()
    metadata = metadata_load(out)
    name, results = model_index_to_eval_results(metadata["model-index"])
    assert name == PUSHED[problem].split("/")[1]
    test = run.metrics["finetuned"]["test"]
    values = {r.metric_type: r.metric_value for r in results}
    assert values == {kind: round(test[key], 4) for kind, key in INDEX_KEYS[problem].items()}
    assert all(r.task_type == "text-classification" and r.dataset_split == "test" for r in results)
    kind, label, key = HEADLINE[problem]
    headline = next(r for r in results if r.metric_type == kind)
    assert results[0] is headline  # the headline comes first, named with its interval as in the text
    summary = run.metrics["summary"]["finetuned"]
    ci = summary["test_score_ci95"]
    assert f"95% CI {ci[0]:.3f}–{ci[1]:.3f}" in headline.metric_name
    assert f"test {label} {summary_text(summary)}" in text
    assert metadata["hubtune"]["problem_type"] == problem and metadata["hubtune"]["metric"] == key
    assert metadata["hubtune"]["test_score"] == round(summary["test_score"], 4)
    assert "test_mcc" not in metadata["hubtune"] and "matthews_correlation" not in values
    card = ModelCard.load(out)
    card.validate()  # the hub's validate-yaml route accepts the header
    assert_clean(text, path)
    # the label or target table: one row per output with its own test scores
    rows = test["per_target"] if problem == "regression" else test["per_label"]
    for i, row in enumerate(rows):
        first = f"{row['spearman']:.3f}" if problem == "regression" else f"{run.info.thresholds[i]:.3f}"
        assert f"| {i} | `{run.label_names[i]}` | {first} |" in text
    assert "| test MCC |" not in text
    assert ".softmax(" not in text and "probs.argmax" not in text


# ---------------------------------------------------------------------------------------------------------------------
# Golden cards and statistics of fixed-value runs
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("problem", ["regression", "multi_label"])
def test_task_card_matches_the_golden_card(problem, tmp_path):
    golden = GOLDEN_DIR / f"model_card_{problem}.md"
    folder = write_task_run(tmp_path / f"{problem}-run", problem)
    rendered = write_card(folder, tmp_path / "README.md", repo_id=f"alice/{problem.replace('_', '-')}-lora").read_bytes()
    if os.environ.get("HUBTUNE_UPDATE_GOLDEN") == "1":
        golden.write_bytes(rendered)
        pytest.skip(f"rewrote {golden.name}: review the diff")
    assert rendered == golden.read_bytes(), (
        "The model card changed. If intended, rewrite the golden file with HUBTUNE_UPDATE_GOLDEN=1 and review the diff."
    )


def test_regression_card_states_units_targets_and_problem_type(tmp_path):
    card = render_card(write_task_run(tmp_path / "run", "regression"), repo_id="alice/activity")
    assert card.data.tags[:4] == ["genomics", "dna", "hubtune", "regression"]
    assert "test Spearman 0.500 (95% CI 0.350–0.630), mean over the 2 targets, on the held-out test split" in card.text
    assert "| 0 | `developmental` | 0.550 | 0.530 | 0.300 | 0.550 |" in card.text
    assert "| fine-tuned | 0.500 (0.350–0.630) |" in card.text and "| test Spearman | test Pearson |" in card.text
    assert "already in the targets' own units" in card.text and 'problem_type="regression"' in card.text
    assert 'assert config.problem_type == "regression"' in card.text and ".softmax(" not in card.text
    assert "print(prediction.values)" in card.text
    assert "| training length | 20 steps (early stopping on dev Spearman, patience 5) |" in card.text
    assert "class-weighted loss" not in card.text and "ridge regression" in card.text
    # a baseline inside the fine-tuned model's interval is called out in the problem's metric
    assert "k-mer baseline may be as good as the fine-tuned model" in card.text
    assert "(Spearman 0.410 (95% CI 0.250–0.550) vs 0.500 (95% CI 0.350–0.630), 95% intervals)" in card.text


def test_multilabel_card_states_thresholds_and_sigmoid(tmp_path):
    card = render_card(write_task_run(tmp_path / "run", "multi_label"), repo_id="alice/binding")
    assert "multi-label-classification" in card.data.tags
    assert "| 1 | `GATA` | 0.420 | 11 | 0.220 | 0.600 | 0.800 | 0.500 |" in card.text
    assert "thresholds = [0.31, 0.42, 0.27]" in card.text and ".logits.sigmoid()" in card.text
    assert 'problem_type="multi_label_classification"' in card.text and ".softmax(" not in card.text
    assert "print(prediction.labels, prediction.probabilities)" in card.text
    assert "| decision thresholds | per label, tuned on dev to maximise F1: CTCF 0.310, GATA 0.420, ETS 0.270 |" \
        in card.text
    index = _index(card)
    assert index["average_precision"] == (0.6, "Test macro AUPRC (95% CI 0.510–0.690)", "macro")
    assert index["f1"] == (0.5, "Test macro F1 (thresholds tuned on dev)", "macro")


@pytest.mark.parametrize("problem", ["regression", "multi_label"])
def test_several_seeds_model_index_carries_the_seed_means(problem, tmp_path):
    """Three seeds: the model-index and the text hold the mean over seeds, not the shipped (best) seed's values."""
    folder = write_task_run(tmp_path / "run", problem, seeds=(1, 2, 3))
    card = render_card(folder, repo_id="alice/seeds")
    metrics = json.loads((folder / "metrics.json").read_text())
    index = _index(card)
    for kind, key in INDEX_KEYS[problem].items():
        mean = float(np.mean([s["test"][key] for s in metrics["per_seed"]]))
        assert index[kind][0] == round(mean, 4) and "mean of 3 seeds" in index[kind][1]
        assert index[kind][0] != round(metrics["finetuned"]["test"][key], 4)
    kind, label, _ = HEADLINE[problem]
    assert f"test {label} {index[kind][0]:.3f} ± 0.100 (mean ± sd, 3 seeds)" in card.text
    assert f"best seed's own test {label} {metrics['finetuned']['test'][HEADLINE[problem][2]]:.3f}" in card.text
    assert card.data.to_dict()["hubtune"]["test_score"] == index[kind][0]


# ---------------------------------------------------------------------------------------------------------------------
# Push, plain peft, load_classifier, list_adapters
# ---------------------------------------------------------------------------------------------------------------------


def _short_test_sequences(data: Path, window_bp: int, n: int = 4) -> list[str]:
    """A few test sequences that fit one window (plain peft truncates, hubtune would average windows)."""
    with open(data / "test.csv", newline="") as handle:
        fitting = [row["sequence"] for row in csv.DictReader(handle) if len(row["sequence"]) <= window_bp]
    return [EXAMPLE_SEQUENCE, *fitting[:n]]


def _run_snippet(readme: str) -> dict:
    """Execute the card's plain transformers/peft snippet as pasted; returns its namespace."""
    code = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    namespace: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "README.md", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("problem", ["regression", "multi_label"])
def test_pushed_run_loads_with_plain_peft_like_load_classifier(problem, hub_server, request):
    import torch
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from hubtune.data.example_tasks import activity_task_path, binding_task_path

    path = request.getfixturevalue("regression_run" if problem == "regression" else "multilabel_run")
    run, repo_id = Run(path), PUSHED[problem]
    push_to_hub(path, repo_id, token=hub_server.token)
    config_file = json.loads(Path(hf_hub_download(repo_id, "config.json")).read_text())
    names = run.label_names
    assert config_file["problem_type"] == run.info.problem.hf_problem_type
    assert config_file["num_labels"] == len(names)
    assert config_file["id2label"] == {str(i): name for i, name in enumerate(names)}
    assert config_file["label2id"] == {name: i for i, name in enumerate(names)}

    classifier = load_classifier(repo_id, device="cpu")
    data = activity_task_path() if problem == "regression" else binding_task_path()
    sequences = _short_test_sequences(data, run.info.window_bp)
    expected = classifier.predict_outputs(sequences)  # values (targets' units) or per-label probabilities

    base_repo = json.loads(Path(hf_hub_download(repo_id, "adapter_config.json")).read_text())[
        "base_model_name_or_path"]
    config = AutoConfig.from_pretrained(repo_id)
    assert config.problem_type == run.info.problem.hf_problem_type and config.num_labels == len(names)
    base = AutoModelForSequenceClassification.from_pretrained(base_repo, config=config)
    model = PeftModel.from_pretrained(base, repo_id).eval()
    tokenizer = AutoTokenizer.from_pretrained(base_repo)
    batch = tokenizer(sequences, truncation=True, max_length=run.info.max_length, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    plain = logits.sigmoid() if problem == "multi_label" else logits
    np.testing.assert_allclose(plain.numpy(), expected, atol=1e-5, rtol=0)
    if problem == "regression":  # outputs in the targets' own units, not standardised ones
        assert abs(float(expected.mean())) > 0.3 or float(expected.std()) > 1.5

    # the card's pasted plain snippet gives the same outputs for its example sequence
    namespace = _run_snippet(Path(hf_hub_download(repo_id, "README.md")).read_text())
    snippet = namespace["values" if problem == "regression" else "probs"].numpy()
    np.testing.assert_allclose(snippet[0], expected[0], atol=1e-5, rtol=0)
    if problem == "multi_label":
        thresholds = run.info.thresholds
        assert namespace["thresholds"] == thresholds
        labels = classifier.predict([EXAMPLE_SEQUENCE])[0].labels
        assert [n for n, p, t in zip(names, snippet[0], thresholds, strict=True) if p >= t] == labels

    adapters = {a.repo_id: a for a in list_adapters(task=run.info.task)}
    listed = adapters[repo_id]
    kind, label, key = HEADLINE[problem]
    assert (listed.problem_type, listed.metric, listed.metric_label) == (problem, key, label)
    assert listed.test_score == pytest.approx(run.test_score(), abs=1e-4) and listed.test_mcc is None
    assert listed.labels == names


def test_list_adapters_reads_cards_written_before_problem_types(hub_server):
    """Older cards name the score test_mcc (or have only a model-index): still listed, as MCC."""
    api = HfApi(token=hub_server.token)
    cards = {
        "alice/old-style-card": "hubtune:\n  task: old-task\n  labels: [a, b]\n  test_mcc: 0.42\n",
        "alice/index-only-card": ("hubtune:\n  task: old-task\n  labels: [a, b]\nmodel-index:\n- name: index-only-card\n"
                                  "  results:\n  - task: {type: text-classification}\n    dataset: {name: x, type: x}\n"
                                  "    metrics:\n    - {type: matthews_correlation, value: 0.37}\n"),
    }
    for repo_id, header in cards.items():
        api.create_repo(repo_id, exist_ok=True)
        readme = f"---\ntags: [hubtune]\n{header}---\n\n# old card\n"
        api.upload_file(path_or_fileobj=readme.encode(), path_in_repo="README.md", repo_id=repo_id)
    found = {a.repo_id: a for a in list_adapters(task="old-task")}
    assert {repo: (a.metric, a.metric_label, a.problem_type, a.test_score, a.test_mcc)
            for repo, a in found.items()} == {
        "alice/old-style-card": ("mcc", "MCC", "single_label", 0.42, 0.42),
        "alice/index-only-card": ("mcc", "MCC", "single_label", 0.37, 0.37),
    }
