"""Finding and fetching hubtune models on a hub: `list_adapters` reads card data only; `repo_files` reads a repo's
file sizes; `download_repo` fetches a repo (or chosen files of it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..repo_ids import validate_repo_id
from .errors import endpoint_of, hub_errors

COMPARE_FOLDER = "compare"


def download_repo(
    repo_id: str,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    allow_patterns: list[str] | None = None,
    local_dir: str | Path | None = None,
) -> Path:
    """Download a hubtune model repo (weights, tokenizer, JSON; no card, plots or report) and return its folder.

    Args:
        revision: a branch, tag or commit; default: main.
        token: Hub token; False sends none (public repos only); default: HF_TOKEN or the saved login.
        allow_patterns: download only the files matching these patterns (e.g. exact file names).
        local_dir: download into this folder instead of the Hugging Face cache.

    Raises:
        HubError: invalid repo id, repo or revision not found, private without a token, or hub unreachable.

    Example:
        >>> download_repo("alice/nt2-50m-tata-lora")  # doctest: +SKIP
        PosixPath('/root/.cache/huggingface/hub/models--alice--nt2-50m-tata-lora/snapshots/3f2a...')
    """
    from huggingface_hub import snapshot_download

    repo_id = validate_repo_id(repo_id)
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    ignore = None if allow_patterns else ["*.md", "*.png", f"{COMPARE_FOLDER}/*"]
    with hub_errors(f"download {repo_id}", endpoint, repo_id=repo_id):
        folder = snapshot_download(repo_id, revision=revision, token=token, allow_patterns=allow_patterns,
                                   ignore_patterns=ignore, local_dir=local_dir)
    return Path(folder)


@dataclass(frozen=True)
class RepoFiles:
    """A repo's files and their sizes at one commit, read from the hub's metadata (nothing is downloaded).

    Example:
        >>> listing = repo_files("alice/tata-lora")  # doctest: +SKIP
        >>> listing.sha, listing.private, listing.sizes["hubtune.json"]  # doctest: +SKIP
        ('3f2a...', False, 2113)
    """

    repo_id: str
    sha: str | None
    private: bool
    sizes: dict[str, int | None]  # path -> bytes (None when the hub did not say)

    def total(self, paths: list[str] | None = None) -> int | None:
        """Bytes of `paths` (default: every file); None when a size is unknown."""
        chosen = list(self.sizes) if paths is None else paths
        sizes = [self.sizes.get(p) for p in chosen]
        return None if any(size is None for size in sizes) else sum(int(size or 0) for size in sizes)


def repo_files(repo_id: str, *, revision: str | None = None, token: str | bool | None = None,
               endpoint: str | None = None) -> RepoFiles:
    """The files of a model repo with their sizes, its commit and whether it is private (one metadata request).

    Raises:
        HubError: invalid repo id, repo or revision not found (or private and the token cannot read it), hub
            unreachable.

    Example:
        >>> repo_files("alice/tata-lora").total()  # doctest: +SKIP
        1843221
    """
    from huggingface_hub import HfApi

    repo_id = validate_repo_id(repo_id)
    api = HfApi(endpoint=endpoint)
    with hub_errors(f"read the file list of {repo_id}", endpoint_of(api), repo_id=repo_id):
        info = api.model_info(repo_id, revision=revision, files_metadata=True, token=token)
    sizes: dict[str, int | None] = {}
    for sibling in info.siblings or []:
        size = sibling.size if sibling.size is not None else getattr(sibling.lfs, "size", None)
        sizes[sibling.rfilename] = int(size) if isinstance(size, int) else None
    return RepoFiles(repo_id=repo_id, sha=info.sha, private=bool(info.private), sizes=sizes)


@dataclass
class AdapterInfo:
    """A hubtune model found on a hub, described from its card data (nothing is downloaded)."""

    repo_id: str
    base_model: str | None
    task: str | None
    labels: list[str]
    test_mcc: float | None
    family: str | None
    method: str | None
    private: bool = False


def _card_dict(model_info: Any) -> dict[str, Any]:
    card = getattr(model_info, "card_data", None) or getattr(model_info, "cardData", None)
    if card is None:
        return {}
    if isinstance(card, dict):
        return card
    try:
        return card.to_dict()
    except (AttributeError, ValueError, TypeError):
        return {}


def _mcc_from_model_index(card: dict[str, Any]) -> float | None:
    for entry in card.get("model-index") or []:
        for result in (entry or {}).get("results") or []:
            for metric in (result or {}).get("metrics") or []:
                if metric.get("type") == "matthews_correlation" and isinstance(metric.get("value"), int | float):
                    return float(metric["value"])
    return None


def _matches_base(wanted: str, block: dict[str, Any], card: dict[str, Any]) -> bool:
    wanted = wanted.strip()
    bases = {str(block.get("base_model") or ""), str(card.get("base_model") or "")} - {""}
    if wanted in bases or wanted == block.get("family"):
        return True
    # "tiny-nt" matches "<anyone>/tiny-nt"; "nucleotide-transformer-v2-50m-multi-species" matches its full id.
    return any(base.split("/")[-1] == wanted for base in bases)


def list_adapters(
    base_model: str | None = None,
    task: str | None = None,
    *,
    author: str | None = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
) -> list[AdapterInfo]:
    """hubtune models on a hub (tag `hubtune`), with labels, task, family and test MCC read from their card data.

    Args:
        base_model: keep adapters of this base (repo id, its last part such as "tiny-nt", or a family name).
        task: keep adapters of this task (case-insensitive).
        author: only repos of this user or organisation.
        token: also list the token owner's private repos; False sends no token (public repos only).
        endpoint: the hub's URL; default: HF_ENDPOINT or huggingface.co.
    """
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint)
    ep = endpoint_of(api)
    found: list[AdapterInfo] = []
    with hub_errors("list hubtune models", ep):
        models = list(api.list_models(filter="hubtune", author=author, cardData=True, token=token))
    for model in models:
        card = _card_dict(model)
        block = card.get("hubtune")
        if not isinstance(block, dict) or not block.get("labels"):
            continue  # a base model published by hubtune, or a repo that only carries the tag
        if base_model and not _matches_base(base_model, block, card):
            continue
        if task and str(block.get("task", "")).lower() != task.lower():
            continue
        mcc = block.get("test_mcc")
        found.append(AdapterInfo(
            repo_id=model.id,
            base_model=block.get("base_model") or card.get("base_model"),
            task=block.get("task"),
            labels=[str(label) for label in block.get("labels") or []],
            test_mcc=float(mcc) if isinstance(mcc, int | float) else _mcc_from_model_index(card),
            family=block.get("family"),
            method=block.get("method"),
            private=bool(getattr(model, "private", False)),
        ))
    return found


__all__ = ["AdapterInfo", "RepoFiles", "download_repo", "list_adapters", "repo_files"]
