"""Write a pre-trained masked-LM in its family's published layout, so every loader that reads the original reads it.

- transformers' own classes (NT v1 as `EsmForMaskedLM`, any other Auto model): `save_pretrained` (config.json +
  model.safetensors), which is how those checkpoints are published;
- hubtune's native families (DNABERT-2, NT v2): the original checkpoint's config.json (model type, `auto_map`) kept
  as it was, and its tensors under their published names with the trained values put in; tensors the native model
  does not use (NT v2's rotary tables and contact head) are carried over unchanged. Weights go to model.safetensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..jsonio import write_json
from ..models.checkpoint import read_checkpoint

__all__ = ["NATIVE_MODEL_TYPE_PREFIX", "write_masked_lm"]

NATIVE_MODEL_TYPE_PREFIX = "hubtune_"


def _published_state(model: Any, source: str, revision: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(raw config, state dict under the checkpoint's names with the trained tensors in)."""
    raw, state, _ = read_checkpoint(source, revision=revision)
    trained = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    prefix = model.base_model_prefix
    out = {}
    for key, tensor in state.items():
        name = key if key in trained else f"{prefix}.{key}" if f"{prefix}.{key}" in trained else None
        value = trained[name] if name is not None else tensor
        out[key] = value.clone()  # safetensors refuses tensors that share memory (tied weights)
    for key, tensor in trained.items():  # trained parameters the checkpoint did not carry (a head it lacked)
        if key not in out and key.removeprefix(prefix + ".") not in out:
            out[key] = tensor.clone()
    return raw, out


def write_masked_lm(model: Any, tokenizer: Any, folder: Path, *, source: str, revision: str | None) -> None:
    """Write `model` (a masked-LM, adapters already merged) and `tokenizer` into `folder`.

    Example:
        >>> write_masked_lm(model, tokenizer, Path("out"), source="tiny-nt-folder", revision=None)  # doctest: +SKIP
    """
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model_type = str(getattr(model.config, "model_type", ""))
    if model_type.startswith(NATIVE_MODEL_TYPE_PREFIX):
        raw, state = _published_state(model, source, revision)
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
        write_json(folder / "config.json", raw, sort_keys=True)
    else:
        model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
