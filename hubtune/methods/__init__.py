"""Fine-tuning methods as a registry: each method is one config dataclass that owns its behaviour.

| name | class | what trains | files in the run folder |
|---|---|---|---|
| `lora` | `LoraMethodConfig` | low-rank adapters + the head | `adapter_config.json`, `adapter_model.safetensors` |
| `full` | `FullConfig` | every parameter | `config.json`, `model.safetensors` |
| `freeze` | `FreezeConfig` | all but embeddings + the lowest layers | `config.json`, `model.safetensors` |
| `probe` | `ProbeConfig` | a logistic-regression head on frozen embeddings | `probe_head.safetensors` |

Example:
    >>> from hubtune.methods import make_method
    >>> make_method("lora", r=16).r
    16
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import MethodConfig, count_layers, help_field, quiet_deprecations, trainable_parameters
from .full import FreezeConfig, FullConfig
from .lora import LoraMethodConfig
from .probe import ProbeConfig

METHODS: dict[str, type[MethodConfig]] = {
    cls.name: cls for cls in (LoraMethodConfig, FullConfig, FreezeConfig, ProbeConfig)
}


def get_method(name: str) -> type[MethodConfig]:
    """The method class registered under `name`.

    Raises:
        ConfigError: no such method (the message lists the known ones).
    """
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"Unknown method {name!r}. Choose one of: {', '.join(METHODS)}.") from None


def make_method(method: str | MethodConfig | Any, **options: Any) -> MethodConfig:
    """A validated method config from a name + options, a `MethodConfig`, or a `peft.LoraConfig`.

    Options that the method does not have, and options set to None, are ignored, so one set of command-line values
    can configure any method.

    Example:
        >>> make_method("freeze", layers=2, r=8).to_dict()
        {'method': 'freeze', 'layers': 2}
    """
    if isinstance(method, MethodConfig):
        config = method
    elif isinstance(method, str):
        cls = get_method(method)
        allowed = set(cls.option_names())
        config = cls(**{k: v for k, v in options.items() if k in allowed and v is not None})
    else:
        config = LoraMethodConfig.from_peft(method)
    config.validate()
    return config


def method_from_record(record: dict[str, Any] | None, name: str) -> MethodConfig:
    """The method config recorded in a run's hubtune.json (`method_config`), for loading the run back."""
    cls = get_method(name)
    allowed = set(cls.option_names())
    return cls(**{k: v for k, v in (record or {}).items() if k in allowed})


__all__ = [
    "METHODS",
    "FreezeConfig",
    "FullConfig",
    "LoraMethodConfig",
    "MethodConfig",
    "ProbeConfig",
    "count_layers",
    "get_method",
    "help_field",
    "make_method",
    "method_from_record",
    "quiet_deprecations",
    "trainable_parameters",
]
