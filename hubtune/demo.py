"""`hubtune demo`: the whole loop offline in a few minutes on a laptop CPU.

1. fine-tune a tiny stand-in model with LoRA on the bundled promoter task,
2. compare it with the pre-trained probe and the k-mer baseline; on a pre-trained stand-in (the default,
   `tiny-nt-pretrained`: `tiny-nt` after `hubtune pretrain` on a synthetic genome, shipped with hubtune) also with the
   same probe on its random-weight twin, and check how much of what pre-training gained the fine-tuning lost
   (catastrophic forgetting),
3. start a local Hub-compatible server and push the run (model card included),
4. reload it from that server in a fresh Python process, with plain `PeftModel.from_pretrained` and with
   `hubtune.load_classifier`, and classify a few test sequences.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from .errors import ConfigError, HubError
from .run_output import foreign_files, is_hubtune_run, is_hubtune_staging

DEMO_USER = "demo"
N_EXAMPLES = 4
# The pre-trained stand-in (its weights ship with hubtune): no download, no build, the whole loop in well under two
# minutes on a fresh machine, and the random-weight twin (`tiny-nt`) shows what pre-training buys.
DEMO_MODEL = "tiny-nt-pretrained"
DEMO_STEPS = 300  # the tiny model learns the bundled task in about this many LoRA steps
DEMO_LR = 2e-3  # higher than LoRA's default: the tiny model is small and trains for few steps
DEMO_ENTRIES = ("run", "run.partial", "hub", "model_card.md")  # everything the demo writes into its --output

# Runs in the fresh process: everything it needs comes from the hub at HF_ENDPOINT, nothing from this process.
_RELOAD_SCRIPT = r"""
import json, sys

import torch
from huggingface_hub import hf_hub_download
from peft import PeftModel

import hubtune
from hubtune.models import get_family

repo_id, sequences = sys.argv[1], json.loads(sys.argv[2])
info = json.loads(open(hf_hub_download(repo_id, "hubtune.json")).read())
labels, base_id = info["label_names"], info["base_model"]
revision = info.get("base_model_revision")
if get_family(info["family"]).needs_remote_code:
    # DNABERT-2 / NT v2 remote code does not run on transformers 5: hubtune's native class loads the same weights.
    base = hubtune.load_base_model(base_id, num_labels=len(labels), label_names=labels, revision=revision)
    tokenizer = hubtune.load_tokenizer(base_id, revision=revision)
else:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = AutoModelForSequenceClassification.from_pretrained(
        base_id, revision=revision, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)})
    tokenizer = AutoTokenizer.from_pretrained(base_id, revision=revision)
model = PeftModel.from_pretrained(base, repo_id).eval()
batch = tokenizer(sequences, truncation=True, max_length=info["max_length"], padding=True, return_tensors="pt")
with torch.no_grad():
    plain = model(**batch).logits.softmax(-1).tolist()

classifier = hubtune.load_classifier(repo_id)
predictions = classifier.predict(sequences)
print(json.dumps({
    "plain": plain,
    "hubtune": [[p.probabilities[name] for name in classifier.label_names] for p in predictions],
    "labels": [p.label for p in predictions],
    "base": base_id,
}))
"""


def _example_sequences(data_dir: Path, n: int = N_EXAMPLES) -> list[tuple[str, str]]:
    """A few test sequences of each class (sequence, true label)."""
    by_label: dict[str, list[str]] = {}
    with open(data_dir / "test.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            by_label.setdefault(row["label"], []).append(row["sequence"])
    picked: list[tuple[str, str]] = []
    while len(picked) < n and any(by_label.values()):
        for label, seqs in by_label.items():
            if seqs and len(picked) < n:
                picked.append((seqs.pop(0), label))
    return picked


def check_demo_output(output: Path) -> None:
    """Refuse an `--output` where the demo could replace or lose anything it did not write.

    Accepted: a missing or empty folder, or one holding only what an earlier demo wrote (`run/`, `run.partial/`,
    `hub/`, `model_card.md`), where `run/` is a hubtune run with nothing added to it. No symbolic links.

    Raises:
        ConfigError: naming `--output` and what is in the way.

    Example:
        >>> check_demo_output(Path("runs/demo"))  # doctest: +SKIP
    """
    advice = "Choose a new or empty folder for --output."
    if output.is_symlink():
        raise ConfigError(f"hubtune demo --output {output} is a symbolic link; give the real folder path. {advice}")
    if not output.exists():
        return
    if not output.is_dir():
        raise ConfigError(f"hubtune demo --output {output} is a file, not a folder. {advice}")
    entries = sorted(output.iterdir())
    others = [p.name for p in entries if p.name not in DEMO_ENTRIES]
    if others:
        shown = ", ".join(others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
        raise ConfigError(f"hubtune demo --output {output} already holds {shown}, which the demo did not write (it "
                          f"writes only {', '.join(DEMO_ENTRIES)}) and never replaces. {advice}")
    for path in entries:
        if path.is_symlink():
            raise ConfigError(f"hubtune demo --output {output}: {path.name} is a symbolic link, which the demo "
                              f"would write through. {advice}")
    run, staging = output / "run", output / "run.partial"
    if run.is_dir() and any(run.iterdir()) and not (is_hubtune_run(run) and not foreign_files(run)):
        raise ConfigError(f"hubtune demo --output {output}: {run} is not a run the demo wrote (or holds files it did "
                          f"not write), and the demo never replaces it. {advice}")
    if run.exists() and not run.is_dir():
        raise ConfigError(f"hubtune demo --output {output}: {run} is a file the demo did not write. {advice}")
    if staging.exists() and not is_hubtune_staging(staging):
        raise ConfigError(f"hubtune demo --output {output}: {staging} was not created by hubtune, and the demo never "
                          f"replaces it. {advice}")


def _section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def _reload_in_fresh_process(url: str, token: str, repo_id: str, sequences: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hubtune-demo-client-") as hf_home:
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
        env.update({
            "HF_ENDPOINT": url,
            "HF_HUB_DISABLE_XET": "1",
            "HF_TOKEN": token,
            "HF_HOME": hf_home,  # an empty cache: every file comes from the local hub
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HUBTUNE_NO_PROGRESS": "1",
            "TRANSFORMERS_VERBOSITY": "error",
            "PYTHONWARNINGS": "ignore",
        })
        result = subprocess.run(
            [sys.executable, "-c", _RELOAD_SCRIPT, repo_id, json.dumps(sequences)],
            env=env, capture_output=True, text=True, timeout=600,
        )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise HubError(f"Reloading {repo_id} from the local hub in a fresh process failed:\n{tail}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_demo(output: Path, max_steps: int = DEMO_STEPS, model: str = DEMO_MODEL, use_hub: bool = True,
             serve_space: bool = False, *, max_rows: int | None = None) -> int:
    """Run the offline demo; returns the process exit code (0 on success).

    Args:
        output: folder for the run (`output/run`), the local hub's data (`output/hub`) and the card copy; a folder
            holding anything else is refused (`check_demo_output`), an earlier demo's output is replaced.
        max_steps: LoRA training steps (the tiny model learns the bundled task in ~300).
        model: the base model: a tiny stand-in (default) or any model name `hubtune train` accepts.
        use_hub: also push to a local hub and reload from it in a fresh process.
        serve_space: afterwards, serve the Space against the demo's hub until Ctrl+C.
        max_rows: use at most this many sequences per split (quicker, for smoke tests).
    """
    # Uploads to the local hub use git-LFS; this must be set before huggingface_hub is first imported.
    os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    from .data import example_task_path
    from .methods import LoraMethodConfig
    from .tables import comparison_table
    from .train import TrainConfig, finetune

    output = Path(output)
    check_demo_output(output)  # before any work: the demo replaces only its own earlier output
    data_dir = example_task_path()
    print(f"hubtune demo: LoRA on {model}, bundled promoter task ({data_dir.name}), everything offline.", flush=True)
    _section("1/4 fine-tune")
    print(f"{max_steps} LoRA steps, then the pre-trained probe and k-mer baselines (progress on stderr)", flush=True)
    trainer_log = io.StringIO()
    try:
        # The Trainer prints a dict per logging step on stdout; keep stdout for the readable summary.
        with contextlib.redirect_stdout(trainer_log):
            run = finetune(TrainConfig(model=model, data=str(data_dir), method=LoraMethodConfig(), lr=DEMO_LR,
                                       max_steps=max_steps, eval_steps=max(1, max_steps // 10),
                                       output=str(output / "run"), overwrite=True, max_rows=max_rows))
    except BaseException:
        sys.stderr.write(trainer_log.getvalue())
        raise
    if run is None:  # a secondary process under `accelerate launch`
        return 0
    print(f"run folder: {run.path} (training log: {run.path / 'training_log.json'})")

    _section("2/4 compare with the baselines (same splits)")
    print(comparison_table(run.metrics).text())
    _what_pretraining_buys(run, model, data_dir, max_rows)

    if not use_hub:
        print(f"\nPreview the model card with: hubtune card {run.path}")
        return 0

    from .hub import push_to_hub
    from .hub_server import HubServer
    from .predict import load_classifier
    from .repo_ids import repo_name_slug

    _section("3/4 share on a local hub")
    token = "hf_demo_" + secrets.token_urlsafe(24)  # lives only in this process and the reload subprocess
    hub_root = output / "hub"
    server = HubServer(hub_root, host="127.0.0.1", port=0, tokens={token: DEMO_USER})
    server.start()
    try:
        repo_id = f"{DEMO_USER}/{repo_name_slug(str(run.info.task or 'demo'))}-lora"
        print(f"local hub: {server.url} (data in {hub_root})")
        commit_url = push_to_hub(run.path, repo_id, token=token, endpoint=server.url)
        print(f"pushed {repo_id}: {commit_url}")

        _section("4/4 reload from the hub in a fresh process")
        examples = _example_sequences(data_dir)
        sequences = [seq for seq, _ in examples]
        reloaded = _reload_in_fresh_process(server.url, token, repo_id, sequences)
        own = load_classifier(run.path).predict_proba(sequences)
        labels = run.label_names
        print(f"loaded {repo_id} (base {reloaded['base']}) with PeftModel.from_pretrained and hubtune.load_classifier")
        header = f"{'sequence':<24}  {'true':<12}  {'predicted':<12}  " + "  ".join(f"p({name})" for name in labels)
        print(header)
        print("-" * len(header))
        for (seq, truth), label, probs in zip(examples, reloaded["labels"], reloaded["hubtune"], strict=True):
            shown = seq[:21] + "..." if len(seq) > 24 else seq
            cells = "  ".join(f"{p:>{len(name) + 3}.3f}" for name, p in zip(labels, probs, strict=True))
            print(f"{shown:<24}  {truth:<12}  {label:<12}  {cells}")
        diff = max(
            abs(a - b)
            for rows in (reloaded["plain"], reloaded["hubtune"])
            for row_a, row_b in zip(rows, own.tolist(), strict=True)
            for a, b in zip(row_a, row_b, strict=True)
        )
        verdict = "match" if diff < 1e-5 else "DIFFER"
        print(f"probabilities of both reloads vs the local run: {verdict} (max |difference| {diff:.1e})")

        card_url = f"{server.url}/{repo_id}/resolve/main/README.md"
        card_copy = output / "model_card.md"
        with urllib.request.urlopen(card_url, timeout=30) as response:
            card_copy.write_bytes(response.read())
        print(f"model card: {card_url} (while the hub runs); copy: {card_copy}")
        if serve_space:
            _serve_space(server.url, repo_id)
    finally:
        server.stop()
    print(f"\nTo browse the demo hub again: hubtune hub serve --root {hub_root} --port 8765, then set "
          "HF_ENDPOINT=http://127.0.0.1:8765 and HF_HUB_DISABLE_XET=1.")
    return 0 if diff < 1e-5 else 1


def random_init_probe(model: str, data_dir: Path, *, max_length: int, max_rows: int | None = None,
                      seed: int = 42) -> dict[str, Any] | None:
    """Test metrics of a logistic-regression probe on the random-weight twin of a pre-trained tiny stand-in (same
    splits and token budget as the run), or None when `model` is not a pre-trained stand-in.

    Example:
        >>> random_init_probe("tiny-nt-pretrained", example_task_path(), max_length=21)["mcc"]  # doctest: +SKIP
        0.4
    """
    from .data import load_task
    from .evaluate import extract_embeddings
    from .heads import fit_logistic_head_tuned
    from .metrics import compute_metrics
    from .models import load_base_model, load_tokenizer
    from .models.registry import FAMILIES, PRETRAINED_TINY_MODELS

    if model not in PRETRAINED_TINY_MODELS:
        return None
    random_twin = FAMILIES[PRETRAINED_TINY_MODELS[model][0]].tiny_name
    if random_twin is None:
        return None
    task = load_task(str(data_dir), seed=42, max_rows=max_rows)
    base, tokenizer = load_base_model(random_twin, task="base"), load_tokenizer(random_twin)
    splits = ("train", "dev", "test")
    features = {s: extract_embeddings(base, tokenizer, task.splits[s].sequences, max_length=max_length) for s in splits}
    head, _ = fit_logistic_head_tuned(features["train"], task.splits["train"].labels, features["dev"],
                                      task.splits["dev"].labels, task.num_labels, seed=seed)
    return {"model": random_twin, **compute_metrics(task.splits["test"].labels, head.probs(features["test"]))}


def _what_pretraining_buys(run: Any, model: str, data_dir: Path, max_rows: int | None) -> None:
    """Random-init probe vs pre-trained probe vs fine-tuned vs k-mer (test MCC), and the forgetting check."""
    from .diagnostics.forgetting import check_forgetting

    random_probe = random_init_probe(model, data_dir, max_length=run.info.max_length, max_rows=max_rows)
    if random_probe is None:
        return
    metrics = run.metrics

    def mcc(key: str) -> str:
        value = (metrics.get(key) or {}).get("test", {}).get("mcc")
        return "–" if value is None else f"{value:.3f}"

    print(f"\nwhat pre-training buys (test MCC, same splits): random-init probe ({random_probe['model']}) "
          f"{random_probe['mcc']:.3f} | pre-trained probe ({model}) {mcc('probe')} | fine-tuned (LoRA) "
          f"{mcc('finetuned')} | k-mer baseline {mcc('kmer')}")
    verdict = check_forgetting(run)
    print(f"catastrophic forgetting: {verdict.status}: {verdict.summary}")


def _serve_space(hub_url: str, repo_id: str, port: int = 7860) -> None:
    """Serve the Gradio Space against the demo hub until Ctrl+C (the hub keeps running meanwhile)."""
    app = Path(__file__).resolve().parents[1] / "space" / "app.py"
    if not app.is_file():
        print(f"The Space app is not part of this installation ({app} is missing): run it from a source checkout.")
        return
    env = {**os.environ, "HF_ENDPOINT": hub_url, "HF_HUB_DISABLE_XET": "1", "HUBTUNE_SPACE_ADAPTERS": repo_id}
    print(f"\nSpace: http://127.0.0.1:{port} (adapter {repo_id}); press Ctrl+C to stop.")
    try:
        subprocess.run([sys.executable, str(app), "--port", str(port)], env=env, check=False)
    except KeyboardInterrupt:
        pass


__all__ = ["DEMO_MODEL", "DEMO_STEPS", "check_demo_output", "random_init_probe", "run_demo"]
