"""Masked-language-model (continued) pre-training on unlabelled DNA: `pretrain(PretrainConfig(...))`.

Modules: `config` (`PretrainConfig`, every setting with its default and help), `corpus` (reading FASTA, text,
tables, folders or dataset ids into N-free windows, the held-out split), `folder` (claiming and committing the
pre-trained base folder), `writer` (weights in the family's published layout), `runner` (`pretrain`), `standin` (the pre-trained tiny
stand-ins built on the synthetic genome). Held-out scoring with fixed masks is `hubtune.masked_lm`, shared with the
forgetting check.

Names load lazily (`hubtune.pretrained_folder`, below the card and the hub, holds the folder contract they read).

Example:
    >>> from hubtune.pretraining import PretrainConfig, pretrain
    >>> pretrain(PretrainConfig(model="tiny-nt", data="genome.fa.gz", output="runs/nt-adapted", max_steps=300))
    ... # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time the names load lazily below
    # ruff: noqa: F401
    from ..pretrained_folder import PretrainedBase, is_pretrained_folder, read_pretraining_record
    from .config import PretrainConfig
    from .runner import pretrain

_LAZY = {
    "PretrainConfig": ".config",
    "pretrain": ".runner",
    "PretrainedBase": "..pretrained_folder",
    "is_pretrained_folder": "..pretrained_folder",
    "read_pretraining_record": "..pretrained_folder",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
