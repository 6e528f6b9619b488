"""Plots people would rather look at than read (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_layer_probe(rows: list[dict[str, Any]], path: Path, *, title: str = "") -> Path:
    """MCC of a logistic-regression probe on each layer's mean embedding (as in the Nucleotide Transformer paper)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    layers = [r["layer"] for r in rows]
    for split, style in (("dev", "o--"), ("test", "o-")):
        ax.plot(layers, [r[f"{split}_mcc"] for r in rows], style, label=split)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("MCC")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_title(title or "layer probing", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_comparison(metrics: dict[str, Any], path: Path, *, title: str = "") -> Path:
    """Bar chart of test MCC: fine-tuned vs pre-trained probe vs k-mer baseline."""
    plt = _pyplot()
    names, values = [], []
    for key, label in (("finetuned", "fine-tuned"), ("probe", "pre-trained probe"), ("kmer", "k-mer baseline")):
        if metrics.get(key):
            names.append(label)
            values.append(metrics[key]["test"]["mcc"])
    fig, ax = plt.subplots(figsize=(5, 3), dpi=120)
    ax.bar(names, values, color=["#3b7dd8", "#999999", "#d8a03b"][: len(names)])
    ax.set_ylabel("test MCC")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
