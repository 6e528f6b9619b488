"""Validation of what clients name: repo ids, branch and tag names, file paths inside a repo, object ids.

Each check raises :class:`~hubtune.hub_server.errors.InvalidRequest` with a message that says what is allowed.

Example::

    from hubtune.hub_server.validation import validate_repo_name, validate_repo_path

    validate_repo_name("alice", "promoter-lora")
    validate_repo_path("weights/adapter.safetensors")  # returns the path; "../x" raises InvalidRequest
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from ..repo_ids import repo_part_problem
from .errors import InvalidRequest

REPO_TYPES = ("model", "dataset", "space")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
COMMIT_OID_RE = re.compile(r"^[0-9a-f]{40}$")
SHORT_OID_RE = re.compile(r"^[0-9a-f]{5,40}$")
_REF_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
# Bidirectional-text controls: they make a name display differently from what it is ("evil\u202etxt.exe").
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
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
    characters, bidirectional-text controls and a ``.git`` folder anywhere (in any letter case).
    """
    if not isinstance(path, str) or not path:
        raise InvalidRequest(f"Invalid file path {path!r} in commit: it must be a non-empty string.")
    reason = None
    if path.startswith("/"):
        reason = "absolute paths are not allowed"
    elif "\\" in path:
        reason = "backslashes are not allowed; use '/' between folders"
    elif any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in path):
        reason = "control characters are not allowed"
    elif any(ch in BIDI_CONTROLS for ch in path):
        reason = "bidirectional-text control characters (U+200E/F, U+202A-202E, U+2066-2069) are not allowed"
    elif len(path.encode()) > 1024:
        reason = "it is longer than 1024 bytes"
    else:
        segments = path.split("/")
        if any(seg == "" for seg in segments):
            reason = "empty path segments ('//' or a trailing '/') are not allowed"
        elif any(seg in (".", "..") for seg in segments):
            reason = "'.' and '..' segments are not allowed"
        elif any(seg.casefold() == ".git" for seg in segments):
            reason = "'.git' (in any letter case) cannot be a file or folder name"
    if reason:
        raise InvalidRequest(f"Invalid file path {ascii(path)} in commit: {reason}.")
    return path


def fold_path(path: str) -> str:
    """The form of ``path`` under which names that look alike are equal: Unicode canonical caseless matching
    (NFD, case folding, NFC), so ``README.md``/``readme.MD`` and NFC/NFD spellings of ``é`` fold together.

    Example: ``fold_path("Caf\u00e9.TXT") == fold_path("cafe\u0301.txt")``.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", path).casefold())

