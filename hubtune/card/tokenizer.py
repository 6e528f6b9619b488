"""Is a run's tokenizer the base model's? Decides whether a push ships the tokenizer, and where the snippets load it.

Files that `save_pretrained` writes are compared by content, minus the keys that only say where it ran.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..models import tiny_model_path
from ..models.registry import TINY_MODELS
from ..repo_ids import is_local_path
from ..run import TOKENIZER_FILES, Run


def preview_tokenizer_differs(run: Run) -> bool:
    """For a preview: compare the run's tokenizer with a tiny or local base (a Hub base is assumed to match).

    Example:
        >>> preview_tokenizer_differs(Run("runs/promoter-lora"))  # doctest: +SKIP
        False
    """
    if not any((run.path / name).is_file() for name in TOKENIZER_FILES):
        return False
    origin = run.base_model
    folder: Path | None = None
    if origin in TINY_MODELS:
        folder = tiny_model_path(origin)
    elif is_local_path(origin) and Path(origin).expanduser().is_dir():
        folder = Path(origin).expanduser()
    if folder is None:
        return False
    return tokenizer_differs(run.path, {name: (folder / name) for name in TOKENIZER_FILES if (folder / name).is_file()})


def normalized_tokenizer_file(name: str, data: bytes) -> Any:
    """Comparable content of a tokenizer file: JSON minus the keys `save_pretrained` adds about where it ran.

    Example:
        >>> normalized_tokenizer_file("tokenizer_config.json", b'{"name_or_path": "/tmp/x", "model_max_length": 512}')
        {'model_max_length': 512}
    """
    if name.endswith(".json"):
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return data
        if isinstance(obj, dict):
            for key in ("is_local", "local_files_only", "name_or_path", "_commit_hash", "tokenizer_file"):
                obj.pop(key, None)
        return obj
    return data


def tokenizer_differs(run_dir: Path, base_files: dict[str, Path | bytes | None]) -> bool:
    """True when any tokenizer file of the run is absent from the base or differs from it in content.

    Args:
        run_dir: the run folder.
        base_files: the base's tokenizer files by name: a path, the content, or None when the base lacks it.

    Example:
        >>> tokenizer_differs(Path("runs/promoter-lora"), {"vocab.txt": Path("tiny-nt/vocab.txt")})  # doctest: +SKIP
        False
    """
    ours = [name for name in TOKENIZER_FILES if (run_dir / name).is_file()]
    if not ours:
        return False
    for name in ours:
        theirs = base_files.get(name)
        if theirs is None:
            return True
        their_bytes = theirs if isinstance(theirs, bytes) else Path(theirs).read_bytes()
        if normalized_tokenizer_file(name, (run_dir / name).read_bytes()) != normalized_tokenizer_file(name, their_bytes):
            return True
    return False


__all__ = ["normalized_tokenizer_file", "preview_tokenizer_differs", "tokenizer_differs"]
