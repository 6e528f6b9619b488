"""Catastrophic forgetting: how much of what pre-training gained the fine-tuned backbone lost, in masked-LM loss.

Three masked-LM losses on the task's test sequences, with the same deterministic masks, in nats per masked token:

- reference: a unigram model of token frequencies counted on the task's training sequences (data that is never
  scored), add-half smoothed over the tokenizer's DNA tokens and never worse than a uniform guess over them: what
  knowing only token frequencies gives;
- pre-trained: the base model with its masked-LM head;
- fine-tuned: the run's backbone (an adapter merged into its base, by the one loader `hubtune.run.load_run_model`)
  copied into that same masked-LM model, so both losses come from the same head.

Pre-training gained `reference - pre-trained`; the fine-tuned backbone lost `(fine-tuned - pre-trained) / gain` of it.
When the base has no masked-LM head weights, or its loss is not clearly below the reference (an untrained head, as in
the random-weight tiny stand-ins), there is no gain to lose and the check says "not measurable". The probe method
leaves the backbone as it is: its loss is measured like every other method's (the ratio comes out at 1.0).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..embedding_cache import cache_key, cached_value, weights_fingerprint
from ..errors import HubtuneError
from ..evaluate import INFERENCE_BATCH_SIZE
from ..masked_lm import fixed_masks, score_masked
from ..methods import get_method
from ..models import load_base_model, resolve_model
from ..run import Run, load_run_model, load_run_tokenizer
from .base import NOT_MEASURABLE, NotMeasured, Verdict, load_run_task
from .causes import lighter_options

FORGET_WARN = 0.10  # share of the pre-training gain (reference loss - pre-trained loss) lost by fine-tuning
FORGET_FLAG = 0.33
MIN_GAIN = 0.05  # nats per masked token: a base this close to the reference (or worse) has no trained masked-LM head
MASK_FRACTION = 0.15
NAME = "catastrophic forgetting"
REFERENCE = "unigram model of the training sequences' tokens (add-half smoothed)"
SMOOTHING = 0.5  # pseudo-count of every DNA token in the reference (Krichevsky-Trofimov)
MAX_REFERENCE_SEQUENCES = 20_000  # the reference counts tokens of at most this many training sequences


def shuffled_controls(sequences: Sequence[str], seed: int = 0) -> list[str]:
    """Each sequence with its bases randomly permuted (same composition, no order): a control for held-out DNA.

    Example:
        >>> sorted(shuffled_controls(["AACGT"])[0]) == sorted("AACGT")
        True
    """
    rng = np.random.default_rng(seed)
    return ["".join(rng.permutation(list(seq))) for seq in sequences]


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
    if tokenizer.mask_token_id is None:
        raise ValueError("the tokenizer has no mask token")
    masks = fixed_masks(tokenizer, list(sequences), max_length=max_length, mlm_probability=mask_fraction, seed=seed)
    if not masks.inputs:
        raise ValueError("no maskable tokens in the sequences")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return score_masked(model, masks, pad_token_id=pad, batch_size=batch_size).loss


def _load_mlm(run: Run) -> tuple[Any, Any]:
    """The base model with its masked-LM head, and the resolved base; NotMeasured when it has none."""
    base = run.info.base_model
    try:
        resolved = resolve_model(base, revision=run.info.base_model_revision)
    except HubtuneError as exc:
        raise NotMeasured(f"the base model {base} cannot be loaded: {exc}") from None
    try:
        if resolved.family.load_native() is not None:
            # Native loaders are strict: a checkpoint without MLM head weights raises ModelError.
            return load_base_model(base, task="mlm", resolved=resolved), resolved
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
    return model, resolved


def _fine_tuned_backbone(run: Run, prefix: str) -> dict[str, Any]:
    """The backbone tensors (names starting with `prefix`) of the run's model, as the one loader builds it."""
    loaded = load_run_model(run.path, info=run.info, device="cpu")  # full precision: the ratio must be exact at lr 0
    model = loaded.model
    if hasattr(model, "merge_and_unload"):  # an adapter: fold its low-rank updates into the base weights
        model = model.merge_and_unload()
    return {k: v.detach() for k, v in model.state_dict().items() if k.startswith(prefix)}


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


def unigram_reference_loss(tokenizer: Any, sequences: Sequence[str], *, counted_on: Sequence[str], max_length: int,
                           mask_fraction: float = MASK_FRACTION, seed: int = 0) -> float:
    """Cross-entropy (nats per masked token) of a unigram model at exactly the positions `masked_lm_loss` masks in
    `sequences`: the loss of a model that knows token frequencies and nothing else.

    The frequencies are counted on `counted_on` (sequences that are not scored, e.g. the task's training split), with
    `SMOOTHING` added to every DNA token of the vocabulary (all non-special tokens), so a token never seen there
    still has a probability. The result is never above the uniform guess over those tokens (ln of their number):
    a masked-LM head that does not beat a uniform guess has learnt nothing to lose.

    Raises:
        ValueError: no maskable token in `sequences`.

    Example:
        >>> tokenizer = hubtune.load_tokenizer("tiny-nt")  # doctest: +SKIP
        >>> unigram_reference_loss(tokenizer, ["ACGTAC" * 4], counted_on=["ACGTAC" * 400], max_length=16)  # doctest: +SKIP
        0.0099
    """
    special = set(tokenizer.all_special_ids)
    vocabulary = sum(1 for token_id in tokenizer.get_vocab().values() if token_id not in special)
    encoded = tokenizer(list(counted_on), truncation=True, max_length=max_length)["input_ids"] if counted_on else []
    counts = Counter(token for ids in encoded for token in ids if token not in special)
    total = sum(counts.values()) + SMOOTHING * vocabulary
    targets = fixed_masks(tokenizer, list(sequences), max_length=max_length, mlm_probability=mask_fraction,
                          seed=seed).targets
    masked = [token for labels in targets for token in labels if token != -100]
    if not masked:
        raise ValueError("no maskable tokens in the sequences")
    unigram = float(-np.mean([math.log((counts[token] + SMOOTHING) / total) for token in masked]))
    return min(unigram, math.log(vocabulary))


def forgotten_fraction(reference: float, pretrained: float, finetuned: float) -> float | None:
    """The share of what pre-training gained over the reference that fine-tuning lost; None when there was no gain
    worth the name (under `MIN_GAIN`). Negative when fine-tuning lowered the masked-LM loss further.

    Example:
        >>> round(forgotten_fraction(3.0, 2.0, 2.4), 3)
        0.4
        >>> forgotten_fraction(3.0, 3.01, 3.5) is None
        True
    """
    gain = reference - pretrained
    if gain < MIN_GAIN:
        return None
    return (finetuned - pretrained) / gain


def forgetting_status(fraction: float) -> str:
    """"ok", "warning" (from `FORGET_WARN` of the gain lost) or "flagged" (from `FORGET_FLAG`).

    Example:
        >>> forgetting_status(0.05), forgetting_status(0.2), forgetting_status(1 / 3)
        ('ok', 'warning', 'flagged')
    """
    return "flagged" if fraction >= FORGET_FLAG else "warning" if fraction >= FORGET_WARN else "ok"


def _no_gain(base: str, reference: float, pretrained: float) -> NotMeasured:
    return NotMeasured(
        f"the base model's masked-LM loss ({pretrained:.3f} nats/token) is not below that of a {REFERENCE} "
        f"({reference:.3f}) by {MIN_GAIN} or more: {base}'s masked-LM head is untrained (as in the random-weight tiny "
        "stand-ins) "
        "or does not model this DNA, so there is no pre-training gain that fine-tuning could lose"
    )


def _advice(run: Run) -> str:
    lr = run.info.training.get("learning_rate")
    options = [f"a lower learning rate (used {lr:g})" if isinstance(lr, int | float) else "a lower learning rate",
               "fewer steps", *lighter_options(run)]
    return "the backbone lost part of what pre-training gained: try " + ", ".join(options)


def check_forgetting(run: Run, *, max_sequences: int = 256, seed: int = 0, batch_size: int = INFERENCE_BATCH_SIZE) -> Verdict:
    """The share of the base model's pre-training gain (masked-LM loss against a unigram reference) that the run's
    backbone lost, on the task's test sequences; loss ratios on them and on shuffled controls in the details.

    Example:
        >>> check_forgetting(Run("runs/tata-full"), max_sequences=64).details["forgotten_fraction"]  # doctest: +SKIP
        0.04
    """
    import torch

    details: dict[str, Any] = {"mask_fraction": MASK_FRACTION, "seed": seed, "reference": REFERENCE,
                               "thresholds": {"warning": FORGET_WARN, "flag": FORGET_FLAG, "min_gain": MIN_GAIN}}
    try:
        task = load_run_task(run)
        sequences = list(task.splits["test"].sequences[:max_sequences])
        sets = {"test": sequences, "shuffled": shuffled_controls(sequences, seed=seed)}
        mlm, resolved = _load_mlm(run)
        if torch.cuda.is_available():
            mlm = mlm.to("cuda")
        prefix = getattr(mlm, "base_model_prefix", "") + "."
        tokenizer = load_run_tokenizer(run.path, run.info)

        def loss(name: str) -> float:
            return masked_lm_loss(mlm, tokenizer, sets[name], max_length=run.info.max_length, seed=seed,
                                  batch_size=batch_size)

        fingerprint = weights_fingerprint(resolved.source, resolved.revision)

        def pretrained_loss(name: str) -> float:
            """The pre-trained model's loss: from the cache of what the base computes on this data, when there."""
            masking = (f"masked-lm-loss mask={MASK_FRACTION} seed={seed} batch={batch_size} vocab={len(tokenizer)} "
                       f"mask_id={tokenizer.mask_token_id} pad_id={tokenizer.pad_token_id}")
            key = cache_key(resolved.name, fingerprint, run.info.max_length, sets[name], computed=masking)
            return cached_value(key, lambda: loss(name))[0]

        counted_on = list(task.splits["train"].sequences[:MAX_REFERENCE_SEQUENCES])
        reference = unigram_reference_loss(tokenizer, sequences, counted_on=counted_on,
                                           max_length=run.info.max_length, seed=seed)
        before = {"test": pretrained_loss("test")}
        details.update(loss_reference=reference, reference_sequences=len(counted_on), loss_pretrained=before["test"],
                       pretraining_gain=reference - before["test"])
        if forgotten_fraction(reference, before["test"], before["test"]) is None:
            raise _no_gain(run.base_model, reference, before["test"])
        before["shuffled"] = pretrained_loss("shuffled")
        details["relative_weight_change"] = _copy_backbone(_fine_tuned_backbone(run, prefix), mlm, prefix)
        after = {name: loss(name) for name in sets}
    except NotMeasured as exc:
        return Verdict(NAME, NOT_MEASURABLE, str(exc), details)
    except (HubtuneError, OSError, ValueError, KeyError, RuntimeError) as exc:
        return Verdict(NAME, NOT_MEASURABLE, f"{type(exc).__name__}: {exc}", details)
    method = get_method(run.method)
    if not method.uses_trainer:
        compared = f"the backbone the {method.title} runs on (the method leaves it as it is; measured, not assumed)"
    elif method.standalone:
        compared = "the run's fine-tuned backbone"
    else:
        compared = f"the backbone with the run's {method.title} merged in"
    details["compared"] = f"pre-trained backbone vs {compared}, same masked-LM head"
    fraction = (after["test"] - before["test"]) / details["pretraining_gain"]
    ratio, ratio_shuffled = after["test"] / before["test"], after["shuffled"] / before["shuffled"]
    details.update(n_sequences=len(sequences), loss_finetuned=after["test"],
                   loss_pretrained_shuffled=before["shuffled"], loss_finetuned_shuffled=after["shuffled"],
                   forgotten_fraction=fraction, ratio=ratio, ratio_shuffled=ratio_shuffled)
    status = forgetting_status(fraction)
    lost = (f"lost all of that gain and more ({fraction:.0%}): worse than the reference" if fraction > 1
            else f"lost {fraction:.0%} of that gain" if fraction > 0 else "kept all of that gain")
    summary = (f"masked-LM loss on {len(sequences)} test sequences (nats/token): unigram reference {reference:.3f}, "
               f"pre-trained {before['test']:.3f} (pre-training gained {reference - before['test']:.3f}), fine-tuned "
               f"{after['test']:.3f}: {lost} (loss ratio {ratio:.3f}); on shuffled controls {before['shuffled']:.3f} "
               f"-> {after['shuffled']:.3f} (ratio {ratio_shuffled:.3f}); backbone weights changed by "
               f"{details['relative_weight_change']:.3g} (relative L2 norm)")
    if status != "ok":
        summary += "; " + _advice(run)
    return Verdict(NAME, status, summary, details)


__all__ = ["FORGET_FLAG", "FORGET_WARN", "MASK_FRACTION", "MIN_GAIN", "REFERENCE", "SMOOTHING", "check_forgetting",
           "forgetting_status", "forgotten_fraction", "masked_lm_loss", "shuffled_controls", "unigram_reference_loss"]
