"""Model cards: valid Hub YAML, complete body, no local paths, the right snippet for each family and method."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from huggingface_hub import ModelCard, metadata_load
from shared_runs import shared_tiny_run

from hubtune.card import build_card_data, render_base_card, render_card, write_card
from hubtune.cli import main
from hubtune.errors import ConfigError, HubError, RunFolderError
from hubtune.run import Run

REPO = "alice/promoter-lora"




@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return shared_tiny_run(tmp_path_factory)


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the shared run whose JSON files a test may edit."""
    return Path(shutil.copytree(tiny_run, tmp_path / "promoter-run"))


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def assert_clean(text: str, run_path: Path) -> None:
    from hubtune.data import example_task_path

    assert "More information needed" not in text
    assert str(run_path) not in text and str(example_task_path()) not in text
    assert "/tmp/" not in text and "/home/" not in text


def test_cli_card_writes_a_card_whose_yaml_validates(tiny_run, hub_server, tmp_path):
    out = tmp_path / "card.md"
    assert main(["card", str(tiny_run), "--output", str(out), "--repo", REPO]) == 0
    run = Run(tiny_run)
    metadata = metadata_load(out)
    assert metadata["library_name"] == "peft"
    assert metadata["pipeline_tag"] == "text-classification"
    assert metadata["base_model"] == "alice/tiny-nt"
    assert metadata["license"] == "cc-by-nc-sa-4.0"
    assert {"genomics", "dna", "hubtune", "nt", "lora", "promoter"} <= set(metadata["tags"])
    assert "datasets" not in metadata  # local data is not a Hub dataset
    assert metadata["hubtune"]["labels"] == run.label_names
    assert metadata["hubtune"]["max_length"] == run.max_length
    card = ModelCard.load(out)  # huggingface_hub's own parsing, model-index included (raises on malformed YAML)
    card.validate()  # and the hub's validate-yaml route
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    test = run.metrics["finetuned"]["test"]
    assert results == {"matthews_correlation": round(test["mcc"], 4), "f1": round(test["f1_macro"], 4),
                       "accuracy": round(test["accuracy"], 4)}
    assert card.data.model_name == "promoter-lora"
    text = out.read_text()
    assert_clean(text, tiny_run)
    for label in run.label_names:
        assert f"| `{label}` |" in text
    assert f"| fine-tuned (this model) | {test['mcc']:.3f} |" in text
    kmer_row = next(line for line in text.splitlines() if line.startswith("| k-mer baseline"))
    assert f"| {run.metrics['kmer']['test']['mcc']:.3f} |" in kmer_row
    assert "no sequence is shared between splits" in text
    assert "`promoter` (local files; only the name is shown)" in text
    assert "Nature Methods" in text  # the base family's citation
    assert run.info["versions"]["torch"] in text
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


def test_several_seeds_show_mean_and_sd(run_copy):
    metrics = json.loads((run_copy / "metrics.json").read_text())
    template = metrics["per_seed"][0]
    per_seed = []
    for seed, mcc in ((1, 0.1), (2, 0.2), (3, 0.3)):
        entry = json.loads(json.dumps(template))
        entry["seed"], entry["test"]["mcc"], entry["dev"]["mcc"] = seed, mcc, mcc
        per_seed.append(entry)
    metrics["per_seed"] = per_seed
    metrics["summary"]["finetuned"].update(n_seeds=3, test_mcc_mean=0.2, test_mcc_sd=0.1)
    (run_copy / "metrics.json").write_text(json.dumps(metrics))
    edit_json(run_copy / "hubtune.json", seeds=[1, 2, 3], best_seed=3)
    text = str(render_card(run_copy, repo_id=REPO))
    assert "| fine-tuned (this model) | 0.200 ± 0.100 |" in text
    assert "over 3 training seeds (1, 2, 3)" in text and "from seed 3" in text
    assert "test MCC 0.200 ± 0.100 over 3 seeds" in text


def test_hub_dataset_is_listed_and_local_files_show_only_their_name(run_copy):
    edit_json(run_copy / "hubtune.json", data_source="InstaDeepAI/nucleotide_transformer_downstream_tasks")
    data = build_card_data(run_copy, REPO, "alice/tiny-nt")
    assert data.datasets == ["InstaDeepAI/nucleotide_transformer_downstream_tasks"]
    assert {r.dataset_type for r in data.eval_results} == {"InstaDeepAI/nucleotide_transformer_downstream_tasks"}
    edit_json(run_copy / "hubtune.json", data_source="/home/someone/secret-project/promoters.csv")
    card = render_card(run_copy, repo_id=REPO)
    assert card.data.datasets is None
    assert "`promoters.csv` (local files" in card.text and "secret-project" not in str(card)


def test_snippets_follow_the_family_and_method(run_copy):
    # DNABERT-2: remote code is broken on transformers 5, so the base comes from hubtune; the peft line is unchanged.
    edit_json(run_copy / "hubtune.json", family="dnabert2", base_model="zhihan1996/DNABERT-2-117M")
    card = render_card(run_copy, repo_id="alice/dnabert2-promoter")
    assert card.data.base_model == "zhihan1996/DNABERT-2-117M" and card.data.license == "apache-2.0"
    assert "dnabert2" in card.data.tags
    assert 'hubtune.load_base_model("zhihan1996/DNABERT-2-117M", num_labels=2' in card.text
    assert 'PeftModel.from_pretrained(base, "alice/dnabert2-promoter")' in card.text
    assert "AutoModelForSequenceClassification" not in card.text
    assert "DNABERT-2}: Efficient Foundation Model" in card.text
    assert "tiny random-weight" not in card.text
    # a full fine-tune is a standalone transformers model
    edit_json(run_copy / "hubtune.json", family="nt", base_model="tiny-nt", method="full")
    card = render_card(run_copy, repo_id="alice/full-promoter")
    assert card.data.library_name == "transformers" and "full" in card.data.tags
    assert 'AutoModelForSequenceClassification.from_pretrained("alice/full-promoter")' in card.text
    assert "PeftModel" not in card.text
    # a probe has no transformers weights: only the hubtune loader
    edit_json(run_copy / "hubtune.json", method="probe")
    card = render_card(run_copy, repo_id="alice/probe-promoter")
    assert card.data.library_name is None
    assert 'hubtune.load_classifier("alice/probe-promoter")' in card.text and "PeftModel" not in card.text
    assert "`probe_head.safetensors`" in card.text


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
    (report / "report.md").write_text("# Report\n\n| model | MCC |\n|---|--:|\n| tiny-nt lora | 0.42 |\n\ntext\n")
    (report / "mcc_by_method.png").write_bytes(b"\x89PNG")
    text = render_card(run_copy, repo_id=REPO, compare_report=report).text
    assert "| tiny-nt lora | 0.42 |" in text
    assert "![compare/mcc_by_method.png](compare/mcc_by_method.png)" in text
    with pytest.raises(ConfigError, match="report.md"):
        render_card(run_copy, repo_id=REPO, compare_report=tmp_path / "nowhere")


def test_base_model_card_for_a_tiny_stand_in(tiny_run):
    from hubtune.models import FAMILIES, tiny_model_path

    card = render_base_card(tiny_model_path("tiny-nt"), "alice/tiny-nt", origin="tiny-nt", family=FAMILIES["nt"])
    parsed = ModelCard(str(card))
    assert {"genomics", "dna", "hubtune-base", "nt", "tiny-random"} <= set(parsed.data.tags)
    assert parsed.data.library_name == "transformers" and parsed.data.pipeline_tag == "fill-mask"
    assert "no pre-training" in card.text and "InstaDeepAI/nucleotide-transformer-500m-human-ref" in card.text
    assert 'hubtune.load_base_model("alice/tiny-nt", num_labels=2)' in card.text
    assert "More information needed" not in card.text and "/tmp/" not in card.text


def test_card_errors_name_the_problem(run_copy, tmp_path, capsys):
    assert main(["card", str(tmp_path / "no-such-run")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (run_copy / "metrics.json").unlink()
    with pytest.raises(RunFolderError, match="metrics.json"):
        write_card(run_copy)
