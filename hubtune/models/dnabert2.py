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

Execution is padding-free, as in the published code (`unpad.py`): padding is dropped once, the fused QKV, the
attention output and the gated MLP run on the real tokens only, and only q/k/v are re-padded for attention.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

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
from .alibi import AlibiCache, alibi_bias, alibi_slopes
from .checkpoint import LoadReport, config_kwargs, published_config_dict
from .native import (
    attention_mask_or_ones,
    attn_implementation_name,
    load_native_checkpoint,
    model_output,
    register_auto_classes,
    sequence_classification_loss,
)
from .unpad import TokenLayout, token_layout

__all__ = [
    "DNABERT2_AUTO_MAP",
    "Dnabert2Config",
    "Dnabert2ForMaskedLM",
    "Dnabert2ForSequenceClassification",
    "Dnabert2Model",
    "Dnabert2PreTrainedModel",
    "LoadReport",
    "alibi_bias",
    "alibi_slopes",
    "load_dnabert2",
]

# The auto_map of the published config.json. Kept verbatim in tiny checkpoints so they look exactly like the real one.
DNABERT2_AUTO_MAP = {
    "AutoConfig": "configuration_bert.BertConfig",
    "AutoModel": "bert_layers.BertModel",
    "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM",
    "AutoModelForSequenceClassification": "bert_layers.BertForSequenceClassification",
}


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
    """Fused-QKV self-attention on packed tokens: QKV re-padded to (batch, span) for one attention call with an
    additive float bias (ALiBi + padding), via SDPA or a plain eager path; the context comes back packed."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.dropout_prob = config.attention_probs_dropout_prob
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)

    def forward(
        self, hidden_states: torch.Tensor, layout: TokenLayout, bias: torch.Tensor, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length, hidden = layout.batch, layout.span, hidden_states.shape[-1]
        # The remote code splits the fused output as (3, heads, head_dim).
        qkv = layout.grid(self.Wqkv(hidden_states)).view(batch, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (batch, heads, length, head_dim)
        dropout = self.dropout_prob if self.training else 0.0
        weights = None
        if output_attentions or self.config._attn_implementation == "eager":
            scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.head_dim) + bias
            weights = scores.softmax(dim=-1)
            context = torch.matmul(F.dropout(weights, p=dropout, training=self.training), value)
        else:
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=bias, dropout_p=dropout)
        context = layout.gather(context.transpose(1, 2).reshape(batch, length, hidden))
        return context, None if weights is None else layout.pad_square(weights)


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
        self, hidden_states: torch.Tensor, layout: TokenLayout, bias: torch.Tensor, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, weights = self.self(hidden_states, layout, bias, output_attentions)
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
    """One encoder block on packed tokens (tokens, hidden): attention then gated MLP, both post-LN."""

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.attention = Dnabert2AttentionBlock(config)
        self.mlp = Dnabert2GatedMLP(config)

    def forward(
        self, hidden_states: torch.Tensor, layout: TokenLayout, bias: torch.Tensor, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(hidden_states, layout, bias, output_attentions)
        return self.mlp(attended), weights


class Dnabert2Encoder(nn.Module):
    """The layer stack plus the ALiBi table (a cache, never a parameter or buffer, so meta-device loading is safe).

    Takes and returns padded (batch, width, hidden) states; in between, padding is dropped once and the layers run on
    the packed real tokens (``padding_free``, the default; False computes every padded position, as a plain padded
    forward does, with the same results at real positions).
    """

    def __init__(self, config: Dnabert2Config):
        super().__init__()
        self.config = config
        self.layer = nn.ModuleList([Dnabert2Layer(config) for _ in range(config.num_hidden_layers)])
        self.gradient_checkpointing = False
        self.padding_free = True
        self.alibi = AlibiCache(config.num_attention_heads, config.alibi_starting_size)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None, tuple[torch.Tensor, ...] | None]:
        layout = token_layout(attention_mask, self.padding_free)
        dtype = hidden_states.dtype
        bias = self.alibi(layout.span, hidden_states.device, dtype)
        padding = layout.key_bias(dtype)  # padded keys get the most negative value (remote code: -10000)
        if padding is not None:
            bias = bias + padding
        packed = layout.pack(hidden_states)
        all_hidden: tuple[torch.Tensor, ...] | None = (layout.pad_back(packed),) if output_hidden_states else None
        all_attentions: tuple[torch.Tensor, ...] | None = () if output_attentions else None
        for layer in self.layer:
            packed, weights = layer(packed, layout, bias, output_attentions)
            if all_hidden is not None:
                all_hidden = all_hidden + (layout.pad_back(packed),)
            if all_attentions is not None:
                all_attentions = all_attentions + (weights,)
        last = all_hidden[-1] if all_hidden is not None else layout.pad_back(packed)
        return last, all_hidden, all_attentions


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
        self.config._attn_implementation = attn_implementation_name(
            attn_implementation, "DNABERT-2", " (ALiBi needs an additive bias, which flash-attention kernels do not take)"
        )


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
        attention_mask = attention_mask_or_ones(input_ids, inputs_embeds, attention_mask)
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


# Let Auto* classes open folders this module saved (model_type "hubtune_dnabert2").
register_auto_classes(Dnabert2Config, Dnabert2Model, Dnabert2ForMaskedLM, Dnabert2ForSequenceClassification)


# --------------------------------------------------------------------------------------------------------------------
# Loading published checkpoints
# --------------------------------------------------------------------------------------------------------------------


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

    Example:
        >>> model = load_dnabert2("zhihan1996/DNABERT-2-117M", num_labels=2)  # doctest: +SKIP
        >>> model.load_report.ok  # doctest: +SKIP
        True
    """

    def dnabert2_config(raw: dict[str, Any]) -> Dnabert2Config:
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
        return Dnabert2Config(**config_kwargs(Dnabert2Config, raw))

    return load_native_checkpoint(
        name_or_path,
        dnabert2_config,
        {"classification": Dnabert2ForSequenceClassification, "mlm": Dnabert2ForMaskedLM, "base": Dnabert2Model},
        head_prefixes={"classification": ("bert.pooler.", "classifier."), "mlm": (), "base": ("pooler.",)},
        ignorable_prefixes={
            "classification": ("cls.predictions.",),
            "mlm": ("bert.pooler.", "classifier."),
            "base": ("cls.predictions.", "classifier."),
        },
        task=task,
        num_labels=num_labels,
        revision=revision,
        attn_implementation=attn_implementation,
        dtype=dtype,
        strict=strict,
        init_seed=init_seed,
        hub_kwargs=hub_kwargs,
    )
