"""ALiBi (attention with linear biases): the head slopes and the symmetric distance bias DNABERT-2 adds to its
attention scores in place of position embeddings."""

from __future__ import annotations

import math

import torch

__all__ = ["alibi_bias", "alibi_slopes"]


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
