"""Batched and sliding-window inference, mean-pooled embeddings, and the k-mer baseline.

Metrics live in `hubtune.metrics`, linear probe heads in `hubtune.heads`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import as_model_input
from .heads import fit_head_tuned, selection_score
from .metrics import compute_metrics as compute_metrics  # re-exported: callers import it from here
from .problems import Problem, get_problem
from .progress import progress_bar

INFERENCE_BATCH_SIZE = 32  # sequences per forward pass when predicting or embedding (no gradients)

# ---------------------------------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Windowing:
    """How a long sequence is cut into model-sized windows (in base pairs)."""

    window_bp: int
    stride_bp: int

    def starts(self, length: int) -> list[int]:
        """Start positions of the windows cut from a sequence of `length` bp (the last one covers the tail).

        Example:
            >>> Windowing(10, 4).starts(23)
            [0, 4, 8, 12, 13]
        """
        if length <= self.window_bp:
            return [0]
        starts = list(range(0, length - self.window_bp + 1, self.stride_bp))
        if starts[-1] + self.window_bp < length:
            starts.append(length - self.window_bp)
        return starts

    def windows(self, sequence: str) -> list[str]:
        """The windows of `sequence`: the whole sequence when it fits in one."""
        return [sequence[s : s + self.window_bp] for s in self.starts(len(sequence))]


def _device_of(model) -> Any:
    try:
        return next(model.parameters()).device
    except StopIteration:
        import torch

        return torch.device("cpu")


def _batches(items: Sequence[Any], batch_size: int):
    # Sorting by length keeps padding small; callers get results back in input order.
    order = sorted(range(len(items)), key=lambda i: len(items[i]))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def predict_logits(
    model, tokenizer, sequences: Sequence[str], *, max_length: int, batch_size: int = INFERENCE_BATCH_SIZE, progress: bool = False
) -> np.ndarray:
    """Logits of a sequence-classification model for each sequence (truncated to `max_length` tokens).

    Sequences pass the one validator first (`hubtune.data.as_model_input`): lowercase DNA is uppercased.
    """
    import torch

    sequences = as_model_input(sequences)
    device = _device_of(model)
    was_training = model.training
    model.eval()
    out: np.ndarray | None = None
    with torch.inference_mode():
        batches = list(_batches(sequences, batch_size))
        for idx in progress_bar(batches, desc="predict", disable=not progress):
            enc = tokenizer([sequences[i] for i in idx], truncation=True, max_length=max_length, padding=True,
                            return_tensors="pt")
            enc = {k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            logits = model(**enc).logits.float().cpu().numpy()
            if out is None:
                out = np.zeros((len(sequences), logits.shape[1]), dtype=np.float32)
            out[idx] = logits
    model.train(was_training)
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def predict_windowed(
    model, tokenizer, sequences: Sequence[str], *, max_length: int, windowing: Windowing, batch_size: int = INFERENCE_BATCH_SIZE,
    progress: bool = False, problem: str | Problem = "single_label",
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The model's outputs per sequence (`problem.outputs`: class probabilities, per-label probabilities or values),
    averaging windows for sequences longer than one model window.

    Returns the per-sequence outputs and, for each sequence, its per-window outputs (a score track).
    """
    pieces, owner = cut_windows(sequences, windowing)
    outputs = get_problem(problem).outputs(predict_logits(model, tokenizer, pieces, max_length=max_length,
                                                          batch_size=batch_size, progress=progress))
    return average_windows(outputs, owner, len(sequences))


def cut_windows(sequences: Sequence[str], windowing: Windowing) -> tuple[list[str], list[int]]:
    """Every window of every sequence, and the index of the sequence each window comes from.

    Example:
        >>> cut_windows(["ACGTACGT", "AC"], Windowing(6, 2))
        (['ACGTAC', 'GTACGT', 'AC'], [0, 0, 1])
    """
    pieces: list[str] = []
    owner: list[int] = []
    for i, seq in enumerate(sequences):
        for window in windowing.windows(seq):
            pieces.append(window)
            owner.append(i)
    return pieces, owner


def average_windows(per_window: np.ndarray, owner: Sequence[int], n: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per-window outputs (rows, in `cut_windows` order) -> each sequence's mean and its per-window track.

    Example:
        >>> mean, tracks = average_windows(np.array([[1.0], [3.0], [5.0]]), [0, 0, 1], 2)
        >>> mean.tolist(), [t.shape for t in tracks]
        ([[2.0], [5.0]], [(2, 1), (1, 1)])
    """
    tracks: list[list[np.ndarray]] = [[] for _ in range(n)]
    for row, i in zip(per_window, owner, strict=True):
        tracks[i].append(row)
    stacked = [np.stack(t) for t in tracks]
    return np.stack([t.mean(axis=0) for t in stacked]), stacked


def extract_embeddings(
    model, tokenizer, sequences: Sequence[str], *, max_length: int, batch_size: int = INFERENCE_BATCH_SIZE, all_layers: bool = False,
    progress: bool = False,
) -> np.ndarray:
    """Mean-pooled (over real tokens) hidden states of a frozen encoder.

    Returns shape (n, hidden) for the last layer, or (n_layers + 1, n, hidden) with `all_layers=True`
    (index 0 = embeddings output, as in `output_hidden_states`). Sequences pass the one validator first.
    """
    import torch

    sequences = as_model_input(sequences)
    device = _device_of(model)
    was_training = model.training
    model.eval()
    result: np.ndarray | None = None
    with torch.inference_mode():
        batches = list(_batches(sequences, batch_size))
        for idx in progress_bar(batches, desc="embed", disable=not progress):
            enc = tokenizer([sequences[i] for i in idx], truncation=True, max_length=max_length, padding=True,
                            return_tensors="pt")
            enc = {k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            hidden = model(**enc, output_hidden_states=True).hidden_states
            mask = enc["attention_mask"].unsqueeze(-1).float()
            layers = hidden if all_layers else hidden[-1:]
            pooled = torch.stack([(h.float() * mask).sum(1) / mask.sum(1).clamp(min=1) for h in layers])
            pooled_np = pooled.cpu().numpy()
            if result is None:
                result = np.zeros((pooled_np.shape[0], len(sequences), pooled_np.shape[2]), dtype=np.float32)
            result[:, idx] = pooled_np
    model.train(was_training)
    assert result is not None
    return result if all_layers else result[0]


# ---------------------------------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------------------------------


KMER_SIZES = (2, 3, 4, 5, 6)  # every k the baseline may use
# Candidate feature sets, chosen on dev (with the regularisation): short k-mers suit short or low-signal data,
# longer ones motifs such as splice sites and binding sites.
KMER_CHOICES: tuple[tuple[int, ...], ...] = ((2, 3, 4), (3, 4, 5), (3, 4, 5, 6))
KMER_ALPHA_GRID = (1e-3, 1e-2, 1e-1, 1.0)  # ridge strengths for regression on k-mer frequencies (unscaled)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS reports one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def kmer_features(sequences: Sequence[str], k_values: Sequence[int] = KMER_SIZES, *, sparse: bool = False) -> Any:
    """k-mer frequency vectors over A/C/G/T (each k normalised separately); k-mers with another letter are skipped.

    Column ``i`` of a k-block is the k-mer whose bases, read as base-4 digits (A0 C1 G2 T3), make ``i`` (the order of
    ``itertools.product("ACGT", repeat=k)``). Counted with numpy over all sequences at once. `sparse=True` returns a
    scipy CSR matrix (float64), which is what the k-mer baseline fits on: a 300 bp sequence has at most 295 of the
    4,096 6-mers.

    Example:
        >>> [round(float(x), 3) for x in kmer_features(["AAAC"], k_values=(2,))[0][:2]]  # AA twice, AC once
        [0.667, 0.333]
    """
    from scipy.sparse import csr_matrix, diags, hstack

    sequences = as_model_input(sequences)
    n = len(sequences)
    # Every sequence followed by one separator (an invalid code), so no k-mer spans two sequences.
    joined = np.frombuffer("".join(seq + "|" for seq in sequences).encode("ascii"), dtype=np.uint8)
    table = np.full(256, -1, dtype=np.int64)
    table[np.frombuffer(b"ACGT", dtype=np.uint8)] = np.arange(4)
    codes = table[joined]
    owner = np.repeat(np.arange(n), [len(seq) + 1 for seq in sequences])
    blocks = []
    for k in k_values:
        windows = max(0, len(codes) - k + 1)
        index = np.zeros(windows, dtype=np.int64)
        valid = np.ones(windows, dtype=bool)
        for offset in range(k):
            digit = codes[offset:offset + windows]
            valid &= digit >= 0
            index = index * 4 + np.maximum(digit, 0)
        counts = csr_matrix((np.ones(int(valid.sum())), (owner[:windows][valid], index[valid])), shape=(n, 4**k))
        counts.sum_duplicates()
        totals = np.asarray(counts.sum(axis=1)).ravel()
        blocks.append(diags(1.0 / np.maximum(totals, 1)) @ counts)
    features = hstack(blocks, format="csr") if blocks else csr_matrix((n, 0))
    return features if sparse else features.toarray()


def kmer_baseline(train_seqs, train_labels, eval_sets: dict[str, tuple[Sequence[str], Sequence[Any]]], n_classes: int,
                  label_names: Sequence[str], *, seed: int = 0, choices: Sequence[Sequence[int]] = KMER_CHOICES,
                  problem: str | Problem = "single_label") -> dict[str, Any]:
    """k-mer frequencies + a linear model, the k-mer sizes and the regularisation chosen on dev with the problem's
    metric: what a model with no deep learning reaches on the same splits.

    The linear model follows `problem` (`hubtune.heads.fit_head_tuned`): logistic regression chosen on dev MCC,
    one-vs-rest logistic regression on dev macro AUPRC (F1 thresholds tuned on dev), or ridge regression on dev
    Spearman. `n_classes` counts the classes, labels or targets; labels are as a split holds them.

    Returns one metrics dict per split in `eval_sets`, plus ``"k"`` (the k-mer sizes chosen), ``"c"`` (the chosen C,
    or ridge alpha) and ``"regularisation"`` (``"C"`` or ``"alpha"``: what ``"c"`` holds).

    Example:
        >>> kmer_baseline(train_x, train_y, {"dev": (dev_x, dev_y), "test": (test_x, test_y)}, 2, ["a", "b"])["k"]  # doctest: +SKIP
        [3, 4, 5, 6]
    """
    task_problem = get_problem(problem)
    sizes = sorted({k for choice in choices for k in choice})
    columns, start = {}, 0
    for k in sizes:
        columns[k] = slice(start, start + 4**k)
        start += 4**k
    # Logistic regression fits sparse counts (several times faster, the same model); ridge regression, on the raw
    # frequencies whose scale shrinks rare long k-mers more than common short ones, fits them dense.
    sparse = task_problem.is_classification
    features = {"train": kmer_features(train_seqs, sizes, sparse=True).tocsc()}
    features.update({split: kmer_features(seqs, sizes, sparse=True).tocsc() for split, (seqs, _) in eval_sets.items()})

    def columns_of(split: str, choice: Sequence[int]) -> Any:
        part = features[split][:, np.concatenate([np.arange(4**k) + columns[k].start for k in choice])].tocsr()
        return part if sparse else part.toarray()

    dev_labels = eval_sets["dev"][1]
    ridge = {} if sparse else {"standardise": False, "grid": KMER_ALPHA_GRID}

    def fit(choice: Sequence[int]) -> tuple[float, Any, float]:
        dev_x = columns_of("dev", choice)
        head, c = fit_head_tuned(task_problem, columns_of("train", choice), train_labels, dev_x, dev_labels, n_classes,
                                 seed=seed, **ridge)
        return selection_score(task_problem, dev_labels, task_problem.outputs(head.logits(dev_x))), head, c

    # The choices are independent fits (sparse products release the GIL): one thread per core, each with one BLAS
    # thread, the same results in the same order as one after the other.
    from threadpoolctl import threadpool_limits

    workers = max(1, min(len(choices), usable_cores()))
    with threadpool_limits(limits=1 if workers > 1 else None), ThreadPoolExecutor(max_workers=workers) as pool:
        fitted = list(pool.map(fit, choices))
    best: tuple[float, Any, tuple[int, ...], float] | None = None
    for choice, (score, head, c) in zip(choices, fitted, strict=True):
        if best is None or score > best[0] + 1e-12:
            best = (score, head, tuple(choice), c)
    assert best is not None
    _, head, chosen, c = best
    result: dict[str, Any] = task_problem.score_splits(
        {split: (labels, task_problem.outputs(head.logits(columns_of(split, chosen))))
         for split, (_, labels) in eval_sets.items()}, label_names)
    result.update({"k": list(chosen), "c": c, "regularisation": "C" if task_problem.is_classification else "alpha"})
    return result


