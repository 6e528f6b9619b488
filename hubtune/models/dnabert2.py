"""Native DNABERT-2 (`zhihan1996/DNABERT-2-117M`): loads the published checkpoint without running its remote code.

The published repo ships a MosaicBERT-style `bert_layers.py` that no longer runs on transformers 5 (its ALiBi table
is built on the meta device). This module re-implements the same network with the same parameter names, so the
published `pytorch_model.bin` loads key for key, LoRA adapters name the same modules as with the remote code, and
`save_pretrained` writes safetensors that load back exactly.

Semantics (checked against the remote code): embeddings = LayerNorm(word + token_type), no position embeddings;
symmetric ALiBi bias ``-slope_h * |i - j|`` with the ALiBi slope recipe for any head count; fused QKV laid out as
(3, heads, head_dim); post-LayerNorm blocks; GEGLU feed-forward with exact GELU; padded keys masked through the
attention mask (never through token ids: the config's ``pad_token_id`` is 0 while the tokenizer's [PAD] is 3);
hidden states at padded positions are 0; tanh pooler over [CLS]; no 512-token cap.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    MaskedLMOutput,
    SequenceClassifierOutput,
)

from ..errors import ModelError

__all__ = [
    "DNABERT2_AUTO_MAP",
    "Dnabert2Config",
    "Dnabert2ForMaskedLM",
    "Dnabert2ForSequenceClassification",
    "Dnabert2Model",
    "Dnabert2PreTrainedModel",
    "LoadReport",
    "alibi_slopes",
    "build_tiny_dnabert2",
    "load_dnabert2",
]

# The auto_map of the published config.json. Kept verbatim in tiny checkpoints so they look exactly like the real one.
DNABERT2_AUTO_MAP = {
    "AutoConfig": "configuration_bert.BertConfig",
    "AutoModel": "bert_layers.BertModel",
    "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM",
    "AutoModelForSequenceClassification": "bert_layers.BertForSequenceClassification",
}

TASKS = ("classification", "mlm", "base")
_T = TypeVar("_T")
ATTN_IMPLEMENTATIONS = ("sdpa", "eager")


# --------------------------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------------------------


class Dnabert2Config(PreTrainedConfig):
    """Configuration of a native DNABERT-2 model; reads every field of the published config.json."""

    model_type = "hubtune_dnabert2"

    vocab_size: int = 4096
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.0
    # Unused by the network (ALiBi has no position table); kept because the published config carries it.
    max_position_embeddings: int = 512
    # Size of the first ALiBi table the remote code builds; longer inputs rebuild it, so this is not a length cap.
    alibi_starting_size: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int | None = 0
    classifier_dropout: float | None = None
    tie_word_embeddings: bool = True

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> tuple[dict, dict]:
        """Also read the published config.json (model_type "bert" + auto_map): keep only the declared fields."""
        return published_config_dict(cls, super().get_config_dict(pretrained_model_name_or_path, **kwargs))

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        if self.hidden_size % self.num_attention_heads != 0:
            raise ModelError(
                f"DNABERT-2 config: hidden_size ({self.hidden_size}) is not a multiple of num_attention_heads "
                f"({self.num_attention_heads}). Fix these two fields in config.json."
            )


# --------------------------------------------------------------------------------------------------------------------
# ALiBi
# --------------------------------------------------------------------------------------------------------------------


def alibi_slopes(num_heads: int) -> list[float]:
    """ALiBi head slopes: 2^(-8/n) geometric for a power of 2; otherwise the nearest lower power of 2 plus every
    other slope of the next power of 2 (for 12 heads: 2^-1 ... 2^-8, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5)."""

    def power_of_2(n: int) -> list[float]:
        start = 2.0 ** (-(2.0 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if num_heads < 1:
        raise ValueError(f"num_heads must be positive, got {num_heads}")
    if math.log2(num_heads).is_integer():
        return power_of_2(num_heads)
    closest = 2 ** math.floor(math.log2(num_heads))
    return power_of_2(closest) + alibi_slopes(2 * closest)[0::2][: num_heads - closest]


def alibi_bias(num_heads: int, length: int, *, device: torch.device | None = None, dtype=torch.float32) -> torch.Tensor:
    """The symmetric ALiBi bias ``-slope_h * |i - j|``, shape (1, heads, length, length)."""
    positions = torch.arange(length, device=device)
    distance = (positions[None, :] - positions[:, None]).abs().to(torch.float32)
    slopes = torch.tensor(alibi_slopes(num_heads), device=device, dtype=torch.float32)
    return (-slopes[:, None, None] * distance[None]).unsqueeze(0).to(dtype)


# --------------------------------------------------------------------------------------------------------------------
# Modules (attribute names mirror the published state dict)
# --------------------------------------------------------------------------------------------------------------------


class Dnabert2Embeddings(nn.Module):
    """word + token_type embeddings, LayerNorm, dropout. No position embeddings (ALiBi)."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        # padding_idx as in the remote code (config.pad_token_id, i.e. [UNK]=0): only affects that row's gradient.
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        token_type_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(embeddings))


class Dnabert2SelfAttention(nn.Module):
    """Fused-QKV self-attention with an additive float bias (ALiBi + padding), via SDPA or a plain eager path."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.dropout_prob = config.attention_probs_dropout_prob
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)

    def forward(
        self, hidden_states: torch.Tensor, bias: torch.Tensor, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length, hidden = hidden_states.shape
        # The remote code splits the fused output as (3, heads, head_dim).
        qkv = self.Wqkv(hidden_states).view(batch, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (batch, heads, length, head_dim)
        dropout = self.dropout_prob if self.training else 0.0
        weights = None
        if output_attentions or self.config._attn_implementation == "eager":
            scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.head_dim) + bias
            weights = scores.softmax(dim=-1)
            context = torch.matmul(F.dropout(weights, p=dropout, training=self.training), value)
        else:
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=bias, dropout_p=dropout)
        context = context.transpose(1, 2).reshape(batch, length, hidden)
        return context, weights


class Dnabert2SelfOutput(nn.Module):
    """Post-LN residual: LayerNorm(x + dropout(dense(attention)))."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class Dnabert2AttentionBlock(nn.Module):
    """`attention.self` + `attention.output`, as named in the published checkpoint."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.self = Dnabert2SelfAttention(config)
        self.output = Dnabert2SelfOutput(config)

    def forward(
        self, hidden_states: torch.Tensor, bias: torch.Tensor, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, weights = self.self(hidden_states, bias, output_attentions)
        return self.output(context, hidden_states), weights


class Dnabert2GatedMLP(nn.Module):
    """GEGLU feed-forward with post-LN: LayerNorm(x + wo(dropout(gelu(g[:I]) * g[I:]))), g = gated_layers(x)."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.intermediate_size = config.intermediate_size
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.act = nn.GELU(approximate="none")
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        gated = self.gated_layers(hidden_states)
        activated = self.act(gated[..., : self.intermediate_size]) * gated[..., self.intermediate_size :]
        return self.layernorm(self.wo(self.dropout(activated)) + hidden_states)


class Dnabert2Layer(GradientCheckpointingLayer):
    """One encoder block: attention then gated MLP, both post-LN."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.attention = Dnabert2AttentionBlock(config)
        self.mlp = Dnabert2GatedMLP(config)

    def forward(
        self, hidden_states: torch.Tensor, bias: torch.Tensor, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(hidden_states, bias, output_attentions)
        return self.mlp(attended), weights


class Dnabert2Encoder(nn.Module):
    """The layer stack plus the ALiBi table (a cache, never a parameter or buffer, so meta-device loading is safe)."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.config = config
        self.layer = nn.ModuleList([Dnabert2Layer(config) for _ in range(config.num_hidden_layers)])
        self.gradient_checkpointing = False
        self._alibi: torch.Tensor | None = None

    def alibi(self, length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """ALiBi bias for `length` tokens; the cached table grows on demand (no length cap)."""
        table = self._alibi
        if (
            table is None
            or table.shape[-1] < length
            or table.device != device
            or table.dtype != dtype
            # A table made under inference_mode cannot be saved for backward in a later training step.
            or table.is_inference() != torch.is_inference_mode_enabled()
        ):
            size = max(length, int(self.config.alibi_starting_size), table.shape[-1] if table is not None else 0)
            table = alibi_bias(self.config.num_attention_heads, size, device=device, dtype=dtype)
            self._alibi = table
        return table[:, :, :length, :length]

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None, tuple[torch.Tensor, ...] | None]:
        length, dtype = hidden_states.shape[1], hidden_states.dtype
        bias = self.alibi(length, hidden_states.device, dtype)
        keep = None  # (batch, length, 1) multiplier that zeroes padded positions; None when nothing is padded
        if not bool(attention_mask.all()):
            # Padded keys get the most negative value (remote code: -10000); both give them zero weight.
            padding = (1.0 - attention_mask.to(dtype))[:, None, None, :] * torch.finfo(dtype).min
            bias = bias + padding
            keep = attention_mask.to(dtype)[:, :, None]
            hidden_states = hidden_states * keep
        all_hidden: tuple[torch.Tensor, ...] | None = (hidden_states,) if output_hidden_states else None
        all_attentions: tuple[torch.Tensor, ...] | None = () if output_attentions else None
        for layer in self.layer:
            hidden_states, weights = layer(hidden_states, bias, output_attentions)
            if keep is not None:
                # The remote code never computes padded rows (it unpads); zero them so they match.
                hidden_states = hidden_states * keep
            if all_hidden is not None:
                all_hidden = all_hidden + (hidden_states,)
            if all_attentions is not None:
                all_attentions = all_attentions + (weights,)
        return hidden_states, all_hidden, all_attentions


class Dnabert2Pooler(nn.Module):
    """tanh(dense(h[:, 0]))."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


class Dnabert2PredictionHeadTransform(nn.Module):
    """dense -> activation -> LayerNorm (eps fixed at 1e-12, as in the remote code)."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=1e-12)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class Dnabert2LMPredictionHead(nn.Module):
    """transform + decoder (weight tied to the word embeddings, own bias)."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.transform = Dnabert2PredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states))


class Dnabert2OnlyMLMHead(nn.Module):
    """Holds `predictions`, giving the published `cls.predictions.*` names."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.predictions = Dnabert2LMPredictionHead(config)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.predictions(hidden_states)


# --------------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------------


class Dnabert2PreTrainedModel(PreTrainedModel):
    """Shared loading/initialisation behaviour of the native DNABERT-2 models."""

    config_class = Dnabert2Config
    base_model_prefix = "bert"
    supports_gradient_checkpointing = True
    accepts_loss_kwargs = False
    _no_split_modules = ["Dnabert2Layer"]
    _supports_sdpa = True

    def set_attn_implementation(self, attn_implementation: str | dict, allow_all_kernels: bool = False) -> None:
        """Switch between ``"sdpa"`` (default) and ``"eager"`` (plain softmax(QK^T/sqrt(d) + bias)V) attention."""
        name = attn_implementation.get("", "sdpa") if isinstance(attn_implementation, dict) else attn_implementation
        if name not in ATTN_IMPLEMENTATIONS:
            raise ModelError(
                f"DNABERT-2 supports attn_implementation 'sdpa' or 'eager', not {name!r} (ALiBi needs an additive "
                "bias, which flash-attention kernels do not take)."
            )
        self.config._attn_implementation = name


def model_output(output: Any, return_dict: bool | None, config: PreTrainedConfig) -> Any:
    """`output` as a ModelOutput, or as a plain tuple when return_dict (or config.return_dict) is False."""
    use_dict = config.return_dict if return_dict is None else return_dict
    return output if use_dict else output.to_tuple()


class Dnabert2Model(Dnabert2PreTrainedModel):
    """The DNABERT-2 encoder (`bert.*` in the published checkpoint), with an optional tanh pooler."""

    def __init__(self, config: Dnabert2Config, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = Dnabert2Embeddings(config)
        self.encoder = Dnabert2Encoder(config)
        self.pooler = Dnabert2Pooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPoolingAndCrossAttentions | tuple:
        """Encode a batch. `position_ids` is accepted and ignored (ALiBi); `attention_mask` marks real tokens."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        shape = input_ids.shape if input_ids is not None else inputs_embeds.shape[:2]
        device = input_ids.device if input_ids is not None else inputs_embeds.device
        if attention_mask is None:
            attention_mask = torch.ones(shape, dtype=torch.long, device=device)
        if output_hidden_states is None:
            output_hidden_states = bool(self.config.output_hidden_states)
        output_attentions = bool(output_attentions)
        embeddings = self.embeddings(input_ids, token_type_ids, inputs_embeds)
        sequence, hidden_states, attentions = self.encoder(
            embeddings, attention_mask, output_hidden_states=output_hidden_states, output_attentions=output_attentions
        )
        pooled = self.pooler(sequence) if self.pooler is not None else None
        output = BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence, pooler_output=pooled, hidden_states=hidden_states, attentions=attentions
        )
        return model_output(output, return_dict, self.config)


class Dnabert2ForMaskedLM(Dnabert2PreTrainedModel):
    """DNABERT-2 with its masked-LM head (`cls.predictions.*`, decoder tied to the word embeddings)."""

    _tied_weights_keys = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"}
    _keys_to_ignore_on_load_unexpected = [r"^bert\.pooler\.", r"^classifier\."]

    def __init__(self, config: Dnabert2Config):
        super().__init__(config)
        self.bert = Dnabert2Model(config, add_pooling_layer=False)
        self.cls = Dnabert2OnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> MaskedLMOutput | tuple:
        """Logits over the vocabulary for every position; `labels` (-100 = ignore) give the cross-entropy loss."""
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.cls(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.to(logits.device).view(-1))
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return model_output(output, return_dict, self.config)


def sequence_classification_loss(config: PreTrainedConfig, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """BERT's rule: 1 label -> MSE regression; integer labels -> cross-entropy; float multi-hot -> BCE."""
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


class Dnabert2ForSequenceClassification(Dnabert2PreTrainedModel):
    """DNABERT-2 + pooler + dropout + linear `classifier` (regression when num_labels == 1)."""

    _keys_to_ignore_on_load_unexpected = [r"^cls\.predictions\."]

    def __init__(self, config: Dnabert2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = Dnabert2Model(config, add_pooling_layer=True)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput | tuple:
        """Logits (batch, num_labels) from the pooled [CLS]; `labels` give the loss as in BERT."""
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.pooler_output))
        loss = sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return model_output(output, return_dict, self.config)


def _register_auto_classes() -> None:
    """Let Auto* classes open folders this module saved (model_type "hubtune_dnabert2")."""
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    AutoConfig.register(Dnabert2Config.model_type, Dnabert2Config, exist_ok=True)
    AutoModel.register(Dnabert2Config, Dnabert2Model, exist_ok=True)
    AutoModelForMaskedLM.register(Dnabert2Config, Dnabert2ForMaskedLM, exist_ok=True)
    AutoModelForSequenceClassification.register(Dnabert2Config, Dnabert2ForSequenceClassification, exist_ok=True)


_register_auto_classes()


# --------------------------------------------------------------------------------------------------------------------
# Loading published checkpoints (shared with the NT v2 loader)
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What loading a checkpoint did. `ok` is True when no backbone weight was missing and no tensor went unused.

    - missing_keys: model parameters the checkpoint lacks that are not a freshly added head (should be empty).
    - unexpected_keys: checkpoint tensors the model has no place for (should be empty).
    - newly_initialized: head parameters the checkpoint does not carry (e.g. `classifier.*` on an MLM checkpoint).
    - unused_keys: checkpoint tensors knowingly dropped (another task's head, e.g. `cls.predictions.*`).
    - tied_keys: parameters filled by weight tying rather than from the file.
    """

    source: str
    weights_file: str
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    newly_initialized: list[str] = field(default_factory=list)
    unused_keys: list[str] = field(default_factory=list)
    tied_keys: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every backbone weight came from the checkpoint and every checkpoint tensor was placed."""
        return not self.missing_keys and not self.unexpected_keys


# Weight files in order of preference: safetensors first (no pickle), then the pickled .bin.
_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def _hub_download(repo_id: str, filename: str, revision: str | None, hub_kwargs: dict[str, Any]) -> Path | None:
    """Download one file of a Hub repo; None when the repo has no such file."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, **hub_kwargs))
    except LocalEntryNotFoundError:
        # A subclass of EntryNotFoundError raised when the Hub cannot be reached (or HF_HUB_OFFLINE=1).
        raise ModelError(
            f"Could not reach the Hub to download {filename} of {repo_id!r}, and it is not in the local cache. Check "
            "the network, HF_ENDPOINT and HF_HUB_OFFLINE, or pass a local folder."
        ) from None
    except EntryNotFoundError:
        return None
    except RepositoryNotFoundError:
        raise ModelError(
            f"Model {repo_id!r} was not found on the Hub (or it is private or gated: log in with `hf auth login`)."
        ) from None
    except RevisionNotFoundError:
        raise ModelError(
            f"The Hub repo {repo_id!r} has no revision {revision!r}; pass an existing branch, tag or commit."
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelError(
            f"Could not download {filename} of {repo_id!r} from the Hub ({type(exc).__name__}: {exc}). Check the "
            "network and HF_ENDPOINT, or pass a local folder."
        ) from None


def read_checkpoint(
    name_or_path: str | Path, *, revision: str | None = None, **hub_kwargs: Any
) -> tuple[dict[str, Any], dict[str, torch.Tensor], str]:
    """Read config.json and all weights of a local folder or Hub repo, without importing any code from it.

    Returns (raw config dict, state dict on CPU, the weights file used). Safetensors are preferred; a pickled
    `pytorch_model.bin` is read with ``torch.load(weights_only=True)``, which refuses anything but tensors.
    """
    folder = Path(name_or_path).expanduser()
    is_local = folder.is_dir()

    def fetch(filename: str) -> Path | None:
        if is_local:
            path = folder / filename
            return path if path.is_file() else None
        return _hub_download(str(name_or_path), filename, revision, hub_kwargs)

    config_file = fetch("config.json")
    if config_file is None:
        raise ModelError(f"{name_or_path} has no config.json: it is not a transformers checkpoint folder or repo.")
    try:
        raw_config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{config_file} is not valid JSON ({exc}); re-download or fix the file.") from None
    if not isinstance(raw_config, dict):
        raise ModelError(f"{config_file} must hold a JSON object of model settings.")

    for filename in _WEIGHT_FILES:
        weights_file = fetch(filename)
        if weights_file is None:
            continue
        if filename.endswith(".index.json"):
            try:
                weight_map = json.loads(weights_file.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
                raise ModelError(f"{weights_file} is not a valid shard index ({exc}).") from None
            state: dict[str, torch.Tensor] = {}
            for shard in sorted(set(weight_map.values())):
                shard_file = fetch(shard)
                if shard_file is None:
                    raise ModelError(f"{name_or_path}: shard {shard} listed in {filename} is missing.")
                state.update(_read_weights(shard_file))
            return raw_config, state, str(weights_file)
        return raw_config, _read_weights(weights_file), str(weights_file)
    raise ModelError(f"{name_or_path} has no weights: expected one of {', '.join(_WEIGHT_FILES)} next to config.json.")


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    """One weights file as a flat name -> tensor dict (safetensors, or a pickle opened with weights_only=True)."""
    try:
        if path.name.endswith(".safetensors"):
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or hostile file: report it, never fall back to unsafe loading
        # torch's own text is long, coloured and suggests weights_only=False: keep only its first line.
        first_line = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelError(
            f"Refusing the weights in {path}: they are not a plain tensor checkpoint ({type(exc).__name__}: "
            f"{first_line[:200]}). Only safetensors, or a .bin that torch.load opens with weights_only=True, are "
            "accepted; hubtune never unpickles arbitrary objects."
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path} does not hold a flat name -> tensor state dict.")
    return state


def load_weights_into(
    model: PreTrainedModel,
    state: dict[str, torch.Tensor],
    *,
    source: str,
    weights_file: str,
    head_prefixes: Iterable[str],
    ignorable_prefixes: Iterable[str],
    strict: bool = True,
) -> LoadReport:
    """Copy `state` into `model` by name and report what happened.

    `head_prefixes`: parameters the checkpoint may lack (a task head added on top of a pre-trained backbone).
    `ignorable_prefixes`: checkpoint tensors that may be dropped (another task's head). Keys are matched with or
    without the model's `base_model_prefix`, so a bare-encoder checkpoint fits a head model and vice versa.
    With `strict`, missing backbone weights, unused tensors or shape mismatches raise ModelError.
    """
    prefix = model.base_model_prefix
    own = model.state_dict()
    has_prefix = any(k.startswith(prefix + ".") for k in own)
    remapped: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        name = key
        if has_prefix and name not in own and f"{prefix}.{name}" in own:
            name = f"{prefix}.{name}"
        elif not has_prefix and name.startswith(prefix + "."):
            name = name[len(prefix) + 1 :]
        remapped[name] = tensor

    tied_targets = set(getattr(model, "all_tied_weights_keys", {}) or {})
    head_prefixes = tuple(head_prefixes)
    ignorable_prefixes = tuple(ignorable_prefixes)
    report = LoadReport(source=source, weights_file=weights_file)
    to_load: dict[str, torch.Tensor] = {}
    mismatched: list[str] = []
    for name, tensor in remapped.items():
        if name in tied_targets and name in own:
            continue  # filled by tying below (torch .bin files store tied tensors under both names)
        if name in own:
            if tuple(own[name].shape) != tuple(tensor.shape):
                mismatched.append(f"{name}: checkpoint {tuple(tensor.shape)} vs model {tuple(own[name].shape)}")
            else:
                to_load[name] = tensor
        elif name.startswith(ignorable_prefixes):
            report.unused_keys.append(name)
        else:
            report.unexpected_keys.append(name)
    for name in own:
        if name in to_load:
            continue
        if name in tied_targets:
            report.tied_keys.append(name)
        elif name.startswith(head_prefixes):
            report.newly_initialized.append(name)
        else:
            report.missing_keys.append(name)
    if mismatched:
        raise ModelError(
            f"{source}: {len(mismatched)} weight(s) in {weights_file} do not fit the model built from its config "
            f"({'; '.join(mismatched[:3])}). For a classification head this means num_labels differs from the "
            "checkpoint's; otherwise config.json does not describe these weights."
        )
    if strict and not report.ok:
        raise ModelError(
            f"{source}: the weights in {weights_file} do not match the {type(model).__name__} layout: "
            f"{len(report.missing_keys)} missing (e.g. {report.missing_keys[:3]}), {len(report.unexpected_keys)} "
            f"unexpected (e.g. {report.unexpected_keys[:3]}). Check that this is the right model family, or pass "
            "strict=False to load what fits and inspect model.load_report."
        )
    targets = dict(model.named_parameters(remove_duplicate=False)) | dict(model.named_buffers(remove_duplicate=False))
    with torch.no_grad():
        for name, tensor in to_load.items():
            targets[name].copy_(tensor.to(dtype=targets[name].dtype))
    if tied_targets:
        model.tie_weights()
    for values in (report.missing_keys, report.unexpected_keys, report.newly_initialized, report.unused_keys):
        values.sort()
    return report


def config_kwargs(config_class: type[PreTrainedConfig], raw: dict[str, Any]) -> dict[str, Any]:
    """The fields of `raw` that `config_class` declares (auto_map, architectures, model_type etc. are dropped)."""
    names = {f.name for f in dataclasses.fields(config_class)}
    names -= {"transformers_version", "architectures", "dtype", "output_hidden_states", "return_dict"}
    kwargs = {k: v for k, v in raw.items() if k in names}
    for key in ("id2label", "label2id", "problem_type"):
        if raw.get(key) is not None:
            kwargs[key] = raw[key]
    return kwargs


def published_config_dict(config_class: type[PreTrainedConfig], loaded: tuple[dict, dict]) -> tuple[dict, dict]:
    """Translate a published config.json (another model_type, auto_map to remote code) into `config_class` fields,
    so `from_pretrained` on a published folder neither warns about the model type nor keeps the auto_map."""
    config_dict, kwargs = loaded
    if config_dict.get("model_type") != config_class.model_type:
        config_dict = {**config_kwargs(config_class, config_dict), "model_type": config_class.model_type}
    return config_dict, kwargs


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


def load_dnabert2(
    name_or_path: str | Path,
    *,
    task: str = "classification",
    num_labels: int = 2,
    revision: str | None = None,
    attn_implementation: str = "sdpa",
    dtype: torch.dtype | str | None = None,
    strict: bool = True,
    init_seed: int = 0,
    **hub_kwargs: Any,
) -> PreTrainedModel:
    """Load a DNABERT-2 checkpoint (Hub id or folder, published or hubtune-saved layout) into the native classes.

    No code from the checkpoint is imported: config.json is read as JSON and the weights as tensors. Heads the
    checkpoint lacks (the pooler and `classifier` on the published MLM checkpoint) are freshly initialised.

    Args:
        name_or_path: e.g. ``"zhihan1996/DNABERT-2-117M"`` or a local folder.
        task: ``"classification"`` (pooler + linear head; ``num_labels=1`` is regression), ``"mlm"`` or ``"base"``.
        num_labels: size of the classification head.
        revision: Hub branch, tag or commit.
        attn_implementation: ``"sdpa"`` or ``"eager"``.
        dtype: optional dtype to cast the model to after loading.
        strict: raise ModelError unless every backbone weight is found and every tensor is used.
        init_seed: seed for the freshly initialised head weights (the same seed gives the same head every time).
        **hub_kwargs: passed to ``huggingface_hub.hf_hub_download`` (token, cache_dir, local_files_only, ...).

    Returns:
        The model in eval mode, with ``model.load_report`` (a `LoadReport`) describing which keys were loaded.
    """
    raw, state, weights_file = read_checkpoint(name_or_path, revision=revision, **hub_kwargs)
    auto_map = json.dumps(raw.get("auto_map", {}))
    if (
        raw.get("model_type") != Dnabert2Config.model_type
        and "bert_layers" not in auto_map
        and "alibi_starting_size" not in raw
    ):
        raise ModelError(
            f"{name_or_path} does not look like a DNABERT-2 checkpoint: its config.json has model_type "
            f"{raw.get('model_type')!r}, no alibi_starting_size and no auto_map to bert_layers.py."
        )
    config = Dnabert2Config(**config_kwargs(Dnabert2Config, raw))
    config.name_or_path = str(name_or_path)
    model = build_native_model(
        {"classification": Dnabert2ForSequenceClassification, "mlm": Dnabert2ForMaskedLM, "base": Dnabert2Model},
        config,
        task=task,
        num_labels=num_labels,
        attn_implementation=attn_implementation,
        dtype=dtype,
        init_seed=init_seed,
    )
    heads = {"classification": ("bert.pooler.", "classifier."), "mlm": (), "base": ("pooler.",)}[task]
    ignorable = {
        "classification": ("cls.predictions.",),
        "mlm": ("bert.pooler.", "classifier."),
        "base": ("cls.predictions.", "classifier."),
    }[task]
    model.load_report = load_weights_into(
        model,
        state,
        source=str(name_or_path),
        weights_file=weights_file,
        head_prefixes=heads,
        ignorable_prefixes=ignorable,
        strict=strict,
    )
    model.eval()
    return model


# --------------------------------------------------------------------------------------------------------------------
# Tiny offline checkpoint in the published layout
# --------------------------------------------------------------------------------------------------------------------

DNABERT2_SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")


def _dna_corpus(seed: int, count: int = 400, length: int = 240) -> list[str]:
    """Deterministic DNA with recurring motifs, so BPE learns multi-base tokens as on real genomes."""
    rng = random.Random(seed)
    motifs = ["".join(rng.choice("ACGT") for _ in range(rng.randint(3, 9))) for _ in range(24)]
    motifs += ["TATAAA", "CACGTG", "GGGCGG", "AAAAAA", "TTTTTT", "CGCGCG"]
    sequences = []
    for _ in range(count):
        parts: list[str] = []
        size = 0
        while size < length:
            piece = (
                rng.choice(motifs)
                if rng.random() < 0.6
                else "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 6)))
            )
            parts.append(piece)
            size += len(piece)
        sequences.append("".join(parts)[:length])
    return sequences


def write_dnabert2_tokenizer(path: Path, *, seed: int = 0, vocab_size: int = 512) -> int:
    """Train a small DNABERT-2-style BPE tokenizer and write tokenizer.json + configs; returns the vocabulary size.

    Layout as published: [UNK]=0, [CLS]=1, [SEP]=2, [PAD]=3, [MASK]=4, then A, C, G, T, then merges; Whitespace
    pre-tokenizer; post-processor ``[CLS] $A [SEP]``; tokenizer_class PreTrainedTokenizerFast.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(DNABERT2_SPECIAL_TOKENS),
        initial_alphabet=list("ACGT"),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_dna_corpus(seed), trainer=trainer)
    ids = {token: tokenizer.token_to_id(token) for token in (*DNABERT2_SPECIAL_TOKENS, "A", "C", "G", "T")}
    if [ids[t] for t in (*DNABERT2_SPECIAL_TOKENS, "A", "C", "G", "T")] != list(range(9)):
        raise RuntimeError(f"unexpected BPE id layout: {ids}")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 1), ("[SEP]", 2)],
    )
    path.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path / "tokenizer.json"))
    specials = {
        "unk_token": "[UNK]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "mask_token": "[MASK]",
    }
    tokenizer_config = {
        "clean_up_tokenization_spaces": True,
        **specials,
        "model_max_length": 512,
        "padding_side": "right",
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    write_json(path / "tokenizer_config.json", tokenizer_config)
    write_json(path / "special_tokens_map.json", specials)
    return tokenizer.get_vocab_size()


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def seeded_build(seed: int, build: Callable[[], _T]) -> _T:
    """Build a model from `seed` without disturbing the caller's global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def composition_embeddings(weight: torch.Tensor, tokens: list[str], seed: int) -> None:
    """Overwrite the rows of DNA tokens in `weight` with sums of per-(position, base) random vectors.

    Purely random token vectors carry no sequence content, so only full fine-tuning could learn on a tiny random
    model. Embeddings built from each token's bases give the tiny stand-in that property of a pre-trained model,
    so LoRA and layer probing behave on it qualitatively as on the real checkpoint. Special tokens keep theirs.
    """
    dna = {index: token for index, token in enumerate(tokens) if token and set(token) <= set("ACGTN")}
    if not dna:
        return
    generator = torch.Generator().manual_seed(seed + 1)
    longest = max(len(token) for token in dna.values())
    per_base = torch.randn(longest, 5, weight.shape[1], generator=generator)
    column = {base: i for i, base in enumerate("ACGTN")}
    with torch.no_grad():
        for index, token in dna.items():
            vector = sum(per_base[position, column[base]] for position, base in enumerate(token))
            weight[index] = (vector / math.sqrt(len(token))).to(weight.dtype)


def build_tiny_dnabert2(
    path: Path,
    seed: int = 0,
    *,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    intermediate_size: int = 128,
    vocab_size: int = 512,
) -> Path:
    """Write a tiny random DNABERT-2 checkpoint in the published layout: config.json (model_type "bert" + the real
    auto_map), `pytorch_model.bin` with the remote BertForMaskedLM key names, and a BPE tokenizer. Token
    embeddings are built from each token's bases (see `composition_embeddings`). Deterministic for a given seed,
    fully offline, and no Python files are written."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    actual_vocab = write_dnabert2_tokenizer(path, seed=seed, vocab_size=vocab_size)
    published = {
        "_name_or_path": "zhihan1996/DNABERT-2-117M",
        "alibi_starting_size": 512,
        "attention_probs_dropout_prob": 0.0,
        "auto_map": DNABERT2_AUTO_MAP,
        "classifier_dropout": None,
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": intermediate_size,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": num_attention_heads,
        "num_hidden_layers": num_hidden_layers,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.28.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": actual_vocab,
    }
    config = Dnabert2Config(**config_kwargs(Dnabert2Config, published))
    model = seeded_build(seed, lambda: Dnabert2ForMaskedLM(config))
    vocab = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    tokens = [""] * actual_vocab
    for token, index in vocab.items():
        tokens[index] = token
    composition_embeddings(model.bert.embeddings.word_embeddings.weight, tokens, seed)
    # A state dict as the remote BertForMaskedLM saves it: `bert.*` (no pooler) + `cls.predictions.*`, with the
    # tied decoder weight stored under both names.
    state = {name: tensor.detach().clone().contiguous() for name, tensor in model.state_dict().items()}
    state["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]
    torch.save(state, path / "pytorch_model.bin")
    write_json(path / "config.json", published)
    return path
