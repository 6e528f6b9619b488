"""JSON shapes the Hub API answers with: repo info (``ModelInfo``/``DatasetInfo``/``SpaceInfo``), tree entries and
commits, built from store records.

Example::

    from hubtune.hub_server.payloads import repo_payload

    info = repo_payload(store, repo, store.branch_head(repo, "main"))  # {"id": "alice/x", "sha": ..., ...}
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidRequest
from .insights import safetensors_summary
from .metadata import card_tags, parse_front_matter
from .records import Commit, FileEntry, Repo
from .store import HubStore

# A README larger than this is served but not parsed for card metadata.
MAX_CARD_BYTES = 1024 * 1024


def card_data(store: HubStore, files: dict[str, FileEntry]) -> dict[str, Any] | None:
    """The README front matter of a commit's files, or None (no README, none in it, or not parseable)."""
    readme = files.get("README.md")
    if readme is None or readme.size > MAX_CARD_BYTES:
        return None
    with store.blobs.open(readme.sha256) as handle:
        text = handle.read().decode("utf-8", errors="replace")
    try:
        return parse_front_matter(text)
    except InvalidRequest:
        return None  # a README written without validation: list the repo, just without card data


def sibling(entry: FileEntry, blobs: bool) -> dict[str, Any]:
    """One ``siblings`` entry of repo info; sizes and LFS details with ``blobs``."""
    item: dict[str, Any] = {"rfilename": entry.path}
    if blobs:
        item["size"] = entry.size
        item["blobId"] = entry.git_oid
        if entry.lfs:
            item["lfs"] = {"size": entry.size, "sha256": entry.sha256, "pointerSize": entry.pointer_size}
    return item


def repo_payload(
    store: HubStore, repo: Repo, oid: str, *, blobs: bool = False, with_card: bool = True, full: bool = True
) -> dict[str, Any]:
    """Repo info at commit ``oid``: what ``model_info`` / ``list_models`` read."""
    commit = store.get_commit(repo, oid)
    files = store.files(repo, oid)
    card = card_data(store, files)
    payload: dict[str, Any] = {
        "_id": str(repo.id),
        "id": repo.repo_id,
        "author": repo.namespace,
        "private": repo.private,
        "tags": card_tags(card, repo.type),
        "downloads": 0,
        "likes": 0,
        "createdAt": repo.created_at,
        "lastModified": commit.created_at if commit else repo.created_at,
    }
    if repo.type == "model":
        payload["modelId"] = repo.repo_id
        if card and isinstance(card.get("library_name"), str):
            payload["library_name"] = card["library_name"]
        if card and isinstance(card.get("pipeline_tag"), str):
            payload["pipeline_tag"] = card["pipeline_tag"]
    if repo.type == "space":
        payload["sdk"] = repo.sdk or (card.get("sdk") if card else None)
        for key in ("models", "datasets"):  # the repos a Space declares it uses, as the Hub lists them
            listed = card.get(key) if card else None
            if isinstance(listed, list):
                payload[key] = [str(item) for item in listed if isinstance(item, str)]
    if full:
        payload.update({"sha": oid, "gated": False, "disabled": False})
        payload["siblings"] = [sibling(f, blobs) for f in files.values()]
        payload["usedStorage"] = sum(f.size for f in files.values())
        if repo.type == "model":
            summary = safetensors_summary(store, files)
            if summary is not None:
                payload["safetensors"] = summary
    if with_card and card is not None:
        payload["cardData"] = card
    return payload


def only_expanded(payload: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    """``payload`` reduced to ``_id``, ``id`` and the ``expand`` fields asked for (all of it when none)."""
    if not wanted:
        return payload
    keep = {"_id", "id", *wanted}
    return {k: v for k, v in payload.items() if k in keep}


def file_item(entry: FileEntry) -> dict[str, Any]:
    """A file in a tree listing or paths-info answer (``lastCommit`` is added by the listing when expanded)."""
    item: dict[str, Any] = {"type": "file", "oid": entry.git_oid, "size": entry.size, "path": entry.path}
    if entry.lfs:
        item["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": entry.pointer_size}
    return item


def folder_item(path: str, oid: str) -> dict[str, Any]:
    """A folder in a tree listing or paths-info answer."""
    return {"type": "directory", "oid": oid, "size": 0, "path": path}


def commit_item(commit: Commit) -> dict[str, Any]:
    """One entry of a commit listing."""
    return {
        "id": commit.oid,
        "title": commit.title,
        "message": commit.message,
        "authors": [{"user": commit.author, "avatar": None}],
        "date": commit.created_at,
    }
