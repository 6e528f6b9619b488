"""Serving hubtune models to many users (the Space's library side): request limits, input parsing, adapter
metadata, the model cache and `SpaceBackend`, the facade the Gradio app calls. No HTML and no plots here:
`space/render.py` draws what these objects hold.

| module | owns |
|---|---|
| `inputs` | `Limits`, limit checks, sequences from pasted text or an upload, adapter id lists |
| `adapters` | `AdapterMeta`: a shared model's `RunInfo`, metrics and example sequences |
| `repos` | `RepoPolicy`, `RepoCache`: repos checked before any weight download, a size-bounded LRU download cache |
| `cache` | `ModelCache`: bases shared by their adapters, `set_adapter` switches, LRU eviction |
| `passes` | one pass per model over a request's windows: logits + pooled states, merged LoRA, the per-base `WindowMemo` |
| `analysis` | window positions and counts, in-silico mutagenesis, 2-D PCA |
| `messages` | what a visitor may read of an error (paths and hub URLs scrubbed, a generic sentence otherwise) |
| `results` | `Comparison` (table rows, CSV, JSON), `IsmResult`, `WindowTrack`, `Projection` |
| `backend` | `SpaceBackend`: classify, compare, explain, project (classes, label sets or values per problem type) |

Example:
    >>> from hubtune.serving import Limits, ModelCache, SpaceBackend
    >>> backend = SpaceBackend(ModelCache(device="cpu"), Limits(max_sequences=50))  # doctest: +SKIP
    >>> backend.classify(">s1\\nTATAAAGGC\\n", ["alice/promoter-lora"]).rows()  # doctest: +SKIP
"""

from __future__ import annotations

from .adapters import MAX_EXAMPLES, AdapterMeta, shipped_examples
from .analysis import BASES, ism_importance, ism_model_inputs, ism_scan, pca_2d, window_count, window_starts
from .backend import SpaceBackend
from .cache import ENV_DEVICE, CacheStats, ModelCache, default_device, shares_base
from .inputs import (
    ENV_ADAPTERS,
    UPLOAD_SUFFIXES,
    Limits,
    adapters_from_env,
    check_ism_length,
    check_limits,
    check_windows,
    parse_adapter_list,
    read_input,
    read_pairs,
)
from .messages import GENERIC_ERROR, public_message, scrub_message
from .repos import DownloadStats, RepoCache, RepoPolicy
from .results import (
    AdapterPrediction,
    Comparison,
    IsmResult,
    Projection,
    WindowTrack,
    csv_safe,
    label_sets,
    output_quantity,
    outputs_title,
    short_names,
)

__all__ = [
    "BASES",
    "ENV_ADAPTERS",
    "ENV_DEVICE",
    "GENERIC_ERROR",
    "MAX_EXAMPLES",
    "UPLOAD_SUFFIXES",
    "AdapterMeta",
    "AdapterPrediction",
    "CacheStats",
    "Comparison",
    "DownloadStats",
    "IsmResult",
    "Limits",
    "ModelCache",
    "Projection",
    "RepoCache",
    "RepoPolicy",
    "SpaceBackend",
    "WindowTrack",
    "adapters_from_env",
    "check_ism_length",
    "check_limits",
    "check_windows",
    "csv_safe",
    "default_device",
    "ism_importance",
    "ism_model_inputs",
    "ism_scan",
    "label_sets",
    "output_quantity",
    "outputs_title",
    "parse_adapter_list",
    "pca_2d",
    "public_message",
    "read_input",
    "read_pairs",
    "scrub_message",
    "shares_base",
    "shipped_examples",
    "short_names",
    "window_count",
    "window_starts",
]


def __dir__() -> list[str]:
    return sorted(__all__)
