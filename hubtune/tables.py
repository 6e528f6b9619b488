"""Tables that several outputs show: built once as rows of text, rendered as plain text, Markdown or HTML.

`comparison_table` is THE comparison of the fine-tuned model with the pre-trained probe and the k-mer baseline: the
terminal (`hubtune train`), the model card and the Space all render this one table, so the same statistic carries the
same label everywhere. Its columns follow the run's problem type (`PROBLEM_COLUMNS`): MCC for single-label
classification, macro AUPRC for multi-label classification, Spearman for regression, each beside its companions.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .metrics import mean_sd
from .problems import MULTI_LABEL, PROBLEMS, REGRESSION, SINGLE_LABEL, Problem, get_problem

COMPARED_MODELS = (
    ("finetuned", "fine-tuned"),
    ("probe", "pre-trained probe"),
    ("kmer", "k-mer baseline"),
)
# The scores a table shows per problem type, as (scores-dict key, name); the first is the headline metric
# (`Problem.metric`), shown with its 95% bootstrap interval and on dev as well.
PROBLEM_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    SINGLE_LABEL: (("mcc", "MCC"), ("f1_macro", "macro F1"), ("accuracy", "accuracy"), ("auroc", "AUROC")),
    MULTI_LABEL: (("auprc_macro", "macro AUPRC"), ("auroc_macro", "macro AUROC"), ("auprc_micro", "micro AUPRC"),
                  ("f1_macro", "macro F1")),
    REGRESSION: (("spearman", "Spearman"), ("pearson", "Pearson"), ("r2", "R²"), ("mse", "MSE")),
}
TEST_METRICS = tuple((key, f"test {name}") for key, name in PROBLEM_COLUMNS[SINGLE_LABEL])
MISSING = "–"


def fmt(value: Any, spec: str = ".3f") -> str:
    """A number for a table cell; a dash when it was not measured.

    Example:
        >>> fmt(0.52812), fmt(None)
        ('0.528', '–')
    """
    return MISSING if not isinstance(value, int | float) or isinstance(value, bool) else format(value, spec)


@dataclass
class Table:
    """A header and rows of text cells; `align` holds "l" or "r" per column.

    Example:
        >>> print(Table(["a", "b"], [["x", "1"]], ["l", "r"]).text())
        a  b
        -  -
        x  1
    """

    header: list[str]
    rows: list[list[str]]
    align: list[str] = field(default_factory=list)
    note: str = ""  # what the numbers are, printed under the table

    def _align(self) -> list[str]:
        return self.align or ["l"] * len(self.header)

    def text(self) -> str:
        """Aligned plain text for a terminal."""
        widths = [max(len(r[i]) for r in [self.header, *self.rows]) for i in range(len(self.header))]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.rjust(w) if a == "r" else c.ljust(w)
                             for c, w, a in zip(cells, widths, self._align(), strict=True)).rstrip()

        lines = [line(self.header), line(["-" * w for w in widths]), *(line(r) for r in self.rows)]
        return "\n".join(lines + ([self.note] if self.note else []))

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
        marks = ["--:" if a == "r" else "---" for a in self._align()]
        lines = ["| " + " | ".join(self.header) + " |", "|" + "|".join(marks) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in self.rows]
        return "\n".join(lines + (["", self.note] if self.note else []))

    def html(self, css_class: str = "") -> str:
        """An HTML table with every cell escaped."""
        cls = f' class="{html.escape(css_class, quote=True)}"' if css_class else ""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self.rows)
        return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _seed_values(per_seed: list[dict[str, Any]], split: str, metric: str) -> list[float]:
    return [s[split][metric] for s in per_seed
            if isinstance((s.get(split) or {}).get(metric), int | float)]


def _cell(block: dict[str, Any], per_seed: list[dict[str, Any]], split: str, metric: str) -> str:
    values = _seed_values(per_seed, split, metric)
    if len(values) > 1:
        mean, sd = mean_sd(values)
        return f"{mean:.3f} ± {sd:.3f}"
    scores = block.get(split) or {}
    ci = scores.get(f"{metric}_ci95") if split == "test" else None
    return fmt(scores.get(metric)) + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else "")


def metrics_problem(metrics: dict[str, Any], problem: str | Problem | None = None) -> Problem:
    """The problem type whose scores `metrics` (a metrics.json dict) holds: `problem` when given, else the metric
    its summary names, else the keys of its score blocks (single-label when nothing tells).

    Example:
        >>> metrics_problem({"finetuned": {"test": {"spearman": 0.4}}}).name
        'regression'
    """
    if problem is not None:
        return get_problem(problem)
    metric = ((metrics.get("summary") or {}).get("finetuned") or {}).get("metric")
    for candidate in PROBLEMS.values():
        if metric == candidate.metric:
            return candidate
    for key, _ in COMPARED_MODELS:
        for split in ("test", "dev", "train"):
            block = (metrics.get(key) or {}).get(split) or {}
            for candidate in PROBLEMS.values():
                if candidate.metric in block:
                    return candidate
    return PROBLEMS[SINGLE_LABEL]


def _problem_note(metrics: dict[str, Any], problem: Problem) -> str:
    """What the companion columns of a multi-label or regression table are."""
    test = (metrics.get("finetuned") or {}).get("test") or {}
    if problem.name == MULTI_LABEL:
        return "Macro F1 at per-label decision thresholds tuned on dev."
    if problem.name == REGRESSION:
        targets = [t.get("target") for t in test.get("per_target") or [] if isinstance(t, dict)]
        if len(targets) > 1:
            return (f"Spearman, Pearson, R² and MSE are means over the {len(targets)} targets "
                    f"({', '.join(map(str, targets))}); MSE in the targets' own units.")
        return "MSE in the target's own units."
    return ""


def comparison_note(metrics: dict[str, Any], problem: str | Problem | None = None) -> str:
    """What the comparison table's numbers are: the headline metric and its intervals, seeds, which seed's weights
    are shipped, and (multi-label, regression) what the companion columns mean.

    Example:
        >>> comparison_note({"finetuned": {"test": {"mcc": 0.5, "mcc_ci95": [0.4, 0.6]}}})
        'Test MCC with its 95% bootstrap interval over test sequences in brackets.'
    """
    chosen = metrics_problem(metrics, problem)
    name = chosen.metric_label
    parts = []
    blocks = [metrics.get(key) or {} for key, _ in COMPARED_MODELS]
    if any((b.get("test") or {}).get(f"{chosen.metric}_ci95") for b in blocks):
        parts.append(f"Test {name} with its 95% bootstrap interval over test sequences in brackets.")
    extra = _problem_note(metrics, chosen)
    if extra:
        parts.append(extra)
    summary = (metrics.get("summary") or {}).get("finetuned") or {}
    n_seeds = int(summary.get("n_seeds") or len(metrics.get("per_seed") or []) or 1)
    if n_seeds > 1:
        seeds = ", ".join(str(s.get("seed")) for s in metrics.get("per_seed") or [])
        text = f"Fine-tuned: mean ± sample sd over {n_seeds} training seeds ({seeds})."
        if summary.get("best_seed") is not None and isinstance(summary.get("best_seed_test_score"), int | float):
            text += (f" The shipped weights are seed {summary['best_seed']}'s (best dev {name}); its own test {name} "
                     f"is {summary['best_seed_test_score']:.3f}.")
        parts.append(text)
    k = (metrics.get("kmer") or {}).get("k")
    if k:
        parts.append(f"k-mer baseline: k = {', '.join(map(str, k))}, chosen on dev.")
    return " ".join(parts)


def comparison_table(metrics: dict[str, Any], *, dev: bool = True, problem: str | Problem | None = None) -> Table:
    """Fine-tuned vs pre-trained probe vs k-mer baseline on the test split (and the headline metric on dev), from
    `metrics.json`.

    The columns follow the problem type (`problem`, else read from `metrics`, see `metrics_problem`):
    `PROBLEM_COLUMNS`. The headline metric carries its 95% bootstrap interval; with several training seeds, the
    fine-tuned cells are mean ± sample standard deviation over the seeds. The table's `note` says so.

    Example:
        >>> metrics = {"finetuned": {"test": {"mcc": 0.5}, "dev": {"mcc": 0.6}}, "kmer": {"test": {"mcc": 0.4}}}
        >>> comparison_table(metrics).rows[0][:2]
        ['fine-tuned', '0.500']
        >>> comparison_table({"finetuned": {"test": {"spearman": 0.7}}}).header[1]
        'test Spearman'
    """
    chosen = metrics_problem(metrics, problem)
    columns = PROBLEM_COLUMNS[chosen.name]
    header = ["model", *(f"test {title}" for _, title in columns)] + ([f"dev {chosen.metric_label}"] if dev else [])
    rows = []
    for key, label in COMPARED_MODELS:
        block = metrics.get(key)
        if not block:
            continue
        per_seed = (metrics.get("per_seed") or []) if key == "finetuned" else []
        cells = [_cell(block, per_seed, "test", metric) for metric, _ in columns]
        if dev:
            cells.append(_cell(block, per_seed, "dev", chosen.metric))
        rows.append([label, *cells])
    return Table(header, rows, ["l"] + ["r"] * (len(header) - 1), note=comparison_note(metrics, chosen))


def fmt_count(n: int | None) -> str:
    """A parameter count in short form.

    Example:
        >>> fmt_count(18_600), fmt_count(55_100_000), fmt_count(None)
        ('18.6k', '55.1M', '–')
    """
    if n is None:
        return MISSING
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


_STATUS_TEXT = {"ok": "ok", "warning": "warning", "flagged": "**flagged**", "not measured": "n/m",
                "not measurable": "n/m"}


def row_value(row: dict[str, Any], key: str) -> Any:
    """A value of a compare result row by its generic name (``test_score_mean``, ``probe_test_score``, ...), also
    from rows written before problem types, which named MCC in the key (``test_mcc_mean``, ``probe_test_mcc``).

    Example:
        >>> row_value({"test_mcc_mean": 0.5}, "test_score_mean")
        0.5
    """
    if key in row:
        return row[key]
    return row.get(key.replace("score", "mcc"))


def row_metric_label(row: dict[str, Any]) -> str:
    """How a compare result row names its headline metric ("MCC" for rows written before problem types).

    Example:
        >>> row_metric_label({"metric_label": "Spearman"}), row_metric_label({})
        ('Spearman', 'MCC')
    """
    return str(row.get("metric_label") or "MCC")


def _status_cell(row: dict[str, Any], key: str) -> str:
    status = row.get(f"{key}_status") or "not measured"
    text = _STATUS_TEXT.get(status, status)
    if key == "forgetting" and isinstance(row.get("forgetting_ratio"), int | float):
        text += f" ({row['forgetting_ratio']:.2f}×)"
    dedup = row_value(row, "dedup_test_score")
    if key == "leakage" and isinstance(dedup, int | float):
        text += f" (dedup {dedup:.3f})"
    return text


def grid_table(rows: list[dict[str, Any]]) -> Table:
    """The `hubtune compare` main table (one row per task × model × method), from the report's `results.json` rows.

    Each row is scored with its task's headline metric (MCC, macro AUPRC or Spearman, `row_metric_label`); the
    baselines' columns use the same metric. When every row shares one metric the header names it, otherwise a
    "metric" column says which each row uses. The report and a model card that attaches the report both render
    this table.

    Example:
        >>> row = {"task": "tata", "model": "tiny-nt", "method": "lora", "n_seeds": 1, "test_score_mean": 0.5}
        >>> grid_table([row]).rows[0][:4]
        ['tata', 'tiny-nt', 'lora', '0.500']
        >>> grid_table([row]).header[3]
        'test MCC (mean ± sd)'
    """
    labels = list(dict.fromkeys(row_metric_label(r) for r in rows))
    mixed = len(labels) > 1
    score_title = "test (mean ± sd)" if mixed else f"test {labels[0] if labels else 'MCC'} (mean ± sd)"
    header = ["task", "model", "method", *(["metric"] if mixed else []), score_title, "pre-trained probe", "k-mer",
              "trainable params", "train s / seed", "peak MiB", "overfitting", "underfitting", "forgetting", "leakage"]
    body = []
    for r in rows:
        score = fmt(row_value(r, "test_score_mean"))
        sd = row_value(r, "test_score_sd")
        if (r.get("n_seeds") or 1) > 1 and isinstance(sd, int | float):
            score += f" ± {sd:.3f}"
        body.append([str(r.get("task", "")), str(r.get("model", "")), str(r.get("method", "")),
                     *([row_metric_label(r)] if mixed else []), score,
                     fmt(row_value(r, "probe_test_score")), fmt(row_value(r, "kmer_test_score")),
                     fmt_count(r.get("trainable_params")),
                     fmt(r.get("train_seconds_per_seed"), ".1f"), fmt(r.get("peak_memory_mib"), ".0f"),
                     *(_status_cell(r, key) for key in ("overfitting", "underfitting", "forgetting", "leakage"))])
    return Table(header, body)


__all__ = ["COMPARED_MODELS", "PROBLEM_COLUMNS", "TEST_METRICS", "Table", "comparison_note", "comparison_table", "fmt",
           "fmt_count", "grid_table", "metrics_problem", "row_metric_label", "row_value"]
