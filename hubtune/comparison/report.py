"""The report of a comparison grid: `report.md` (main table first, then figures and the pitfall diagnostics per cell),
`results.csv` and `results.json` (whose rows carry the keys `hubtune.tables.grid_table` reads, so a model card that
attaches the report shows the same table).

Each task is scored with its own headline metric (`hubtune.problems.Problem.metric`: MCC, macro AUPRC or Spearman):
a row's ``metric`` / ``metric_label`` say which, its ``test_score_*``, ``dev_score``, ``probe_test_score``,
``kmer_test_score`` and ``dedup_test_score`` are values of that metric.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..diagnostics import CHECK_NAMES, learning_curves, rule_notes
from ..jsonio import write_atomic, write_json
from ..methods import get_method
from ..metrics import mean_sd
from ..problems import PROBLEMS
from ..run import Run, library_versions
from ..tables import COMPARED_MODELS, grid_table
from . import plots
from .grid import Cell, GridPlan, unique
from .measure import MEMORY_LABELS, hardware

RESULTS_FORMAT = "hubtune-compare"
CSV_COLUMNS = ("task", "model", "method", "problem_type", "metric", "n_seeds", "test_score_mean", "test_score_sd",
               "dev_score", "train_score", "test_f1_macro", "test_auroc", "test_pearson", "test_r2",
               "probe_test_score", "kmer_test_score", "trainable_params", "total_params",
               "learning_rate", "train_seconds_per_seed", "wall_seconds", "peak_memory_mib", "memory_at_start_mib",
               "memory_measure",
               "overfitting_status", "underfitting_status", "forgetting_status", "leakage_status", "forgetting_ratio",
               "dedup_test_score", "run_folder")
# Figures the report writes; older ones of these names are removed first (a model card attaches every PNG here).
# The per-task score figure is named after the task's metric ("mcc_", "auprc_macro_", "spearman_").
PLOT_PREFIXES = (*(f"{p.metric}_" for p in PROBLEMS.values()), "params_", "cost_", "layers_", "curves_")
# metrics.json keys of the two baselines every run may carry (the pre-trained probe is a baseline, not a method).
PROBE_BASELINE, KMER_BASELINE = (key for key, _label in COMPARED_MODELS[1:])


def _row(cell: Cell, run: Run, record: dict[str, Any]) -> dict[str, Any]:
    metrics = run.metrics
    problem = run.info.problem
    metric = problem.metric
    summary = metrics.get("summary", {}).get("finetuned", {})
    per_seed = metrics.get("per_seed", [])
    scores = summary.get("test_score_per_seed") or [s["test"][metric] for s in per_seed]
    mean, sd = mean_sd(scores) if scores else (None, None)
    best = metrics.get("finetuned", {})
    test = best.get("test") or {}
    seconds = [s.get("train_seconds") for s in per_seed if s.get("train_seconds") is not None]
    verdicts = {v["name"]: v for v in record.get("verdicts") or []}
    row = {
        "task": cell.task_key, "model": cell.model, "method": cell.method, "problem_type": problem.name,
        "metric": metric, "metric_label": problem.metric_label, "n_seeds": len(scores),
        "test_score_mean": mean, "test_score_sd": sd, "test_score_per_seed": scores,
        "dev_score": (best.get("dev") or {}).get(metric), "train_score": (best.get("train") or {}).get(metric),
        "test_f1_macro": test.get("f1_macro"), "test_auroc": test.get("auroc", test.get("auroc_macro")),
        "test_pearson": test.get("pearson"), "test_r2": test.get("r2"),
        "trainable_params": run.info.trainable_parameters, "total_params": run.info.total_parameters,
        "learning_rate": run.info.training.get("learning_rate"),
        "train_seconds_per_seed": float(np.mean(seconds)) if seconds else None,
        "wall_seconds": record.get("wall_seconds"), "peak_memory_mib": record.get("peak_memory_mib"),
        "memory_at_start_mib": record.get("memory_at_start_mib"), "memory_measure": record.get("memory_measure"),
        "run_folder": f"runs/{cell.name}", "verdicts": verdicts,
    }
    for name in CHECK_NAMES:
        row[f"{name.split()[-1]}_status"] = verdicts.get(name, {}).get("status", "not measured")
    row["forgetting_ratio"] = verdicts.get("catastrophic forgetting", {}).get("details", {}).get("ratio")
    leakage = verdicts.get("data leakage", {}).get("details", {})
    row["dedup_test_score"] = leakage.get("test_score_dedup", leakage.get("test_mcc_dedup"))
    return row


def collect_rows(plan: GridPlan, runs: dict[str, Run] | None = None,
                 ) -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, float | None]]]:
    """One result row per cell (the `results.json` rows), and the baselines' test score (the task's headline
    metric) per (model, task key).

    `runs` maps cell names to their opened `Run`s (each cell's folder is opened here when not given).

    Example:
        >>> rows, baselines = collect_rows(plan_grid(config))  # doctest: +SKIP
        >>> grid_table(rows).markdown()  # doctest: +SKIP
    """
    baselines: dict[tuple[str, str], dict[str, float | None]] = {}
    rows = []
    for cell in plan.cells:
        run = runs[cell.name] if runs is not None else Run(plan.run_dir(cell))
        cell_file = plan.cell_file(cell)
        record = json.loads(cell_file.read_text()) if cell_file.is_file() else {}
        key = (cell.model, cell.task_key)
        if run.metrics.get(PROBE_BASELINE) or run.metrics.get(KMER_BASELINE):
            if cell.baselines or key not in baselines:
                baselines[key] = {name: run.test_score(name) for name in (PROBE_BASELINE, KMER_BASELINE)}
        rows.append(_row(cell, run, record))
    for row in rows:
        base = baselines.get((row["model"], row["task"]), {})
        row["probe_test_score"], row["kmer_test_score"] = base.get(PROBE_BASELINE), base.get(KMER_BASELINE)
    return rows, baselines


def _layer_rows(plan: GridPlan, model: str, task_key: str) -> list[dict[str, Any]] | None:
    path = plan.layer_probe_dir(model, task_key) / "layer_probe.json"
    return json.loads(path.read_text())["layers"] if path.is_file() else None


def _memory(rows: list[dict[str, Any]]) -> tuple[str | None, str]:
    kinds = {r["memory_measure"] for r in rows if r.get("memory_measure")}
    kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)
    return kind, MEMORY_LABELS.get(kind or "", "peak memory (MiB)")


def _kmer_of(baselines: dict[tuple[str, str], dict[str, float | None]], task_key: str) -> float | None:
    return next((b[KMER_BASELINE] for (_, t), b in baselines.items()
                 if t == task_key and b.get(KMER_BASELINE) is not None), None)


def _learning_panels(cells: list[Cell], runs: dict[str, Run]) -> list[dict[str, Any]]:
    panels = []
    for cell in cells:
        if not get_method(cell.method).uses_trainer:
            continue  # fitted without a training loop: no learning curve
        run = runs[cell.name]
        panels.append({"label": cell.method, "curves": list(learning_curves(run).values()),
                       "kept": {f"seed-{s['seed']}": s.get("best_step") for s in run.metrics.get("per_seed", [])}})
    return panels


def _task_plots(plan: GridPlan, runs: dict[str, Run], task_key: str, rows: list[dict[str, Any]],
                baselines: dict[tuple[str, str], dict[str, float | None]], memory_label: str,
                layer_curves: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    out = plan.output
    task = plan.tasks[task_key]
    metric, label = task.get("metric", "mcc"), task.get("metric_label", "MCC")
    task_rows = [r for r in rows if r["task"] == task_key]
    models = unique([r["model"] for r in task_rows])
    probe = {m: baselines.get((m, task_key), {}).get(PROBE_BASELINE) for m in models}
    files = [f"{metric}_{task_key}.png", f"params_{task_key}.png", f"cost_{task_key}.png"]
    plots.plot_task_score(task_rows, probe, _kmer_of(baselines, task_key), out / files[0],
                          title=f"{task_key}: test {label}", metric_label=label)
    plots.plot_score_vs_params(task_rows, out / files[1], title=f"{task_key}: {label} vs trainable parameters",
                               metric_label=label)
    plots.plot_score_vs_cost(task_rows, out / files[2], memory_label=memory_label, metric_label=label,
                             title=f"{task_key}: {label} vs training time and peak memory")
    curves = {m: layers for m in models if (layers := _layer_rows(plan, m, task_key))}
    if curves:
        layer_curves[task_key] = curves
        files.append(f"layers_{task_key}.png")
        plots.plot_layer_curves(curves, out / files[-1], title=f"{task_key}: layer probing", metric=metric,
                                metric_label=label)
    for model in models:
        panels = _learning_panels([c for c in plan.cells if c.model == model and c.task_key == task_key], runs)
        if panels:
            name = f"curves_{plan.models[model]}_{task_key}.png"
            plots.plot_learning_curves(panels, out / name, title=f"{model} on {task_key}: learning curves",
                                       metric_label=label)
            files.append(name)
    return files


def write_report(plan: GridPlan) -> Path:
    """Write report.md, results.csv, results.json and the PNG figures for a grid whose cells are finished.

    Example:
        >>> write_report(plan_grid(config))  # doctest: +SKIP
        PosixPath('runs/compare/report.md')
    """
    config, out = plan.config, plan.output
    runs = {cell.name: Run(plan.run_dir(cell)) for cell in plan.cells}
    rows, baselines = collect_rows(plan, runs)
    memory_kind, memory_label = _memory(rows)
    for stale in out.glob("*.png"):
        if stale.name == "overview.png" or stale.name.startswith(PLOT_PREFIXES):
            stale.unlink()
    layer_curves: dict[str, dict[str, list[dict[str, Any]]]] = {}
    figures = {task_key: _task_plots(plan, runs, task_key, rows, baselines, memory_label, layer_curves)
               for task_key in plan.tasks}
    plots.plot_overview(
        rows, list(plan.tasks), out / "overview.png",
        metric_labels={t: task.get("metric_label", "MCC") for t, task in plan.tasks.items()},
        baselines={
            **{f"{m} · pre-trained probe": {t: baselines.get((m, t), {}).get(PROBE_BASELINE) for t in plan.tasks}
               for m in plan.models},
            "k-mer baseline": {t: _kmer_of(baselines, t) for t in plan.tasks},
        })
    write_atomic(out / "report.md", "\n".join(_report_lines(plan, rows, figures, memory_label)) + "\n")
    _write_csv(out / "results.csv", rows)
    write_json(out / "results.json", {
        "format": RESULTS_FORMAT, "config": asdict(config), "tasks": plan.tasks, "models": plan.models,
        "hardware": hardware(), "memory_measure": memory_kind, "memory_label": memory_label,
        "rows": rows, "layer_probe": layer_curves, "plots": figures, "versions": library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    return out / "report.md"


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS})
    write_atomic(path, buffer.getvalue())


def _report_lines(plan: GridPlan, rows: list[dict[str, Any]], figures: dict[str, list[str]],
                  memory_label: str) -> list[str]:
    config = plan.config
    budget = f"{config.max_steps} steps" if config.max_steps else f"{config.epochs:g} epochs"
    labels = unique([t.get("metric_label", "MCC") for t in plan.tasks.values()])
    if len(labels) == 1:
        scoring = (f"Test {labels[0]} is the mean ± sd over seeds; each seed keeps its best-dev-{labels[0]} "
                   "checkpoint.")
    else:
        scoring = ("Each task is scored with its own metric (MCC for single-label, macro AUPRC for multi-label, "
                   "Spearman for regression tasks; the metric column says which): the test value is the mean ± sd "
                   "over seeds, and each seed keeps its best checkpoint on dev by that metric.")
    lines = ["# hubtune compare report", "",
             f"{len(plan.models)} model(s) × {len(plan.tasks)} task(s) × {len(unique(config.methods))} method(s), "
             f"seeds {', '.join(map(str, config.seeds))}; budget {budget}, batch size {config.batch_size}. "
             + scoring, ""]
    lines.append(grid_table(rows).markdown())
    lines += ["", "n/m = not measurable or not measured (the diagnostics section says why). Peak MiB: " + memory_label
              + ".", ""]
    lines += ["![overview](overview.png)", ""]
    lines += _setup_section(plan, rows, memory_label)
    for task_key, files in figures.items():
        t = plan.tasks[task_key]
        sizes = ", ".join(f"{n} {s}" for s, n in t["split_sizes"].items())
        what = "targets" if t.get("problem_type") == "regression" else "labels"
        scored = f"; scored by {t['metric_label']}" if t.get("metric_label") else ""
        lines += [f"## Task {task_key}", "",
                  f"Data `{t['source']}`: {sizes}; {what} {', '.join(t['label_names'])}{scored}.", ""]
        for name in files:
            lines += [f"![{name[:-4]}]({name})", ""]
        lines += _diagnostics_section([r for r in rows if r["task"] == task_key])
    return lines + _method_notes()


def _setup_section(plan: GridPlan, rows: list[dict[str, Any]], memory_label: str) -> list[str]:
    config = plan.config
    lrs = {r["method"]: r["learning_rate"] for r in rows
           if get_method(r["method"]).uses_trainer and r.get("learning_rate") is not None}
    lines = ["## Setup", ""]
    lines.append(f"- Models: {', '.join(plan.models)}")
    lines.append(f"- Methods: {', '.join(unique(config.methods))}; learning rates: "
                 + (", ".join(f"{m} {lr:g}" for m, lr in lrs.items()) or "–")
                 + (" (set with --lr)" if config.lr is not None else " (each method's default)"))
    lines.append(f"- Same splits for every cell (split seed {config.split_seed}"
                 + (f", at most {config.max_rows} rows per split" if config.max_rows else "") + "); early stopping "
                 + (f"after {config.patience} evaluations without a gain of the task's metric on dev"
                    if config.patience else "off"))
    lines.append(f"- Hardware: {hardware()}; time = training time per seed (the training loop with its dev "
                 f"evaluations, or the probe's fit); memory = {memory_label}, measured per cell (all its seeds) in "
                 "the compare process; results.csv also has the memory at the cell's start (memory_at_start_mib), "
                 "so peak minus start is what the cell added.")
    lines.append("- Baselines: the pre-trained probe (frozen model, mean-pooled last layer, a linear model with its "
                 "regularisation chosen on dev) and k-mer frequencies + a linear model (k-mer sizes and "
                 "regularisation chosen on dev), computed once per model × task; the linear model is logistic "
                 "regression (single-label), one-vs-rest logistic regression (multi-label) or ridge regression "
                 "(regression).")
    versions = library_versions()
    lines.append("- Versions: " + ", ".join(f"{k} {versions[k]}" for k in ("hubtune", "torch", "transformers", "peft")
                                             if k in versions))
    return lines + [""]


def _diagnostics_section(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["### Pitfall diagnostics", ""]
    for r in rows:
        lines.append(f"**{r['model']} · {r['method']}** (`{r['run_folder']}`)")
        lines.append("")
        if not r["verdicts"]:
            lines += ["- not run (diagnostics were switched off)", ""]
            continue
        for name in CHECK_NAMES:
            verdict = r["verdicts"].get(name)
            if verdict:
                lines.append(f"- {name}: **{verdict['status']}** — {verdict['summary']}")
        lines.append("")
    return lines


def _method_notes() -> list[str]:
    return ["## How the diagnostics decide", "", *rule_notes(), ""]


__all__ = ["CSV_COLUMNS", "RESULTS_FORMAT", "collect_rows", "write_report"]
