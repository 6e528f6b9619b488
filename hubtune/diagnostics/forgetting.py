"""Catastrophic forgetting: masked-LM loss of the fine-tuned backbone over that of the pre-trained one.

The run's model is loaded by the one loader (`hubtune.run.load_run_model`, an adapter merged into its base); its
backbone weights are copied into the pre-trained masked-LM model, so both losses come from the same masked-LM head,
on the task's test sequences and on shuffled copies of them, with the same deterministic masks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import HubtuneError
from ..evaluate import INFERENCE_BATCH_SIZE
from ..methods import get_method
from ..models import load_base_model, resolve_model
from ..run import Run, load_run_model
from .base import NotMeasured, Verdict, load_run_task, trains_backbone

FORGET_WARN = 1.05  # masked-LM loss ratio fine-tuned / pre-trained
FORGET_FLAG = 1.25
MASK_FRACTION = 0.15
NAME = "catastrophic forgetting"


def shuffled_controls(sequences: Sequence[str], seed: int = 0) -> list[str]:
    """Each sequence with its bases randomly permuted (same composition, no order): a control for held-out DNA.

    Example:
        >>> sorted(shuffled_controls(["AACGT"])[0]) == sorted("AACGT")
        True
    """
    rng = np.random.default_rng(seed)
    return ["".join(rng.permutation(list(seq))) for seq in sequences]


def _masked_inputs(tokenizer: Any, sequences: Sequence[str], max_length: int, mask_fraction: float,
                   seed: int) -> tuple[list[list[int]], list[list[int]]]:
    special = set(tokenizer.all_special_ids)
    encoded = tokenizer(list(sequences), truncation=True, max_length=max_length)["input_ids"]
    inputs, targets = [], []
    for index, ids in enumerate(encoded):
        candidates = [pos for pos, token in enumerate(ids) if token not in special]
        if not candidates:
            continue
        rng = np.random.default_rng([seed, index])
        chosen = rng.choice(candidates, size=max(1, round(mask_fraction * len(candidates))), replace=False)
        masked, labels = list(ids), [-100] * len(ids)
        for pos in chosen:
            labels[pos] = ids[pos]
            masked[pos] = tokenizer.mask_token_id
        inputs.append(masked)
        targets.append(labels)
    return inputs, targets


def masked_lm_loss(
    model: Any, tokenizer: Any, sequences: Sequence[str], *, max_length: int, mask_fraction: float = MASK_FRACTION,
    seed: int = 0, batch_size: int = INFERENCE_BATCH_SIZE,
) -> float:
    """Mean cross-entropy over masked tokens, with deterministic masks (sequence i always gets the same positions).

    `mask_fraction` of each sequence's non-special tokens (at least one) are replaced by the mask token.

    Example:
        >>> mlm = hubtune.load_base_model("tiny-nt", task="mlm")  # doctest: +SKIP
        >>> masked_lm_loss(mlm, hubtune.load_tokenizer("tiny-nt"), ["ACGTACGTAA"], max_length=16)  # doctest: +SKIP
        1.38
    """
    import torch

    if tokenizer.mask_token_id is None:
        raise ValueError("the tokenizer has no mask token")
    inputs, targets = _masked_inputs(tokenizer, sequences, max_length, mask_fraction, seed)
    if not inputs:
        raise ValueError("no maskable tokens in the sequences")
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    total, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))  # less padding
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            longest = max(len(inputs[i]) for i in rows)
            ids = torch.full((len(rows), longest), pad, dtype=torch.long)
            attention = torch.zeros((len(rows), longest), dtype=torch.long)
            labels = torch.full((len(rows), longest), -100, dtype=torch.long)
            for row, i in enumerate(rows):
                n = len(inputs[i])
                ids[row, :n] = torch.tensor(inputs[i])
                attention[row, :n] = 1
                labels[row, :n] = torch.tensor(targets[i])
            logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
            labels = labels.to(device)
            where = labels != -100
            total += float(torch.nn.functional.cross_entropy(logits[where].float(), labels[where], reduction="sum"))
            count += int(where.sum())
    return total / count


def _load_mlm(run: Run) -> Any:
    """The base model with its masked-LM head; NotMeasured when it has none."""
    base = run.info.base_model
    try:
        resolved = resolve_model(base, revision=run.info.base_model_revision)
    except HubtuneError as exc:
        raise NotMeasured(f"the base model {base} cannot be loaded: {exc}") from None
    try:
        if resolved.family.load_native() is not None:
            # Native loaders are strict: a checkpoint without MLM head weights raises ModelError.
            return load_base_model(base, task="mlm", resolved=resolved)
        model, loading = load_base_model(base, task="mlm", resolved=resolved, output_loading_info=True)
    except (HubtuneError, OSError, ValueError, KeyError, TypeError) as exc:
        raise NotMeasured(f"{base} has no usable masked-LM head ({type(exc).__name__}: {exc})") from None
    prefix = getattr(model, "base_model_prefix", "") + "."
    missing_head = [k for k in loading.get("missing_keys", []) if not k.startswith(prefix)]
    if missing_head:
        raise NotMeasured(
            f"{base} has no masked-LM head weights (missing: {', '.join(sorted(missing_head)[:3])}); "
            "without them the masked-LM loss means nothing"
        )
    return model


def _fine_tuned_backbone(run: Run, prefix: str) -> tuple[dict[str, Any], Any]:
    """The backbone tensors (names starting with `prefix`) of the run's model, and its tokenizer."""
    loaded = load_run_model(run.path, info=run.info, device="cpu")  # full precision: the ratio must be exact at lr 0
    model = loaded.model
    if hasattr(model, "merge_and_unload"):  # an adapter: fold its low-rank updates into the base weights
        model = model.merge_and_unload()
    return {k: v.detach() for k, v in model.state_dict().items() if k.startswith(prefix)}, loaded.tokenizer


def _copy_backbone(tuned: dict[str, Any], mlm: Any, prefix: str) -> float:
    """Copy the fine-tuned backbone into the masked-LM model in place; returns the relative change of the weights."""
    import torch

    current = mlm.state_dict()
    backbone = [k for k in current if k.startswith(prefix)]
    missing = [k for k in backbone if k not in tuned]
    if not backbone or missing:
        raise NotMeasured(
            f"the fine-tuned model's backbone does not match the masked-LM model ({len(missing)} of {len(backbone)} "
            f"backbone tensors missing, e.g. {missing[:1]})"
        )
    diff_sq = base_sq = 0.0
    for key in backbone:
        if current[key].is_floating_point():
            before = current[key].detach().float().cpu()
            diff_sq += float((tuned[key].float().cpu() - before).pow(2).sum())
            base_sq += float(before.pow(2).sum())
    with torch.no_grad():
        mlm.load_state_dict({k: tuned[k] for k in backbone}, strict=False)  # copies onto the MLM model's device
    return math.sqrt(diff_sq / base_sq) if base_sq > 0 else 0.0


def check_forgetting(run: Run, *, max_sequences: int = 256, seed: int = 0, batch_size: int = INFERENCE_BATCH_SIZE) -> Verdict:
    """Masked-LM loss of the fine-tuned backbone / the pre-trained one, on test sequences and shuffled controls.

    Example:
        >>> check_forgetting(Run("runs/tata-full"), max_sequences=64).details["ratio"]  # doctest: +SKIP
        1.02
    """
    import torch

    details: dict[str, Any] = {"mask_fraction": MASK_FRACTION, "seed": seed,
                               "thresholds": {"warning": FORGET_WARN, "flag": FORGET_FLAG}}
    if not trains_backbone(run):
        details.update(ratio=1.0, ratio_shuffled=1.0)
        return Verdict(NAME, "ok", f"frozen backbone ({run.method}): masked-LM loss ratio 1.000 by construction",
                       details)
    try:
        sequences = load_run_task(run).splits["test"].sequences[:max_sequences]
        sets = {"test": list(sequences), "shuffled": shuffled_controls(sequences, seed=seed)}
        mlm = _load_mlm(run)
        if torch.cuda.is_available():
            mlm = mlm.to("cuda")
        prefix = getattr(mlm, "base_model_prefix", "") + "."
        tuned, tokenizer = _fine_tuned_backbone(run, prefix)

        def losses() -> dict[str, float]:
            return {k: masked_lm_loss(mlm, tokenizer, v, max_length=run.info.max_length, seed=seed,
                                      batch_size=batch_size) for k, v in sets.items()}

        before = losses()
        details["relative_weight_change"] = _copy_backbone(tuned, mlm, prefix)
        after = losses()
    except NotMeasured as exc:
        return Verdict(NAME, "not measured", str(exc), details)
    except (HubtuneError, OSError, ValueError, KeyError, RuntimeError) as exc:
        return Verdict(NAME, "not measured", f"{type(exc).__name__}: {exc}", details)
    method = get_method(run.method)
    details["compared"] = ("pre-trained backbone vs the run's fine-tuned backbone, same masked-LM head"
                           if method.standalone else
                           f"pre-trained backbone vs the backbone with the run's {method.title} merged in, same "
                           "masked-LM head")
    ratio = after["test"] / before["test"]
    ratio_shuffled = after["shuffled"] / before["shuffled"]
    details.update(n_sequences=len(sequences), loss_pretrained=before["test"], loss_finetuned=after["test"],
                   loss_pretrained_shuffled=before["shuffled"], loss_finetuned_shuffled=after["shuffled"],
                   ratio=ratio, ratio_shuffled=ratio_shuffled)
    status = "flagged" if ratio >= FORGET_FLAG else "warning" if ratio >= FORGET_WARN else "ok"
    summary = (f"masked-LM loss on {len(sequences)} test sequences {before['test']:.3f} -> {after['test']:.3f} "
               f"(ratio {ratio:.3f}); on shuffled controls {before['shuffled']:.3f} -> {after['shuffled']:.3f} "
               f"(ratio {ratio_shuffled:.3f}); backbone weights changed by {details['relative_weight_change']:.3g} "
               "(relative L2 norm)")
    if status != "ok":
        summary += "; the backbone lost some of its pre-trained DNA model: prefer LoRA or a lower learning rate"
    return Verdict(NAME, status, summary, details)


__all__ = ["FORGET_FLAG", "FORGET_WARN", "MASK_FRACTION", "check_forgetting", "masked_lm_loss", "shuffled_controls"]
