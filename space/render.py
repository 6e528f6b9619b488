"""How the Space shows results: HTML fragments (every piece of user text escaped) and matplotlib figures.

Figures use matplotlib's object API (`Figure`), never pyplot's global state, so concurrent requests cannot draw into
each other's plots; every piece of user text in a figure goes through `plain` so that matplotlib never reads it as
math. The data comes from `hubtune.serving`; nothing here loads models or reads input.

Every table, figure and message follows the model's problem type: class probabilities, per-label probabilities (with
the label set at the run's thresholds) or predicted values in the targets' units, each output named as
`hubtune.serving.output_quantity` names it ("P(promoter)", "P(CTCF)", "predicted developmental").
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from hubtune.problems import MULTI_LABEL, REGRESSION, SINGLE_LABEL, Problem
from hubtune.serving import (
    BASES,
    AdapterMeta,
    Comparison,
    IsmResult,
    Projection,
    WindowTrack,
    output_quantity,
    outputs_title,
    short_names,
)
from hubtune.tables import comparison_table, fmt

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
MAX_PANELS = 6  # labels or targets drawn side by side in the outputs figure


# ---------------------------------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------------------------------


def escape(text: Any) -> str:
    """HTML-escape any user-provided text (FASTA ids, repo ids, messages).

    Example:
        >>> escape("<b>id</b>")
        '&lt;b&gt;id&lt;/b&gt;'
    """
    return html.escape(str(text), quote=True)


def status_html(message: str, *, ok: bool) -> str:
    """An inline status line (escaped).

    Example:
        >>> status_html("3 sequence(s)", ok=True)
        '<div class="hubtune-status hubtune-ok" role="status">✓ 3 sequence(s)</div>'
    """
    css = "hubtune-ok" if ok else "hubtune-error"
    icon = "✓" if ok else "⚠"
    return f'<div class="hubtune-status {css}" role="status">{icon} {escape(message)}</div>'


def note_html(message: str) -> str:
    """A small grey note (escaped); empty text gives an empty string.

    Example:
        >>> note_html("")
        ''
    """
    return f'<p class="hubtune-note">{escape(message)}</p>' if message else ""


def metrics_html(metas: Sequence[AdapterMeta]) -> str:
    """Each adapter's test metrics from its card: the fine-tuned vs pre-trained probe vs k-mer comparison table, with
    the metrics of its problem type (MCC..., macro AUPRC..., Spearman...).

    Example:
        >>> "test MCC" in metrics_html([backend.cache.meta("alice/promoter-lora")])  # doctest: +SKIP
        True
    """
    if not metas:
        return ""
    parts = ['<div class="hubtune-metrics">']
    for meta in metas:
        table = comparison_table(meta.metrics, dev=False, problem=meta.problem)
        parts.append(f'<p class="hubtune-metrics-adapter"><strong>{escape(meta.repo_id)}</strong></p>')
        if table.rows:
            parts.append(table.html())
        else:
            parts.append(note_html("No test metrics in this model's card."))
    parts.append("<p>Metrics from each model's card (held-out test split).</p></div>")
    return "".join(parts)


def adapter_choices(listing: Sequence[Any], extra: Sequence[str]) -> list[tuple[str, str]]:
    """Dropdown entries grouped by base model: '[base] repo — task (labels) · test MCC' (the adapter's headline
    metric: MCC, macro AUPRC or Spearman), then `extra` ids.

    Example:
        >>> adapter_choices([], ["alice/a"])
        [('alice/a', 'alice/a')]
    """
    ordered = sorted(listing, key=lambda a: (str(a.base_model or ""), a.repo_id))
    out = []
    for info in ordered:
        shown = "n/a" if info.test_score is None else f"{info.test_score:.3f}"
        base = str(info.base_model or "?").split("/")[-1]
        out.append((f"[{base}] {info.repo_id} — {info.task or '?'} ({'/'.join(info.labels)}) · "
                    f"test {info.metric_label} {shown}", info.repo_id))
    known = {value for _, value in out}
    out += [(repo, repo) for repo in extra if repo not in known]
    return out


def adapters_overview_html(listing: Sequence[Any], problem: str | None = None) -> str:
    """The hubtune adapters on the hub, grouped by base model, with labels and their test metric (escaped).

    Example:
        >>> "No hubtune adapters" in adapters_overview_html([])
        True
    """
    if problem:
        return status_html(problem, ok=False)
    if not listing:
        return ('<div class="hubtune-adapters"><p>No hubtune adapters found on this hub. Type any adapter repo id '
                "into the picker.</p></div>")
    groups: dict[str, list[Any]] = {}
    for info in listing:
        groups.setdefault(str(info.base_model or "unknown base"), []).append(info)
    parts = ['<div class="hubtune-adapters"><table><thead><tr><th>adapter</th><th>task</th><th>labels</th>'
             "<th>method</th><th>test metric</th></tr></thead><tbody>"]
    for base in sorted(groups):
        parts.append(f'<tr class="base-row"><td colspan="5">base: {escape(base)}</td></tr>')
        for info in sorted(groups[base], key=lambda a: a.repo_id):
            parts.append(f"<tr><td>{escape(info.repo_id)}</td><td>{escape(info.task or '')}</td>"
                         f"<td>{escape(', '.join(info.labels))}</td><td>{escape(info.method or '')}</td>"
                         f"<td>{escape(info.metric_label)} {fmt(info.test_score)}</td></tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------------------------------
# The results table
# ---------------------------------------------------------------------------------------------------------------------


def table_value(comparison: Comparison, *, digits: int = 3) -> dict[str, Any]:
    """The comparison as a Dataframe value: {"headers": [...], "data": [[...], ...]} (outputs rounded).

    Example:
        >>> table_value(comparison)["headers"][:3]  # doctest: +SKIP
        ['id', 'bp', 'windows']
    """
    return {"headers": comparison.columns(), "data": comparison.rows(digits)}


def column_widths(comparison: Comparison) -> list[str]:
    """Readable widths: a wide id column, narrow numbers, medium labels.

    Example:
        >>> column_widths(comparison)[:3]  # doctest: +SKIP
        ['220px', '70px', '70px']
    """
    widths = []
    for name in comparison.columns():
        if name == "id":
            widths.append("220px")
        elif name in ("bp", "windows"):
            widths.append("70px")
        else:
            widths.append("130px")
    return widths


# ---------------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------------


def plain(text: Any) -> str:
    r"""Text shown literally in a figure: every `$` escaped, so matplotlib's mathtext never parses user text.

    Example:
        >>> plain("costs $5")
        'costs \\$5'
    """
    return str(text).replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def value_text(problem: Problem, value: float) -> str:
    """One output as text: a probability with three decimals, a predicted value with four significant digits.

    Example:
        >>> from hubtune.problems import get_problem
        >>> value_text(get_problem("single_label"), 0.25), value_text(get_problem("regression"), 1234.5678)
        ('0.250', '1235')
    """
    return f"{value:.4g}" if problem.name == REGRESSION else f"{value:.3f}"


def _panels(problem: Problem, names: Sequence[str]) -> list[int]:
    """The outputs drawn in their own panel: a binary classifier's second class, else each class / label / target."""
    if problem.name == SINGLE_LABEL:
        return [len(names) - 1] if len(names) == 2 else list(range(min(len(names), 4)))
    return list(range(min(len(names), MAX_PANELS)))


def figure_outputs(comparison: Comparison, *, max_rows: int = 40) -> Figure:
    """Dot plot of each adapter's outputs per sequence next to its base model's: class probabilities (binary: the
    second class), per-label probabilities (dashed: the first adapter's thresholds) or predicted values per target.

    Example:
        >>> figure_outputs(backend.classify("ACGT" * 30, ["alice/a"])).savefig("p.png")  # doctest: +SKIP
    """
    problem = comparison.problem
    names = comparison.label_names
    panels = _panels(problem, names)
    n = min(len(comparison.records), max_rows)
    fig = _figure(4.0 + 2.5 * len(panels), 1.6 + 0.28 * n)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    ids = [plain(seq_id if len(seq_id) <= 24 else seq_id[:23] + "…") for seq_id, _ in comparison.records[:n]]
    y = np.arange(n)
    short = short_names([p.repo_id for p in comparison.predictions])
    thresholds = comparison.predictions[0].thresholds if comparison.predictions else None
    for ax, c in zip(axes, panels, strict=True):
        for k, (pred, name) in enumerate(zip(comparison.predictions, short, strict=True)):
            color = COLORS[k % len(COLORS)]
            ax.scatter(pred.outputs[:n, c], y, color=color, marker="o", s=28, label=plain(f"{name} (fine-tuned)"),
                       zorder=3)
            if pred.base_outputs is not None:
                ax.scatter(pred.base_outputs[:n, c], y, facecolors="none", edgecolors=color, marker="s", s=28,
                           label=plain(f"{name} (base probe)"), zorder=3)
        if problem.name != REGRESSION:
            cut = thresholds[c] if problem.name == MULTI_LABEL and thresholds else 0.5
            ax.axvline(cut, color="grey", lw=0.6, ls="--")
            ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel(plain(output_quantity(problem, names[c])))
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, ids, fontsize=8)
    axes[0].invert_yaxis()
    title = f"{outputs_title(problem)}: fine-tuned (filled) vs base (open)"
    if problem.name == MULTI_LABEL:
        title += "; dashed: decision threshold"
    if len(panels) < len(names) and problem.name != SINGLE_LABEL:
        title += f" — first {len(panels)} of {len(names)} {problem.output_kind}s"
    if len(comparison.records) > n:
        title += f" — first {n} of {len(comparison.records)}"
    fig.suptitle(title, fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(2, len(labels)), fontsize=8)
    return fig


def figure_projection(projection: Projection) -> Figure:
    """Side-by-side PCA of the pre-trained and the fine-tuned embeddings, points coloured by each model's predicted
    class or label set, or (regression) by the first target's predicted value.

    Example:
        >>> figure_projection(backend.project(">a\\nACGT\\n>b\\nGGCC\\n", "alice/a"))  # doctest: +SKIP
    """
    fig = _figure(9.0, 4.0)
    axes = fig.subplots(1, 2)
    panels = (
        (axes[0], projection.base, projection.base_explained, projection.base_labels, projection.base_values,
         "pre-trained base"),
        (axes[1], projection.fine_tuned, projection.fine_tuned_explained, projection.fine_tuned_labels,
         projection.fine_tuned_values, "fine-tuned"),
    )
    categories = projection.categories
    for ax, xy, var, labels, values, title in panels:
        if values is not None:
            points = ax.scatter(xy[:, 0], xy[:, 1], s=22, c=values, cmap="viridis", alpha=0.85)
            fig.colorbar(points, ax=ax, label=plain(f"predicted {projection.value_name}"), shrink=0.8)
        else:
            for k, name in enumerate(categories):
                mask = np.array([lab == name for lab in labels], dtype=bool)
                if mask.any():
                    ax.scatter(xy[mask, 0], xy[mask, 1], s=22, color=COLORS[k % len(COLORS)], label=plain(name),
                               alpha=0.85)
            ax.legend(fontsize=8, title="predicted", title_fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"PC1 ({var[0]:.0%})")
        ax.set_ylabel(f"PC2 ({var[1]:.0%})")
        ax.grid(alpha=0.3)
    fig.suptitle(plain(f"embeddings of the batch (PCA), {Path(projection.repo_id).name}: pre-trained vs fine-tuned"),
                 fontsize=10)
    return fig


def figure_ism(result: IsmResult) -> Figure:
    """Heatmap of the ISM map (bases x positions) under a per-position importance bar; the colour is the change of
    the explained output (Δ P(class), Δ P(label) or Δ predicted value).

    Example:
        >>> figure_ism(backend.ism("TATAAAGGC", "alice/a"))  # doctest: +SKIP
    """
    length = len(result.sequence)
    fig = _figure(min(14.0, 5.0 + 0.06 * length), 3.6)
    top, heat = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2])
    importance = result.importance
    top.bar(np.arange(length), importance, width=1.0, color=np.where(importance >= 0, "#d62728", "#1f77b4"))
    top.set_ylabel("importance", fontsize=8)
    top.axhline(0, color="grey", lw=0.6)
    limit = float(np.abs(result.delta).max()) or 1e-6
    image = heat.imshow(result.delta.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                        interpolation="nearest", extent=(-0.5, length - 0.5, 3.5, -0.5))
    heat.set_yticks(range(4), list(BASES))
    if length <= 80:
        heat.set_xticks(range(length), list(result.sequence), fontsize=7, fontfamily="monospace")
    else:
        heat.set_xlabel("position (bp)")
    quantity = result.quantity
    fig.colorbar(image, ax=[top, heat], label=plain(f"Δ {quantity}"), shrink=0.8)
    fig.suptitle(plain(f"in-silico mutagenesis of {result.seq_id[:40]} — {quantity} = "
                       f"{value_text(result.problem, float(result.reference[result.target]))}"), fontsize=10)
    return fig


def figure_track(track: WindowTrack) -> Figure:
    """Per-window outputs along a long sequence (window centres), with the averaged answer: class probabilities
    (binary: the second class), per-label probabilities or predicted values per target.

    Example:
        >>> figure_track(backend.window_track("ACGT" * 300, "alice/a"))  # doctest: +SKIP
    """
    fig = _figure(9.0, 3.0)
    ax = fig.subplots()
    problem = track.problem
    centres = [min(s + track.window_bp, track.length) / 2 + s / 2 for s in track.starts]
    names = track.label_names
    shown = ([len(names) - 1] if problem.name == SINGLE_LABEL and len(names) == 2
             else range(min(len(names), len(COLORS))))
    for k in shown:
        color = COLORS[k % len(COLORS)]
        ax.plot(centres, track.outputs[:, k], "o-", color=color,
                label=plain(f"{output_quantity(problem, names[k])} per window"))
        ax.axhline(float(track.outputs[:, k].mean()), color=color, ls="--", lw=0.8)
    ax.set_xlim(0, track.length)
    if problem.name == REGRESSION:
        ax.set_ylabel("predicted value")
    else:
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("probability")
    ax.set_xlabel(f"position (bp), windows of {track.window_bp} bp")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(plain(f"score track of {track.seq_id[:40]} ({len(track.starts)} windows; dashed: mean)"), fontsize=10)
    return fig


__all__ = [
    "COLORS",
    "adapter_choices",
    "adapters_overview_html",
    "column_widths",
    "escape",
    "figure_ism",
    "figure_outputs",
    "figure_projection",
    "figure_track",
    "metrics_html",
    "note_html",
    "plain",
    "status_html",
    "table_value",
    "value_text",
]
