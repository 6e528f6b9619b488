"""Finding and fetching hubtune models on a hub: `list_adapters` reads card data only; `download_repo` fetches a repo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..repo_ids import validate_repo_id
from .errors import endpoint_of, hub_errors

COMPARE_FOLDER = "compare"


def download_repo(repo_id: str, *, revision: str | None = None, token: str | None = None) -> Path:
    """Download a hubtune model repo (weights, tokenizer, JSON; no card, plots or report) and return its folder.

    Raises:
        HubError: invalid repo id, repo or revision not found, private without a token, or hub unreachable.

    Example:
        >>> download_repo("alice/nt2-50m-tata-lora")  # doctest: +SKIP
        PosixPath('/root/.cache/huggingface/hub/models--alice--nt2-50m-tata-lora/snapshots/3f2a...')
    """
    from huggingface_hub import snapshot_download

    repo_id = validate_repo_id(repo_id)
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    with hub_errors(f"download {repo_id}", endpoint, repo_id=repo_id):
        folder = snapshot_download(repo_id, revision=revision, token=token,
                                   ignore_patterns=["*.md", "*.png", f"{COMPARE_FOLDER}/*"])
    return Path(folder)


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
    token: str | None = None,
    endpoint: str | None = None,
) -> list[AdapterInfo]:
    """hubtune models on a hub (tag `hubtune`), with labels, task, family and test MCC read from their card data.

    Args:
        base_model: keep adapters of this base (repo id, its last part such as "tiny-nt", or a family name).
        task: keep adapters of this task (case-insensitive).
        author: only repos of this user or organisation.
        token: also list the token owner's private repos.
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
        ))
    return found



__all__ = ["AdapterInfo", "download_repo", "list_adapters"]
