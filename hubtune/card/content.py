"""What a model card says: `HubtuneCardData`, filled from a run folder by `build_card_data`.

`HubtuneCardData` is a `huggingface_hub.ModelCardData`. Its YAML header is what the Hub indexes: library, base
model, license, tags, datasets, a model-index with the problem's test metrics (single-label: MCC / F1 / accuracy;
multi-label: average precision / ROC AUC / F1; regression: Spearman / Pearson / R² / MSE), and a `hubtune:` block
(labels, task, family, method, problem type, headline metric and its test value) that `list_adapters` reads without
downloading anything. Its other fields are the body's content, which the templates in `cards/` render. Local paths
never reach a card: a data source that is a local file is shown by its file name, and versions and dates come from
the run's `hubtune.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCardData

from ..data import LeakageReport
from ..errors import ConfigError, RunFolderError
from ..methods import get_method
from ..methods.lora import ADAPTER_CONFIG_FILE
from ..metrics import summary_text
from ..models.registry import FAMILIES, TINY_MODELS, ModelFamily, get_family
from ..problems import MULTI_LABEL, REGRESSION, SINGLE_LABEL
from ..repo_ids import looks_like_hub_id, public_source, repo_name_slug, scrub_paths
from ..run import BASE_PROBE_FILE, LEAKAGE_FILE, METRICS_FILE, Run, RunInfo
from ..tables import Table, comparison_table, grid_table
from .results import (
    FINETUNED,
    TASK_TITLES,
    IndexEntry,
    baselines_as_good,
    headline_summary,
    index_entries,
    interval,
    number,
    per_output_rows,
    statistic_what,
)

# A DNA string used in the usage snippets (any A/C/G/T/N string works).
EXAMPLE_SEQUENCE = "TATAAAAGGCGCGCCGCTATAAAGGCCGGTACGTTAGCATGCATGCGCGCTATATAAGCCGAATTCGGCTAGCTAGGCTTAACG"
DEFAULT_TASK = "dna-classification"
PIPELINE_TAG = "text-classification"
# How a run's weights are stored; decides the library tag, the files listed and the plain-library snippet.
WEIGHTS_ADAPTER = "adapter"  # a peft adapter (and the trained head) on a base model
WEIGHTS_MODEL = "model"  # the whole model, in transformers format
WEIGHTS_HEAD = "head"  # a linear head on the frozen base's embeddings (only hubtune loads it)
LIBRARY_OF_WEIGHTS = {WEIGHTS_ADAPTER: "peft", WEIGHTS_MODEL: "transformers", WEIGHTS_HEAD: None}
# A tag per problem type (single-label cards carry none, as before problem types existed).
PROBLEM_TAGS = {MULTI_LABEL: "multi-label-classification", REGRESSION: "regression"}


def weights_layout(method: str) -> str:
    """How a method's run stores its weights: `WEIGHTS_ADAPTER`, `WEIGHTS_MODEL` or `WEIGHTS_HEAD`.

    Example:
        >>> weights_layout("lora"), weights_layout("full"), weights_layout("probe")
        ('adapter', 'model', 'head')
    """
    cls = get_method(method)
    if ADAPTER_CONFIG_FILE in cls.weight_files:
        return WEIGHTS_ADAPTER
    return WEIGHTS_MODEL if cls.standalone else WEIGHTS_HEAD


# ---------------------------------------------------------------------------------------------------------------------
# Card data
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class CardOptions:
    """What only the pushing side knows; the defaults suit a local preview.

    Example:
        >>> CardOptions(base_revision="3f2a9c1", tokenizer_in_repo=True).tokenizer_in_repo
        True
    """

    base_revision: str | None = None  # the base's commit on the target hub, pinned in the snippets
    tokenizer_in_repo: bool = False  # the run's tokenizer is pushed because it differs from the base's


@dataclass(kw_only=True)
class HubtuneCardData(ModelCardData):
    """Everything a hubtune model card says. The YAML header is derived from these fields; the template renders
    the body from them.

    Example:
        >>> data = build_card_data("runs/promoter-lora", "alice/promoter-lora", "alice/tiny-nt")  # doctest: +SKIP
        >>> data.library_name, data.to_dict()["hubtune"]["labels"]  # doctest: +SKIP
        ('peft', ['non-promoter', 'promoter'])
        >>> data.to_dict()["hubtune"]["metric"], data.to_dict()["hubtune"]["test_score"]  # doctest: +SKIP
        ('mcc', 0.5612)
    """

    # what and where
    repo_id: str
    base_repo: str
    base_revision: str | None = None
    tiny_base: bool = False
    task: str = DEFAULT_TASK
    labels: list[str]  # the outputs' names: classes, labels (multi-label) or targets (regression)
    problem_type: str = SINGLE_LABEL  # hubtune.problems name: single_label, multi_label or regression
    hf_problem_type: str = "single_label_classification"  # transformers' config.problem_type of the head
    task_title: str = TASK_TITLES[SINGLE_LABEL]  # "DNA sequence classification", "DNA sequence regression", ...
    metric: str = "mcc"  # key of the headline metric in metrics.json's scores
    metric_label: str = "MCC"  # how the text names it
    thresholds: list[float] = field(default_factory=list)  # multi-label: per-label decision thresholds tuned on dev
    family: str
    family_name: str
    family_license: str = ""  # empty when the family's licence is not a Hub licence id
    family_paper: str = ""
    family_citation: str = ""
    native_modelling: bool = False  # the family's repo code does not run on transformers 5: hubtune loads it
    method: str
    method_title: str
    weights: str
    weight_files: list[str] = field(default_factory=list)
    tokenizer_repo: str
    has_base_probe: bool = False
    max_length: int
    window_bp: int
    stride_bp: int
    example_sequence: str = EXAMPLE_SEQUENCE
    label_meanings: list[str] = field(default_factory=list)  # what each label id means ("" when not known)
    # results (the headline is the problem's metric: MCC, macro AUPRC or Spearman)
    test_score: float | None = None  # THE headline test value of the run: one seed's, or the mean over seeds
    test_score_text: str = "-"  # the same value with its uncertainty, e.g. "0.561 (95% CI 0.402–0.701)"
    test_score_what: str = ""  # what the value is, for the model-index name: "95% CI 0.402–0.701", "mean of 3 seeds"
    test_scores: dict[str, Any] = field(default_factory=dict)  # the fine-tuned model's test block of metrics.json
    index: list[IndexEntry] = field(default_factory=list)  # the model-index metrics, headline first
    # one row per output ("name" + the problem's per-output test scores): classes, labels or targets
    per_output: list[dict[str, Any]] = field(default_factory=list)
    results_table: Table | None = None
    n_seeds: int = 1  # training seeds recorded in hubtune.json
    seed_list: list[int] = field(default_factory=list)  # the seeds whose scores the results table averages
    best_seed: int | None = None
    best_seed_test_score: float | None = None  # the shipped seed's own headline test value (several seeds only)
    test_score_mean: float | None = None
    test_score_sd: float | None = None
    # (baseline, its headline test value as text, "better" or "within"): baselines at least as good, or not
    # distinguishable from the fine-tuned model by the 95% intervals
    stronger_baselines: list[tuple[str, str, str]] = field(default_factory=list)
    compare: dict[str, Any] | None = None
    # data
    dataset: dict[str, Any] | None = None  # what the data is (catalogue of known benchmarks), from hubtune.json
    dataset_id: str | None = None
    data_source: str = ""
    split_origin: str = "given"
    split_sizes: dict[str, int] = field(default_factory=dict)
    leakage_lines: list[str] = field(default_factory=list)
    leakage_pairs: list[dict[str, Any]] = field(default_factory=list)
    has_leak: bool = False
    # training
    hyperparameters: list[tuple[str, str]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""

    def __post_init__(self) -> None:
        eval_results = [
            EvalResult(
                task_type=PIPELINE_TAG,
                task_name=self.task_title,
                dataset_type=self.dataset_id or task_tag(self.task),
                dataset_name=self.task,
                dataset_split="test",
                metric_type=entry.type,
                metric_name=entry.name,
                metric_value=entry.value,
                metric_config=entry.config,
            )
            for entry in self.index
        ]
        tags = ["genomics", "dna", "hubtune", self.family, self.method, task_tag(self.task)]
        if self.problem_type in PROBLEM_TAGS:
            tags.insert(3, PROBLEM_TAGS[self.problem_type])
        super().__init__(
            base_model=self.base_repo,
            datasets=[self.dataset_id] if self.dataset_id else None,
            eval_results=eval_results or None,
            model_name=self.repo_id.split("/")[-1],
            library_name=LIBRARY_OF_WEIGHTS[self.weights],
            license=self.family_license or None,
            pipeline_tag=PIPELINE_TAG,
            tags=[tag for tag in dict.fromkeys(tags) if tag != "auto"],
            hubtune={
                "task": self.task,
                "labels": list(self.labels),
                "family": self.family,
                "method": self.method,
                "base_model": self.base_repo,
                "max_length": self.max_length,
                "window_bp": self.window_bp,
                "stride_bp": self.stride_bp,
                "problem_type": self.problem_type,
                "metric": self.metric,
                "test_score": None if self.test_score is None else round(float(self.test_score), 4),
                "test_score_statistic": "mean over seeds" if self.n_seeds > 1 else "single seed",
                "n_seeds": self.n_seeds,
            },
        )

    def _to_dict(self, data_dict: dict[str, Any]) -> None:
        # Only the header goes into the YAML: the body fields are for the template.
        for f in fields(self):
            data_dict.pop(f.name, None)
        super()._to_dict(data_dict)

    def body(self) -> dict[str, Any]:
        """The fields the template renders the body from."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def task_tag(task: str) -> str:
    """The Hub tag of a task name.

    Example:
        >>> task_tag("H3K4me3_human.v2")
        'h3k4me3-human-v2'
    """
    return repo_name_slug(task.lower()).replace("_", "-").replace(".", "-")


def load_card_run(run: Run | str | Path) -> Run:
    """Open a run folder whose card can be written (its metrics and leakage report are there).

    Raises:
        RunFolderError: the folder is not a finished run, or metrics.json / leakage.json is missing.

    Example:
        >>> load_card_run("runs/promoter-lora").info.method  # doctest: +SKIP
        'lora'
    """
    run = run if isinstance(run, Run) else Run(run)
    for name in (METRICS_FILE, LEAKAGE_FILE):
        if not (run.path / name).is_file():
            raise RunFolderError(
                f"{run.path} is incomplete: {name} is missing, so its model card cannot be written. Re-run training "
                "(or copy the whole run folder)."
            )
    return run


def _family(info: RunInfo) -> ModelFamily:
    return FAMILIES.get(info.family) or get_family("auto")


def _leakage(data: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]], bool]:
    try:
        report = LeakageReport.from_dict(data)
        lines, has_leak = report.summary_lines(), report.has_leak
    except (KeyError, TypeError, AttributeError):
        lines, has_leak = ["the leakage report of this run could not be read"], False
    pairs = [{"splits": key, **{k: pair.get(k, 0) for k in ("exact", "reverse_complement", "label_conflicts")}}
             for key, pair in (data.get("pairs") or {}).items() if isinstance(pair, dict)]
    return lines, pairs, has_leak


_DATASET_KEYS = ("benchmark", "task", "title", "description", "species", "sequence_length_bp", "length_bp_in_data",
                 "negatives", "source", "license", "citation", "label_note")


def _dataset_view(dataset: Any) -> dict[str, Any] | None:
    """The run's dataset description with every key the card reads (missing ones None), or None when absent."""
    if not isinstance(dataset, dict) or not dataset.get("task"):
        return None
    view = {key: dataset.get(key) for key in _DATASET_KEYS}
    view["benchmark"] = view["benchmark"] or "dataset"
    view["title"] = view["title"] or view["task"]
    view["references"] = [{"citation": str(r.get("citation") or ""), "url": r.get("url")}
                          for r in dataset.get("references") or [] if isinstance(r, dict) and r.get("citation")]
    view["labels"] = [e for e in dataset.get("labels") or [] if isinstance(e, dict)]
    return scrub_paths(view)


def _label_meanings(labels: list[str], dataset: dict[str, Any] | None) -> list[str]:
    """What each label id means, from the dataset description (when it describes as many classes as the run has)."""
    entries = [e for e in (dataset or {}).get("labels") or [] if isinstance(e, dict)]
    if len(entries) != len(labels):
        return [""] * len(labels)
    by_id = {e.get("id"): str(e.get("meaning") or "") for e in entries}
    return [by_id.get(i, "") for i in range(len(labels))]


# What is averaged over the sliding windows of a long sequence, per problem type.
_WINDOW_AVERAGE = {SINGLE_LABEL: "class probabilities", MULTI_LABEL: "label probabilities",
                   REGRESSION: "predicted values"}


def _problem_rows(info: RunInfo) -> list[tuple[str, str]]:
    """Settings rows that only multi-label and regression runs have."""
    problem = info.problem
    if problem.name == MULTI_LABEL:
        rows = [("problem type", f"multi-label (`problem_type={problem.hf_problem_type}`: one sigmoid per label, "
                                 "binary cross-entropy)")]
        if info.thresholds:
            pairs = ", ".join(f"{name} {t:.3f}" for name, t in zip(info.label_names, info.thresholds, strict=True))
            rows.append(("decision thresholds", f"per label, tuned on dev to maximise F1: {pairs}"))
        return rows
    if problem.name == REGRESSION:
        return [("problem type", f"regression (`problem_type={problem.hf_problem_type}`: mean squared error)"),
                ("targets", "standardised with the train split's mean and sd per target for training; the scaling is "
                            "folded into the output layer, so outputs are in the targets' own units")]
    return []


def _hyperparameters(info: RunInfo, family: ModelFamily) -> list[tuple[str, str]]:
    settings = info.method_settings
    method = type(settings)
    training = info.training or {}
    rows = [("method", f"{info.method} ({method.title})"), *settings.describe(family, info.method_config, problem=info.problem_type)]
    trainable, total = info.trainable_parameters, info.total_parameters
    if trainable and total:
        rows.append(("trainable parameters", f"{trainable:,} of {total:,} ({100 * trainable / total:.2f}%)"))
    if method.uses_trainer:
        length = f"{training['max_steps']} steps" if training.get("max_steps") else f"{training.get('epochs')} epochs"
        rows += [("learning rate", f"{training.get('learning_rate', training.get('lr'))}"),
                 ("batch size", f"{training.get('batch_size')} × {training.get('grad_accum', 1)} gradient accumulation"),
                 ("training length", f"{length} (early stopping on dev {info.problem.metric_label}, patience "
                                     f"{training.get('patience')})"),
                 ("weight decay / warmup", f"{training.get('weight_decay')} / {training.get('warmup_ratio')} of steps")]
        if info.problem.name == SINGLE_LABEL:
            rows.append(("class-weighted loss", "yes" if training.get("class_weights") else "no"))
        rows.append(("precision", str(training.get("precision", "auto"))))
    seeds = info.seeds
    rows += [*_problem_rows(info),
             ("max length", f"{info.max_length} tokens (≈ {info.window_bp} bp)"),
             ("long sequences", f"sliding windows of {info.window_bp} bp, stride {info.stride_bp} bp, "
                                f"{_WINDOW_AVERAGE[info.problem.name]} averaged over windows"),
             ("pooling (probes)", info.pooling),
             ("seeds", ", ".join(map(str, seeds)) + (f" (shipped: {info.best_seed})" if len(seeds) > 1 else "")),
             ("deduplicated dev/test", "yes" if info.dedup else "no")]
    if info.train_seconds is not None:
        rows.append(("training time", f"{float(info.train_seconds):.0f} s"))
    return rows


def build_card_data(run: Run | str | Path, repo_id: str, base_repo: str, *, options: CardOptions | None = None,
                    compare_report: str | Path | None = None) -> HubtuneCardData:
    """Fill a `HubtuneCardData` from a run folder: THE one place where a run becomes card content.

    Args:
        run: a `Run` or a run folder.
        repo_id: the repo the card will live at (the snippets load it; its name becomes the model-index name).
        base_repo: the base model's repo id on the hub the run goes to.
        options: what the pushing side knows (base revision, whether the tokenizer is pushed).
        compare_report: a `hubtune compare` report folder whose table and plots the card shows.

    Raises:
        RunFolderError: the run folder is incomplete.
        ConfigError: `compare_report` is not a `hubtune compare` report folder.

    Example:
        >>> data = build_card_data("runs/promoter-lora", "alice/promoter-lora", "alice/tiny-nt")  # doctest: +SKIP
        >>> data.base_model, data.tags[:3]  # doctest: +SKIP
        ('alice/tiny-nt', ['genomics', 'dna', 'hubtune'])
    """
    run = load_card_run(run)
    options = options or CardOptions()
    info, metrics, family = run.info, run.metrics, _family(run.info)
    method = get_method(info.method)
    weights = weights_layout(info.method)
    problem, names = info.problem, list(info.label_names)
    test = (metrics.get(FINETUNED) or {}).get("test") or {}
    seed_list = [s.get("seed") for s in metrics.get("per_seed") or [] if isinstance(s, dict)] or list(info.seeds)
    summary = headline_summary(metrics, test, len(info.seeds or [1]), problem)
    n_seeds = int(summary.get("n_seeds") or 1)
    leakage_lines, leakage_pairs, has_leak = _leakage(run.leakage)
    data_source = str(info.data_source or "")
    dataset = _dataset_view(info.dataset)
    return HubtuneCardData(
        repo_id=repo_id,
        base_repo=base_repo,
        base_revision=options.base_revision,
        tiny_base=info.base_model in TINY_MODELS,
        task=info.task or DEFAULT_TASK,
        labels=names,
        problem_type=problem.name,
        hf_problem_type=problem.hf_problem_type,
        task_title=TASK_TITLES[problem.name],
        metric=problem.metric,
        metric_label=problem.metric_label,
        thresholds=[float(t) for t in info.thresholds or []],
        label_meanings=_label_meanings(names, dataset),
        family=family.name,
        family_name=family.display_name,
        family_license="" if family.license == "other" else family.license,
        family_paper=family.paper,
        family_citation=family.citation,
        native_modelling=family.needs_remote_code,
        method=info.method,
        method_title=method.title,
        weights=weights,
        weight_files=list(method.weight_files),
        tokenizer_repo=repo_id if options.tokenizer_in_repo or weights == WEIGHTS_MODEL else base_repo,
        has_base_probe=(run.path / BASE_PROBE_FILE).is_file(),
        max_length=info.max_length,
        window_bp=info.window_bp,
        stride_bp=info.stride_bp,
        test_score=number(summary.get("test_score")),
        test_score_text=summary_text(summary) if summary.get("test_score") is not None else "-",
        test_score_what=statistic_what(summary),
        test_scores=test,
        index=index_entries(metrics, test, summary, problem, len(names)),
        per_output=per_output_rows(problem, names, test, info.thresholds),
        results_table=comparison_table(metrics, problem=problem),
        n_seeds=n_seeds,
        seed_list=seed_list,
        best_seed=info.best_seed,
        best_seed_test_score=number(test.get(problem.metric)) if n_seeds > 1 else None,
        test_score_mean=number(summary.get("test_score_mean", summary.get("test_score"))),
        test_score_sd=number(summary.get("test_score_sd")),
        stronger_baselines=baselines_as_good(metrics, summary, interval(test.get(f"{problem.metric}_ci95")), problem),
        compare=compare_section(compare_report),
        dataset=dataset,
        dataset_id=data_source if looks_like_hub_id(data_source) else None,
        data_source=public_source(data_source),
        split_origin=str(info.split_origin or "given"),
        split_sizes=dict(info.split_sizes),
        leakage_lines=leakage_lines,
        leakage_pairs=leakage_pairs,
        has_leak=has_leak,
        hyperparameters=_hyperparameters(info, family),
        versions={str(k): str(v) for k, v in info.versions.items()},
        created=str(info.created or ""),
    )


def compare_section(compare_report: str | Path | None) -> dict[str, Any] | None:
    """The part of a `hubtune compare` report that a card shows: `{"table": markdown, "plots": ["compare/x.png"]}`.

    The table is the report's main table, rebuilt from its `results.json` rows with local paths reduced to names;
    the plots are the report's PNG files, as the paths they get in the pushed repo. None when no report is given.

    Raises:
        ConfigError: the folder is not the output folder of `hubtune compare` (no readable `results.json`).

    Example:
        >>> compare_section("reports/grid")["plots"][:1]  # doctest: +SKIP
        ['compare/overview.png']
    """
    if compare_report is None:
        return None
    folder = Path(compare_report)
    try:
        rows = json.loads((folder / "results.json").read_text(encoding="utf-8"))["rows"]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise TypeError
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise ConfigError(
            f"--compare-report {folder.name}: no readable results.json in that folder. Pass the output folder of "
            "`hubtune compare`."
        ) from None
    plots = [f"compare/{p.name}" for p in sorted(folder.glob("*.png"))]
    return {"table": grid_table(scrub_paths(rows)).markdown(), "plots": plots}


__all__ = [
    "EXAMPLE_SEQUENCE",
    "CardOptions",
    "HubtuneCardData",
    "build_card_data",
    "compare_section",
    "load_card_run",
    "task_tag",
    "weights_layout",
]
