"""hubtune: fine-tune genomic language models on labelled DNA, evaluate them against baselines, share them on the Hub.

Example:
    >>> import hubtune
    >>> run = hubtune.finetune(hubtune.TrainConfig(model="tiny-nt", data="path/to/task", max_steps=200))  # doctest: +SKIP
    >>> hubtune.push_to_hub(run.path, "alice/tiny-nt-task-lora")  # doctest: +SKIP
    >>> hubtune.load_classifier("alice/tiny-nt-task-lora").predict(["ACGT..."])  # doctest: +SKIP

Names are imported on first use, so `import hubtune` stays fast (torch is heavy).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time the names load lazily below
    # ruff: noqa: F401
    from .comparison import CompareConfig, compare
    from .config import TrainConfig
    from .data import leakage_report, load_task
    from .hub import list_adapters, push_to_hub
    from .layer_probe import probe_layers
    from .methods import FreezeConfig, FullConfig, LoraMethodConfig, ProbeConfig
    from .metrics import compute_metrics
    from .models import load_base_model, load_tokenizer, resolve_model
    from .predict import Classifier, evaluate_run, load_classifier
    from .pretraining import PretrainConfig, pretrain
    from .run import Run, RunInfo, load_run, load_run_model
    from .train import finetune

_LAZY = {
    "load_base_model": "hubtune.models",
    "load_tokenizer": "hubtune.models",
    "resolve_model": "hubtune.models",
    "load_task": "hubtune.data",
    "leakage_report": "hubtune.data",
    "finetune": "hubtune.train",
    "TrainConfig": "hubtune.config",
    "probe_layers": "hubtune.layer_probe",
    "LoraMethodConfig": "hubtune.methods",
    "FullConfig": "hubtune.methods",
    "FreezeConfig": "hubtune.methods",
    "ProbeConfig": "hubtune.methods",
    "Run": "hubtune.run",
    "RunInfo": "hubtune.run",
    "load_run": "hubtune.run",
    "load_run_model": "hubtune.run",
    "compute_metrics": "hubtune.metrics",
    "Classifier": "hubtune.predict",
    "load_classifier": "hubtune.predict",
    "evaluate_run": "hubtune.predict",
    "list_adapters": "hubtune.hub",
    "push_to_hub": "hubtune.hub",
    "compare": "hubtune.comparison",
    "pretrain": "hubtune.pretraining",
    "PretrainConfig": "hubtune.pretraining",
    "CompareConfig": "hubtune.comparison",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # cache: later lookups no longer reach __getattr__
        return value
    raise AttributeError(f"module 'hubtune' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
