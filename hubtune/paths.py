"""Where hubtune keeps what it builds or computes for reuse (tiny models, cached embeddings): one rule for all."""

from __future__ import annotations

import os
from pathlib import Path


def hubtune_cache_dir() -> Path:
    """The cache folder: ``$HUBTUNE_CACHE``, else ``$HF_HOME/hubtune``, else ``~/.cache/huggingface/hubtune``.

    Example:
        >>> hubtune_cache_dir()  # doctest: +SKIP
        PosixPath('/home/me/.cache/huggingface/hubtune')
    """
    if os.environ.get("HUBTUNE_CACHE"):
        return Path(os.environ["HUBTUNE_CACHE"]).expanduser()
    hf_home = os.environ.get("HF_HOME")
    base = Path(hf_home) if hf_home else Path.home() / ".cache" / "huggingface"
    return base / "hubtune"


__all__ = ["hubtune_cache_dir"]
