"""The numbers behind the Space's explanations: window positions, in-silico mutagenesis, a 2-D PCA projection."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..evaluate import Windowing

BASES = "ACGT"


def window_starts(length: int, window_bp: int, stride_bp: int) -> list[int]:
    """Start positions of the windows `hubtune.evaluate.Windowing.windows` cuts from a sequence of `length` bp.

    Example:
        >>> window_starts(23, 10, 4)
        [0, 4, 8, 12, 13]
    """
    return Windowing(window_bp, stride_bp).starts(length)


def window_count(length: int, window_bp: int, stride_bp: int) -> int:
    """How many windows `window_starts` cuts from a sequence of `length` bp, computed without listing them.

    Example:
        >>> window_count(23, 10, 4), window_count(5, 10, 5), window_count(200_000, 2, 1)
        (5, 1, 199999)
    """
    if length <= window_bp:
        return 1
    regular = (length - window_bp) // stride_bp + 1
    return regular + (1 if (regular - 1) * stride_bp + window_bp < length else 0)


def ism_model_inputs(length: int, window_bp: int, stride_bp: int) -> int:
    """Model inputs an in-silico mutagenesis scan of `length` bp scores: each window, and 3 variants per base of it.

    Example:
        >>> ism_model_inputs(4, 10, 5), ism_model_inputs(1_000, 500, 250)
        (13, 4503)
    """
    starts = window_starts(length, window_bp, stride_bp)
    return len(starts) + 3 * sum(min(window_bp, length - s) for s in starts)


def ism_scan(sequence: str, window_bp: int, stride_bp: int, window_scores: Callable[[list[str]], np.ndarray], *,
             target: int | None = None, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray, int]:
    """Every single-base substitution of `sequence`, scored as the change of one output of the windowed model:
    P(target class), P(target label) or the target's predicted value.

    The model's answer for a long sequence is the mean of its outputs over its windows, and a substitution only
    changes the windows that contain it, so only those are re-scored: about 3 x length x (window/stride) model inputs
    instead of 3 x length whole sequences, with exactly the same result.

    Args:
        window_scores: the model's outputs (probabilities or values) for a list of strings of at most `window_bp`
            bases, shape (n, outputs).
        target: output index; default: the largest output of the unmutated sequence (the predicted class).
        chunk: variants scored per call (bounds memory).

    Returns:
        (delta (length, 4) in BASES order, reference outputs (outputs,), target).

    Example:
        >>> gc = lambda seqs: np.array([[1 - s.count("G") / 4, s.count("G") / 4] for s in seqs])
        >>> delta, reference, target = ism_scan("ACGT", 10, 5, gc)
        >>> float(delta[0, BASES.index("G")]), target
        (-0.25, 0)
    """
    starts = window_starts(len(sequence), window_bp, stride_bp)
    windows = [sequence[s : s + window_bp] for s in starts]
    ref_w = np.asarray(window_scores(windows), dtype=np.float64)
    reference = ref_w.mean(axis=0)
    t = int(reference.argmax()) if target is None else int(target)
    variants: list[str] = []
    where: list[tuple[int, int, int]] = []
    for wi, (start, window) in enumerate(zip(starts, windows, strict=True)):
        for offset, ref_base in enumerate(window):
            for bi, base in enumerate(BASES):
                if base != ref_base:
                    variants.append(window[:offset] + base + window[offset + 1 :])
                    where.append((wi, start + offset, bi))
    scores = np.empty(len(variants), dtype=np.float64)
    for lo in range(0, len(variants), chunk):
        scores[lo : lo + chunk] = np.asarray(window_scores(variants[lo : lo + chunk]), dtype=np.float64)[:, t]
    delta = np.zeros((len(sequence), len(BASES)), dtype=np.float64)
    if where:
        idx = np.asarray(where)
        np.add.at(delta, (idx[:, 1], idx[:, 2]), (scores - ref_w[idx[:, 0], t]) / len(starts))
    return delta, reference, t


def ism_importance(sequence: str, delta: np.ndarray) -> np.ndarray:
    """Per position: mean drop of the explained output over the possible substitutions (positive = the base
    matters).

    Example:
        >>> ism_importance("A", np.array([[0.0, -0.3, -0.3, 0.0]])).round(2).tolist()
        [0.2]
    """
    mask = np.ones_like(delta, dtype=bool)
    for pos, base in enumerate(sequence):
        if base in BASES:
            mask[pos, BASES.index(base)] = False
    return -(delta * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)


def pca_2d(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First two principal components (n, 2) and their share of the variance (scikit-learn `PCA`, exact SVD).

    Signs are deterministic: the largest loading of each component is positive. Fewer than two samples, or no
    variance at all, give zeros.

    Example:
        >>> coords, explained = pca_2d(np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.1]]))
        >>> coords.shape, bool(explained[0] > 0.99)
        ((3, 2), True)
    """
    from sklearn.decomposition import PCA

    x = np.asarray(features, dtype=np.float64)
    n = x.shape[0]
    coords = np.zeros((n, 2))
    explained = np.zeros(2)
    k = min(2, n, x.shape[1] if x.ndim == 2 else 0)
    if n < 2 or k < 1 or not np.any(x != x[0]):
        return coords, explained
    pca = PCA(n_components=k, svd_solver="full")
    projected = pca.fit_transform(x)
    components = pca.components_
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    signs[signs == 0] = 1
    coords[:, :k] = projected * signs
    explained[:k] = np.nan_to_num(pca.explained_variance_ratio_)
    return coords, explained


__all__ = ["BASES", "ism_importance", "ism_model_inputs", "ism_scan", "pca_2d", "window_count", "window_starts"]
