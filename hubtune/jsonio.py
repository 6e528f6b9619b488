"""Files written atomically (temporary file + rename); JSON with numpy values and paths serialised."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """`json.dumps` default: numpy scalars and arrays become Python values, paths become strings."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_bytes(data: Any, *, sort_keys: bool = False) -> bytes:
    """Pretty JSON as UTF-8 bytes, ending in a newline (what hubtune writes and publishes)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=sort_keys, default=to_jsonable)
    return (text + "\n").encode("utf-8")


def write_json(path: str | Path, data: Any, *, sort_keys: bool = False) -> None:
    """Write JSON via a temporary file + rename, so a reader never sees half a file.

    Example:
        >>> write_json(tmp_path / "metrics.json", {"mcc": np.float64(0.5)})  # doctest: +SKIP
    """
    write_atomic(path, json_bytes(data, sort_keys=sort_keys))


def read_json_object(path: str | Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing, a symlink, unreadable, not JSON or not an object (how
    hubtune reads the marker files it wrote itself: a foreign or broken file is simply not one of them).

    Example:
        >>> read_json_object("no/such/file.json") is None
        True
    """
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_atomic(path: str | Path, content: str | bytes) -> None:
    """Write text (UTF-8) or bytes via a temporary file + rename, so a reader never sees half a file.

    Example:
        >>> write_atomic(tmp_path / "report.md", "# Report\\n")  # doctest: +SKIP
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    os.replace(tmp, path)


__all__ = ["json_bytes", "to_jsonable", "write_atomic", "write_json"]
