"""hubtune: fine-tune genomic language models on labelled DNA, evaluate them against baselines, share them on the Hub."""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Public API, imported lazily so `import hubtune` stays fast (torch is heavy).
_LAZY = {
    "load_base_model": "hubtune.models",
    "load_tokenizer": "hubtune.models",
    "resolve_model": "hubtune.models",
    "load_task": "hubtune.data",
    "leakage_report": "hubtune.data",
    "finetune": "hubtune.train",
    "TrainConfig": "hubtune.train",
    "Run": "hubtune.run",
    "load_run": "hubtune.run",
    "compute_metrics": "hubtune.evaluate",
    "load_classifier": "hubtune.hub",
    "list_adapters": "hubtune.hub",
    "push_to_hub": "hubtune.hub",
    "probe_layers": "hubtune.train",
    "compare": "hubtune.compare",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hubtune' has no attribute {name!r}")
