"""Running a comparison grid: the layer-probing curves, each cell's training (timed, peak memory measured) and its
pitfall diagnostics, then the report. Finished cells are skipped; stored verdicts of an older diagnostics version are
recomputed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..diagnostics import DIAGNOSTICS_VERSION, diagnose_run
from ..jsonio import write_json
from ..layer_probe import probe_layers
from ..progress import info, progress_bar
from ..run import INFO_FILE
from ..run_output import staging_dir
from ..train import finetune
from .grid import Cell, CompareConfig, GridPlan, plan_grid, train_config, unique
from .measure import PeakMemory, hardware
from .report import write_report


def compare(config: CompareConfig) -> Path:
    """Run a comparison grid and write its report; returns the path of ``report.md``.

    The grid is checked in full before anything trains (see `plan_grid`); finished cells are skipped, so an
    interrupted grid resumes where it stopped.

    Example:
        >>> report = hubtune.compare(hubtune.CompareConfig(models=["tiny-nt"], data=["path/task"],
        ...                                                methods=["lora", "probe"], max_steps=100))  # doctest: +SKIP
        >>> report.name  # doctest: +SKIP
        'report.md'
    """
    plan = plan_grid(config)
    output = plan.output
    (output / "runs").mkdir(parents=True, exist_ok=True)
    (output / "cells").mkdir(exist_ok=True)
    info(f"compare: {len(plan.models)} model(s) x {len(plan.tasks)} task(s) x {len(unique(config.methods))} "
         f"method(s), seeds {', '.join(map(str, config.seeds))} -> {len(plan.cells)} cells in {output}")
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
    folder = plan.layer_probe_dir(cell.model, cell.task_key)
    params = {"model": cell.model, "data": cell.data, "max_rows": config.max_rows, "seed": config.split_seed}
    if cell.label_columns:
        params["label_columns"] = cell.label_columns
    params_file = folder / "params.json"
    if (folder / "layer_probe.json").is_file() and params_file.is_file() and json.loads(params_file.read_text()) == params:
        return
    info(f"layer probing {cell.model} on {cell.task_key}")
    probe_layers(cell.model, cell.data, output=folder, max_rows=config.max_rows, seed=config.split_seed,
                 trust_remote_code=config.trust_remote_code, batch_size=max(1, config.batch_size * 2),
                 label_columns=cell.label_columns)
    write_json(params_file, params)


def _run_cell(plan: GridPlan, cell: Cell, index: int) -> dict[str, Any]:
    config = plan.config
    run_dir, cell_file = plan.run_dir(cell), plan.cell_file(cell)
    label = f"[{index + 1}/{len(plan.cells)}] {cell.model} · {cell.task_key} · {cell.method}"
    record: dict[str, Any] = {}
    if (run_dir / INFO_FILE).is_file() and cell.name not in plan.retrain:
        if cell_file.is_file():
            record = json.loads(cell_file.read_text())
        info(f"{label}: finished earlier, skipped")
    else:
        info(f"{label}: training")
        cell_config = train_config(config, cell, plan.output)
        # a stale or superseded folder (or an interrupted one) inside the report's runs/
        cell_config.overwrite = run_dir.exists() or staging_dir(run_dir).exists()
        with PeakMemory() as memory:
            start = time.perf_counter()
            finetune(cell_config)
            wall = time.perf_counter() - start
        record = {"cell": cell.name, "wall_seconds": wall, "peak_memory_mib": memory.peak_mib,
                  "memory_at_start_mib": memory.start_mib, "memory_measure": memory.kind, "hardware": hardware(),
                  "verdicts": None}
    record.setdefault("cell", cell.name)
    if config.diagnostics and (not record.get("verdicts") or record.get("diagnostics_version") != DIAGNOSTICS_VERSION):
        info(f"{label}: diagnostics")
        verdicts = diagnose_run(run_dir, max_sequences=config.forgetting_sequences)
        record["verdicts"] = [v.to_dict() for v in verdicts]
        record["diagnostics_version"] = DIAGNOSTICS_VERSION
    write_json(cell_file, record)
    return record


__all__ = ["compare"]
