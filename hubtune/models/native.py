"""Pieces every native model family shares: building a model for a task, outputs, losses and Auto* registration.

The families themselves live in one module each (`dnabert2.py`, `ntv2.py`); reading checkpoints is `checkpoint.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from transformers import PreTrainedConfig, PreTrainedModel

from ..errors import ModelError
from .checkpoint import load_weights_into, read_checkpoint

__all__ = [
    "ATTN_IMPLEMENTATIONS",
    "attention_mask_or_ones",
    "attn_implementation_name",
    "build_native_model",
    "load_native_checkpoint",
    "model_output",
    "register_auto_classes",
    "seeded_build",
    "sequence_classification_loss",
]

# Attention paths the native models implement; flash kernels take no additive bias (ALiBi, padding).
ATTN_IMPLEMENTATIONS = ("sdpa", "eager")

_T = TypeVar("_T")


def attn_implementation_name(attn_implementation: str | dict, family: str, reason: str = "") -> str:
    """The attention path a `set_attn_implementation` call asks for; ModelError unless it is one of
    `ATTN_IMPLEMENTATIONS`. A dict (transformers' per-sub-config form) is read at its "" key.

    Example:
        >>> attn_implementation_name({"": "eager"}, "NT v2")
        'eager'
    """
    name = attn_implementation.get("", "sdpa") if isinstance(attn_implementation, dict) else attn_implementation
    if name not in ATTN_IMPLEMENTATIONS:
        raise ModelError(f"{family} supports attn_implementation 'sdpa' or 'eager', not {name!r}{reason}.")
    return name


def attention_mask_or_ones(
    input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None, attention_mask: torch.Tensor | None
) -> torch.Tensor:
    """The attention mask of a batch given as exactly one of `input_ids` and `inputs_embeds`: `attention_mask`, or
    all ones (nothing padded) when it is None.

    Raises:
        ValueError: both or neither of `input_ids` and `inputs_embeds` are given.

    Example:
        >>> attention_mask_or_ones(torch.tensor([[1, 7, 2]]), None, None).tolist()
        [[1, 1, 1]]
    """
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
    if attention_mask is not None:
        return attention_mask
    shape = input_ids.shape if input_ids is not None else inputs_embeds.shape[:2]
    device = input_ids.device if input_ids is not None else inputs_embeds.device
    return torch.ones(shape, dtype=torch.long, device=device)


def model_output(output: Any, return_dict: bool | None, config: PreTrainedConfig) -> Any:
    """`output` as a ModelOutput, or as a plain tuple when return_dict (or config.return_dict) is False.

    Example:
        >>> return model_output(MaskedLMOutput(logits=logits), return_dict, self.config)  # doctest: +SKIP
    """
    use_dict = config.return_dict if return_dict is None else return_dict
    return output if use_dict else output.to_tuple()


def sequence_classification_loss(config: PreTrainedConfig, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """BERT's rule: 1 label -> MSE regression; integer labels -> cross-entropy; float multi-hot -> BCE.

    Sets ``config.problem_type`` on first use when it is None, as transformers' BERT does.

    Example:
        >>> loss = sequence_classification_loss(model.config, logits, torch.tensor([0, 1]))  # doctest: +SKIP
    """
    num_labels = logits.shape[-1]
    labels = labels.to(logits.device)
    if config.problem_type is None:
        if num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type == "regression":
        if num_labels == 1:
            return F.mse_loss(logits.squeeze(-1), labels.view(-1).to(logits.dtype))
        return F.mse_loss(logits, labels.to(logits.dtype))
    if config.problem_type == "single_label_classification":
        return F.cross_entropy(logits.view(-1, num_labels), labels.view(-1))
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def seeded_build(seed: int, build: Callable[[], _T]) -> _T:
    """Call `build` with torch's global RNG seeded from `seed`, without disturbing the caller's RNG state.

    Example:
        >>> model = seeded_build(0, lambda: Dnabert2ForMaskedLM(config))  # doctest: +SKIP
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def build_native_model(
    model_classes: dict[str, type[PreTrainedModel]],
    config: PreTrainedConfig,
    *,
    task: str,
    num_labels: int,
    attn_implementation: str,
    dtype: torch.dtype | str | None,
    init_seed: int = 0,
) -> PreTrainedModel:
    """Instantiate `model_classes[task]` from `config`, with weights initialised from `init_seed`.

    The seed makes heads the checkpoint lacks (DNABERT-2's pooler, any new classifier) the same on every load, so a
    LoRA adapter that does not store them still reproduces its logits when loaded onto a freshly built base model.

    Example:
        >>> model = build_native_model({"classification": NTv2ForSequenceClassification}, config,
        ...     task="classification", num_labels=2, attn_implementation="sdpa", dtype=None)  # doctest: +SKIP
    """
    if task not in model_classes:
        raise ModelError(f"Unknown task {task!r}: use one of {', '.join(model_classes)}.")
    if attn_implementation not in ATTN_IMPLEMENTATIONS:
        raise ModelError(f"attn_implementation must be 'sdpa' or 'eager', not {attn_implementation!r}.")
    if task == "classification":
        if num_labels < 1:
            raise ModelError(f"num_labels must be at least 1 (1 = regression), got {num_labels}.")
        if config.num_labels != num_labels:
            config.id2label = config.label2id = None
            config.num_labels = num_labels
        if num_labels == 1 and config.problem_type is None:
            config.problem_type = "regression"
    config._attn_implementation = attn_implementation
    model = seeded_build(init_seed, lambda: model_classes[task](config))
    if dtype is not None:
        model = model.to(getattr(torch, dtype) if isinstance(dtype, str) else dtype)
    return model


def register_auto_classes(
    config_class: type[PreTrainedConfig],
    base: type[PreTrainedModel],
    masked_lm: type[PreTrainedModel],
    sequence_classification: type[PreTrainedModel],
) -> None:
    """Let transformers' Auto* classes open folders saved by a native family (its own ``model_type``).

    Example:
        >>> register_auto_classes(NTv2Config, NTv2Model, NTv2ForMaskedLM, NTv2ForSequenceClassification)
        ... # doctest: +SKIP
    """
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    AutoModel.register(config_class, base, exist_ok=True)
    AutoModelForMaskedLM.register(config_class, masked_lm, exist_ok=True)
    AutoModelForSequenceClassification.register(config_class, sequence_classification, exist_ok=True)


def load_native_checkpoint(
    name_or_path: str | Path,
    check_config: Callable[[dict[str, Any]], PreTrainedConfig],
    model_classes: dict[str, type[PreTrainedModel]],
    *,
    head_prefixes: Mapping[str, tuple[str, ...]],
    ignorable_prefixes: Mapping[str, tuple[str, ...]],
    task: str,
    num_labels: int,
    revision: str | None,
    attn_implementation: str,
    dtype: torch.dtype | str | None,
    strict: bool,
    init_seed: int,
    hub_kwargs: dict[str, Any],
) -> PreTrainedModel:
    """Read a checkpoint (`read_checkpoint`), build the family's model for `task` and load the weights into it.

    `check_config` turns the raw config.json into the family's config (raising ModelError for another family);
    `head_prefixes[task]` / `ignorable_prefixes[task]` go to `load_weights_into`. The model comes back in eval mode
    with ``model.load_report``.

    Example:
        >>> model = load_native_checkpoint(folder, lambda raw: NTv2Config(**config_kwargs(NTv2Config, raw)),
        ...     {"base": NTv2Model}, head_prefixes={"base": ()}, ignorable_prefixes={"base": ("lm_head.",)},
        ...     task="base", num_labels=2, revision=None, attn_implementation="sdpa", dtype=None, strict=True,
        ...     init_seed=0, hub_kwargs={})  # doctest: +SKIP
    """
    raw, state, weights_file = read_checkpoint(name_or_path, revision=revision, **hub_kwargs)
    config = check_config(raw)
    config.name_or_path = str(name_or_path)
    model = build_native_model(
        model_classes,
        config,
        task=task,
        num_labels=num_labels,
        attn_implementation=attn_implementation,
        dtype=dtype,
        init_seed=init_seed,
    )
    model.load_report = load_weights_into(
        model,
        state,
        source=str(name_or_path),
        weights_file=weights_file,
        head_prefixes=head_prefixes[task],
        ignorable_prefixes=ignorable_prefixes[task],
        strict=strict,
    )
    model.eval()
    return model
