"""What the Hub derives from a repo's contents rather than stores: the last commit that touched each path of a
listing (``list_repo_tree(expand=True)``) and the parameter counts of the safetensors files (``model_info``).

Only the header of a safetensors file is read (8 bytes of length, then at most :data:`MAX_HEADER_BYTES` of JSON);
a file that is not valid safetensors is left out of the counts.

Example::

    from hubtune.hub_server.insights import last_commits, safetensors_summary

    changed = last_commits(store, repo, head, ["README.md", "weights"])  # {"README.md": Commit(...), ...}
    summary = safetensors_summary(store, store.files(repo, head))      # {"parameters": {"F32": 1024}, "total": 1024}
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from .records import Commit, FileEntry, Repo
from .store import HubStore

# Largest safetensors JSON header read; real headers are a few KB to a few MB.
MAX_HEADER_BYTES = 8 * 1024 * 1024
# History walked for last-commit lookups; paths unchanged for longer are credited to the oldest commit walked.
MAX_HISTORY = 2000
SAFETENSORS_SUFFIX = ".safetensors"


def last_commits(store: HubStore, repo: Repo, oid: str, paths: Iterable[str]) -> dict[str, Commit]:
    """For each path (a file or a folder), the newest commit at or before ``oid`` that changed it.

    Example: ``last_commits(store, repo, head, ["README.md"])["README.md"].title``.
    """
    wanted = set(paths)
    found: dict[str, Commit] = {}
    commit = store.get_commit(repo, oid)
    files = store.files(repo, oid)
    walked = 0
    while commit is not None and wanted - set(found):
        parent = store.get_commit(repo, commit.parent) if commit.parent else None
        before = store.files(repo, parent.oid) if parent is not None and walked < MAX_HISTORY else {}
        changed = {p for p, f in files.items() if p not in before or before[p].git_oid != f.git_oid}
        changed |= {p for p in before if p not in files}
        for path in wanted - set(found):
            prefix = path + "/"
            if path in changed or any(p.startswith(prefix) for p in changed):
                found[path] = commit
        if not before:
            break
        commit, files, walked = parent, before, walked + 1
    return found


def commit_summary(commit: Commit) -> dict[str, str]:
    """The ``lastCommit`` object of a tree entry."""
    return {"id": commit.oid, "title": commit.title, "date": commit.created_at}


@lru_cache(maxsize=4096)
def _parameters_of_blob(path: str, sha256: str) -> tuple[tuple[str, int], ...] | None:
    """``((dtype, count), ...)`` from the header of one stored safetensors blob, or None if it is not valid."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(8)
            if len(head) != 8:
                return None
            (length,) = struct.unpack("<Q", head)
            if length < 2 or length > MAX_HEADER_BYTES:
                return None
            raw = handle.read(length)
        if len(raw) != length:
            return None
        header = json.loads(raw)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(header, dict):
        return None
    counts: dict[str, int] = {}
    for name, tensor in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(tensor, dict) or not isinstance(tensor.get("dtype"), str):
            return None
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            return None
        count = 1
        for dim in shape:
            count *= dim
        counts[tensor["dtype"]] = counts.get(tensor["dtype"], 0) + count
    return tuple(sorted(counts.items()))


def safetensors_summary(store: HubStore, files: dict[str, FileEntry]) -> dict[str, Any] | None:
    """``{"parameters": {dtype: count}, "total": count}`` over a commit's safetensors files, or None if it has none.

    Example: ``safetensors_summary(store, store.files(repo, head))``.
    """
    parameters: dict[str, int] = {}
    seen = False
    for path, entry in sorted(files.items()):
        if not path.endswith(SAFETENSORS_SUFFIX) or entry.size < 10:
            continue
        counts = _parameters_of_blob(str(store.blobs.path(entry.sha256)), entry.sha256)
        if counts is None:
            continue
        seen = True
        for dtype, count in counts:
            parameters[dtype] = parameters.get(dtype, 0) + count
    if not seen:
        return None
    return {"parameters": parameters, "total": sum(parameters.values())}
