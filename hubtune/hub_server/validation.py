"""Validation of what clients name: repo ids, branch and tag names, file paths inside a repo, object ids.

Each check raises :class:`~hubtune.hub_server.errors.InvalidRequest` with a message that says what is allowed.

Example::

    from hubtune.hub_server.validation import validate_repo_name, validate_repo_path

    validate_repo_name("alice", "promoter-lora")
    validate_repo_path("weights/adapter.safetensors")  # returns the path; "../x" raises InvalidRequest
"""

from __future__ import annotations

import re
from typing import Any

from ..repo_ids import repo_part_problem
from .errors import InvalidRequest

REPO_TYPES = ("model", "dataset", "space")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
COMMIT_OID_RE = re.compile(r"^[0-9a-f]{40}$")
SHORT_OID_RE = re.compile(r"^[0-9a-f]{5,40}$")
_REF_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
# First path segments that mean something else in URLs, so no user or organisation may be called that.
RESERVED_NAMESPACES = frozenset({"api", "models", "datasets", "spaces", "kernels", "buckets", "lfs-upload", "resolve"})


def validate_repo_name(namespace: str, name: str) -> None:
    """Raise ``InvalidRequest`` unless ``namespace/name`` is a valid repo id."""
    for label, value in (("namespace", namespace), ("name", name)):
        problem = repo_part_problem(value)
        if problem:
            raise InvalidRequest(f"Invalid repo id '{namespace}/{name}': the {label} {problem}.")
    if namespace.lower() in RESERVED_NAMESPACES:
        raise InvalidRequest(f"Invalid repo id '{namespace}/{name}': '{namespace}' is a reserved name.")


def validate_ref_name(name: str) -> None:
    """Raise ``InvalidRequest`` unless ``name`` is a usable branch or tag name."""
    bad = (
        not _REF_NAME_RE.match(name)
        or ".." in name
        or "//" in name
        or name.endswith(("/", ".lock", "."))
        or COMMIT_OID_RE.match(name) is not None
    )
    if bad:
        raise InvalidRequest(
            f"Invalid branch or tag name '{name}': use letters, digits, '.', '_', '-' and '/' (no '..', no '//', "
            "no trailing '/', not a 40-character hex string).",
        )


def validate_repo_path(path: Any) -> str:
    """Return ``path`` if it is a safe relative file path inside a repo; otherwise raise ``InvalidRequest``.

    Refused: non-strings, empty paths, absolute paths, backslashes, empty / '.' / '..' segments, control
    characters and anything under ``.git/``.
    """
    if not isinstance(path, str) or not path:
        raise InvalidRequest(f"Invalid file path {path!r} in commit: it must be a non-empty string.")
    reason = None
    if path.startswith("/"):
        reason = "absolute paths are not allowed"
    elif "\\" in path:
        reason = "backslashes are not allowed; use '/' between folders"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        reason = "control characters are not allowed"
    elif len(path.encode()) > 1024:
        reason = "it is longer than 1024 bytes"
    else:
        segments = path.split("/")
        if any(seg == "" for seg in segments):
            reason = "empty path segments ('//' or a trailing '/') are not allowed"
        elif any(seg in (".", "..") for seg in segments):
            reason = "'.' and '..' segments are not allowed"
        elif segments[0] == ".git":
            reason = "files under '.git/' cannot be written"
    if reason:
        raise InvalidRequest(f"Invalid file path '{path}' in commit: {reason}.")
    return path

