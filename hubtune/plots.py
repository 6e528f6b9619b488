"""Plots people would rather look at than read (matplotlib, headless).

Figures are plain `matplotlib.figure.Figure` objects rendered straight to PNG: nothing here touches pyplot or the
global backend, so importing hubtune (or making a plot) leaves an interactive matplotlib session as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DPI = 120


def new_figure(figsize: tuple[float, float], *, dpi: int = DPI) -> Any:
    """A headless `matplotlib.figure.Figure` (no pyplot, no backend switch); save it with `save_figure`.

    Example:
        >>> fig = new_figure((4, 3))
        >>> ax = fig.subplots()
        >>> save_figure(fig, tmp_path / "plot.png")  # doctest: +SKIP
    """
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Lay out `fig` (tight layout) and write it as a PNG to `path`; returns the path.

    Example:
        >>> save_figure(new_figure((4, 3)), tmp_path / "empty.png")  # doctest: +SKIP
        PosixPath('.../empty.png')
    """
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_layer_probe(rows: list[dict[str, Any]], path: Path, *, title: str = "", metric: str = "mcc",
                     metric_label: str = "MCC") -> Path:
    """The task's headline metric (`metric`, e.g. MCC, macro AUPRC or Spearman) of a linear probe on each layer's mean
    embedding (as in the Nucleotide Transformer paper), dev and test; rows carry ``dev_<metric>`` and
    ``test_<metric>``.

    Example:
        >>> plot_layer_probe([{"layer": 0, "dev_mcc": 0.1, "test_mcc": 0.2}], tmp_path / "layers.png")  # doctest: +SKIP
    """
    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    layers = [r["layer"] for r in rows]
    for split, style in (("dev", "o--"), ("test", "o-")):
        ax.plot(layers, [_number(r.get(f"{split}_{metric}")) for r in rows], style, label=split)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(metric_label)
    if metric != "auprc_macro":  # MCC and Spearman are 0 at chance
        ax.axhline(0, color="grey", lw=0.8)
    ax.set_title(title or "layer probing", fontsize=10)
    ax.legend()
    return save_figure(fig, path)


def _number(value: Any) -> float:
    """A plotted value; NaN (a gap in the line) where none was measured."""
    return float(value) if isinstance(value, int | float) else float("nan")


__all__ = ["DPI", "new_figure", "plot_layer_probe", "save_figure"]
