"""Figures of a `hubtune compare` report (matplotlib, headless). Each function writes one PNG and returns its path.

`rows` are the report's result rows (`results.json` "rows"): dicts with at least task, model, method, test_score_mean,
test_score_sd (values of the task's headline metric; rows written before problem types say test_mcc_mean /
test_mcc_sd) and, where a figure needs them, trainable_params, train_seconds_per_seed and peak_memory_mib. Every
axis names the metric it shows (`metric_label`: "MCC", "macro AUPRC", "Spearman").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..methods import METHODS
from ..plots import new_figure, save_figure
from ..tables import row_value
from .grid import unique

# One colour per registered method, by its position in the registry; methods beyond the palette take the fallbacks.
METHOD_PALETTE = ("#3b7dd8", "#d8553b", "#4aa05a", "#8c6bb1")
FALLBACK_PALETTE = ("#17becf", "#bcbd22", "#7f7f7f", "#e377c2")
MODEL_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
PROBE_BAR = "pre-trained probe"


def method_colour(method: str, index: int = 0) -> str:
    """The colour of a method in every figure of a report (`index`: its position in the figure, for unknown names).

    Example:
        >>> method_colour(list(METHODS)[0])
        '#3b7dd8'
    """
    names = list(METHODS)
    if method in names and names.index(method) < len(METHOD_PALETTE):
        return METHOD_PALETTE[names.index(method)]
    return FALLBACK_PALETTE[index % len(FALLBACK_PALETTE)]


def plot_task_score(rows: list[dict[str, Any]], probe: dict[str, float | None], kmer: float | None, path: Path, *,
                    title: str = "", metric_label: str = "MCC") -> Path:
    """The task's test score (mean ± sd over seeds) per method and model, beside the pre-trained probe and the k-mer
    baseline; `metric_label` names the task's metric on the axis.

    Example:
        >>> plot_task_score(rows, {"tiny-nt": 0.31}, 0.28, out / "mcc_tata.png", title="tata: test MCC")  # doctest: +SKIP
    """
    models = unique([r["model"] for r in rows])
    methods = unique([r["method"] for r in rows])
    groups = methods + ([PROBE_BAR] if any(v is not None for v in probe.values()) else [])
    width = 0.8 / max(1, len(models))
    fig = new_figure((max(5.0, 1.3 * len(groups) + 2), 3.6))
    ax = fig.subplots()
    for m_index, model in enumerate(models):
        offset = (m_index - (len(models) - 1) / 2) * width
        for g_index, group in enumerate(groups):
            if group == PROBE_BAR and g_index >= len(methods):
                value, sd, colour, hatch = probe.get(model), 0.0, "#bbbbbb", "//"
            else:
                row = next((r for r in rows if r["model"] == model and r["method"] == group), None)
                if row is None:
                    continue
                value, sd = row_value(row, "test_score_mean"), row_value(row, "test_score_sd")
                colour, hatch = method_colour(group, g_index), None
            if value is None:
                continue
            ax.bar(g_index + offset, value, width * 0.92, yerr=sd or None, capsize=3, color=colour, hatch=hatch,
                   edgecolor="black" if len(models) > 1 and m_index else colour, linewidth=0.6)
            if len(models) > 1:
                ax.text(g_index + offset, min(value, 0) - 0.02, f"M{m_index + 1}", ha="center", va="top", fontsize=7)
    if kmer is not None:
        ax.axhline(kmer, color="#d8a03b", ls="--", lw=1.4, label=f"k-mer baseline ({kmer:.3f})")
        ax.legend(fontsize=8, loc="best")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(f"test {metric_label} (mean ± sd over seeds)")
    model_note = "; ".join(f"M{i + 1} = {m}" for i, m in enumerate(models)) if len(models) > 1 else models[0]
    ax.set_title(f"{title}\n{model_note}" if title else model_note, fontsize=9)
    return save_figure(fig, path)


def _scatter_by_model(ax: Any, rows: list[dict[str, Any]], x_key: str, metric_label: str) -> None:
    models = unique([r["model"] for r in rows])
    methods = unique([r["method"] for r in rows])
    for row in rows:
        x, y = row.get(x_key), row_value(row, "test_score_mean")
        if x is None or y is None:
            continue
        marker = MODEL_MARKERS[models.index(row["model"]) % len(MODEL_MARKERS)]
        colour = method_colour(row["method"], methods.index(row["method"]))
        ax.errorbar(x, y, yerr=row_value(row, "test_score_sd") or None, fmt=marker, color=colour,
                    capsize=3, markersize=7)
        ax.annotate(row["method"], (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7)
    handles = [ax.plot([], [], MODEL_MARKERS[i % len(MODEL_MARKERS)], color="black", label=m)[0]
               for i, m in enumerate(models)]
    if len(models) > 1:
        ax.legend(handles=handles, fontsize=7, loc="best")
    ax.set_ylabel(f"test {metric_label}")
    ax.grid(alpha=0.3)
    ax.margins(x=0.15, y=0.12)  # room for the method labels at the edges


def plot_score_vs_params(rows: list[dict[str, Any]], path: Path, *, title: str = "", metric_label: str = "MCC") -> Path:
    """The efficiency trade-off: the task's test score against the number of trainable parameters (log scale).

    Example:
        >>> plot_score_vs_params(rows, out / "params_tata.png")  # doctest: +SKIP
    """
    fig = new_figure((5.5, 3.6))
    ax = fig.subplots()
    _scatter_by_model(ax, rows, "trainable_params", metric_label)
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_title(title or f"{metric_label} vs trainable parameters", fontsize=9)
    return save_figure(fig, path)


def plot_score_vs_cost(rows: list[dict[str, Any]], path: Path, *, memory_label: str, title: str = "",
                       metric_label: str = "MCC") -> Path:
    """The task's test score against training time per seed and against peak memory of the cell.

    Example:
        >>> plot_score_vs_cost(rows, out / "cost_tata.png", memory_label="peak resident memory (MiB)")  # doctest: +SKIP
    """
    fig = new_figure((9, 3.6))
    axes = fig.subplots(1, 2, sharey=True)
    _scatter_by_model(axes[0], rows, "train_seconds_per_seed", metric_label)
    axes[0].set_xlabel("training time per seed (s)")
    _scatter_by_model(axes[1], rows, "peak_memory_mib", metric_label)
    axes[1].set_xlabel(memory_label)
    axes[1].set_ylabel("")
    if any(r.get("peak_memory_mib") is None for r in rows):
        axes[1].text(0.02, 0.02, "cells without a measurement are not shown", transform=axes[1].transAxes, fontsize=7)
    fig.suptitle(title or f"{metric_label} vs cost", fontsize=9)
    return save_figure(fig, path)


def plot_layer_curves(curves: dict[str, list[dict[str, Any]]], path: Path, *, title: str = "", metric: str = "mcc",
                      metric_label: str = "MCC") -> Path:
    """Layer probing: test (solid) and dev (dashed) score (`metric`, the task's headline metric; layer rows carry
    ``dev_<metric>`` and ``test_<metric>``) of a linear probe on each layer, one line per model.

    Example:
        >>> plot_layer_curves({"tiny-nt": layer_rows}, out / "layers_tata.png")  # doctest: +SKIP
    """
    from matplotlib.ticker import MaxNLocator

    fig = new_figure((6, 3.6))
    ax = fig.subplots()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for index, (model, layers) in enumerate(curves.items()):
        colour = f"C{index}"
        x = [r["layer"] for r in layers]
        ax.plot(x, [_value(r, f"test_{metric}") for r in layers], "o-", color=colour, label=f"{model} (test)")
        ax.plot(x, [_value(r, f"dev_{metric}") for r in layers], "o--", color=colour, alpha=0.5,
                label=f"{model} (dev)")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(f"probe {metric_label}")
    ax.legend(fontsize=7)
    ax.set_title(title or "layer probing", fontsize=9)
    return save_figure(fig, path)


def plot_learning_curves(panels: list[dict[str, Any]], path: Path, *, title: str = "",
                         metric_label: str = "MCC") -> Path:
    """One row per cell: train/dev loss and the dev score (the task's headline metric, `metric_label`) against the
    step, every seed, the kept checkpoint marked.

    Each panel: {"label": str, "curves": [SeedCurve, ...], "kept": {seed_name: step}}.

    Example:
        >>> panel = {"label": "lora", "curves": [parse_log_history("seed-1", log)], "kept": {"seed-1": 40}}  # doctest: +SKIP
        >>> plot_learning_curves([panel], out / "curves.png")  # doctest: +SKIP
    """
    from matplotlib.ticker import MaxNLocator

    fig = new_figure((9, 2.4 * len(panels) + 0.4))
    axes = fig.subplots(len(panels), 2, squeeze=False)
    for row, panel in enumerate(panels):
        loss_ax, mcc_ax = axes[row]
        for index, curve in enumerate(panel["curves"]):
            colour = f"C{index}"
            loss_ax.plot(curve.train_steps, curve.train_loss, "-", color=colour, lw=1, label=f"train {curve.seed}")
            loss_ax.plot(curve.eval_steps, curve.eval_loss, "o--", color=colour, ms=3, label=f"dev {curve.seed}")
            mcc_ax.plot(curve.eval_steps, curve.eval_score, "o-", color=colour, ms=3, label=curve.seed)
            kept = panel.get("kept", {}).get(curve.seed)
            if kept is not None:
                for ax in (loss_ax, mcc_ax):
                    ax.axvline(kept, color=colour, ls=":", lw=1)
        loss_ax.set_ylabel("loss")
        mcc_ax.set_ylabel(f"dev {metric_label}")
        loss_ax.set_title(f"{panel['label']}: train (solid) / dev (dashed) loss", fontsize=8)
        mcc_ax.set_title(f"{panel['label']}: dev {metric_label} (dotted line = kept checkpoint)", fontsize=8)
        if not panel["curves"]:
            loss_ax.text(0.5, 0.5, "no training steps logged", ha="center", transform=loss_ax.transAxes)
        if row == 0 and panel["curves"]:
            loss_ax.legend(fontsize=6, ncol=2)
        for ax in (loss_ax, mcc_ax):
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1][0].set_xlabel("step")
    axes[-1][1].set_xlabel("step")
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def plot_overview(rows: list[dict[str, Any]], tasks: list[str], path: Path, *,
                  baselines: dict[str, dict[str, float | None]] | None = None,
                  metric_labels: dict[str, str] | None = None) -> Path:
    """Heatmap of the mean test score: one row per model × method (and baseline), one column per task, each task
    scored with its own metric (`metric_labels`, task -> "MCC", "macro AUPRC", "Spearman"; named under the task).

    Example:
        >>> plot_overview(rows, ["tata"], out / "overview.png", baselines={"k-mer baseline": {"tata": 0.28}})  # doctest: +SKIP
    """
    metric_labels = {t: (metric_labels or {}).get(t, "MCC") for t in tasks}
    labels = unique([f"{r['model']} · {r['method']}" for r in rows])
    values = np.full((len(labels), len(tasks)), np.nan)
    for r in rows:
        if row_value(r, "test_score_mean") is not None:
            values[labels.index(f"{r['model']} · {r['method']}"), tasks.index(r["task"])] = row_value(
                r, "test_score_mean")
    for name, per_task in (baselines or {}).items():
        labels.append(name)
        values = np.vstack([values, [np.nan if per_task.get(t) is None else per_task[t] for t in tasks]])
    fig = new_figure((2.0 + 1.4 * len(tasks), 0.9 + 0.38 * len(labels)))
    ax = fig.subplots()
    low = min(0.0, float(np.nanmin(values))) if np.isfinite(values).any() else 0.0
    image = ax.imshow(values, cmap="viridis", vmin=low, vmax=1.0, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            text = "–" if np.isnan(values[i, j]) else f"{values[i, j]:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if np.isnan(values[i, j]) or values[i, j] < 0.5 else "black")
    ax.set_xticks(range(len(tasks)), [f"{t}\n({metric_labels[t]})" for t in tasks], rotation=20, ha="right")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    shared = set(metric_labels.values())
    name = f"test {shared.pop()}" if len(shared) == 1 else "test score"
    fig.colorbar(image, ax=ax, label=name)
    ax.set_title(f"{name} (mean over seeds) per task" + ("" if name != "test score" else ", each task's metric"),
                 fontsize=9)
    return save_figure(fig, path)


def _value(row: dict[str, Any], key: str) -> float:
    """A plotted value; NaN (a gap in the line) where none was measured."""
    value = row.get(key)
    return float(value) if isinstance(value, int | float) else float("nan")


__all__ = [
    "METHOD_PALETTE",
    "method_colour",
    "plot_layer_curves",
    "plot_learning_curves",
    "plot_overview",
    "plot_score_vs_cost",
    "plot_score_vs_params",
    "plot_task_score",
]
