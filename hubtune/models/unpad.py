"""Padding-free execution for the native families.

A padded batch (batch, width, hidden) is turned once into the matrix of its real tokens (tokens, hidden); the dense
layers, LayerNorms and feed-forward blocks run on those rows only, attention re-pads its query/key/value to
(batch, span) for one batched `scaled_dot_product_attention` with a key mask, and the result is padded back to the
input's width only where an output needs it. ``span`` is the last column holding a real token in any row, so columns
that are padding in every row are never computed at all. A batch without padding keeps its layout: packing is a
reshape (no gather) and attention runs unmasked.

Relative position terms (ALiBi, rotary) see the tokens at their original columns, so a sequence's outputs do not
depend on its batch mates or on the amount of padding. Padded positions of every returned hidden state are 0.

Example:
    >>> layout = token_layout(torch.tensor([[1, 1, 1], [1, 0, 0]]))
    >>> layout.tokens, layout.span
    (4, 3)
    >>> layout.pack(torch.arange(6.0).view(2, 3, 1)).flatten().tolist()
    [0.0, 1.0, 2.0, 3.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TokenLayout", "gather_rows", "is_padding_free", "scatter_rows", "set_padding_free", "token_layout"]


class _GatherRows(torch.autograd.Function):
    """source[indices] along dim 0; the gradient is written back with a plain indexed copy (the indices are unique),
    not with index_add as `index_select`'s own backward does, which is many times slower on CPU."""

    @staticmethod
    def forward(ctx, source: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(indices)
        ctx.rows = source.shape[0]
        return source.index_select(0, indices)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (indices,) = ctx.saved_tensors
        return grad.new_zeros(ctx.rows, *grad.shape[1:]).index_put_((indices,), grad), None


class _ScatterRows(torch.autograd.Function):
    """A (rows, ...) zero tensor with `source` written at `indices` along dim 0; the gradient is a gather."""

    @staticmethod
    def forward(ctx, source: torch.Tensor, indices: torch.Tensor, rows: int) -> torch.Tensor:
        ctx.save_for_backward(indices)
        return source.new_zeros(rows, *source.shape[1:]).index_put_((indices,), source)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (indices,) = ctx.saved_tensors
        return grad.index_select(0, indices), None, None


def gather_rows(source: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``source[indices]`` along dim 0 for unique `indices`, with a fast backward.

    Example:
        >>> gather_rows(torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([0, 2])).tolist()
        [[1.0], [3.0]]
    """
    return _GatherRows.apply(source, indices)


def scatter_rows(source: torch.Tensor, indices: torch.Tensor, rows: int) -> torch.Tensor:
    """A zero tensor of `rows` rows holding `source` at the unique `indices` along dim 0 (the inverse of
    `gather_rows`).

    Example:
        >>> scatter_rows(torch.tensor([[1.0], [3.0]]), torch.tensor([0, 2]), 3).tolist()
        [[1.0], [0.0], [3.0]]
    """
    return _ScatterRows.apply(source, indices, rows)


@dataclass(frozen=True)
class TokenLayout:
    """Where a batch's real tokens sit.

    Attributes:
        batch: rows of the padded batch.
        width: columns of the padded batch.
        span: columns attention works on (the last real column + 1; ``width`` in padded mode).
        tokens: rows of the packed matrix.
        indices: positions of the packed rows in the flattened (batch, span) grid; None when every grid position is
            a packed row (no padding, or padded mode), so packing is a reshape.
        real: (batch, span) bool mask of real tokens; None when nothing is padded.
    """

    batch: int
    width: int
    span: int
    tokens: int
    indices: torch.Tensor | None
    real: torch.Tensor | None

    def gather(self, grid: torch.Tensor) -> torch.Tensor:
        """(batch, span, ...) -> (tokens, ...): the rows of real tokens (a reshape when nothing needs dropping).

        Example:
            >>> token_layout(torch.tensor([[1, 0], [1, 1]])).gather(torch.tensor([[5.0, 6.0], [7.0, 8.0]])).tolist()
            [5.0, 7.0, 8.0]
        """
        flat = grid.reshape(self.batch * self.span, *grid.shape[2:])
        return flat if self.indices is None else gather_rows(flat, self.indices)

    def pack(self, padded: torch.Tensor) -> torch.Tensor:
        """(batch, width, ...) -> (tokens, ...): a padded tensor's real tokens, in row-major order.

        Example:
            >>> token_layout(torch.tensor([[1, 1, 0]])).pack(torch.ones(1, 3, 4)).shape
            torch.Size([2, 4])
        """
        return self.gather(padded[:, : self.span] if self.span != self.width else padded)

    def grid(self, packed: torch.Tensor) -> torch.Tensor:
        """(tokens, ...) -> (batch, span, ...) with zeros at padded positions (a view when nothing was dropped).

        Example:
            >>> token_layout(torch.tensor([[1, 0], [1, 1]])).grid(torch.tensor([1.0, 2.0, 3.0])).tolist()
            [[1.0, 0.0], [2.0, 3.0]]
        """
        rest = packed.shape[1:]
        if self.indices is None:
            return packed.view(self.batch, self.span, *rest)
        return scatter_rows(packed, self.indices, self.batch * self.span).view(self.batch, self.span, *rest)

    def pad_back(self, packed: torch.Tensor) -> torch.Tensor:
        """(tokens, hidden) -> (batch, width, hidden), zero at every padded position.

        Example:
            >>> token_layout(torch.tensor([[1, 0, 0]])).pad_back(torch.ones(1, 2)).tolist()
            [[[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]]
        """
        grid = self.grid(packed)
        if self.indices is None and self.real is not None:  # padded mode: padded rows were computed, zero them
            grid = grid * self.real[..., None].to(grid.dtype)
        if self.span != self.width:
            grid = F.pad(grid, (0, 0, 0, self.width - self.span))
        return grid

    def pad_square(self, weights: torch.Tensor) -> torch.Tensor:
        """Attention weights (batch, heads, span, span) -> (batch, heads, width, width), zero beyond the span.

        Example:
            >>> token_layout(torch.tensor([[1, 0]])).pad_square(torch.ones(1, 1, 1, 1)).shape
            torch.Size([1, 1, 2, 2])
        """
        extra = self.width - self.span
        return F.pad(weights, (0, extra, 0, extra)) if extra else weights

    def key_bias(self, dtype: torch.dtype) -> torch.Tensor | None:
        """Additive key mask (batch, 1, 1, span): 0 for real keys, the dtype's most negative value for padded ones;
        None when nothing is padded.

        Example:
            >>> token_layout(torch.tensor([[1, 0], [1, 1]])).key_bias(torch.float32)[:, 0, 0].tolist()
            [[0.0, -3.4028234663852886e+38], [0.0, 0.0]]
        """
        if self.real is None:
            return None
        bias = torch.zeros(self.real.shape, dtype=dtype, device=self.real.device)
        return bias.masked_fill_(~self.real, torch.finfo(dtype).min)[:, None, None, :]


def token_layout(attention_mask: torch.Tensor, padding_free: bool = True) -> TokenLayout:
    """The layout of a batch from its (batch, width) attention mask (1 = real token, any position may be padding).

    With ``padding_free=False`` every position is computed, as a plain padded forward does (the reference path).

    Example:
        >>> token_layout(torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0]])).span
        2
    """
    batch, width = attention_mask.shape
    real = attention_mask.bool()
    if bool(real.all()):
        return TokenLayout(batch, width, width, batch * width, None, None)
    if not padding_free:
        return TokenLayout(batch, width, width, batch * width, None, real)
    columns = real.any(dim=0).nonzero()
    span = int(columns[-1]) + 1 if columns.numel() else 1
    real = real[:, :span]
    if bool(real.all()):  # equal lengths padded further than needed: trim the columns, gather nothing
        return TokenLayout(batch, width, span, batch * span, None, None)
    indices = real.reshape(-1).nonzero().squeeze(1)
    return TokenLayout(batch, width, span, int(indices.numel()), indices, real)


def set_padding_free(model: nn.Module, enabled: bool = True) -> int:
    """Switch every native encoder inside `model` (peft wrappers included) between padding-free execution (the
    default) and the plain padded computation; returns how many encoders were switched.

    Example:
        >>> set_padding_free(model, False)  # doctest: +SKIP
        1
    """
    switched = 0
    for module in model.modules():
        if hasattr(module, "padding_free"):
            module.padding_free = bool(enabled)
            switched += 1
    return switched


def is_padding_free(model: nn.Module) -> bool:
    """Whether the native encoders inside `model` run padding-free (False when it has none).

    Example:
        >>> is_padding_free(model)  # doctest: +SKIP
        True
    """
    flags = [module.padding_free for module in model.modules() if hasattr(module, "padding_free")]
    return bool(flags) and all(flags)
