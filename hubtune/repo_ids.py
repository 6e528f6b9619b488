"""Hub repo ids and local paths: the one place that decides what is a valid repo id, a local path or a public name.

Used by the hub client, the model card, the model loader, the Space and the local hub server, so a rule changes in
one place. Nothing here talks to a network or imports torch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import HubError

# One part of a repo id: letters, digits, '-', '_', '.'; starts and ends with a letter or digit; at most 96 chars.
REPO_PART_RE = re.compile(r"^\w(?:[\w.-]{0,94}\w)?$", re.ASCII)
# Suffixes that mark a data source as a file rather than a dataset id.
DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".fa", ".fasta", ".fna", ".fas", ".gz", ".json", ".jsonl",
                 ".arrow", ".zip", ".bz2", ".xz")
_WINDOWS_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def repo_part_problem(part: str) -> str | None:
    """Why `part` (a namespace or a repo name) breaks the Hub's naming rules, or None when it is valid.

    Example:
        >>> repo_part_problem("promoter-lora") is None
        True
        >>> repo_part_problem("a--b")
        "contains '--'"
    """
    if not isinstance(part, str) or not REPO_PART_RE.match(part):
        return "must be 1-96 letters, digits, '-', '_' or '.', neither starting nor ending with '-' or '.'"
    if "--" in part:
        return "contains '--'"
    if ".." in part:
        return "contains '..'"
    if part.endswith(".git"):
        return "ends with '.git'"
    return None


def validate_repo_id(repo_id: str, *, what: str = "repo id", require_namespace: bool = False) -> str:
    """Check that `repo_id` is a valid Hub repo id (`namespace/name` or `name`); returns it stripped.

    Raises:
        HubError: the id is empty, a local path, or breaks the Hub's naming rules (the message says which).

    Example:
        >>> validate_repo_id(" alice/promoter-lora ")
        'alice/promoter-lora'
    """
    if not isinstance(repo_id, str) or not repo_id.strip():
        raise HubError(f"The {what} is empty. Use the form 'user/name', e.g. 'alice/promoter-lora'.")
    text = repo_id.strip()
    if text.startswith(("/", "./", "../", "~")) or "\\" in text or text.count("/") > 1:
        raise HubError(
            f"The {what} {text!r} looks like a path. A Hub repo id has the form 'user/name' (one slash), "
            "e.g. 'alice/promoter-lora'."
        )
    parts = text.split("/")
    if require_namespace and len(parts) != 2:
        raise HubError(f"The {what} {text!r} has no namespace. Use the form 'user/name', e.g. 'alice/{text}'.")
    if any(repo_part_problem(part) for part in parts):
        raise HubError(
            f"The {what} {text!r} is not a valid Hub repo id: each part may use letters, digits, '-', '_' and "
            "'.', may neither start nor end with '-' or '.', at most 96 characters, without '--', '..' or a "
            "'.git' ending. Example: 'alice/promoter-lora'."
        )
    return text


def is_local_path(text: str) -> bool:
    """True when `text` names (or plainly looks like) a file or folder rather than a Hub id.

    Example:
        >>> is_local_path("./runs/tata"), is_local_path("data.csv"), is_local_path("alice/tata")
        (True, True, False)
    """
    if not text:
        return False
    if text.startswith(("/", "./", "../", "~", ".\\")) or "\\" in text or _WINDOWS_DRIVE_RE.match(text):
        return True
    if text.lower().endswith(DATA_SUFFIXES):
        return True
    try:
        return Path(text).expanduser().exists()
    except OSError:
        return False


def looks_like_hub_id(text: str) -> bool:
    """True for `namespace/name` strings that are valid repo ids and not local paths.

    Example:
        >>> looks_like_hub_id("zhihan1996/DNABERT-2-117M"), looks_like_hub_id("tiny-nt")
        (True, False)
    """
    if not text or text.count("/") != 1 or is_local_path(text):
        return False
    return all(repo_part_problem(part) is None for part in text.split("/"))


def looks_like_repo_id_or_name(text: str) -> bool:
    """True for `name` or `namespace/name` (no path syntax): what a Hub lookup may be tried with.

    Example:
        >>> looks_like_repo_id_or_name("tiny-nt"), looks_like_repo_id_or_name("../run")
        (True, False)
    """
    parts = text.split("/")
    return 1 <= len(parts) <= 2 and all(parts) and not text.startswith((".", "/", "~"))


def public_source(text: str | None) -> str:
    """What a card or a pushed hubtune.json may say about a data source or model: an id, or a bare file name.

    Example:
        >>> public_source("/home/me/data/tata.csv"), public_source("alice/gue")
        ('tata.csv', 'alice/gue')
    """
    if not text:
        return ""
    text = str(text)
    if looks_like_hub_id(text):
        return text
    if is_local_path(text) or "/" in text or "\\" in text:
        return Path(text.rstrip("/\\")).name or text.strip("/\\")
    return text


def scrub_paths(value: Any) -> Any:
    """Reduce every string that looks like a local path to its last component, recursively through dicts and lists.

    Example:
        >>> scrub_paths({"output": "/home/me/runs/tata", "lr": 0.001})
        {'output': 'tata', 'lr': 0.001}
    """
    if isinstance(value, dict):
        return {k: scrub_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_paths(v) for v in value]
    if isinstance(value, str) and (value.startswith(("/", "~", "./", "../")) or re.match(r"^[A-Za-z]:[\\/]", value)):
        return Path(value.replace("\\", "/").rstrip("/")).name
    return value


def repo_name_slug(text: str) -> str:
    """A valid Hub repo name made from a folder or model name.

    Example:
        >>> repo_name_slug("my run (v2)")
        'my-run-v2'
    """
    slug = re.sub(r"[^\w.-]+", "-", text).strip("-.")
    slug = re.sub(r"-{2,}", "-", slug).replace("..", ".")
    return (slug or "model")[:96]


def default_base_repo(base_model: str, namespace: str) -> str:
    """Where the base lives on the hub: its own id, or `<namespace>/<tiny name | folder name>` once published.

    Example:
        >>> default_base_repo("tiny-nt", "alice")
        'alice/tiny-nt'
    """
    if looks_like_hub_id(base_model):
        return base_model
    return f"{namespace}/{repo_name_slug(Path(base_model.rstrip('/')).name)}"


__all__ = [
    "DATA_SUFFIXES",
    "default_base_repo",
    "is_local_path",
    "looks_like_hub_id",
    "looks_like_repo_id_or_name",
    "public_source",
    "repo_name_slug",
    "repo_part_problem",
    "scrub_paths",
    "validate_repo_id",
]
