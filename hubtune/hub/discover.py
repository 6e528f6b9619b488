"""Finding and fetching hubtune models on a hub: `list_adapters` reads card data only; `repo_files` reads a repo's
file sizes; `download_repo` fetches a repo (or chosen files of it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..problems import PROBLEMS, Problem, get_problem
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
    """A hubtune model found on a hub, described from its card data (nothing is downloaded).

    `test_score` is the run's headline test value, `metric` its key (``mcc``, ``auprc_macro`` or ``spearman``) and
    `metric_label` its name in text (``MCC``, ``macro AUPRC``, ``Spearman``); `labels` name the outputs (classes,
    labels or targets of `problem_type`).

    Example:
        >>> info = AdapterInfo("alice/act", "alice/tiny-nt", "activity", ["activity"], 0.81, "nt", "lora",
        ...                    problem_type="regression", metric="spearman")
        >>> info.metric_label, info.test_mcc
        ('Spearman', None)
    """

    repo_id: str
    base_model: str | None
    task: str | None
    labels: list[str]
    test_score: float | None
    family: str | None
    method: str | None
    private: bool = False
    problem_type: str = "single_label"
    metric: str = "mcc"

    @property
    def problem(self) -> Problem:
        """What the model predicts (`hubtune.problems.Problem`)."""
        return get_problem(self.problem_type)

    @property
    def metric_label(self) -> str:
        """The headline metric's name in text: "MCC", "macro AUPRC", "Spearman"."""
        return self.problem.metric_label if self.metric == self.problem.metric else self.metric

    @property
    def test_mcc(self) -> float | None:
        """The test MCC of a single-label model (None for other problem types, whose headline is another metric)."""
        return self.test_score if self.metric == "mcc" else None


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


def _score_from_model_index(card: dict[str, Any], metric_type: str) -> float | None:
    """The first model-index value of `metric_type` (the headline comes first in hubtune's cards)."""
    def dicts(value: Any) -> list[dict[str, Any]]:
        return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []

    for entry in dicts(card.get("model-index")):
        for result in dicts(entry.get("results")):
            for metric in dicts(result.get("metrics")):
                value = metric.get("value")
                if metric.get("type") == metric_type and isinstance(value, int | float) and not isinstance(value, bool):
                    return float(value)
    return None


def _headline(block: dict[str, Any], card: dict[str, Any]) -> tuple[Problem, str, float | None]:
    """(problem, metric key, test value) from a card's hubtune block, read from any hubtune version: newer cards say
    `problem_type`, `metric` and `test_score`; older ones only `test_mcc`; the model-index is the fallback."""
    problem = get_problem(block.get("problem_type") if block.get("problem_type") in PROBLEMS else None)
    metric = str(block.get("metric") or problem.metric)
    for key in ("test_score", "test_mcc"):
        value = block.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return problem, ("mcc" if key == "test_mcc" else metric), float(value)
    index_type = problem.model_index_type if metric == problem.metric else None
    return problem, metric, _score_from_model_index(card, index_type) if index_type else None


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
    """hubtune models on a hub (tag `hubtune`), with labels, task, family, problem type and headline test value (MCC,
    macro AUPRC or Spearman, named by `AdapterInfo.metric_label`) read from their card data.

    Args:
        base_model: keep adapters of this base (repo id, its last part such as "tiny-nt", or a family name).
        task: keep adapters of this task (case-insensitive).
        author: only repos of this user or organisation.
        token: also list the token owner's private repos; False sends no token (public repos only).
        endpoint: the hub's URL; default: HF_ENDPOINT or huggingface.co.

    Example:
        >>> [(a.repo_id, a.metric_label, a.test_score) for a in list_adapters(task="activity")]  # doctest: +SKIP
        [('alice/activity-lora', 'Spearman', 0.8123)]
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
        problem, metric, score = _headline(block, card)
        found.append(AdapterInfo(
            repo_id=model.id,
            base_model=block.get("base_model") or card.get("base_model"),
            task=block.get("task"),
            labels=[str(label) for label in block.get("labels") or []],
            test_score=score,
            family=block.get("family"),
            method=block.get("method"),
            private=bool(getattr(model, "private", False)),
            problem_type=problem.name,
            metric=metric,
        ))
    return found


__all__ = ["AdapterInfo", "RepoFiles", "download_repo", "list_adapters", "repo_files"]
