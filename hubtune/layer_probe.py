"""Probing every layer of a pre-trained model: frozen, mean-pooled embeddings + logistic regression per layer.

Shows where in the network the task's signal lives before any fine-tuning (a curve of MCC per layer, PNG + CSV).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .config import default_of
from .data import load_task
from .evaluate import INFERENCE_BATCH_SIZE, extract_embeddings
from .heads import fit_logistic_head
from .jsonio import write_json
from .metrics import compute_metrics
from .models import load_base_model, load_tokenizer, resolve_model
from .plots import plot_layer_probe


def probe_layers(
    model: str, data: str, *, output: str | Path, max_length: int | None = None, batch_size: int = INFERENCE_BATCH_SIZE,
    seed: int = default_of("seed"), max_rows: int | None = None, trust_remote_code: bool = False, c: float = 1.0,
) -> dict[str, Any]:
    """Probe every layer of the pre-trained model and write `layer_probe.{csv,png,json}` into `output`.

    Returns {"model", "task", "layers": [{"layer", "dev_mcc", "test_mcc", ...}], "csv", "plot"}.

    Example:
        >>> result = hubtune.probe_layers("tiny-nt", "path/to/task", output="runs/layers")  # doctest: +SKIP
        >>> max(result["layers"], key=lambda row: row["dev_mcc"])["layer"]  # doctest: +SKIP
        3
    """
    from transformers import set_seed

    task = load_task(data, seed=seed, max_rows=max_rows)
    resolved = resolve_model(model)
    tokenizer = load_tokenizer(model, resolved=resolved, trust_remote_code=trust_remote_code)
    longest = max(len(s) for s in task.splits["train"].sequences)
    max_length = max_length or resolved.family.default_max_length(longest)
    set_seed(seed)
    base = load_base_model(model, len(task.label_names), resolved=resolved, trust_remote_code=trust_remote_code)
    embeddings = {
        split: extract_embeddings(base, tokenizer, task.splits[split].sequences, max_length=max_length,
                                  batch_size=batch_size, all_layers=True, progress=True)
        for split in ("train", "dev", "test")
    }
    rows = []
    for layer in range(embeddings["train"].shape[0]):
        head = fit_logistic_head(embeddings["train"][layer], task.splits["train"].labels, len(task.label_names), c=c,
                                 seed=seed)
        row: dict[str, Any] = {"layer": layer}
        for split in ("dev", "test"):
            scores = compute_metrics(task.splits[split].labels, head.probs(embeddings[split][layer]), task.label_names)
            row[f"{split}_mcc"] = scores["mcc"]
            row[f"{split}_f1_macro"] = scores["f1_macro"]
        rows.append(row)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "layer_probe.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_layer_probe(rows, out / "layer_probe.png", title=f"{model} on {task.name}")
    result = {"model": model, "task": task.name, "layers": rows, "csv": str(out / "layer_probe.csv"),
              "plot": str(out / "layer_probe.png")}
    write_json(out / "layer_probe.json", result)
    return result


__all__ = ["probe_layers"]
