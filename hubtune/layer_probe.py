"""Probing every layer of a pre-trained model: frozen, mean-pooled embeddings + the task's linear head per layer.

Shows where in the network the task's signal lives before any fine-tuning: a curve of the task's headline metric per
layer (MCC, macro AUPRC or Spearman; PNG + CSV + JSON). The head follows the problem type: logistic regression
(single-label), one-vs-rest logistic regression (multi-label) or ridge regression (regression).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .config import default_of
from .data import load_task
from .evaluate import INFERENCE_BATCH_SIZE, extract_embeddings
from .heads import fit_head_tuned
from .jsonio import write_json
from .models import load_base_model, load_tokenizer, resolve_model
from .plots import plot_layer_probe
from .problems import REGRESSION, get_problem
from .tables import PROBLEM_COLUMNS


def probe_layers(
    model: str, data: str, *, output: str | Path, max_length: int | None = None, batch_size: int = INFERENCE_BATCH_SIZE,
    seed: int = default_of("seed"), max_rows: int | None = None, trust_remote_code: bool = False, c: float = 1.0,
    label_columns: str | list[str] | None = None, problem_type: str | None = None,
    label_column: str = default_of("label_column"), sequence_column: str = default_of("sequence_column"),
) -> dict[str, Any]:
    """Probe every layer of the pre-trained model and write `layer_probe.{csv,png,json}` into `output`.

    Args:
        c: the heads' fixed inverse regularisation strength (logistic regression's C; ridge regression's alpha is
            1/c).
        label_columns, problem_type, label_column, sequence_column: how the task's labels are read, as for
            `hubtune train` (`hubtune.data.load_task`).

    Returns {"model", "task", "problem_type", "metric", "metric_label", "layers": [{"layer", "dev_<metric>",
    "test_<metric>", ...}], "csv", "plot"}: each layer row has the dev and test value of every score the comparison
    table shows for the problem (`hubtune.tables.PROBLEM_COLUMNS`), the headline metric first.

    Example:
        >>> result = hubtune.probe_layers("tiny-nt", "path/to/task", output="runs/layers")  # doctest: +SKIP
        >>> max(result["layers"], key=lambda row: row["dev_" + result["metric"]])["layer"]  # doctest: +SKIP
        3
    """
    from transformers import set_seed

    task = load_task(data, seed=seed, max_rows=max_rows, label_columns=label_columns, problem_type=problem_type,
                     label_column=label_column, sequence_column=sequence_column)
    problem = get_problem(task.problem_type)
    resolved = resolve_model(model)
    tokenizer = load_tokenizer(model, resolved=resolved, trust_remote_code=trust_remote_code)
    longest = max(len(s) for s in task.splits["train"].sequences)
    max_length = max_length or resolved.family.default_max_length(longest)
    set_seed(seed)
    base = load_base_model(model, len(task.label_names), resolved=resolved, trust_remote_code=trust_remote_code,
                           problem_type=problem.hf_problem_type)
    embeddings = {
        split: extract_embeddings(base, tokenizer, task.splits[split].sequences, max_length=max_length,
                                  batch_size=batch_size, all_layers=True, progress=True)
        for split in ("train", "dev", "test")
    }
    strength = 1.0 / c if problem.name == REGRESSION else c
    rows = []
    for layer in range(embeddings["train"].shape[0]):
        head, _ = fit_head_tuned(problem, embeddings["train"][layer], task.splits["train"].labels, None, None,
                                 len(task.label_names), seed=seed, grid=(strength,))
        outputs = {split: problem.outputs(head.logits(embeddings[split][layer])) for split in ("dev", "test")}
        scores = problem.score_splits({split: (task.splits[split].labels, outputs[split]) for split in outputs},
                                      task.label_names, interval=False)
        row: dict[str, Any] = {"layer": layer}
        for split in ("dev", "test"):
            for key, _ in PROBLEM_COLUMNS[problem.name]:
                row[f"{split}_{key}"] = scores[split].get(key)
        rows.append(row)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "layer_probe.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_layer_probe(rows, out / "layer_probe.png", title=f"{model} on {task.name}", metric=problem.metric,
                     metric_label=problem.metric_label)
    result = {"model": model, "task": task.name, "problem_type": problem.name, "metric": problem.metric,
              "metric_label": problem.metric_label, "layers": rows, "csv": str(out / "layer_probe.csv"),
              "plot": str(out / "layer_probe.png")}
    write_json(out / "layer_probe.json", result)
    return result


def layer_probe_text(result: dict[str, Any]) -> str:
    """The per-layer dev and test values of the headline metric as a small text table (what `hubtune probe-layers`
    prints), from `probe_layers`' result.

    Example:
        >>> print(layer_probe_text({"metric": "spearman", "metric_label": "Spearman",
        ...                         "layers": [{"layer": 0, "dev_spearman": 0.31, "test_spearman": 0.28}]}))
        layer  dev Spearman  test Spearman
            0         0.310          0.280
    """
    metric, name = result.get("metric", "mcc"), result.get("metric_label", "MCC")
    dev, test = f"dev {name}", f"test {name}"
    lines = [f"layer  {dev}  {test}"]
    for row in result["layers"]:
        lines.append(f"{row['layer']:>5d}  {_num(row.get(f'dev_{metric}')):>{len(dev)}}  "
                     f"{_num(row.get(f'test_{metric}')):>{len(test)}}")
    return "\n".join(lines)


def _num(value: Any) -> str:
    return "–" if not isinstance(value, int | float) else f"{value:.3f}"


__all__ = ["layer_probe_text", "probe_layers"]
