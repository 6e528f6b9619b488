"""The comparison grid: its settings (`CompareConfig`), the checked plan (`plan_grid`) and running its cells.

Each cell (model × task × method, all seeds) is an ordinary run folder under ``REPORT_DIR/runs/``. A cell whose run
folder is complete and was made with the same settings is skipped, so an interrupted grid resumes where it stopped.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import TrainConfig, default_of
from ..data import load_task
from ..errors import ConfigError, DataError, HubtuneError, ModelError, RunFolderError
from ..methods import METHODS, get_method, help_field
from ..models import resolve_model
from ..problems import get_problem
from ..run import INFO_FILE, RunInfo

# Settings a finished cell must share with the grid to be reused: `TrainConfig` fields, compared with the
# "training" block of the cell's hubtune.json.
FINGERPRINT_KEYS = ("model", "data", "method", "epochs", "max_steps", "lr", "batch_size", "seed", "seeds", "max_rows",
                    "patience", "eval_steps", "label_columns")


def _shared(name: str, help_text: str | None = None) -> Any:
    """A field with the default (and, unless given, the help) of `TrainConfig`'s field `name`."""
    source = next(f for f in fields(TrainConfig) if f.name == name)
    return help_field(default_of(name), help_text or source.metadata.get("help", ""))


@dataclass
class CompareConfig:
    """A comparison grid. Field names match the CLI flags (`--max-steps` -> `max_steps`).

    Every cell trains with the same splits (`split_seed`), budget (`max_steps` or `epochs`, `batch_size`) and seeds;
    `lr` None means each method's default learning rate. Training defaults are `TrainConfig`'s.

    Example:
        >>> CompareConfig(models=["tiny-nt"], data=["path/to/task"], max_steps=100).methods == list(METHODS)
        True
    """

    models: list[str] = help_field(help="models to compare: Hub ids, local folders or tiny names (comma-separated)",
                                   default_factory=list)
    data: list[str] = help_field(help="tasks: folders, files or dataset ids (comma-separated; each keeps its classes, "
                                      "labels or targets, and is scored with its own metric)",
                                 default_factory=list)
    label_columns: list[str] = help_field(
        help="label or target columns of tasks without a 'label' column (comma-separated): TASK=COL+COL names a "
             "task (its --data item or folder/file name) and its columns, e.g. activity=developmental+housekeeping; "
             "names without TASK= are the columns of every other task", default_factory=list)
    methods: list[str] = help_field(help="methods to compare (comma-separated): " + ", ".join(METHODS),
                                    default_factory=lambda: list(METHODS))
    seeds: list[int] = help_field(help="training seeds of every cell (comma-separated): mean ± sd over them",
                                  default_factory=lambda: [default_of("seed")])
    output: str = help_field("runs/compare", "report folder; the cells' run folders go to <output>/runs")
    max_steps: int | None = _shared("max_steps")
    epochs: float = _shared("epochs")
    batch_size: int = _shared("batch_size")
    max_rows: int | None = _shared("max_rows")
    lr: float | None = _shared("lr")
    split_seed: int = _shared("seed", "seed of the train/dev/test split when one is drawn, shared by every cell")
    patience: int | None = _shared("patience")
    eval_steps: int | None = _shared("eval_steps")
    layer_probe: bool = help_field(True, "probing every layer")
    diagnostics: bool = help_field(True, "the pitfall diagnostics")
    forgetting_sequences: int = help_field(256, "held-out sequences used for the masked-LM forgetting check")
    overwrite: bool = help_field(False, "re-run cells whose settings changed")
    trust_remote_code: bool = _shared("trust_remote_code")

    def __post_init__(self) -> None:
        if self.patience == 0:
            self.patience = None


@dataclass
class Cell:
    """One model × task × method of the grid (all seeds in one run folder)."""

    model: str
    model_key: str
    data: str
    task_key: str
    method: str
    baselines: bool
    label_columns: str | None = None  # the task's label or target columns ("a,b"); None: its "label" column

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

    def run_dir(self, cell: Cell) -> Path:
        """The cell's run folder."""
        return self.output / "runs" / cell.name

    def cell_file(self, cell: Cell) -> Path:
        """Where the cell's own measurements (time, memory, verdicts) are kept."""
        return self.output / "cells" / f"{cell.name}.json"

    def layer_probe_dir(self, model: str, task_key: str) -> Path:
        """Where the layer-probing curve of one model × task is kept."""
        return self.output / "layer_probe" / f"{self.models[model]}__{task_key}"


# ---------------------------------------------------------------------------------------------------------------------
# Validation (everything that can be refused is refused here, before any training)
# ---------------------------------------------------------------------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


def unique(values: list[Any]) -> list[Any]:
    """The values in their first-seen order, each once.

    Example:
        >>> unique(["lora", "probe", "lora"])
        ['lora', 'probe']
    """
    return list(dict.fromkeys(values))


def train_config(config: CompareConfig, cell: Cell, output: Path) -> TrainConfig:
    """The `TrainConfig` of one cell: the grid's shared settings with the cell's model, task and method.

    Example:
        >>> train_config(config, plan.cells[0], plan.output).max_steps == config.max_steps  # doctest: +SKIP
        True
    """
    return TrainConfig(
        model=cell.model, data=cell.data, method=cell.method, output=str(output / "runs" / cell.name),
        epochs=config.epochs, max_steps=config.max_steps, lr=config.lr, batch_size=config.batch_size,
        seed=config.split_seed, seeds=list(config.seeds), max_rows=config.max_rows, patience=config.patience,
        eval_steps=config.eval_steps, baselines=cell.baselines, trust_remote_code=config.trust_remote_code,
        label_columns=cell.label_columns,
    )


def _check_lists(config: CompareConfig) -> tuple[list[str], list[str], list[str]]:
    models, data = unique(list(config.models)), unique(list(config.data))
    methods, seeds = unique(list(config.methods)), unique(list(config.seeds or []))
    for flag, values in (("--models", models), ("--data", data), ("--methods", methods), ("--seeds", seeds)):
        if not values:
            raise ConfigError(f"{flag} is empty: give at least one value (comma-separated).")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"--methods: unknown method(s) {', '.join(map(repr, unknown))}. "
                          f"Choose from: {', '.join(METHODS)}.")
    try:
        config.seeds = [operator.index(s) for s in seeds]
    except TypeError:
        raise ConfigError(f"--seeds must be integers, got {seeds}.") from None
    if config.forgetting_sequences <= 0:
        raise ConfigError(f"forgetting_sequences must be positive, got {config.forgetting_sequences}.")
    if config.max_rows is not None and config.max_rows < 3:
        raise ConfigError(f"--max-rows must be at least 3 (a train, dev and test row), got {config.max_rows}.")
    return models, data, methods


def _model_keys(models: list[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for index, model in enumerate(models):
        try:
            resolved = resolve_model(model)
        except HubtuneError as exc:
            raise ModelError(f"--models item {index + 1} ({model!r}): {exc}") from None
        key = _key(Path(model).name if resolved.is_local and not resolved.is_tiny else model.replace("/", "--"))
        while key in keys.values():
            key += "-2"
        keys[model] = key
    return keys


def _task_names(source: str) -> set[str]:
    """The names a `--label-columns TASK=...` entry may use for a `--data` item: the item itself, its folder or file
    name, and the file name without its extension."""
    path = Path(source.rstrip("/\\"))
    return {source, path.name, path.name.split(".")[0]}


def task_columns(config: CompareConfig) -> dict[str, str | None]:
    """Each `--data` item's label or target columns ("a,b"; None: its "label" column) from `--label-columns`.

    Raises:
        ConfigError: a TASK= entry that names no task, a task named twice, or an empty column list.

    Example:
        >>> task_columns(CompareConfig(data=["tasks/promoter", "tasks/activity"],
        ...                            label_columns=["activity=developmental+housekeeping"]))
        {'tasks/promoter': None, 'tasks/activity': 'developmental,housekeeping'}
    """
    named: dict[str, str] = {}
    shared: list[str] = []
    for entry in config.label_columns or []:
        task, sep, columns = str(entry).partition("=")
        if not sep:
            shared.append(task.strip())
            continue
        names = [c.strip() for c in columns.split("+")]
        if not task.strip() or not all(names):
            raise ConfigError(f"--label-columns {entry!r}: write TASK=COLUMN+COLUMN, e.g. "
                              "activity=developmental+housekeeping.")
        if task.strip() in named:
            raise ConfigError(f"--label-columns names the task {task.strip()!r} twice.")
        named[task.strip()] = ",".join(names)
    out: dict[str, str | None] = {}
    used: set[str] = set()
    for source in unique(list(config.data)):
        matches = [name for name in named if name in _task_names(source)]
        used.update(matches)
        out[source] = named[matches[0]] if matches else (",".join(shared) if shared else None)
    unknown = sorted(set(named) - used)
    if unknown:
        raise ConfigError(f"--label-columns names the task {unknown[0]!r}, which is none of the --data items "
                          f"({', '.join(map(str, config.data))}); use an item as given or its folder or file name.")
    return out


def _tasks(data: list[str], config: CompareConfig) -> dict[str, dict[str, Any]]:
    columns = task_columns(config)
    loaded = []
    for index, source in enumerate(data):
        path = Path(source).expanduser()
        location = str(path.resolve()) if path.exists() else source
        try:
            task = load_task(location, seed=config.split_seed, max_rows=config.max_rows,
                             label_columns=columns[source])
        except HubtuneError as exc:
            raise DataError(f"--data item {index + 1} ({source}): {exc}") from None
        loaded.append((source, location, path, task))
    names = [task.name for *_, task in loaded]
    tasks: dict[str, dict[str, Any]] = {}
    for source, location, path, task in loaded:
        name = task.name
        if names.count(name) > 1 or len(name) <= 2 or name.isdigit():
            name = f"{path.parent.name}-{path.name}" if path.exists() else source.replace("/", "-")
        key = _key(name)
        while key in tasks:
            key += "-2"
        problem = get_problem(task.problem_type)
        tasks[key] = {"data": location, "source": source, "name": task.name, "label_names": list(task.label_names),
                      "label_columns": columns[source], "problem_type": problem.name, "metric": problem.metric,
                      "metric_label": problem.metric_label,
                      "split_sizes": {s: len(task.splits[s]) for s in ("train", "dev", "test") if s in task.splits}}
    # Each task keeps its own classes, labels or targets (its report section names them) and its own headline
    # metric (MCC, macro AUPRC or Spearman); tables and plots name each task's metric, so tasks of different problem
    # types, or GUE tasks with different classes, share one report.
    return tasks


def _recorded_training(run_dir: Path) -> dict[str, Any]:
    try:
        return RunInfo.read(run_dir).training
    except RunFolderError:
        return {}  # unreadable: treated as made with other settings


def _mark_retrain(plan: GridPlan) -> None:
    config, conflicts = plan.config, []
    for cell in plan.cells:
        run_dir = plan.run_dir(cell)
        if not (run_dir / INFO_FILE).is_file():
            continue
        wanted = train_config(config, cell, plan.output).to_dict()
        have = _recorded_training(run_dir)
        differing = [k for k in FINGERPRINT_KEYS if have.get(k) != wanted.get(k)]
        if differing:
            plan.retrain.add(cell.name)
            conflicts.append(f"runs/{cell.name} (" + ", ".join(f"{k}={have.get(k)!r}, now {wanted.get(k)!r}"
                                                              for k in differing[:3]) + ")")
    if conflicts and not config.overwrite:
        raise ConfigError(
            f"{plan.output} already holds {len(conflicts)} finished cell(s) made with other settings: "
            f"{'; '.join(conflicts[:3])}{' ...' if len(conflicts) > 3 else ''}. Use another --output, or pass "
            "--overwrite to retrain those cells."
        )


def plan_grid(config: CompareConfig) -> GridPlan:
    """Check the whole grid without training: methods, models, data, budget and finished cells.

    Raises:
        ConfigError: unknown method, empty lists, bad budget, or finished cells made with other settings (without
            `overwrite`).
        ModelError: a model cannot be found.
        DataError: a task's files cannot be loaded.

    Example:
        >>> [cell.name for cell in plan_grid(CompareConfig(models=["tiny-nt"], data=["tata"])).cells]  # doctest: +SKIP
        ['tiny-nt__tata__probe', 'tiny-nt__tata__lora', 'tiny-nt__tata__full', 'tiny-nt__tata__freeze']
    """
    models, data, methods = _check_lists(config)
    output = Path(config.output)
    for method in methods:
        # Budget, lr and method options are checked by the same code `hubtune train` uses.
        train_config(config, Cell(models[0], "m", data[0], "t", method, False), output).validate()
    model_keys = _model_keys(models)
    tasks = _tasks(data, config)
    # Methods fitted without the Trainer (the probe) go first within each model × task: they extract the pre-trained
    # embeddings anyway, so they carry the baselines.
    ordered = sorted(methods, key=lambda m: get_method(m).uses_trainer)
    cells = [Cell(model, model_keys[model], task["data"], task_key, method, baselines=(i == 0),
                  label_columns=task["label_columns"])
             for model in models for task_key, task in tasks.items() for i, method in enumerate(ordered)]
    plan = GridPlan(config, output, cells, tasks, model_keys)
    _mark_retrain(plan)
    return plan


__all__ = ["FINGERPRINT_KEYS", "Cell", "CompareConfig", "GridPlan", "plan_grid", "task_columns", "train_config",
           "unique"]
