"""`hubtune compare`: fine-tune every model × task × method (× seed) with the same splits and budget, then write a report.

Each cell (model × task × method, all seeds) is an ordinary run folder under ``REPORT_DIR/runs/``. A cell whose run
folder is complete and was made with the same settings is skipped, so an interrupted grid resumes where it stopped.
The pre-trained probe and k-mer baselines are computed once per model × task (in the probe cell when the grid has
one, which extracts the embeddings anyway), the layer-probing curve once per model × task, and tokenization is cached
across cells in the process.

The report folder gets ``report.md`` (main table first, then plots and the four pitfall diagnostics per cell),
PNG plots, ``results.csv`` and ``results.json``.
"""

from __future__ import annotations

import csv
import io
import json
import operator
import os
import platform
import re
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .diagnostics import DIAGNOSTICS_VERSION, Verdict, diagnose_run, parse_log_history
from .errors import ConfigError, DataError, HubtuneError, ModelError
from .evaluate import mean_sd
from .methods import METHODS
from .progress import info, progress_bar
from .run import INFO_FILE, Run, library_versions, write_json
from .train import TrainConfig, finetune, probe_layers

# Settings a finished cell must share with the grid to be reused (hubtune.json "training" keys).
FINGERPRINT_KEYS = ("model", "data", "method", "epochs", "max_steps", "lr", "batch_size", "seed", "seeds", "max_rows",
                    "patience", "eval_steps")
DIAGNOSTIC_NAMES = ("overfitting", "underfitting", "catastrophic forgetting", "data leakage")
MEMORY_LABELS = {
    "gpu": "peak GPU memory allocated by torch (MiB)",
    "rss": "peak resident memory of the process (MiB)",
    "rss-lifetime": "peak resident memory of the process since it started (MiB, an upper bound)",
}


@dataclass
class CompareConfig:
    """A comparison grid. Field names match the CLI flags (`--max-steps` -> `max_steps`).

    Every cell trains with the same splits (`split_seed`), budget (`max_steps` or `epochs`, `batch_size`) and seeds;
    `lr` None means each method's default learning rate.
    """

    models: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: ["lora", "full", "freeze", "probe"])
    seeds: list[int] = field(default_factory=lambda: [42])
    output: str = "runs/compare"
    max_steps: int | None = None
    epochs: float = 3.0
    batch_size: int = 16
    max_rows: int | None = None
    lr: float | None = None
    split_seed: int = 42  # seed of data splits / row sampling, shared by every cell
    patience: int | None = 5  # early stopping (evaluations); None disables it
    eval_steps: int | None = None
    layer_probe: bool = True
    diagnostics: bool = True
    forgetting_sequences: int = 256  # test sequences (and as many shuffled controls) for the forgetting check
    overwrite: bool = False  # retrain cells whose settings differ from this grid instead of refusing
    trust_remote_code: bool = False


@dataclass
class Cell:
    """One model × task × method of the grid (all seeds in one run folder)."""

    model: str
    model_key: str
    data: str
    task_key: str
    method: str
    baselines: bool

    @property
    def name(self) -> str:
        return f"{self.model_key}__{self.task_key}__{self.method}"


@dataclass
class GridPlan:
    """A validated grid: the cells in run order and what was learned about the tasks while checking them."""

    config: CompareConfig
    output: Path
    cells: list[Cell]
    tasks: dict[str, dict[str, Any]]  # task key -> data, label names, split sizes
    models: dict[str, str]  # model -> model key
    retrain: set[str] = field(default_factory=set)  # cells whose old run folder will be replaced


# ---------------------------------------------------------------------------------------------------------------------
# Validation (everything that can be refused is refused here, before any training)
# ---------------------------------------------------------------------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


def _unique(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _train_config(config: CompareConfig, cell: Cell, output: Path) -> TrainConfig:
    return TrainConfig(
        model=cell.model, data=cell.data, method=cell.method, output=str(output / "runs" / cell.name),
        epochs=config.epochs, max_steps=config.max_steps, lr=config.lr, batch_size=config.batch_size,
        seed=config.split_seed, seeds=list(config.seeds), max_rows=config.max_rows, patience=config.patience,
        eval_steps=config.eval_steps, baselines=cell.baselines, trust_remote_code=config.trust_remote_code,
    )


def plan_grid(config: CompareConfig) -> GridPlan:
    """Check the whole grid without training: methods, models, data, label sets, budget and finished cells.

    Raises:
        ConfigError: unknown method, empty lists, bad budget, tasks with different label sets, or finished cells made
            with other settings (without `overwrite`).
        ModelError: a model cannot be found.
        DataError: a task's files cannot be loaded.
    """
    from .data import load_task
    from .models import resolve_model

    models, data = _unique(list(config.models)), _unique(list(config.data))
    methods, seeds = _unique(list(config.methods)), _unique(list(config.seeds or []))
    for flag, values in (("--models", models), ("--data", data), ("--methods", methods), ("--seeds", seeds)):
        if not values:
            raise ConfigError(f"{flag} is empty: give at least one value (comma-separated).")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"--methods: unknown method(s) {', '.join(map(repr, unknown))}. "
                          f"Choose from: {', '.join(METHODS)}.")
    try:
        seeds = [operator.index(s) for s in seeds]
    except TypeError:
        raise ConfigError(f"--seeds must be integers, got {seeds}.") from None
    config.seeds = seeds
    if config.forgetting_sequences <= 0:
        raise ConfigError(f"forgetting_sequences must be positive, got {config.forgetting_sequences}.")
    if config.max_rows is not None and config.max_rows < 3:
        raise ConfigError(f"--max-rows must be at least 3 (a train, dev and test row), got {config.max_rows}.")
    output = Path(config.output)
    for method in methods:
        # Budget, lr and method options are checked by the same code `hubtune train` uses.
        _train_config(config, Cell(models[0], "m", data[0], "t", method, False), output).validate()

    model_keys: dict[str, str] = {}
    for index, model in enumerate(models):
        try:
            resolved = resolve_model(model)
        except HubtuneError as exc:
            raise ModelError(f"--models item {index + 1} ({model!r}): {exc}") from None
        key = _key(Path(model).name if resolved.is_local and not resolved.is_tiny else model.replace("/", "--"))
        while key in model_keys.values():
            key += "-2"
        model_keys[model] = key

    tasks: dict[str, dict[str, Any]] = {}
    loaded = []
    for index, source in enumerate(data):
        path = Path(source).expanduser()
        location = str(path.resolve()) if path.exists() else source
        try:
            task = load_task(location, seed=config.split_seed, max_rows=config.max_rows)
        except HubtuneError as exc:
            raise DataError(f"--data item {index + 1} ({source}): {exc}") from None
        loaded.append((source, location, path, task))
    names = [task.name for *_, task in loaded]
    for source, location, path, task in loaded:
        name = task.name
        if names.count(name) > 1 or len(name) <= 2 or name.isdigit():
            name = f"{path.parent.name}-{path.name}" if path.exists() else source.replace("/", "-")
        key = _key(name)
        while key in tasks:
            key += "-2"
        tasks[key] = {"data": location, "source": source, "name": task.name, "label_names": list(task.label_names),
                      "split_sizes": {s: len(task.splits[s]) for s in ("train", "dev", "test") if s in task.splits}}
    label_sets = {key: sorted(t["label_names"]) for key, t in tasks.items()}
    if len({tuple(v) for v in label_sets.values()}) > 1:
        listing = "; ".join(f"{key}: {', '.join(v)}" for key, v in label_sets.items())
        raise ConfigError(
            f"--data: the tasks do not share one label set, so their results cannot share the report's plots and "
            f"tables ({listing}). Run `hubtune compare` once per label set, or relabel the data so the classes match."
        )

    # Probe first within each model × task: it extracts the pre-trained embeddings anyway, so it carries the baselines.
    ordered = sorted(methods, key=lambda m: m != "probe")
    cells = [Cell(model, model_keys[model], task["data"], task_key, method, baselines=(i == 0))
             for model in models for task_key, task in tasks.items() for i, method in enumerate(ordered)]
    plan = GridPlan(config, output, cells, tasks, model_keys)
    conflicts = []
    for cell in cells:
        run_dir = output / "runs" / cell.name
        if not (run_dir / INFO_FILE).is_file():
            continue
        wanted = _train_config(config, cell, output).to_dict()
        try:
            have = json.loads((run_dir / INFO_FILE).read_text()).get("training", {})
        except json.JSONDecodeError:
            have = {}
        differing = [k for k in FINGERPRINT_KEYS if have.get(k) != wanted.get(k)]
        if differing:
            plan.retrain.add(cell.name)
            conflicts.append(f"runs/{cell.name} (" + ", ".join(f"{k}={have.get(k)!r}, now {wanted.get(k)!r}"
                                                              for k in differing[:3]) + ")")
    if conflicts and not config.overwrite:
        raise ConfigError(
            f"{output} already holds {len(conflicts)} finished cell(s) made with other settings: "
            f"{'; '.join(conflicts[:3])}{' ...' if len(conflicts) > 3 else ''}. Use another --output, or pass "
            "--overwrite to retrain those cells."
        )
    return plan


# ---------------------------------------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------------------------------------


class PeakMemory:
    """Peak memory while the block runs.

    On a CUDA device: torch's peak allocated GPU memory (its counter is reset on entry). On CPU: the process's peak
    resident set size (VmHWM), whose high-water mark Linux resets when "5" is written to /proc/self/clear_refs; where
    that is not possible, getrusage's lifetime peak (an upper bound for the block).
    """

    def __init__(self) -> None:
        self.kind = "rss-lifetime"
        self.peak_mib: float | None = None
        self.start_mib: float | None = None  # resident (CPU) or allocated (GPU) memory on entry, for reference

    def __enter__(self) -> PeakMemory:
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            self.kind = "gpu"
            self.start_mib = torch.cuda.memory_allocated() / 2**20
        else:
            rss = _status_kib("VmRSS:")
            self.start_mib = None if rss is None else rss / 1024
            try:
                Path("/proc/self/clear_refs").write_text("5")
                self.kind = "rss" if _status_kib("VmHWM:") is not None else "rss-lifetime"
            except OSError:
                self.kind = "rss-lifetime"
        return self

    def __exit__(self, *exc_info: Any) -> None:
        import torch

        if self.kind == "gpu":
            self.peak_mib = torch.cuda.max_memory_allocated() / 2**20
        elif self.kind == "rss":
            hwm = _status_kib("VmHWM:")
            self.peak_mib = None if hwm is None else hwm / 1024
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.peak_mib = peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _status_kib(field_name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _hardware() -> str:
    import torch

    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


# ---------------------------------------------------------------------------------------------------------------------
# Running the grid
# ---------------------------------------------------------------------------------------------------------------------


def compare(config: CompareConfig | None = None, **kwargs: Any) -> Path:
    """Run a comparison grid and write its report; returns the path of ``report.md``.

    Pass a `CompareConfig` or its fields, e.g.
    ``hubtune.compare.compare(models=["tiny-nt"], data=["path/task"], methods=["lora", "probe"], max_steps=100)``.
    The grid is checked in full before anything trains (see `plan_grid`); finished cells are skipped.
    """
    config = config or CompareConfig(**kwargs)
    plan = plan_grid(config)
    output = plan.output
    (output / "runs").mkdir(parents=True, exist_ok=True)
    (output / "cells").mkdir(exist_ok=True)
    info(f"compare: {len(plan.models)} model(s) x {len(plan.tasks)} task(s) x {len(config.methods)} method(s), "
         f"seeds {', '.join(map(str, config.seeds))} -> {len(plan.cells)} cells in {output}")
    probed: set[tuple[str, str]] = set()
    for index, cell in enumerate(progress_bar(plan.cells, desc="compare cells", total=len(plan.cells))):
        if config.layer_probe and (cell.model, cell.task_key) not in probed:
            probed.add((cell.model, cell.task_key))
            _layer_probe(plan, cell)
        _run_cell(plan, cell, index)
    report = write_report(plan)
    info(f"report: {report}")
    return report


def _layer_probe(plan: GridPlan, cell: Cell) -> None:
    config = plan.config
    folder = plan.output / "layer_probe" / f"{cell.model_key}__{cell.task_key}"
    params = {"model": cell.model, "data": cell.data, "max_rows": config.max_rows, "seed": config.split_seed}
    params_file = folder / "params.json"
    if (folder / "layer_probe.json").is_file() and params_file.is_file() and json.loads(params_file.read_text()) == params:
        return
    info(f"layer probing {cell.model} on {cell.task_key}")
    probe_layers(cell.model, cell.data, output=folder, max_rows=config.max_rows, seed=config.split_seed,
                 trust_remote_code=config.trust_remote_code, batch_size=max(1, config.batch_size * 2))
    write_json(params_file, params)


def _cell_file(plan: GridPlan, cell: Cell) -> Path:
    return plan.output / "cells" / f"{cell.name}.json"


def _run_cell(plan: GridPlan, cell: Cell, index: int) -> dict[str, Any]:
    config = plan.config
    run_dir = plan.output / "runs" / cell.name
    cell_file = _cell_file(plan, cell)
    label = f"[{index + 1}/{len(plan.cells)}] {cell.model} · {cell.task_key} · {cell.method}"
    record: dict[str, Any] = {}
    finished = (run_dir / INFO_FILE).is_file() and cell.name not in plan.retrain
    if finished:
        if cell_file.is_file():
            record = json.loads(cell_file.read_text())
        info(f"{label}: finished earlier, skipped")
    else:
        info(f"{label}: training")
        train_config = _train_config(config, cell, plan.output)
        train_config.overwrite = run_dir.exists()  # a stale or superseded folder inside the report's runs/
        with PeakMemory() as memory:
            start = time.perf_counter()
            finetune(train_config)
            wall = time.perf_counter() - start
        record = {"cell": cell.name, "wall_seconds": wall, "peak_memory_mib": memory.peak_mib,
                  "memory_at_start_mib": memory.start_mib, "memory_measure": memory.kind, "hardware": _hardware(),
                  "verdicts": None}
    record.setdefault("cell", cell.name)
    if config.diagnostics and (not record.get("verdicts") or record.get("diagnostics_version") != DIAGNOSTICS_VERSION):
        info(f"{label}: diagnostics")
        verdicts = diagnose_run(run_dir, max_sequences=config.forgetting_sequences)
        record["verdicts"] = [v.to_dict() for v in verdicts]
        record["diagnostics_version"] = DIAGNOSTICS_VERSION
    write_json(cell_file, record)
    return record


# ---------------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def _fmt_params(n: int | None) -> str:
    if n is None:
        return "–"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _collect(plan: GridPlan) -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, float | None]]]:
    """One result row per cell, and the baselines per model × task."""
    baselines: dict[tuple[str, str], dict[str, float | None]] = {}
    rows = []
    for cell in plan.cells:
        run = Run(plan.output / "runs" / cell.name)
        metrics = run.metrics
        record = json.loads(_cell_file(plan, cell).read_text()) if _cell_file(plan, cell).is_file() else {}
        key = (cell.model, cell.task_key)
        if metrics.get("probe") or metrics.get("kmer"):
            if cell.baselines or key not in baselines:
                baselines[key] = {"probe": (metrics.get("probe") or {}).get("test", {}).get("mcc"),
                                  "kmer": (metrics.get("kmer") or {}).get("test", {}).get("mcc")}
        summary = metrics.get("summary", {}).get("finetuned", {})
        per_seed = metrics.get("per_seed", [])
        test_mccs = summary.get("test_mcc_per_seed") or [s["test"]["mcc"] for s in per_seed]
        mean, sd = mean_sd(test_mccs) if test_mccs else (None, None)
        best = metrics.get("finetuned", {})
        seconds = [s.get("train_seconds") for s in per_seed if s.get("train_seconds") is not None]
        verdicts = {v["name"]: v for v in record.get("verdicts") or []}
        row = {
            "task": cell.task_key, "model": cell.model, "method": cell.method, "n_seeds": len(test_mccs),
            "test_mcc_mean": mean, "test_mcc_sd": sd, "test_mcc_per_seed": test_mccs,
            "dev_mcc": (best.get("dev") or {}).get("mcc"), "train_mcc": (best.get("train") or {}).get("mcc"),
            "test_f1_macro": (best.get("test") or {}).get("f1_macro"), "test_auroc": (best.get("test") or {}).get("auroc"),
            "trainable_params": run.info.get("trainable_parameters"), "total_params": run.info.get("total_parameters"),
            "learning_rate": run.info.get("training", {}).get("learning_rate"),
            "train_seconds_per_seed": float(np.mean(seconds)) if seconds else None,
            "wall_seconds": record.get("wall_seconds"), "peak_memory_mib": record.get("peak_memory_mib"),
            "memory_at_start_mib": record.get("memory_at_start_mib"),
            "memory_measure": record.get("memory_measure"),
            "run_folder": f"runs/{cell.name}", "verdicts": verdicts,
        }
        for name in DIAGNOSTIC_NAMES:
            row[f"{name.split()[-1]}_status"] = verdicts.get(name, {}).get("status", "not measured")
        row["forgetting_ratio"] = verdicts.get("catastrophic forgetting", {}).get("details", {}).get("ratio")
        row["dedup_test_mcc"] = verdicts.get("data leakage", {}).get("details", {}).get("test_mcc_dedup")
        rows.append(row)
    for row in rows:
        base = baselines.get((row["model"], row["task"]), {})
        row["probe_test_mcc"], row["kmer_test_mcc"] = base.get("probe"), base.get("kmer")
    return rows, baselines


def _status_cell(row: dict[str, Any], key: str) -> str:
    status = row[f"{key}_status"]
    text = {"ok": "ok", "warning": "warning", "flagged": "**flagged**", "not measured": "n/m"}.get(status, status)
    if key == "forgetting" and row.get("forgetting_ratio") is not None:
        text += f" ({row['forgetting_ratio']:.2f}×)"
    if key == "leakage" and row.get("dedup_test_mcc") is not None:
        text += f" (dedup {row['dedup_test_mcc']:.3f})"
    return text


def _main_table(rows: list[dict[str, Any]], memory_label: str) -> list[str]:
    header = ["task", "model", "method", "test MCC (mean ± sd)", "pre-trained probe", "k-mer", "trainable params",
              "train s / seed", "peak MiB", "overfitting", "underfitting", "forgetting", "leakage"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        mcc = _fmt(r["test_mcc_mean"]) + (f" ± {r['test_mcc_sd']:.3f}" if r["n_seeds"] > 1 else "")
        cells = [r["task"], r["model"], r["method"], mcc, _fmt(r["probe_test_mcc"]), _fmt(r["kmer_test_mcc"]),
                 _fmt_params(r["trainable_params"]), _fmt(r["train_seconds_per_seed"], ".1f"),
                 _fmt(r["peak_memory_mib"], ".0f"), _status_cell(r, "overfitting"), _status_cell(r, "underfitting"),
                 _status_cell(r, "forgetting"), _status_cell(r, "leakage")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


CSV_COLUMNS = ("task", "model", "method", "n_seeds", "test_mcc_mean", "test_mcc_sd", "dev_mcc", "train_mcc",
               "test_f1_macro", "test_auroc", "probe_test_mcc", "kmer_test_mcc", "trainable_params", "total_params",
               "learning_rate", "train_seconds_per_seed", "wall_seconds", "peak_memory_mib", "memory_at_start_mib",
               "memory_measure",
               "overfitting_status", "underfitting_status", "forgetting_status", "leakage_status", "forgetting_ratio",
               "dedup_test_mcc", "run_folder")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _layer_rows(plan: GridPlan, model: str, task_key: str) -> list[dict[str, Any]] | None:
    path = plan.output / "layer_probe" / f"{plan.models[model]}__{task_key}" / "layer_probe.json"
    return json.loads(path.read_text())["layers"] if path.is_file() else None


def write_report(plan: GridPlan) -> Path:
    """Write report.md, results.csv, results.json and the PNG plots for a grid whose cells are finished."""
    from . import report_plots

    config, out = plan.config, plan.output
    rows, baselines = _collect(plan)
    kinds = {r["memory_measure"] for r in rows if r.get("memory_measure")}
    memory_kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)
    memory_label = MEMORY_LABELS.get(memory_kind or "", "peak memory (MiB)")
    for stale in out.glob("*.png"):
        # Plots of tasks/models no longer in the grid must not linger: a model card attaches every PNG here.
        if stale.name == "overview.png" or stale.name.startswith(("mcc_", "params_", "cost_", "layers_", "curves_")):
            stale.unlink()

    plots: dict[str, list[str]] = {}
    layer_curves: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for task_key in plan.tasks:
        task_rows = [r for r in rows if r["task"] == task_key]
        models = list(dict.fromkeys(r["model"] for r in task_rows))
        probe = {m: baselines.get((m, task_key), {}).get("probe") for m in models}
        kmer = next((b["kmer"] for (m, t), b in baselines.items() if t == task_key and b.get("kmer") is not None), None)
        files = [f"mcc_{task_key}.png", f"params_{task_key}.png", f"cost_{task_key}.png"]
        report_plots.plot_task_mcc(task_rows, probe, kmer, out / files[0], title=f"{task_key}: test MCC")
        report_plots.plot_mcc_vs_params(task_rows, out / files[1], title=f"{task_key}: MCC vs trainable parameters")
        report_plots.plot_mcc_vs_cost(task_rows, out / files[2], memory_label=memory_label,
                                      title=f"{task_key}: MCC vs training time and peak memory")
        curves = {m: rows_ for m in models if (rows_ := _layer_rows(plan, m, task_key))}
        if curves:
            layer_curves[task_key] = curves
            files.append(f"layers_{task_key}.png")
            report_plots.plot_layer_curves(curves, out / files[-1], title=f"{task_key}: layer probing")
        for model in models:
            panels = []
            for r in task_rows:
                if r["model"] != model or r["method"] == "probe":
                    continue
                log_file = out / r["run_folder"] / "training_log.json"
                logs = json.loads(log_file.read_text()) if log_file.is_file() else {}
                per_seed = Run(out / r["run_folder"]).metrics.get("per_seed", [])
                panels.append({"label": r["method"], "curves": [parse_log_history(s, h) for s, h in logs.items()],
                               "kept": {f"seed-{s['seed']}": s.get("best_step") for s in per_seed}})
            if panels:
                name = f"curves_{plan.models[model]}_{task_key}.png"
                report_plots.plot_learning_curves(panels, out / name, title=f"{model} on {task_key}: learning curves")
                files.append(name)
        plots[task_key] = files
    report_plots.plot_overview(
        rows, list(plan.tasks), out / "overview.png",
        baselines={
            **{f"{m} · pre-trained probe": {t: baselines.get((m, t), {}).get("probe") for t in plan.tasks}
               for m in plan.models},
            "k-mer baseline": {t: next((b["kmer"] for (m, tk), b in baselines.items() if tk == t), None)
                               for t in plan.tasks},
        })

    lines = ["# hubtune compare report", ""]
    budget = f"{config.max_steps} steps" if config.max_steps else f"{config.epochs:g} epochs"
    lines.append(f"{len(plan.models)} model(s) × {len(plan.tasks)} task(s) × {len(_unique(config.methods))} method(s), "
                 f"seeds {', '.join(map(str, config.seeds))}; budget {budget}, batch size {config.batch_size}. "
                 "Test MCC is the mean ± sd over seeds; each seed keeps its best-dev-MCC checkpoint.")
    lines.append("")
    lines += _main_table(rows, memory_label)
    lines += ["", "n/m = not measured (the diagnostics section says why). Peak MiB: " + memory_label + ".", ""]
    lines += ["![overview](overview.png)", ""]
    lines += _setup_section(plan, rows, memory_label)
    for task_key, files in plots.items():
        t = plan.tasks[task_key]
        sizes = ", ".join(f"{n} {s}" for s, n in t["split_sizes"].items())
        lines += [f"## Task {task_key}", "", f"Data `{t['source']}`: {sizes}; labels {', '.join(t['label_names'])}.", ""]
        for name in files:
            lines += [f"![{name[:-4]}]({name})", ""]
        lines += _diagnostics_section([r for r in rows if r["task"] == task_key])
    lines += _method_notes()
    _write_text(out / "report.md", "\n".join(lines) + "\n")

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS})
    _write_text(out / "results.csv", buffer.getvalue())
    write_json(out / "results.json", {
        "format": "hubtune-compare", "config": asdict(config), "tasks": plan.tasks, "models": plan.models,
        "hardware": _hardware(), "memory_measure": memory_kind, "memory_label": memory_label,
        "rows": rows, "layer_probe": layer_curves, "plots": plots, "versions": library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    return out / "report.md"


def _setup_section(plan: GridPlan, rows: list[dict[str, Any]], memory_label: str) -> list[str]:
    config = plan.config
    lrs = {}
    for r in rows:
        if r["method"] != "probe" and r.get("learning_rate") is not None:
            lrs[r["method"]] = r["learning_rate"]
    lines = ["## Setup", ""]
    lines.append(f"- Models: {', '.join(plan.models)}")
    lines.append(f"- Methods: {', '.join(_unique(config.methods))}; learning rates: "
                 + (", ".join(f"{m} {lr:g}" for m, lr in lrs.items()) or "–")
                 + (" (set with --lr)" if config.lr is not None else " (each method's default)"))
    lines.append(f"- Same splits for every cell (split seed {config.split_seed}"
                 + (f", at most {config.max_rows} rows per split" if config.max_rows else "") + "); early stopping "
                 + (f"after {config.patience} evaluations without dev-MCC gain" if config.patience else "off"))
    lines.append(f"- Hardware: {_hardware()}; time = training time per seed (the training loop with its dev "
                 f"evaluations, or the probe's fit); memory = {memory_label}, measured per cell (all its seeds) in "
                 "the compare process; results.csv also has the memory at the cell's start (memory_at_start_mib), "
                 "so peak minus start is what the cell added.")
    lines.append("- Baselines: the pre-trained probe (frozen model, mean-pooled last layer, logistic regression with C "
                 "chosen on dev) and k-mer counts (k = 2, 3, 4) + logistic regression, computed once per model × task.")
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
        for name in DIAGNOSTIC_NAMES:
            verdict = r["verdicts"].get(name)
            if verdict:
                lines.append(f"- {name}: **{verdict['status']}** — {verdict['summary']}")
        lines.append("")
    return lines


def _method_notes() -> list[str]:
    return [
        "## How the diagnostics decide",
        "",
        "- **Overfitting**: flagged when the kept model's train MCC exceeds its dev MCC by 0.30 or more, or dev loss "
        "ends 20% above its minimum while train loss kept falling (warning at 0.15 / 5%).",
        "- **Underfitting**: flagged when the learning rate is 0, or train loss fell by less than 5% and train MCC "
        "stayed below 0.20 (MCC 0 = chance).",
        "- **Catastrophic forgetting**: masked-LM loss of the fine-tuned backbone over that of the pre-trained one "
        "(15% of tokens masked, the same positions for both), on the task's test sequences and on shuffled copies; "
        "warning from 1.05, flagged from 1.25. LoRA: adapter switched off vs on; full/freeze: fine-tuned backbone "
        "weights copied into the pre-trained masked-LM model.",
        "- **Data leakage**: test (or dev) rows whose sequence or reverse complement also occurs in an earlier split, "
        "or duplicates within test: the test MCC is recomputed on the deduplicated test set with the same model; "
        "flagged when deduplication removes 5% or more of the test rows or moves test MCC by 0.02 or more, a warning "
        "otherwise (and when only dev overlaps train).",
        "",
    ]


__all__ = ["CompareConfig", "GridPlan", "Cell", "PeakMemory", "compare", "plan_grid", "write_report", "Verdict"]
