"""The layer that produces a classification model's outputs, and folding an affine rescaling into it.

A regression model is trained on standardised targets; folding `value = z * sd + mean` into the last linear layer
makes the saved model (and plain `PeftModel.from_pretrained`) output values in the targets' own units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubtune.errors import ModelError

__all__ = ["fold_output_scaling", "output_layer"]


def output_layer(model: Any, num_outputs: int) -> Any:
    """The last `torch.nn.Linear` with `num_outputs` outputs (the head's output projection); with peft, the trained
    copy of the head (`modules_to_save`), never the frozen original.

    Raises:
        ModelError: the model has no such layer.

    Example:
        >>> output_layer(model, 1).out_features  # doctest: +SKIP
        1
    """
    import torch

    found = [(name, module) for name, module in model.named_modules()
             if isinstance(module, torch.nn.Linear) and module.out_features == num_outputs]
    trained = [item for item in found if ".modules_to_save." in f".{item[0]}."]
    pool = trained or [item for item in found if "original_module" not in item[0]]
    if not pool:
        raise ModelError(f"The model has no output layer with {num_outputs} output(s); it is not a sequence "
                         "classification model with that many labels.")
    return pool[-1][1]


def fold_output_scaling(model: Any, scale: Sequence[float], shift: Sequence[float]) -> None:
    """Make the model output `outputs * scale + shift` (per output) by rewriting its output layer in place.

    Raises:
        ModelError: no output layer of that width, or it has no bias.

    Example:
        >>> fold_output_scaling(model, [2.0], [10.0])  # doctest: +SKIP
    """
    import torch

    layer = output_layer(model, len(scale))
    if layer.bias is None:
        raise ModelError("The output layer has no bias, so target units cannot be folded into it.")
    with torch.no_grad():
        factor = torch.tensor(list(scale), dtype=layer.weight.dtype, device=layer.weight.device)
        offset = torch.tensor(list(shift), dtype=layer.bias.dtype, device=layer.bias.device)
        layer.weight.mul_(factor[:, None])
        layer.bias.mul_(factor).add_(offset)
