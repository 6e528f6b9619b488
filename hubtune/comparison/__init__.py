"""`hubtune compare`: fine-tune every model × task × method (× seed) with the same splits and budget, then report.

Each cell (model × task × method, all seeds) is an ordinary run folder under ``REPORT_DIR/runs/``; finished cells made
with the same settings are skipped, so an interrupted grid resumes where it stopped. The pre-trained probe and k-mer
baselines are computed once per model × task (in the cell of the method fitted on frozen embeddings when the grid has
one, which extracts the embeddings anyway), the layer-probing curve once per model × task.

The report folder gets ``report.md`` (main table first, then figures and the four pitfall diagnostics per cell),
PNG figures, ``results.csv`` and ``results.json``.

Modules: ``grid`` (settings, checked plan), ``runner`` (training and diagnosing the cells), ``measure`` (peak memory,
hardware), ``report`` (report.md, results.csv/json), ``plots`` (the report's figures).

Example:
    >>> from hubtune.comparison import CompareConfig, compare
    >>> compare(CompareConfig(models=["tiny-nt"], data=["path/to/task"], max_steps=100))  # doctest: +SKIP
    PosixPath('runs/compare/report.md')
"""

from __future__ import annotations

from .grid import FINGERPRINT_KEYS, Cell, CompareConfig, GridPlan, plan_grid, train_config
from .measure import MEMORY_LABELS, PeakMemory, hardware
from .report import RESULTS_FORMAT, collect_rows, write_report
from .runner import compare

__all__ = [
    "FINGERPRINT_KEYS",
    "MEMORY_LABELS",
    "RESULTS_FORMAT",
    "Cell",
    "CompareConfig",
    "GridPlan",
    "PeakMemory",
    "collect_rows",
    "compare",
    "hardware",
    "plan_grid",
    "train_config",
    "write_report",
]
