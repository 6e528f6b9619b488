"""The Space's forward passes: each model runs once over a request's distinct windows and returns both what its
head says and the mean-pooled last hidden state, so one pass answers the model, its base probe head and the embedding
projection.

* Windows are cut once per request, identical windows are computed once, and they are tokenized once and grouped by
  token length into batches of at most `batch_size` windows and a token budget (`CPU_BATCH_TOKENS` on CPU,
  `batch_size x max_length` on GPUs, where short windows then share large batches).
* The last hidden state is taken from the encoder's own output with a forward hook, so no pass materialises every
  layer's hidden states.
* With the adapter on, a plain LoRA adapter runs with its weights merged into a transient copy of the targeted base
  weights (`torch.func.functional_call`), so the pass costs what the base model costs; the base model itself is never
  modified. Other adapters run through peft as they are.
* Results are kept per window in a `WindowMemo` (one per base model in memory, bounded in bytes): the base model's
  answer is computed once for every adapter of that base and reused by later requests and by the projection.

Outputs follow the run's problem type (`Classifier.problem.outputs` of the logits: class probabilities, per-label
probabilities or values in the targets' units) and equal `hubtune.predict.Classifier`'s (`predict_windows`,
`predict_outputs`, `predict_base_proba`, `embeddings`) up to float rounding (about 1e-7, relative for values).

Example:
    >>> memo = WindowMemo(max_bytes=1 << 20)
    >>> outputs = window_outputs(served, ["ACGT" * 20], adapter=True, batch_size=32)  # doctest: +SKIP
    >>> outputs.pooled.shape  # doctest: +SKIP
    (1, 512)
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..evaluate import Windowing, average_windows, cut_windows
from ..predict import Classifier

BASE_ROLE = "__base__"  # memo role of the pre-trained model (every adapter disabled)
MERGE_MIN_WINDOWS = 8  # below this many windows, merging LoRA weights costs more than it saves
# Tokens per batch on CPU: batches of ~1000 tokens keep the feed-forward activations in cache (NT-v2-50m size,
# 51-token windows, 1 and 2 threads: 10-20% faster than 256 or 2048). On GPUs a batch holds batch_size x max_length.
CPU_BATCH_TOKENS = 1024
DEFAULT_MEMO_BYTES = 64 << 20


class WindowMemo:
    """Per-window outputs (head logits or None, pooled last hidden state) kept in LRU order within a byte
    budget, keyed by (role, tokenizer, max_length, window).

    Example:
        >>> memo = WindowMemo(max_bytes=1024)
        >>> memo.put(("r", "t", 8, "ACGT"), None, np.zeros(4, dtype=np.float32))
        >>> memo.get(("r", "t", 8, "ACGT"))[1].tolist(), len(memo)
        ([0.0, 0.0, 0.0, 0.0], 1)
    """

    def __init__(self, max_bytes: int = DEFAULT_MEMO_BYTES):
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict[Hashable, tuple[np.ndarray | None, np.ndarray]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> tuple[np.ndarray | None, np.ndarray] | None:
        """The stored (logits, pooled) of `key` (now the most recently used), or None."""
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: Hashable, logits: np.ndarray | None, pooled: np.ndarray) -> None:
        """Store one window's outputs, dropping the least recently used ones past the byte budget."""
        size = pooled.nbytes + (0 if logits is None else logits.nbytes)
        if size > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= _size(old)
        self._items[key] = (logits, pooled)
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.nbytes -= _size(dropped)

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0


def _size(item: tuple[np.ndarray | None, np.ndarray]) -> int:
    return item[1].nbytes + (0 if item[0] is None else item[0].nbytes)


@dataclass
class ServedModel:
    """A loaded model as one request uses it (its adapter active, the cache's lock held).

    Attributes:
        classifier: the adapter's `Classifier` (model, tokenizer, heads, windowing).
        role: a name unique to this adapter while it is loaded (its peft adapter name, or its repo id for a model
            kept whole); memo keys use it.
        tokenizer_key: "base" when the adapter uses its base model's tokenizer, else `role`.
        memo: where outputs are kept between requests (None: nothing is kept).
    """

    classifier: Classifier
    role: str
    tokenizer_key: str
    memo: WindowMemo | None = None

    @property
    def model(self) -> Any:
        return self.classifier.model

    @property
    def windowing(self) -> Windowing:
        return self.classifier.windowing

    @property
    def has_base(self) -> bool:
        """True when the pre-trained model can run with the adapter disabled (else the model itself answers)."""
        return hasattr(self.model, "disable_adapter")


@dataclass
class WindowOutputs:
    """One model's outputs for a list of windows, in order: head logits (None when not asked) and pooled states."""

    logits: np.ndarray | None
    pooled: np.ndarray


@dataclass
class Answer:
    """A model's answer for whole sequences: its outputs (probabilities or values) averaged over windows and each
    sequence's window track, for the adapter and (when the run ships a base probe head) for the pre-trained model."""

    outputs: np.ndarray
    tracks: list[np.ndarray]
    base_outputs: np.ndarray | None
    base_tracks: list[np.ndarray] | None


def window_outputs(served: ServedModel, windows: Sequence[str], *, adapter: bool, batch_size: int,
                   logits: bool = True, memo: bool = True) -> WindowOutputs:
    """Logits and pooled last hidden states of `served` for `windows` (already validated DNA), with the adapter on
    (`adapter=True`) or off; windows found in the memo are not computed again, the others are computed once each.

    Example:
        >>> window_outputs(served, ["ACGT" * 20, "ACGT" * 20], adapter=False, batch_size=32).pooled.shape  # doctest: +SKIP
        (2, 512)
    """
    clf = served.classifier
    enabled = adapter or not served.has_base
    role = served.role if enabled else BASE_ROLE
    store = served.memo if memo else None
    keys = [(role, served.tokenizer_key, clf.max_length, w) for w in windows]
    found: dict[Any, tuple[np.ndarray | None, np.ndarray]] = {}
    if store is not None:
        for key in keys:
            item = store.get(key)
            if item is not None and (item[0] is not None or not (logits and enabled)):
                found[key] = item
    missing = list(dict.fromkeys(k for k in keys if k not in found))
    if missing:
        computed = encode_windows(clf.model, clf.tokenizer, [k[3] for k in missing], max_length=clf.max_length,
                                  batch_size=batch_size, adapter=enabled, logits=logits and enabled)
        for i, key in enumerate(missing):
            row = None if computed.logits is None else computed.logits[i].copy()  # rows, not views of the batch
            found[key] = (row, computed.pooled[i].copy())
            if store is not None:
                store.put(key, *found[key])
    pooled = np.stack([found[k][1] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
    rows = [found[k][0] for k in keys]
    out_logits = np.stack(rows) if keys and logits and enabled and all(r is not None for r in rows) else None
    return WindowOutputs(out_logits, pooled)


def answer(served: ServedModel, sequences: Sequence[str], *, batch_size: int, base: bool = True) -> Answer:
    """The adapter's (and, with `base`, the pre-trained model's) outputs for validated sequences, averaged over
    sliding windows as `Classifier.predict_windows` / `predict_base_proba` compute them: class probabilities,
    per-label probabilities or values, as the run's problem type says.

    Example:
        >>> answer(served, ["ACGT" * 300], batch_size=32).outputs.shape  # doctest: +SKIP
        (1, 2)
    """
    clf = served.classifier
    pieces, owner = cut_windows(sequences, served.windowing)
    fine = window_outputs(served, pieces, adapter=True, batch_size=batch_size, logits=clf.probe_head is None)
    outputs, tracks = average_windows(_adapter_outputs(clf, fine), owner, len(sequences))
    if not base or clf.base_probe_head is None:
        return Answer(outputs, tracks, None, None)
    pooled = fine.pooled if not served.has_base else window_outputs(
        served, pieces, adapter=False, batch_size=batch_size, logits=False).pooled
    base_outputs, base_tracks = average_windows(clf.problem.outputs(clf.base_probe_head.logits(pooled)), owner,
                                              len(sequences))
    return Answer(outputs, tracks, base_outputs, base_tracks)


def window_predictions(served: ServedModel, windows: Sequence[str], *, batch_size: int,
                       memo: bool = True) -> np.ndarray:
    """The adapter's outputs for each window (strings of at most `window_bp` bases), shape (n, outputs): class
    probabilities, per-label probabilities or values; `memo=False` for one-off inputs such as mutagenesis variants.

    Example:
        >>> window_predictions(served, ["ACGT" * 30], batch_size=32, memo=False).shape  # doctest: +SKIP
        (1, 2)
    """
    clf = served.classifier
    outputs = window_outputs(served, windows, adapter=True, batch_size=batch_size, logits=clf.probe_head is None,
                             memo=memo)
    return _adapter_outputs(clf, outputs)


def _adapter_outputs(clf: Classifier, outputs: WindowOutputs) -> np.ndarray:
    if clf.probe_head is not None:  # probe runs: the probe head on the model's embeddings is the model
        return clf.problem.outputs(clf.probe_head.logits(outputs.pooled))
    assert outputs.logits is not None
    return clf.problem.outputs(outputs.logits)


def embeddings(served: ServedModel, sequences: Sequence[str], *, fine_tuned: bool, batch_size: int) -> np.ndarray:
    """Mean-pooled last-layer embeddings of each sequence's first window, as `Classifier.embeddings` computes them.

    Example:
        >>> embeddings(served, ["ACGT" * 30], fine_tuned=False, batch_size=32).shape  # doctest: +SKIP
        (1, 512)
    """
    firsts = [seq[: served.windowing.window_bp] for seq in sequences]
    return window_outputs(served, firsts, adapter=fine_tuned, batch_size=batch_size, logits=False).pooled


def token_batches(lengths: Sequence[int], max_rows: int, max_tokens: int) -> list[list[int]]:
    """Indices grouped into batches of similar token length: sorted by length, each batch at most `max_rows` rows and
    `max_tokens` tokens once padded to its longest member (at least one row).

    Example:
        >>> token_batches([5, 50, 6, 49], max_rows=8, max_tokens=100)
        [[0, 2], [3, 1]]
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) >= max_rows or (len(current) + 1) * max(lengths[i], 1) > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def encode_windows(model: Any, tokenizer: Any, windows: Sequence[str], *, max_length: int, batch_size: int,
                   adapter: bool = True, logits: bool = True) -> WindowOutputs:
    """Run `model` once over `windows`: head logits (when `logits`) and mean-pooled last hidden states.

    With `adapter=False` a peft model runs with its adapters disabled. A plain LoRA adapter runs on merged weights
    when there are at least `MERGE_MIN_WINDOWS` windows (same results up to float rounding).

    Example:
        >>> encode_windows(model, tokenizer, ["ACGTACGT"], max_length=8, batch_size=32).logits.shape  # doctest: +SKIP
        (1, 2)
    """
    import torch

    encoded = tokenizer(list(windows), truncation=True, max_length=max_length)
    ids, masks = encoded["input_ids"], encoded["attention_mask"]
    device = _device_of(model)
    encoder = _encoder_of(model)
    captured: list[Any] = []
    hook = None if encoder is None else encoder.register_forward_hook(lambda _m, _i, out: captured.append(out[0]))
    merged = merged_lora_weights(model) if adapter and len(windows) >= MERGE_MIN_WINDOWS else None
    # Merged weights stand in for the adapter: peft's own adapter layers must then be off too.
    switch_off = (not adapter or merged is not None) and hasattr(model, "disable_adapter")
    was_training = model.training
    model.eval()
    out_logits: np.ndarray | None = None
    pooled_out: np.ndarray | None = None
    try:
        with torch.inference_mode(), (model.disable_adapter() if switch_off else contextlib.nullcontext()):
            budget = batch_size * max_length if device.type == "cuda" else CPU_BATCH_TOKENS
            for idx in token_batches([len(x) for x in ids], max(1, batch_size), budget):
                inputs = _padded(tokenizer, [ids[i] for i in idx], [masks[i] for i in idx], device)
                captured.clear()
                if merged is not None:
                    from torch.func import functional_call

                    out = functional_call(model, merged, args=(), kwargs=inputs, strict=False)
                else:
                    out = model(**inputs, output_hidden_states=encoder is None)
                last = captured[-1] if encoder is not None else out.hidden_states[-1]
                mask = inputs["attention_mask"].unsqueeze(-1).float()
                pooled = ((last.float() * mask).sum(1) / mask.sum(1).clamp(min=1)).cpu().numpy()
                if pooled_out is None:
                    pooled_out = np.zeros((len(windows), pooled.shape[1]), dtype=np.float32)
                pooled_out[idx] = pooled
                if logits:
                    rows = out.logits.float().cpu().numpy()
                    if out_logits is None:
                        out_logits = np.zeros((len(windows), rows.shape[1]), dtype=np.float32)
                    out_logits[idx] = rows
    finally:
        if hook is not None:
            hook.remove()
        model.train(was_training)
    if pooled_out is None:
        pooled_out = np.zeros((0, 0), dtype=np.float32)
    return WindowOutputs(out_logits, pooled_out)


def _padded(tokenizer: Any, ids: list[list[int]], masks: list[list[int]], device: Any) -> dict[str, Any]:
    """A padded batch as the tokenizer pads one (`padding=True`): pad id, padding side."""
    import torch

    width = max(len(row) for row in ids)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(ids), width), dtype=torch.long)
    left = getattr(tokenizer, "padding_side", "right") == "left"
    for r, (row, mask) in enumerate(zip(ids, masks, strict=True)):
        cols = slice(width - len(row), width) if left else slice(0, len(row))
        input_ids[r, cols] = torch.tensor(row, dtype=torch.long)
        attention[r, cols] = torch.tensor(mask, dtype=torch.long)
    return {"input_ids": input_ids.to(device), "attention_mask": attention.to(device)}


def _device_of(model: Any) -> Any:
    import torch

    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _encoder_of(model: Any) -> Any:
    """The encoder module whose output[0] is the last hidden state (None: use `output_hidden_states`)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    encoder = getattr(inner, "base_model", None)
    if encoder is None or encoder is inner:
        return None
    return encoder


def merged_lora_weights(model: Any) -> dict[str, Any] | None:
    """Parameters that make a peft model with its adapters disabled compute what its active LoRA adapter computes:
    each targeted weight plus its LoRA delta (new tensors: the model is not modified) and the adapter's copies of
    the modules it saves whole (the classification head). None when the model is not a plain LoRA model (DoRA,
    LoRA bias, non-linear targets, several active adapters, merged layers, token wrappers...).

    Use with `torch.func.functional_call(model, params, ...)` inside `model.disable_adapter()`.

    Example:
        >>> params = merged_lora_weights(peft_model)  # doctest: +SKIP
        >>> sorted(params)[0]  # doctest: +SKIP
        'base_model.model.classifier.original_module.dense.bias'
    """
    try:
        from peft.tuners.lora import Linear as LoraLinear
        from peft.tuners.tuners_utils import BaseTunerLayer
        from peft.utils import AuxiliaryTrainingWrapper, ModulesToSaveWrapper
    except ImportError:
        return None
    import torch

    active = getattr(model, "active_adapter", None)
    if not isinstance(active, str) or not hasattr(model, "disable_adapter"):
        return None
    params: dict[str, Any] = {}
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, BaseTunerLayer):
                if type(module) is not LoraLinear or type(module.base_layer) is not torch.nn.Linear or module.merged:
                    return None
                if active not in module.lora_A:
                    continue  # a layer this adapter does not change
                if (module.use_dora.get(active) or module.lora_bias.get(active)
                        or active in getattr(module, "lora_variant", {})):
                    return None
                weight = module.base_layer.weight
                params[f"{name}.base_layer.weight"] = weight + module.get_delta_weight(active).to(weight.dtype)
            elif isinstance(module, ModulesToSaveWrapper):
                copy = module.modules_to_save[active] if active in module.modules_to_save else None
                if copy is None:
                    continue
                for pname, tensor in copy.named_parameters():
                    params[f"{name}.original_module.{pname}"] = tensor
            elif isinstance(module, AuxiliaryTrainingWrapper):
                return None
    return params or None


__all__ = [
    "BASE_ROLE",
    "CPU_BATCH_TOKENS",
    "DEFAULT_MEMO_BYTES",
    "MERGE_MIN_WINDOWS",
    "Answer",
    "ServedModel",
    "WindowMemo",
    "WindowOutputs",
    "answer",
    "embeddings",
    "encode_windows",
    "merged_lora_weights",
    "token_batches",
    "window_predictions",
]
