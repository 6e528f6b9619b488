"""ALiBi (attention with linear biases): the head slopes and the symmetric distance bias DNABERT-2 adds to its
attention scores in place of position embeddings."""

from __future__ import annotations

import math

import torch

__all__ = ["AlibiCache", "alibi_bias", "alibi_slopes"]


def alibi_slopes(num_heads: int) -> list[float]:
    """ALiBi head slopes: 2^(-8/n) geometric for a power of 2; otherwise the nearest lower power of 2 plus every
    other slope of the next power of 2 (for 12 heads: 2^-1 ... 2^-8, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5).

    Example:
        >>> alibi_slopes(4)
        [0.25, 0.0625, 0.015625, 0.00390625]
    """

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
    """The symmetric ALiBi bias ``-slope_h * |i - j|``, shape (1, heads, length, length).

    Example:
        >>> alibi_bias(4, 3)[0, 0, 0].tolist()
        [-0.0, -0.25, -0.5]
    """
    positions = torch.arange(length, device=device)
    distance = (positions[None, :] - positions[:, None]).abs().to(torch.float32)
    slopes = torch.tensor(alibi_slopes(num_heads), device=device, dtype=torch.float32)
    return (-slopes[:, None, None] * distance[None]).unsqueeze(0).to(dtype)


class AlibiCache:
    """The ALiBi bias of a model, built once and grown on demand (no length cap). Kept outside parameters and
    buffers, so meta-device loading never sees it; rebuilt for another device or dtype, and when switching between
    inference mode and autograd (a table made under inference_mode cannot be saved for backward).

    Example:
        >>> AlibiCache(4, starting_size=8)(3, torch.device("cpu"), torch.float32).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(self, num_heads: int, starting_size: int = 512):
        self.num_heads = num_heads
        self.starting_size = int(starting_size)
        self.table: torch.Tensor | None = None

    def __call__(self, length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        table = self.table
        if (
            table is None
            or table.shape[-1] < length
            or table.device != device
            or table.dtype != dtype
            or table.is_inference() != torch.is_inference_mode_enabled()
        ):
            size = max(length, self.starting_size, table.shape[-1] if table is not None else 0)
            table = self.table = alibi_bias(self.num_heads, size, device=device, dtype=dtype)
        return table[:, :, :length, :length]
