"""What a card reports about a run's results, per problem type: the headline statistic, the model-index entries, the
baselines that are as good, and the per-output rows (classes, labels or targets). The comparison table itself is
THE one of `hubtune.tables.comparison_table`.

Every number comes from the run's `metrics.json`; the model-index carries the same statistic as the card's text (one
seed's value, named with its 95% bootstrap interval, or the mean over seeds, named so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..metrics import format_score, intervals_overlap, mean_sd
from ..problems import MULTI_LABEL, REGRESSION, SINGLE_LABEL, Problem
from ..tables import COMPARED_MODELS

FINETUNED = COMPARED_MODELS[0][0]  # the key of the fine-tuned model's scores in metrics.json


@dataclass(frozen=True)
class CardMetric:
    """One model-index metric of a problem type: its key in a scores dict, its name in text, its Hub metric type and
    config.

    Example:
        >>> CardMetric("spearman", "Spearman", "spearmanr").index_type
        'spearmanr'
    """

    key: str
    title: str
    index_type: str
    index_config: str | None = None  # e.g. "macro" for a macro average


# Per problem: the model-index metrics, headline first (the Hub's metric types: matthews_correlation, f1, accuracy,
# average_precision, roc_auc, spearmanr, pearsonr, r_squared, mse).
CARD_METRICS: dict[str, tuple[CardMetric, ...]] = {
    SINGLE_LABEL: (CardMetric("mcc", "MCC", "matthews_correlation"), CardMetric("f1_macro", "macro F1", "f1", "macro"),
                   CardMetric("accuracy", "accuracy", "accuracy")),
    MULTI_LABEL: (CardMetric("auprc_macro", "macro AUPRC", "average_precision", "macro"),
                  CardMetric("auroc_macro", "macro AUROC", "roc_auc", "macro"),
                  CardMetric("f1_macro", "macro F1", "f1", "macro")),
    REGRESSION: (CardMetric("spearman", "Spearman", "spearmanr"), CardMetric("pearson", "Pearson", "pearsonr"),
                 CardMetric("r2", "R²", "r_squared"), CardMetric("mse", "MSE", "mse")),
}
# What the card calls the task (title, model-index task name) and what one sentence says the headline metric is.
TASK_TITLES = {SINGLE_LABEL: "DNA sequence classification", MULTI_LABEL: "multi-label DNA sequence classification",
               REGRESSION: "DNA sequence regression"}


@dataclass(frozen=True)
class IndexEntry:
    """One model-index metric: type, value (rounded to 4 decimals), name (says what the value is) and config.

    Example:
        >>> IndexEntry("spearmanr", 0.81, "Test Spearman (95% CI 0.750–0.860)").config is None
        True
    """

    type: str
    value: float
    name: str
    config: str | None = None


def number(value: Any) -> float | None:
    """A float for a JSON number, None for anything else (booleans included).

    Example:
        >>> number(3), number(True), number("x")
        (3.0, None, None)
    """
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def interval(value: Any) -> list[float] | None:
    """A [low, high] pair of numbers, or None.

    Example:
        >>> interval([0.1, 0.3]), interval([0.1])
        ([0.1, 0.3], None)
    """
    if isinstance(value, list | tuple) and len(value) == 2 and all(number(v) is not None for v in value):
        return [float(value[0]), float(value[1])]
    return None


def headline_summary(metrics: dict[str, Any], test: dict[str, Any], n_seeds: int, problem: Problem) -> dict[str, Any]:
    """The run's headline test statistic from metrics.json, read defensively (older runs lack some keys).

    Several seeds: the mean ± sd over seeds; one seed: its value with the 95% bootstrap interval when recorded.

    Example:
        >>> from hubtune.problems import get_problem
        >>> headline_summary({}, {"spearman": 0.8, "spearman_ci95": [0.7, 0.9]}, 1, get_problem("regression"))[
        ...     "test_score_ci95"]
        [0.7, 0.9]
    """
    summary = dict((metrics.get("summary") or {}).get(FINETUNED) or {})
    n = int(summary.get("n_seeds") or n_seeds or 1)
    value = number(summary.get("test_score"))
    value = number(summary.get("test_score_mean")) if value is None else value
    if n <= 1:
        value = number(test.get(problem.metric)) if value is None else value
        summary["test_score_sd"] = None
        summary["test_score_ci95"] = (interval(summary.get("test_score_ci95"))
                                      or interval(test.get(f"{problem.metric}_ci95")))
    summary.update(n_seeds=n, test_score=value)
    return summary


def statistic_what(summary: dict[str, Any]) -> str:
    """What the headline value is, in a few words for the model-index name: "95% CI 0.402–0.701", "mean of 3 seeds".

    Example:
        >>> statistic_what({"n_seeds": 3}), statistic_what({"n_seeds": 1, "test_score_ci95": [0.1, 0.2]})
        ('mean of 3 seeds', '95% CI 0.100–0.200')
    """
    n = int(summary.get("n_seeds") or 1)
    if n > 1:
        return f"mean of {n} seeds"
    ci = interval(summary.get("test_score_ci95"))
    return f"95% CI {ci[0]:.3f}–{ci[1]:.3f}" if ci else ""


def _seed_mean(metrics: dict[str, Any], key: str, n_seeds: int) -> float | None:
    per_seed = [s for s in metrics.get("per_seed") or [] if isinstance(s, dict)]
    values = [v for s in per_seed if (v := number((s.get("test") or {}).get(key))) is not None]
    return mean_sd(values)[0] if values and len(values) == n_seeds else None


def index_entries(metrics: dict[str, Any], test: dict[str, Any], summary: dict[str, Any], problem: Problem,
                  n_outputs: int) -> list[IndexEntry]:
    """The model-index metrics of a run: the headline (the summary's statistic) and the problem's other metrics of
    the same kind (seed means with several seeds, else the shipped seed's test values).

    Example:
        >>> from hubtune.problems import get_problem
        >>> test = {"spearman": 0.8, "pearson": 0.7, "r2": 0.5, "mse": 0.4}
        >>> [e.type for e in index_entries({}, test, {"test_score": 0.8}, get_problem("regression"), 1)]
        ['spearmanr', 'pearsonr', 'r_squared', 'mse']
    """
    n_seeds = int(summary.get("n_seeds") or 1)
    what = statistic_what(summary)
    averaged = f"mean over {n_outputs} targets" if problem.name == REGRESSION and n_outputs > 1 else ""
    entries = []
    for metric in CARD_METRICS[problem.name]:
        if metric.key == problem.metric:
            value = number(summary.get("test_score"))
            notes = [averaged, what]
        else:
            value = _seed_mean(metrics, metric.key, n_seeds) if n_seeds > 1 else number(test.get(metric.key))
            notes = [averaged, f"mean of {n_seeds} seeds" if n_seeds > 1 else ""]
        if value is None:
            continue
        if problem.name == MULTI_LABEL and metric.key.startswith("f1"):
            notes.insert(0, "thresholds tuned on dev")
        notes = [note for note in notes if note]
        name = f"Test {metric.title}" + (f" ({', '.join(notes)})" if notes else "")
        entries.append(IndexEntry(metric.index_type, round(value, 4), name, metric.index_config))
    return entries


def baselines_as_good(metrics: dict[str, Any], summary: dict[str, Any], shipped_ci: list[float] | None,
                      problem: Problem) -> list[tuple[str, str, str]]:
    """Baselines that the fine-tuned model does not clearly beat on the headline test metric: (name, value as text,
    "better" | "within").

    "better": the baseline's value is at least the fine-tuned one. "within": the 95% intervals overlap, or the
    baseline's value lies in the fine-tuned model's interval (one seed: its bootstrap interval; several seeds: mean
    ± 2 sd, or the shipped seed's interval), so the difference is within the uncertainty of the measurement.

    Example:
        >>> from hubtune.problems import get_problem
        >>> baselines_as_good({"kmer": {"test": {"mcc": 0.6}}}, {"test_score": 0.5}, None, get_problem(None))
        [('k-mer baseline', '0.600', 'better')]
    """
    value = number(summary.get("test_score"))
    if value is None:
        return []
    sd = number(summary.get("test_score_sd"))
    n = int(summary.get("n_seeds") or 1)
    ft_ci = interval(summary.get("test_score_ci95"))
    if ft_ci is None and n > 1 and sd is not None:
        ft_ci = [value - 2 * sd, value + 2 * sd]
    ft_ci = ft_ci or shipped_ci
    found = []
    for key, label in COMPARED_MODELS[1:]:
        test = (metrics.get(key) or {}).get("test") or {}
        other = number(test.get(problem.metric))
        if other is None:
            continue
        ci = interval(test.get(f"{problem.metric}_ci95"))
        text = format_score(other, ci95=ci)
        if other >= value:
            found.append((label, text, "better"))
        elif intervals_overlap(ci, ft_ci) or (ft_ci is not None and ft_ci[0] <= other <= ft_ci[1]):
            found.append((label, text, "within"))
    return found


def per_output_rows(problem: Problem, names: list[str], test: dict[str, Any],
                    thresholds: list[float] | None) -> list[dict[str, Any]]:
    """One row per output, in output order, with the fine-tuned model's test scores of that output (None where not
    measured): classes (precision, recall, f1, support), labels (threshold, positives, prevalence, auprc, auroc, f1)
    or targets (spearman, pearson, r2, mse).

    Example:
        >>> from hubtune.problems import get_problem
        >>> per_output_rows(get_problem("regression"), ["a"], {"per_target": [{"target": "a", "r2": 0.5}]}, None)[0]
        {'name': 'a', 'spearman': None, 'pearson': None, 'r2': 0.5, 'mse': None}
    """
    list_key, name_key, keys = {
        SINGLE_LABEL: ("per_class", "label", ("precision", "recall", "f1", "support")),
        MULTI_LABEL: ("per_label", "label", ("threshold", "positives", "prevalence", "auprc", "auroc", "f1")),
        REGRESSION: ("per_target", "target", ("spearman", "pearson", "r2", "mse")),
    }[problem.name]
    found = {row.get(name_key): row for row in test.get(list_key) or [] if isinstance(row, dict)}
    rows = []
    for i, name in enumerate(names):
        row = {"name": name, **{key: found.get(name, {}).get(key) for key in keys}}
        if problem.name == MULTI_LABEL and row["threshold"] is None and thresholds and i < len(thresholds):
            row["threshold"] = thresholds[i]
        rows.append(row)
    return rows


__all__ = [
    "CARD_METRICS",
    "TASK_TITLES",
    "CardMetric",
    "IndexEntry",
    "baselines_as_good",
    "headline_summary",
    "index_entries",
    "interval",
    "number",
    "per_output_rows",
    "statistic_what",
]
