"""Model families, loaders and tiny offline stand-ins.

- `registry`: one `ModelFamily` per genomic LM family (LoRA targets, token size, native loader, tiny builder).
- `loading`: `resolve_model`, `load_base_model`, `load_tokenizer`: the one way to get a family's model.
- `checkpoint`: reads a checkpoint as data (`read_checkpoint`) and copies weights into a model (`load_weights_into`).
- `native`: what the native families share (building for a task, outputs, losses, Auto* registration).
- `dnabert2` (+ `alibi`), `ntv2`: the native DNABERT-2 and Nucleotide Transformer v2 models.
- `tiny`: tiny random stand-ins in each family's published layout, and the cache that holds them.

Example:
    >>> from hubtune.models import get_family
    >>> get_family("dnabert2").lora_targets
    ('Wqkv', 'dense', 'gated_layers', 'wo')
"""

from .loading import ResolvedModel, load_base_model, load_tokenizer, resolve_model
from .registry import FAMILIES, TINY_MODELS, ModelFamily, get_family
from .tiny import tiny_model_path

__all__ = [
    "FAMILIES",
    "TINY_MODELS",
    "ModelFamily",
    "ResolvedModel",
    "get_family",
    "load_base_model",
    "load_tokenizer",
    "resolve_model",
    "tiny_model_path",
]
