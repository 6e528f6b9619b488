"""Masked-LM scoring with fixed masks: the same positions for every model compared (before, during and after
pre-training; pre-trained vs fine-tuned backbone in the forgetting check).

Window i gets its masked positions from a generator seeded with ``(seed, i)``: `mlm_probability` of its non-special
tokens (at least one), every one replaced by the mask token, so two models are compared on exactly the same
predictions. Tokens are whatever the family's tokenizer makes (NT's 6-mers, DNABERT-2's BPE pieces): one token is
masked whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FixedMasks", "MaskedScore", "fixed_masks", "score_masked"]


@dataclass(frozen=True)
class FixedMasks:
    """Masked inputs and their targets (-100 where nothing is predicted)."""

    inputs: list[list[int]]
    targets: list[list[int]]

    @property
    def n_masked(self) -> int:
        return sum(1 for row in self.targets for t in row if t != -100)


@dataclass(frozen=True)
class MaskedScore:
    """Mean cross-entropy (nats per masked token) and top-1 accuracy over the masked tokens."""

    loss: float
    accuracy: float
    n_masked: int

    def to_dict(self) -> dict[str, float | int]:
        return {"loss": self.loss, "accuracy": self.accuracy, "n_masked": self.n_masked}


def fixed_masks(tokenizer: Any, windows: list[str], *, max_length: int, mlm_probability: float,
                seed: int) -> FixedMasks:
    """Tokenize `windows` and mask each one at positions fixed by `(seed, window index)`.

    Example:
        >>> masks = fixed_masks(load_tokenizer("tiny-nt"), ["ACGTAC" * 10], max_length=16, mlm_probability=0.15,
        ...                     seed=0)  # doctest: +SKIP
        >>> masks.n_masked  # doctest: +SKIP
        2
    """
    special = set(tokenizer.all_special_ids)
    encoded = tokenizer(list(windows), truncation=True, max_length=max_length)["input_ids"]
    inputs, targets = [], []
    for index, ids in enumerate(encoded):
        candidates = [pos for pos, token in enumerate(ids) if token not in special]
        if not candidates:
            continue
        rng = np.random.default_rng([seed, index])
        chosen = rng.choice(candidates, size=max(1, round(mlm_probability * len(candidates))), replace=False)
        masked, labels = list(ids), [-100] * len(ids)
        for pos in chosen:
            labels[pos] = ids[pos]
            masked[pos] = tokenizer.mask_token_id
        inputs.append(masked)
        targets.append(labels)
    return FixedMasks(inputs, targets)


def score_masked(model: Any, masks: FixedMasks, *, pad_token_id: int, batch_size: int = 32) -> MaskedScore:
    """Mean cross-entropy and accuracy of `model` (a masked-LM) on `masks`, without gradients; the model's
    train/eval mode is restored afterwards.

    Example:
        >>> score_masked(model, masks, pad_token_id=tokenizer.pad_token_id).loss  # doctest: +SKIP
        8.31
    """
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, correct, count = 0.0, 0, 0
    order = sorted(range(len(masks.inputs)), key=lambda i: len(masks.inputs[i]))
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                longest = max(len(masks.inputs[i]) for i in rows)
                ids = torch.full((len(rows), longest), pad_token_id, dtype=torch.long)
                attention = torch.zeros((len(rows), longest), dtype=torch.long)
                labels = torch.full((len(rows), longest), -100, dtype=torch.long)
                for row, i in enumerate(rows):
                    n = len(masks.inputs[i])
                    ids[row, :n] = torch.tensor(masks.inputs[i])
                    attention[row, :n] = 1
                    labels[row, :n] = torch.tensor(masks.targets[i])
                logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
                labels = labels.to(device)
                where = labels != -100
                picked = logits[where].float()
                total += float(torch.nn.functional.cross_entropy(picked, labels[where], reduction="sum"))
                correct += int((picked.argmax(-1) == labels[where]).sum())
                count += int(where.sum())
    finally:
        model.train(was_training)
    if not count:
        raise ValueError("no masked tokens to score")
    return MaskedScore(total / count, correct / count, count)
