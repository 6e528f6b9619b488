"""Model families, loaders and tiny offline stand-ins."""

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
