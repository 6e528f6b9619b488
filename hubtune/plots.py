"""Plots people would rather look at than read (matplotlib, headless).

Figures are plain `matplotlib.figure.Figure` objects rendered straight to PNG: nothing here touches pyplot or the
global backend, so importing hubtune (or making a plot) leaves an interactive matplotlib session as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .tables import COMPARED_MODELS

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


def save_figure(fig: Any, path: str | Path, *, tight: bool = True) -> Path:
    """Lay out `fig` and write it as a PNG to `path`; returns the path.

    Example:
        >>> save_figure(new_figure((4, 3)), tmp_path / "empty.png")  # doctest: +SKIP
        PosixPath('.../empty.png')
    """
    path = Path(path)
    if tight:
        fig.tight_layout()
    fig.savefig(path)
    return path


def plot_layer_probe(rows: list[dict[str, Any]], path: Path, *, title: str = "") -> Path:
    """MCC of a logistic-regression probe on each layer's mean embedding (as in the Nucleotide Transformer paper).

    Example:
        >>> plot_layer_probe([{"layer": 0, "dev_mcc": 0.1, "test_mcc": 0.2}], tmp_path / "layers.png")  # doctest: +SKIP
    """
    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    layers = [r["layer"] for r in rows]
    for split, style in (("dev", "o--"), ("test", "o-")):
        ax.plot(layers, [r[f"{split}_mcc"] for r in rows], style, label=split)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("MCC")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_title(title or "layer probing", fontsize=10)
    ax.legend()
    return save_figure(fig, path)


def plot_comparison(metrics: dict[str, Any], path: Path, *, title: str = "") -> Path:
    """Bar chart of test MCC: fine-tuned vs pre-trained probe vs k-mer baseline.

    Example:
        >>> plot_comparison(Run("runs/tata-lora").metrics, tmp_path / "mcc.png")  # doctest: +SKIP
    """
    names, values = [], []
    for key, label in COMPARED_MODELS:
        if metrics.get(key):
            names.append(label)
            values.append(metrics[key]["test"]["mcc"])
    fig = new_figure((5, 3))
    ax = fig.subplots()
    ax.bar(names, values, color=["#3b7dd8", "#999999", "#d8a03b"][: len(names)])
    ax.set_ylabel("test MCC")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


__all__ = ["DPI", "new_figure", "plot_comparison", "plot_layer_probe", "save_figure"]
