"""Sharing on a hub: push a tiny run to the local hub server, load it back in a fresh process, discover it.

Everything runs against the session's local hub (`hub_server` fixture) with the real huggingface_hub client.
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
from huggingface_hub import HfApi, ModelCard, metadata_load, snapshot_download

from hubtune.errors import ConfigError, HubError, ModelError, RunFolderError
from hubtune.hub import list_adapters, push_to_hub
from hubtune.predict import load_classifier
from hubtune.run import Run, load_run_model

REPO = "alice/promoter-lora"




@pytest.fixture(scope="module")
def pushed(hub_server, tiny_run) -> str:
    return push_to_hub(tiny_run, REPO, token=hub_server.token)


@pytest.fixture(scope="module")
def test_sequences(tiny_run) -> list[str]:
    import csv

    from hubtune.data import example_task_path

    with open(example_task_path() / "test.csv", newline="") as handle:
        return [row["sequence"] for _, row in zip(range(6), csv.DictReader(handle), strict=False)]


def own_logits(run_path: Path, sequences: list[str], max_length: int | None = None) -> np.ndarray:
    """The run's own logits, computed from the run folder (no hub involved)."""
    from hubtune.evaluate import predict_logits

    loaded = load_run_model(run_path, device="cpu")
    return predict_logits(loaded.model, loaded.tokenizer, sequences, max_length=max_length or loaded.info.max_length)


def api() -> HfApi:
    return HfApi()


def commit_count(repo_id: str, token: str | None = None, revision: str | None = None) -> int:
    return len(api().list_repo_commits(repo_id, token=token, revision=revision))


_FRESH_PROCESS = r"""
import contextlib, io, json, re, sys

import torch
from huggingface_hub import hf_hub_download
from peft import PeftModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import hubtune
from hubtune.evaluate import predict_logits

repo_id, sequences = sys.argv[1], json.loads(sys.argv[2])
info = json.load(open(hf_hub_download(repo_id, "hubtune.json")))
adapter_config = json.load(open(hf_hub_download(repo_id, "adapter_config.json")))
base_id = adapter_config["base_model_name_or_path"]
labels = info["label_names"]

# Plain transformers + peft, as a user without hubtune would do it.
base = AutoModelForSequenceClassification.from_pretrained(base_id, num_labels=len(labels))
model = PeftModel.from_pretrained(base, repo_id).eval()
tokenizer = AutoTokenizer.from_pretrained(base_id)
batch = tokenizer(sequences, truncation=True, max_length=info["max_length"], padding=True, return_tensors="pt")
with torch.no_grad():
    plain = model(**batch).logits.tolist()

classifier = hubtune.load_classifier(repo_id)
via_hubtune = predict_logits(classifier.model, classifier.tokenizer, sequences, max_length=classifier.max_length)
predictions = classifier.predict(sequences)

# The card's usage snippets must work when pasted.
readme = open(hf_hub_download(repo_id, "README.md")).read()
snippets = re.findall(r"```python\n(.*?)```", readme, re.S)
outputs = []
for code in snippets:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
    outputs.append(buffer.getvalue())

print(json.dumps({
    "plain": plain,
    "hubtune": via_hubtune.tolist(),
    "labels": [p.label for p in predictions],
    "snippets": len(snippets),
    "snippet_outputs": outputs,
}))
"""


def run_fresh(tmp_path: Path, script: str, *args: str) -> dict:
    env = dict(os.environ)
    env["HF_HOME"] = str(tmp_path / "fresh-hf-home")  # empty cache: everything comes from the hub
    env.pop("HF_TOKEN", None)
    result = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------------------
# Push and load back
# ---------------------------------------------------------------------------------------------------------------------


def test_fresh_process_loads_the_pushed_adapter_with_peft_and_hubtune(pushed, tiny_run, test_sequences, tmp_path):
    expected = own_logits(tiny_run, test_sequences)
    out = run_fresh(tmp_path, _FRESH_PROCESS, REPO, json.dumps(test_sequences))
    np.testing.assert_allclose(np.array(out["plain"]), expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.array(out["hubtune"]), expected, atol=1e-5, rtol=0)
    labels = Run(tiny_run).label_names
    assert out["labels"] == [labels[i] for i in expected.argmax(1)]
    # both snippets of the card (plain peft and the hubtune one-liner) ran and printed predictions
    assert out["snippets"] == 2
    assert all(any(name in text for name in labels) for text in out["snippet_outputs"])


def test_pushed_card_parses_and_carries_the_test_mcc(pushed, tiny_run, tmp_path):
    run = Run(tiny_run)
    card = ModelCard.load(REPO)
    data = card.data
    assert data.library_name == "peft"
    assert data.base_model == "alice/tiny-nt"
    assert data.pipeline_tag == "text-classification"
    assert data.license == "cc-by-nc-sa-4.0"
    assert {"genomics", "dna", "hubtune", "nt", "lora", "promoter"} <= set(data.tags)
    results = {r.metric_type: r for r in data.eval_results}
    assert results["matthews_correlation"].metric_value == pytest.approx(run.test_score(), abs=1e-4)
    assert results["matthews_correlation"].dataset_split == "test"
    assert set(results) == {"matthews_correlation", "f1", "accuracy"}
    assert data.to_dict()["hubtune"]["labels"] == run.label_names
    readme = Path(api().hf_hub_download(REPO, "README.md"))
    metadata = metadata_load(readme)
    assert metadata["model-index"][0]["results"][0]["metrics"][0]["type"] == "matthews_correlation"
    text = readme.read_text()
    assert "More information needed" not in text
    assert str(tiny_run) not in text and "/tmp" not in text
    assert 'PeftModel.from_pretrained(base, "alice/promoter-lora")' in text
    assert 'hubtune.load_classifier("alice/promoter-lora")' in text


def test_pushed_files_point_at_a_base_that_resolves_on_the_hub(pushed, tiny_run):
    files = set(api().list_repo_files(REPO))
    assert {"adapter_config.json", "adapter_model.safetensors", "hubtune.json", "metrics.json", "leakage.json",
            "base_probe_head.safetensors", "README.md"} <= files
    # the tiny base's tokenizer is the run's: not duplicated into the adapter repo
    assert "vocab.txt" not in files and "tokenizer_config.json" not in files
    adapter_config = json.loads(Path(api().hf_hub_download(REPO, "adapter_config.json")).read_text())
    base_info = api().model_info(adapter_config["base_model_name_or_path"])
    assert base_info.id == "alice/tiny-nt"
    assert "config.json" in {s.rfilename for s in base_info.siblings}
    assert adapter_config["revision"] == base_info.sha
    info = json.loads(Path(api().hf_hub_download(REPO, "hubtune.json")).read_text())
    assert info["base_model"] == "alice/tiny-nt" and info["base_model_revision"] == base_info.sha
    assert info["base_model_origin"] == "tiny-nt"
    assert info["data_source"] == "promoter"
    dumped = json.dumps(info)
    assert str(tiny_run) not in dumped and '"/' not in dumped
    base_card = ModelCard.load("alice/tiny-nt")
    assert "hubtune-base" in base_card.data.tags and "More information needed" not in base_card.text


def test_repushing_identical_content_creates_no_commit(pushed, hub_server, tiny_run):
    before, base_before = commit_count(REPO), commit_count("alice/tiny-nt")
    url = push_to_hub(tiny_run, REPO, token=hub_server.token)
    assert url == pushed
    assert commit_count(REPO) == before
    assert commit_count("alice/tiny-nt") == base_before


def test_token_never_appears_in_pushed_files_or_the_run_folder(pushed, hub_server, tiny_run, tmp_path):
    token = hub_server.token.encode()
    for repo in (REPO, "alice/tiny-nt"):
        folder = Path(snapshot_download(repo, local_dir=tmp_path / repo.replace("/", "_")))
        for path in folder.rglob("*"):
            if path.is_file():
                assert token not in path.read_bytes(), path
    for path in Path(tiny_run).rglob("*"):
        if path.is_file():
            assert token not in path.read_bytes(), path


def test_load_classifier_reuses_a_base_instance_without_modifying_it(pushed, tiny_run, test_sequences):
    from hubtune.models import load_base_model

    base = load_base_model("alice/tiny-nt", 2)
    names_before = {name for name, _ in base.named_modules()}
    first = load_classifier(REPO, base_model_instance=base)
    second = load_classifier(REPO, base_model_instance=base)
    assert {name for name, _ in base.named_modules()} == names_before  # no LoRA layers injected into the caller's
    expected = own_logits(tiny_run, test_sequences)
    from hubtune.metrics import softmax

    np.testing.assert_allclose(first.predict_proba(test_sequences), softmax(expected), atol=1e-5)
    np.testing.assert_allclose(second.predict_proba(test_sequences), softmax(expected), atol=1e-5)
    with pytest.raises(ModelError, match="3-class head"):
        load_classifier(REPO, base_model_instance=load_base_model("alice/tiny-nt", 3))


def test_plain_peft_repo_without_hubtune_json_needs_explicit_labels(pushed, hub_server, tiny_run, test_sequences,
                                                                   tmp_path):
    from huggingface_hub import CommitOperationAdd

    from hubtune.metrics import softmax

    repo = "alice/plain-peft-adapter"
    adapter_config = json.loads((tiny_run / "adapter_config.json").read_text())
    adapter_config["base_model_name_or_path"] = "alice/tiny-nt"
    api().create_repo(repo, token=hub_server.token, exist_ok=True)
    api().create_commit(repo, [
        CommitOperationAdd("adapter_config.json", json.dumps(adapter_config).encode()),
        CommitOperationAdd("adapter_model.safetensors", str(tiny_run / "adapter_model.safetensors")),
    ], commit_message="plain peft adapter", token=hub_server.token)
    with pytest.raises(RunFolderError, match="label_names"):
        load_classifier(repo)
    classifier = load_classifier(repo, label_names=["background", "promoter"])
    assert classifier.label_names == ["background", "promoter"]
    # without hubtune.json the max length is the family's (1000 tokens for NT v1), not the run's
    assert classifier.max_length == 1000
    expected = softmax(own_logits(tiny_run, test_sequences, max_length=1000))
    np.testing.assert_allclose(classifier.predict_proba(test_sequences), expected, atol=1e-5)
    with pytest.raises(ModelError, match="does not fit its base"):
        load_classifier(repo, label_names=["a", "b", "c"])


def test_list_adapters_reads_labels_and_mcc_from_card_data(pushed, tiny_run):
    run = Run(tiny_run)
    found = {a.repo_id: a for a in list_adapters()}
    assert REPO in found and "alice/tiny-nt" not in found  # the published base is not an adapter
    adapter = found[REPO]
    assert adapter.labels == run.label_names
    assert adapter.test_mcc == pytest.approx(run.test_score(), abs=1e-4)
    assert (adapter.base_model, adapter.task, adapter.family, adapter.method) == ("alice/tiny-nt", "promoter", "nt",
                                                                                   "lora")
    assert REPO in {a.repo_id for a in list_adapters(base_model="tiny-nt", task="Promoter")}
    assert REPO in {a.repo_id for a in list_adapters(base_model="alice/tiny-nt", author="alice")}
    assert list_adapters(task="splice-site") == []
    assert list_adapters(author="bob") == []


def test_private_push_is_listed_and_loadable_only_with_the_token(pushed, hub_server, tiny_run):
    repo = "alice/promoter-lora-private"
    push_to_hub(tiny_run, repo, token=hub_server.token, private=True)
    assert repo not in {a.repo_id for a in list_adapters()}
    assert repo in {a.repo_id for a in list_adapters(token=hub_server.token)}
    with pytest.raises(HubError, match="not found"):
        load_classifier(repo)
    assert load_classifier(repo, token=hub_server.token).label_names == Run(tiny_run).label_names


def test_push_to_a_branch_and_attach_a_compare_report(pushed, hub_server, tiny_run, tmp_path):
    report = tmp_path / "report"
    report.mkdir()
    rows = [{"task": "promoter", "model": "tiny-nt", "method": "lora", "n_seeds": 1, "test_mcc_mean": 0.12},
            {"task": "promoter", "model": f"{tmp_path}/runs/x", "method": "full", "n_seeds": 1, "test_mcc_mean": 0.10}]
    (report / "results.json").write_text(json.dumps({"rows": rows}))
    (report / "mcc.png").write_bytes(b"\x89PNG\r\n\x1a\nnot-really-an-image")
    main_before = commit_count(REPO)
    push_to_hub(tiny_run, REPO, token=hub_server.token, revision="with-report", compare_report=report)
    assert commit_count(REPO) == main_before  # main untouched
    files = set(api().list_repo_files(REPO, revision="with-report"))
    assert "compare/mcc.png" in files
    text = Path(api().hf_hub_download(REPO, "README.md", revision="with-report")).read_text()
    assert "| promoter | tiny-nt | lora | 0.120 |" in text and "| promoter | x | full | 0.100 |" in text
    assert "![compare/mcc.png](compare/mcc.png)" in text
    assert str(tmp_path) not in text
    with pytest.raises(ConfigError, match="results.json"):
        push_to_hub(tiny_run, REPO, token=hub_server.token, compare_report=tmp_path)


def test_a_local_folder_base_is_published_by_name_and_never_over_a_foreign_repo(pushed, hub_server, tiny_run,
                                                                               test_sequences, tmp_path):
    from huggingface_hub import CommitOperationAdd

    from hubtune.metrics import softmax
    from hubtune.models import tiny_model_path

    base_folder = Path(shutil.copytree(tiny_model_path("tiny-nt"), tmp_path / "my lab base"))
    run = Path(shutil.copytree(tiny_run, tmp_path / "run-on-local-base"))
    info = json.loads((run / "hubtune.json").read_text())
    info["base_model"] = str(base_folder)
    (run / "hubtune.json").write_text(json.dumps(info))
    push_to_hub(run, "alice/local-base-adapter", token=hub_server.token)
    pushed_info = json.loads(Path(api().hf_hub_download("alice/local-base-adapter", "hubtune.json")).read_text())
    assert pushed_info["base_model"] == "alice/my-lab-base"
    assert pushed_info["base_model_origin"] == "my lab base"  # the folder's name, not its path
    assert str(tmp_path) not in json.dumps(pushed_info)
    probs = load_classifier("alice/local-base-adapter").predict_proba(test_sequences)
    np.testing.assert_allclose(probs, softmax(own_logits(tiny_run, test_sequences)), atol=1e-5)

    # a repo of that name that hubtune did not publish is left alone
    api().create_repo("alice/someone-elses-model", token=hub_server.token)
    api().create_commit("alice/someone-elses-model", [CommitOperationAdd("config.json", b"{}")],
                        commit_message="a real model", token=hub_server.token)
    info["base_model"] = str(shutil.copytree(base_folder, tmp_path / "someone-elses-model"))
    (run / "hubtune.json").write_text(json.dumps(info))
    with pytest.raises(HubError, match="not published by hubtune"):
        push_to_hub(run, "alice/other-adapter", token=hub_server.token)
    assert not api().repo_exists("alice/other-adapter")
    push_to_hub(run, "alice/other-adapter", token=hub_server.token, base_repo="alice/my-lab-base")
    adapter_config = json.loads(Path(api().hf_hub_download("alice/other-adapter", "adapter_config.json")).read_text())
    assert adapter_config["base_model_name_or_path"] == "alice/my-lab-base"


def test_a_hub_base_must_exist_on_the_target_hub(pushed, hub_server, tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run, tmp_path / "run-on-hub-base"))
    info = json.loads((run / "hubtune.json").read_text())
    info["base_model"] = "InstaDeepAI/nucleotide-transformer-500m-human-ref"
    (run / "hubtune.json").write_text(json.dumps(info))
    with pytest.raises(HubError, match="is not on http://127.0.0.1"):
        push_to_hub(run, "alice/hub-base-adapter", token=hub_server.token)
    info["base_model"] = "alice/tiny-nt"  # a Hub id that this hub has: used as is, pinned to its current commit
    (run / "hubtune.json").write_text(json.dumps(info))
    push_to_hub(run, "alice/hub-base-adapter", token=hub_server.token)
    adapter_config = json.loads(Path(api().hf_hub_download("alice/hub-base-adapter", "adapter_config.json")).read_text())
    assert adapter_config["base_model_name_or_path"] == "alice/tiny-nt"
    assert adapter_config["revision"] == api().model_info("alice/tiny-nt").sha


def test_repush_removes_stale_hubtune_files_but_keeps_the_users_own(pushed, hub_server, tiny_run):
    from huggingface_hub import CommitOperationAdd

    repo = "alice/stale-files"
    push_to_hub(tiny_run, repo, token=hub_server.token)
    api().create_commit(repo, [CommitOperationAdd("vocab.txt", b"old tokenizer"),
                               CommitOperationAdd("notes.txt", b"my notes")],
                        commit_message="manual edit", token=hub_server.token)
    push_to_hub(tiny_run, repo, token=hub_server.token)
    files = set(api().list_repo_files(repo))
    assert "vocab.txt" not in files and "notes.txt" in files


# ---------------------------------------------------------------------------------------------------------------------
# Bad input: named errors, nothing pushed
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("repo_id", ["", "alice/a/b", "/home/alice/model", "./model", "alice/bad--name",
                                     "alice/dots..name", "alice/-dash", "alice/x.git", "al ice/name"])
def test_invalid_repo_ids_are_refused_before_anything_is_sent(hub_server, tiny_run, repo_id):
    with pytest.raises(HubError, match="repo id"):
        push_to_hub(tiny_run, repo_id, token=hub_server.token)


def test_missing_token_is_a_clear_error_and_nothing_is_created(hub_server, tiny_run, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(HubError, match="No Hub token"):
        push_to_hub(tiny_run, "alice/needs-a-token")
    assert not api().repo_exists("alice/needs-a-token", token=hub_server.token)


def test_wrong_token_is_rejected_and_nothing_is_created(hub_server, tiny_run):
    with pytest.raises(HubError, match="rejected the token") as info:
        push_to_hub(tiny_run, "alice/wrong-token", token="hf_not_a_real_token")
    assert "hf_not_a_real_token" not in str(info.value)
    assert not api().repo_exists("alice/wrong-token", token=hub_server.token)


def test_pushing_into_another_users_namespace_is_refused(hub_server, tiny_run):
    with pytest.raises(HubError, match="cannot write to the namespace 'alice'"):
        push_to_hub(tiny_run, "alice/bobs-attempt", token=hub_server.other_token)
    assert not api().repo_exists("alice/bobs-attempt", token=hub_server.token)


def test_incomplete_run_folders_are_refused(hub_server, tiny_run, tmp_path):
    broken = tmp_path / "broken-run"
    shutil.copytree(tiny_run, broken)
    (broken / "adapter_model.safetensors").unlink()
    with pytest.raises(RunFolderError, match="adapter_model.safetensors"):
        push_to_hub(broken, "alice/broken-run", token=hub_server.token)
    (broken / "hubtune.json").unlink()
    with pytest.raises(RunFolderError, match="hubtune.json"):
        push_to_hub(broken, "alice/broken-run", token=hub_server.token)
    with pytest.raises(RunFolderError, match="does not exist"):
        push_to_hub(tmp_path / "missing", "alice/broken-run", token=hub_server.token)
    assert not api().repo_exists("alice/broken-run", token=hub_server.token)


def test_unreachable_hub_is_a_hub_error(tiny_run):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(HubError, match="cannot reach"):
        push_to_hub(tiny_run, "alice/x", token="hf_token", endpoint=f"http://127.0.0.1:{port}")


def test_a_failed_commit_changes_nothing_and_a_retry_succeeds(pushed, hub_server, tiny_run, tmp_path):
    changed = tmp_path / "changed-run"
    shutil.copytree(tiny_run, changed)
    info = json.loads((changed / "hubtune.json").read_text())
    info["task"] = "promoter-v2"
    (changed / "hubtune.json").write_text(json.dumps(info))
    before = api().list_repo_commits(REPO)
    hub_server.server.faults.fail_next_commits(1)
    with pytest.raises(HubError, match="Nothing was changed"):
        push_to_hub(changed, REPO, token=hub_server.token, revision="retry-test")
    assert api().list_repo_commits(REPO) == before
    push_to_hub(changed, REPO, token=hub_server.token, revision="retry-test")
    pushed_info = json.loads(Path(api().hf_hub_download(REPO, "hubtune.json", revision="retry-test")).read_text())
    assert pushed_info["task"] == "promoter-v2"


def test_unknown_repo_and_bad_ids_on_load_are_hub_errors(hub_server):
    with pytest.raises(HubError, match="not found"):
        load_classifier("alice/does-not-exist")
    with pytest.raises(HubError, match="repo id"):
        load_classifier("not/a/repo/id")


# ---------------------------------------------------------------------------------------------------------------------
# Demo
# ---------------------------------------------------------------------------------------------------------------------


def test_demo_runs_the_whole_loop_offline(hub_server, tmp_path, capsys):
    from hubtune.demo import run_demo

    assert run_demo(tmp_path / "demo", max_steps=4, max_rows=100) == 0
    out = capsys.readouterr().out
    assert "pushed demo/promoter-lora" in out
    assert "PeftModel.from_pretrained and hubtune.load_classifier" in out
    assert "match (max |difference|" in out
    card = tmp_path / "demo" / "model_card.md"
    assert "model-index" in card.read_text()
    assert "hf_demo_" not in out
    for path in (tmp_path / "demo").rglob("*"):
        if path.is_file():
            assert b"hf_demo_" not in path.read_bytes(), path
    assert re.search(r"model card: http://127\.0\.0\.1:\d+/demo/promoter-lora/resolve/main/README\.md", out)


def test_evaluate_accepts_a_hub_id_like_predict(pushed, tiny_run, capsys):
    from hubtune.cli import main
    from hubtune.data import example_task_path
    from hubtune.predict import evaluate_run

    assert main(["evaluate", REPO, "--data", str(example_task_path()), "--max-rows", "40", "--json"]) == 0
    via_hub = json.loads(capsys.readouterr().out)
    local = evaluate_run(tiny_run, str(example_task_path()), max_rows=40)
    assert via_hub["test"]["mcc"] == pytest.approx(local["test"]["mcc"], abs=1e-9)
    assert via_hub["test"]["n"] == 40
