"""Metrics, the two baselines (pre-trained probe, k-mer) and batched / sliding-window inference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------------------


def compute_metrics(
    labels: Sequence[int] | np.ndarray, probs: np.ndarray, label_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """MCC (the GUE headline metric), macro-F1, accuracy, macro precision/recall, AUROC, per-class table, confusion matrix.

    Args:
        labels: true label ids, shape (n,).
        probs: class probabilities, shape (n, n_classes).
        label_names: class names (index = label id).
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        matthews_corrcoef,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    y = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    n_classes = probs.shape[1]
    names = list(label_names) if label_names is not None else [str(i) for i in range(n_classes)]
    pred = probs.argmax(axis=1)
    classes = list(range(n_classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=classes, average=None, zero_division=0
    )
    auroc: float | None
    try:
        if n_classes == 2:
            auroc = float(roc_auc_score(y, probs[:, 1]))
        else:
            auroc = float(roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=classes))
    except ValueError:  # a class absent from y: AUROC is undefined
        auroc = None
    return {
        "n": int(len(y)),
        "mcc": float(matthews_corrcoef(y, pred)),
        "f1_macro": float(f1_score(y, pred, labels=classes, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y, pred)),
        "precision_macro": float(np.mean(precision)),
        "recall_macro": float(np.mean(recall)),
        "auroc": auroc,
        "per_class": [
            {"label": names[c], "precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]),
             "support": int(support[c])}
            for c in classes
        ],
        "confusion_matrix": confusion_matrix(y, pred, labels=classes).tolist(),
    }


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


# ---------------------------------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Windowing:
    """How a long sequence is cut into model-sized windows (in base pairs)."""

    window_bp: int
    stride_bp: int

    def windows(self, sequence: str) -> list[str]:
        if len(sequence) <= self.window_bp:
            return [sequence]
        starts = list(range(0, len(sequence) - self.window_bp + 1, self.stride_bp))
        if starts[-1] + self.window_bp < len(sequence):
            starts.append(len(sequence) - self.window_bp)  # cover the tail
        return [sequence[s : s + self.window_bp] for s in starts]


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
    model, tokenizer, sequences: Sequence[str], *, max_length: int, batch_size: int = 32, progress: bool = False
) -> np.ndarray:
    """Logits of a sequence-classification model for each sequence (truncated to `max_length` tokens)."""
    import torch

    from .progress import progress_bar

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
    model, tokenizer, sequences: Sequence[str], *, max_length: int, windowing: Windowing, batch_size: int = 32,
    progress: bool = False,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Class probabilities per sequence, averaging windows for sequences longer than one model window.

    Returns the per-sequence probabilities and, for each sequence, its per-window probabilities (a score track).
    """
    pieces: list[str] = []
    owner: list[int] = []
    for i, seq in enumerate(sequences):
        for window in windowing.windows(seq):
            pieces.append(window)
            owner.append(i)
    probs = softmax(predict_logits(model, tokenizer, pieces, max_length=max_length, batch_size=batch_size,
                                   progress=progress))
    tracks: list[list[np.ndarray]] = [[] for _ in sequences]
    for row, i in zip(probs, owner, strict=True):
        tracks[i].append(row)
    per_window = [np.stack(t) for t in tracks]
    return np.stack([t.mean(axis=0) for t in per_window]), per_window


def extract_embeddings(
    model, tokenizer, sequences: Sequence[str], *, max_length: int, batch_size: int = 32, all_layers: bool = False,
    progress: bool = False,
) -> np.ndarray:
    """Mean-pooled (over real tokens) hidden states of a frozen encoder.

    Returns shape (n, hidden) for the last layer, or (n_layers + 1, n, hidden) with `all_layers=True`
    (index 0 = embeddings output, as in `output_hidden_states`).
    """
    import torch

    from .progress import progress_bar

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


@dataclass
class LinearHead:
    """A logistic-regression probe folded into one linear layer: logits = x @ weight.T + bias."""

    weight: np.ndarray  # (n_classes, hidden)
    bias: np.ndarray  # (n_classes,)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weight.T + self.bias

    def probs(self, features: np.ndarray) -> np.ndarray:
        return softmax(self.logits(features))

    def to_tensors(self) -> dict[str, Any]:
        import torch

        return {"weight": torch.from_numpy(self.weight.astype(np.float32)),
                "bias": torch.from_numpy(self.bias.astype(np.float32))}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Any]) -> LinearHead:
        return cls(np.asarray(tensors["weight"], dtype=np.float64), np.asarray(tensors["bias"], dtype=np.float64))


def fit_logistic_head(features: np.ndarray, labels: Sequence[int], n_classes: int, *, c: float = 1.0,
                      seed: int = 0) -> LinearHead:
    """Fit standardised logistic regression and fold the scaler into a single linear head (deterministic)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(features)
    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    clf.fit(scaler.transform(features), np.asarray(labels))
    coef = np.zeros((n_classes, features.shape[1]))
    intercept = np.zeros(n_classes)
    if len(clf.classes_) == 2 and coef.shape[0] >= 2:
        # Binary sklearn models keep one row; [0, w] gives the same softmax as the sigmoid.
        coef[clf.classes_[1]] = clf.coef_[0]
        intercept[clf.classes_[1]] = clf.intercept_[0]
    else:
        for row, cls in enumerate(clf.classes_):
            coef[cls] = clf.coef_[row]
            intercept[cls] = clf.intercept_[row]
        for missing in set(range(n_classes)) - set(clf.classes_.tolist()):
            intercept[missing] = -1e4  # a class never seen in training is never predicted
    weight = coef / scaler.scale_
    bias = intercept - weight @ scaler.mean_
    return LinearHead(weight, bias)


C_GRID = (0.001, 0.01, 0.1, 1.0)


def fit_logistic_head_tuned(
    train_x: np.ndarray, train_y: Sequence[int], dev_x: np.ndarray, dev_y: Sequence[int], n_classes: int, *,
    grid: Sequence[float] = C_GRID, seed: int = 0,
) -> tuple[LinearHead, float]:
    """Logistic regression with its regularisation C chosen on dev MCC (ties go to the stronger regularisation)."""
    best: tuple[float, float, LinearHead] | None = None
    for c in grid:
        head = fit_logistic_head(train_x, train_y, n_classes, c=c, seed=seed)
        mcc = compute_metrics(dev_y, head.probs(dev_x))["mcc"]
        if best is None or mcc > best[0] + 1e-12:
            best = (mcc, c, head)
    assert best is not None
    return best[2], best[1]


def kmer_features(sequences: Sequence[str], k_values: Sequence[int] = (2, 3, 4)) -> np.ndarray:
    """k-mer frequency vectors (each k normalised separately) over A/C/G/T; k-mers with N are skipped."""
    from itertools import product

    blocks = []
    for k in k_values:
        index = {"".join(p): i for i, p in enumerate(product("ACGT", repeat=k))}
        counts = np.zeros((len(sequences), len(index)), dtype=np.float32)
        for row, seq in enumerate(sequences):
            for pos in range(len(seq) - k + 1):
                col = index.get(seq[pos : pos + k])
                if col is not None:
                    counts[row, col] += 1
        totals = counts.sum(axis=1, keepdims=True)
        blocks.append(counts / np.maximum(totals, 1))
    return np.concatenate(blocks, axis=1)


def kmer_baseline(train_seqs, train_labels, eval_sets: dict[str, tuple[Sequence[str], Sequence[int]]], n_classes: int,
                  label_names: Sequence[str], *, seed: int = 0) -> dict[str, dict[str, Any]]:
    """k-mer counts + logistic regression (C tuned on dev): what a model with no deep learning reaches on the same splits."""
    dev_seqs, dev_labels = eval_sets["dev"]
    head, c = fit_logistic_head_tuned(kmer_features(train_seqs), train_labels, kmer_features(dev_seqs), dev_labels,
                                      n_classes, seed=seed)
    return {
        split: compute_metrics(labels, head.probs(kmer_features(seqs)), label_names)
        for split, (seqs, labels) in eval_sets.items()
    }


