"""Native Nucleotide Transformer v2 (`InstaDeepAI/nucleotide-transformer-v2-*-multi-species`) without remote code.

NT v2 is published as a fork of transformers' ESM (`esm_config.py` + `modeling_esm.py`). The differences from
transformers' own ESM: rotary positions (the per-layer `attention.self.rotary_embeddings.inv_freq` buffer), a
bias-free SwiGLU feed-forward (`intermediate.dense` H -> 2I, silu(first half) * second half, `output.dense` I -> H),
and a vocabulary of 4107 tokens. Everything shared with ESM is kept as ESM does it: the query is scaled by
head_dim^-0.5 before the rotation, pre-LayerNorm blocks, `emb_layer_norm_after` on the last layer, embeddings zeroed
at padded positions, no embedding dropout, and the ESM masked-LM and classification heads. Parameter names are the
remote code's, so the published `model.safetensors` loads key for key.

Execution is padding-free (`unpad.py`): the projections, LayerNorms and the SwiGLU feed-forward run on a batch's real
tokens only, and q/k/v are re-padded for attention; hidden states are 0 at padded positions.
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
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    MaskedLMOutput,
    SequenceClassifierOutput,
)

from ..errors import ModelError
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
    "NTV2_AUTO_MAP",
    "LoadReport",
    "NTv2Config",
    "NTv2ForMaskedLM",
    "NTv2ForSequenceClassification",
    "NTv2Model",
    "NTv2PreTrainedModel",
    "load_ntv2",
]

# The auto_map of the published config.json, kept verbatim in tiny checkpoints.
NTV2_AUTO_MAP = {
    "AutoConfig": "esm_config.EsmConfig",
    "AutoModelForMaskedLM": "modeling_esm.EsmForMaskedLM",
    "AutoModelForSequenceClassification": "modeling_esm.EsmForSequenceClassification",
    "AutoModelForTokenClassification": "modeling_esm.EsmForTokenClassification",
}


class NTv2Config(PreTrainedConfig):
    """Configuration of a native NT v2 model; reads every field of the published config.json."""

    model_type = "hubtune_ntv2"

    vocab_size: int = 4107
    mask_token_id: int | None = 2
    pad_token_id: int | None = 1
    hidden_size: int = 512
    num_hidden_layers: int = 12
    num_attention_heads: int = 16
    intermediate_size: int = 2048
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    # Size of the (unused) absolute position table the checkpoint still carries; rotary needs no cap.
    max_position_embeddings: int = 2050
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    position_embedding_type: str = "rotary"
    use_cache: bool = False
    emb_layer_norm_before: bool | None = False
    token_dropout: bool = False
    is_folding_model: bool = False
    esmfold_config: dict | None = None
    vocab_list: list | None = None
    add_bias_fnn: bool = False
    tie_word_embeddings: bool = False

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> tuple[dict, dict]:
        """Also read the published config.json (model_type "esm" + auto_map): keep only the declared fields."""
        return published_config_dict(cls, super().get_config_dict(pretrained_model_name_or_path, **kwargs))

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        if self.position_embedding_type != "rotary":
            raise ModelError(
                f"NT v2 config: position_embedding_type is {self.position_embedding_type!r}, but NT v2 uses 'rotary'. "
                "A checkpoint with absolute positions is NT v1, which transformers' EsmForMaskedLM loads natively."
            )
        if self.hidden_size % self.num_attention_heads != 0:
            raise ModelError(
                f"NT v2 config: hidden_size ({self.hidden_size}) is not a multiple of num_attention_heads "
                f"({self.num_attention_heads}). Fix these two fields in config.json."
            )


def _gelu(x: torch.Tensor) -> torch.Tensor:
    """The erf GELU of the ESM code."""
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


class NTv2RotaryEmbedding(nn.Module):
    """Rotary embedding over positions 0..L-1 (halves rotated, as in ESM); `inv_freq` is a saved buffer."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.register_buffer("inv_freq", self.default_inv_freq(dim))

    @staticmethod
    def default_inv_freq(dim: int) -> torch.Tensor:
        return 1.0 / (10000 ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(key.shape[-2], device=key.device, dtype=self.inv_freq.dtype)
        freqs = torch.outer(positions, self.inv_freq)
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos()[None, None].to(query.dtype), angles.sin()[None, None].to(query.dtype)
        return query * cos + _rotate_half(query) * sin, key * cos + _rotate_half(key) * sin


class NTv2Embeddings(nn.Module):
    """Word embeddings (optionally ESM token dropout), zeroed at padded positions. The position table is kept for
    the published state dict but unused with rotary positions."""

    def __init__(self, config: NTv2Config):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.layer_norm = (
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.emb_layer_norm_before else None
        )
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.hidden_size, padding_idx=config.pad_token_id
        )
        # Never used with rotary positions: frozen so optimisers and DDP do not see a parameter without gradient.
        self.position_embeddings.weight.requires_grad_(False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, inputs_embeds: torch.Tensor | None
    ) -> torch.Tensor:
        embeddings = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        if self.config.token_dropout and input_ids is not None:
            # ESM "mask dropout": zero <mask> embeddings and rescale by the training mask ratio.
            is_mask = input_ids == self.config.mask_token_id
            embeddings = embeddings.masked_fill(is_mask[..., None], 0.0)
            observed = is_mask.sum(-1).to(embeddings.dtype) / attention_mask.sum(-1).to(embeddings.dtype)
            embeddings = embeddings * (1 - 0.15 * 0.8) / (1 - observed)[:, None, None]
        if self.layer_norm is not None:
            embeddings = self.layer_norm(embeddings)
        return embeddings * attention_mask[..., None].to(embeddings.dtype)


class NTv2SelfAttention(nn.Module):
    """Separate query/key/value projections on packed tokens, re-padded to (batch, span) for attention with rotary
    positions (SDPA or a plain eager path); the context comes back packed."""

    def __init__(self, config: NTv2Config):
        super().__init__()
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_prob = config.attention_probs_dropout_prob
        self.rotary_embeddings = NTv2RotaryEmbedding(self.head_dim)

    def forward(
        self,
        hidden_states: torch.Tensor,
        layout: TokenLayout,
        mask: torch.Tensor | None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length, hidden = layout.batch, layout.span, hidden_states.shape[-1]

        def heads(x: torch.Tensor) -> torch.Tensor:
            return layout.grid(x).view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

        # ESM scales the query before the rotation (equivalent to scaling the scores, kept for bit-level parity).
        query = heads(self.query(hidden_states)) * self.head_dim**-0.5
        key, value = heads(self.key(hidden_states)), heads(self.value(hidden_states))
        query, key = self.rotary_embeddings(query, key)
        dropout = self.dropout_prob if self.training else 0.0
        weights = None
        if output_attentions or self.config._attn_implementation == "eager":
            scores = torch.matmul(query, key.transpose(-1, -2))
            if mask is not None:
                scores = scores + mask
            weights = scores.softmax(dim=-1)
            context = torch.matmul(F.dropout(weights, p=dropout, training=self.training), value)
        else:
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout, scale=1.0)
        context = layout.gather(context.transpose(1, 2).reshape(batch, length, hidden))
        return context, None if weights is None else layout.pad_square(weights)


class NTv2SelfOutput(nn.Module):
    """dense + dropout + residual (the LayerNorm sits before attention: pre-LN)."""

    def __init__(self, config: NTv2Config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states)) + residual


class NTv2Attention(nn.Module):
    """x + output(self(LayerNorm(x)))."""

    def __init__(self, config: NTv2Config):
        super().__init__()
        self.self = NTv2SelfAttention(config)
        self.output = NTv2SelfOutput(config)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        layout: TokenLayout,
        mask: torch.Tensor | None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, weights = self.self(self.LayerNorm(hidden_states), layout, mask, output_attentions)
        return self.output(context, hidden_states), weights


class NTv2Intermediate(nn.Module):
    """SwiGLU: silu(first half) * second half of dense(x), dense H -> 2I (bias only if add_bias_fnn)."""

    def __init__(self, config: NTv2Config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=config.add_bias_fnn)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        gate, up = self.dense(hidden_states).chunk(2, dim=-1)
        return F.silu(gate) * up


class NTv2Output(nn.Module):
    """dense I -> H (bias only if add_bias_fnn) + dropout + residual."""

    def __init__(self, config: NTv2Config):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.add_bias_fnn)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states)) + residual


class NTv2Layer(GradientCheckpointingLayer):
    """Pre-LN block on packed tokens (tokens, hidden): a = x + attention(LN(x)); y = a + output(SwiGLU(LN(a)))."""

    def __init__(self, config: NTv2Config):
        super().__init__()
        self.attention = NTv2Attention(config)
        self.intermediate = NTv2Intermediate(config)
        self.output = NTv2Output(config)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        layout: TokenLayout,
        mask: torch.Tensor | None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(hidden_states, layout, mask, output_attentions)
        return self.output(self.intermediate(self.LayerNorm(attended)), attended), weights


class NTv2Encoder(nn.Module):
    """Layer stack + final `emb_layer_norm_after`. Hidden states as ESM reports them: the input of every layer,
    then the normalised output of the last one. Padded states in and out; the layers run on packed real tokens unless
    ``padding_free`` is False (every padded position computed, same results at real positions)."""

    def __init__(self, config: NTv2Config):
        super().__init__()
        self.layer = nn.ModuleList([NTv2Layer(config) for _ in range(config.num_hidden_layers)])
        self.emb_layer_norm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.gradient_checkpointing = False
        self.padding_free = True

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None, tuple[torch.Tensor, ...] | None]:
        layout = token_layout(attention_mask, self.padding_free)
        mask = layout.key_bias(hidden_states.dtype)
        packed = layout.pack(hidden_states)
        all_hidden: tuple[torch.Tensor, ...] | None = () if output_hidden_states else None
        all_attentions: tuple[torch.Tensor, ...] | None = () if output_attentions else None
        for layer in self.layer:
            if all_hidden is not None:
                all_hidden = all_hidden + (layout.pad_back(packed),)
            packed, weights = layer(packed, layout, mask, output_attentions)
            if all_attentions is not None:
                all_attentions = all_attentions + (weights,)
        last = layout.pad_back(self.emb_layer_norm_after(packed))
        if all_hidden is not None:
            all_hidden = all_hidden + (last,)
        return last, all_hidden, all_attentions


class NTv2LMHead(nn.Module):
    """ESM masked-LM head: decoder(LayerNorm(gelu(dense(x)))) + bias."""

    def __init__(self, config: NTv2Config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(_gelu(self.dense(features)))) + self.bias


class NTv2ClassificationHead(nn.Module):
    """ESM sequence head on the <cls> position: out_proj(dropout(tanh(dense(dropout(x[:, 0])))))."""

    def __init__(self, config: NTv2Config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dropout(features[:, 0, :])
        x = self.dropout(torch.tanh(self.dense(x)))
        return self.out_proj(x)


class NTv2PreTrainedModel(PreTrainedModel):
    """Shared loading/initialisation behaviour of the native NT v2 models."""

    config_class = NTv2Config
    base_model_prefix = "esm"
    supports_gradient_checkpointing = True
    accepts_loss_kwargs = False
    _no_split_modules = ["NTv2Layer"]
    _supports_sdpa = True
    # The published checkpoints carry ESM's contact-prediction head, which DNA models never use.
    _keys_to_ignore_on_load_unexpected = [r"contact_head\."]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, NTv2LMHead):
            init.zeros_(module.bias)
        elif isinstance(module, NTv2RotaryEmbedding):
            init.copy_(module.inv_freq, NTv2RotaryEmbedding.default_inv_freq(module.dim))

    def set_attn_implementation(self, attn_implementation: str | dict, allow_all_kernels: bool = False) -> None:
        """Switch between ``"sdpa"`` (default) and ``"eager"`` attention."""
        self.config._attn_implementation = attn_implementation_name(attn_implementation, "NT v2")


class NTv2Model(NTv2PreTrainedModel):
    """The NT v2 encoder (`esm.*` in the published checkpoint)."""

    def __init__(self, config: NTv2Config):
        super().__init__(config)
        self.embeddings = NTv2Embeddings(config)
        self.encoder = NTv2Encoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPoolingAndCrossAttentions | tuple:
        """Encode a batch; `attention_mask` marks real tokens. `position_ids` is ignored (rotary over 0..L-1)."""
        attention_mask = attention_mask_or_ones(input_ids, inputs_embeds, attention_mask)
        if output_hidden_states is None:
            output_hidden_states = bool(self.config.output_hidden_states)
        embeddings = self.embeddings(input_ids, attention_mask, inputs_embeds)
        sequence, hidden_states, attentions = self.encoder(
            embeddings,
            attention_mask,
            output_hidden_states=output_hidden_states,
            output_attentions=bool(output_attentions),
        )
        output = BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence, hidden_states=hidden_states, attentions=attentions
        )
        return model_output(output, return_dict, self.config)


class NTv2ForMaskedLM(NTv2PreTrainedModel):
    """NT v2 with the ESM masked-LM head (`lm_head.*`; untied from the embeddings, as published)."""

    _tied_weights_keys = {"lm_head.decoder.weight": "esm.embeddings.word_embeddings.weight"}
    _keys_to_ignore_on_load_unexpected = [r"contact_head\.", r"^classifier\."]

    def __init__(self, config: NTv2Config):
        super().__init__(config)
        self.esm = NTv2Model(config)
        self.lm_head = NTv2LMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head.decoder = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> MaskedLMOutput | tuple:
        """Logits over the vocabulary for every position; `labels` (-100 = ignore) give the cross-entropy loss."""
        outputs = self.esm(
            input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.to(logits.device).view(-1))
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return model_output(output, return_dict, self.config)


class NTv2ForSequenceClassification(NTv2PreTrainedModel):
    """NT v2 + the ESM classification head (`classifier.dense`, `classifier.out_proj`) on the <cls> token."""

    _keys_to_ignore_on_load_unexpected = [r"contact_head\.", r"^lm_head\."]

    def __init__(self, config: NTv2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.esm = NTv2Model(config)
        self.classifier = NTv2ClassificationHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput | tuple:
        """Logits (batch, num_labels); `labels` give the loss as in BERT (regression when num_labels == 1)."""
        outputs = self.esm(
            input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(outputs.last_hidden_state)
        loss = sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return model_output(output, return_dict, self.config)


# Let Auto* classes open folders this module saved (model_type "hubtune_ntv2").
register_auto_classes(NTv2Config, NTv2Model, NTv2ForMaskedLM, NTv2ForSequenceClassification)


def load_ntv2(
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
    """Load an NT v2 checkpoint (Hub id or folder, published or hubtune-saved layout) into the native classes.

    No code from the checkpoint is imported. The `classifier` head is freshly initialised on the published MLM
    checkpoints; ESM's unused contact head and the other task's head are dropped (listed in
    ``model.load_report.unused_keys``).

    Args:
        name_or_path: e.g. ``"InstaDeepAI/nucleotide-transformer-v2-50m-multi-species"`` or a local folder.
        task: ``"classification"`` (``num_labels=1`` is regression), ``"mlm"`` or ``"base"``.
        num_labels: size of the classification head.
        revision: Hub branch, tag or commit.
        attn_implementation: ``"sdpa"`` or ``"eager"``.
        dtype: optional dtype to cast the model to after loading.
        strict: raise ModelError unless every backbone weight is found and every tensor is used.
        init_seed: seed for the freshly initialised head weights (the same seed gives the same head every time).
        **hub_kwargs: passed to ``huggingface_hub.hf_hub_download`` (token, cache_dir, local_files_only, ...).

    Returns:
        The model in eval mode, with ``model.load_report`` (a `LoadReport`).

    Example:
        >>> model = load_ntv2("InstaDeepAI/nucleotide-transformer-v2-50m-multi-species", num_labels=2)  # doctest: +SKIP
        >>> model.load_report.unused_keys[:1]  # doctest: +SKIP
        ['esm.contact_head.regression.bias']
    """

    def ntv2_config(raw: dict[str, Any]) -> NTv2Config:
        model_type = raw.get("model_type")
        auto_map = json.dumps(raw.get("auto_map", {}))
        if model_type not in ("esm", NTv2Config.model_type, None) or (
            model_type is None and "modeling_esm" not in auto_map
        ):
            raise ModelError(
                f"{name_or_path} does not look like a Nucleotide Transformer v2 checkpoint: config.json has model_type "
                f"{model_type!r} (expected 'esm')."
            )
        if raw.get("position_embedding_type", "rotary") != "rotary":
            raise ModelError(
                f"{name_or_path} uses {raw.get('position_embedding_type')!r} positions: it is a Nucleotide Transformer "
                "v1 checkpoint, which transformers' EsmForSequenceClassification loads natively (family 'nt')."
            )
        return NTv2Config(**config_kwargs(NTv2Config, raw))

    return load_native_checkpoint(
        name_or_path,
        ntv2_config,
        {"classification": NTv2ForSequenceClassification, "mlm": NTv2ForMaskedLM, "base": NTv2Model},
        head_prefixes={"classification": ("classifier.",), "mlm": (), "base": ()},
        ignorable_prefixes={
            "classification": ("lm_head.", "esm.contact_head."),
            "mlm": ("classifier.", "esm.contact_head."),
            "base": ("lm_head.", "classifier.", "contact_head."),
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
