"""Publishing a run on a Hub: `push_to_hub` sends a run folder as one commit with its generated model card.

Works against huggingface.co or any Hub-compatible server (`hubtune hub serve`); the endpoint comes from
`HF_ENDPOINT` (or the `endpoint=` argument).

What a push contains: the method's weight files (`adapter_config.json` with `base_model_name_or_path` set to the
base's repo id on that hub + `adapter_model.safetensors` for LoRA, with the base's `config.json` carrying the run's
output names as `id2label`/`label2id`, `num_labels` and transformers' `problem_type` (single-label, multi-label or
regression) so that plain transformers/peft code builds the right head; `config.json` (with its `problem_type`) +
`model.safetensors` for full/freeze; `probe_head.safetensors` for probe), `hubtune.json` (local paths reduced to file names, base
model = its repo id and commit), `metrics.json`, `leakage.json`, `training_log.json`, `base_probe_head.safetensors`,
the tokenizer only when it differs from the base's (always for standalone models), and the generated `README.md`.
Everything goes in one commit, so a failed push leaves the repo as it was; pushing identical content again creates no
commit. A base that is not on the hub (a built-in tiny model or a local folder) is first published as
`<namespace>/<name>` with its own card, unless `base_repo` says where it already lives. A folder written by
`hubtune pretrain` (it has `pretraining.json`, no `hubtune.json`) is published as a base model (`push_pretrained`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..card import CardOptions, compare_section, render_base_card, render_run_card, tokenizer_differs
from ..errors import HubError
from ..jsonio import json_bytes
from ..methods import METHODS, get_method
from ..methods.lora import ADAPTER_CONFIG_FILE
from ..models import tiny_model_path
from ..models.registry import FAMILIES, TINY_MODELS, family_from_config, read_local_config
from ..pretrained_folder import is_pretrained_folder, read_pretraining_record
from ..progress import info as say
from ..repo_ids import (
    default_base_repo,
    is_local_path,
    looks_like_hub_id,
    public_source,
    scrub_paths,
    validate_repo_id,
)
from ..run import (
    BASE_PROBE_FILE,
    INFO_FILE,
    LEAKAGE_FILE,
    METRICS_FILE,
    TOKENIZER_FILES,
    TRAINING_LOG_FILE,
    Run,
    RunInfo,
)
from .discover import COMPARE_FOLDER
from .errors import NO_TOKEN_MESSAGE, endpoint_of, hub_errors, lfs_uploads_for, network_errors

MODEL_CONFIG = "config.json"
README = "README.md"
_ALL_WEIGHT_FILES = {name for method in METHODS.values() for name in method.weight_files}
# Files a push owns: when a re-push no longer contains one of them (e.g. the tokenizer now matches the base), it is
# deleted in the same commit so the repo never mixes two runs. Other files in the repo are left alone.
MANAGED_FILES = frozenset({
    *_ALL_WEIGHT_FILES, BASE_PROBE_FILE, INFO_FILE, METRICS_FILE, LEAKAGE_FILE, TRAINING_LOG_FILE, *TOKENIZER_FILES,
})


def public_run_info(info: RunInfo, *, base_repo: str, base_revision: str | None) -> dict[str, Any]:
    """The run's hubtune.json as published: the base is its repo id + commit, local paths become file names.

    Example:
        >>> public_run_info(run.info, base_repo="alice/tiny-nt", base_revision="abc123")["base_model"]  # doctest: +SKIP
        'alice/tiny-nt'
    """
    data = copy.deepcopy(info.to_dict())
    origin = str(data.get("base_model") or "")
    data["base_model"] = base_repo
    data["base_model_revision"] = base_revision
    if origin and origin != base_repo:
        data["base_model_origin"] = public_source(origin)
    data["data_source"] = public_source(data.get("data_source"))
    training = dict(data.get("training") or {})
    if training:
        training["model"] = base_repo
        for key in ("data", "output", "labels_file"):
            if training.get(key):
                training[key] = public_source(str(training[key]))
        data["training"] = training
    return scrub_paths(data)



# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class _Base:
    """Where the base model lives on the target hub."""

    repo_id: str
    revision: str | None
    tokenizer_files: dict[str, Path | bytes | None] = field(default_factory=dict)
    config_file: Path | None = None  # the base's config.json when it is a local folder


def _resolve_token(token: str | None) -> str:
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise HubError(NO_TOKEN_MESSAGE)
    return found


def _local_base_folder(origin: str) -> Path | None:
    """The folder of a tiny or local base model, or None when the base is a Hub id."""
    if origin in TINY_MODELS:
        return tiny_model_path(origin)
    if is_local_path(origin) or not looks_like_hub_id(origin):
        folder = Path(origin).expanduser()
        if not folder.is_dir():
            raise HubError(
                f"The run's base model {public_source(origin)!r} was a local folder that no longer exists here, so it "
                "cannot be published. Pass --base-repo (base_repo=...) with the repo id where that base lives."
            )
        return folder
    return None


def _base_upload_files(folder: Path) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or any(part.startswith(".") for part in rel.split("/")) or rel == README:
            continue
        files.append((rel, path))
    if not any(rel == MODEL_CONFIG for rel, _ in files):
        raise HubError(f"The base model folder {folder.name!r} has no config.json, so it cannot be published.")
    return files


def publish_base(folder: Path, repo_id: str, *, origin: str, token: str | None = None, private: bool = False,
                 endpoint: str | None = None) -> str:
    """Publish a base model folder (tiny stand-in or local checkpoint) with its own card; returns its commit id.

    Publishing identical content again creates no commit.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    repo_id = validate_repo_id(repo_id, what="base repo id", require_namespace=True)
    api = HfApi(endpoint=endpoint, token=token)
    family = family_from_config(read_local_config(folder), origin)
    if origin in TINY_MODELS:
        family = FAMILIES[TINY_MODELS[origin]]
    card = render_base_card(folder, repo_id, origin=origin, family=family)
    operations = [CommitOperationAdd(rel, str(path)) for rel, path in _base_upload_files(folder)]
    operations.append(CommitOperationAdd(README, str(card).encode("utf-8")))
    ep = endpoint_of(api)
    with hub_errors(f"publish the base model as {repo_id}", ep, repo_id=repo_id), lfs_uploads_for(ep):
        _refuse_foreign_repo(api, repo_id, token, ep)
        api.create_repo(repo_id, private=private, exist_ok=True, token=token)
        commit = api.create_commit(
            repo_id, operations, commit_message=f"Publish base model {public_source(origin)} for hubtune adapters",
            token=token,
        )
    return commit.oid


def _refuse_foreign_repo(api, repo_id: str, token: str | None, endpoint: str) -> None:
    """Never overwrite a repo that hubtune did not publish as a base (it may hold someone's real model)."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        info = api.model_info(repo_id, token=token)
    except RepositoryNotFoundError:
        return
    files = {s.rfilename for s in info.siblings or []} - {".gitattributes"}
    tags = set(info.tags or [])
    if files and "hubtune-base" not in tags:
        raise HubError(
            f"{repo_id} already exists on {endpoint} and was not published by hubtune as a base model, so the run's "
            "base is not copied over it. Pass --base-repo (base_repo=...) with the repo id where the base lives."
        )


def push_pretrained(folder: str | Path, repo_id: str, *, private: bool = False, token: str | None = None,
                    endpoint: str | None = None) -> str:
    """Publish a folder written by `hubtune pretrain` as a base model with its card (corpus, steps, held-out loss
    before and after); returns the commit URL. A repo that hubtune did not publish as a base is never written to.

    Raises:
        HubError: bad repo id, token problems, a namespace the token cannot write to, a foreign repo.

    Example:
        >>> push_pretrained("runs/nt-adapted", "alice/nt-adapted")  # doctest: +SKIP
        'https://huggingface.co/alice/nt-adapted/commit/3f2a...'
    """
    from huggingface_hub import HfApi

    folder = Path(folder)
    record = read_pretraining_record(folder)
    repo_id = validate_repo_id(repo_id)
    token = _resolve_token(token)
    api = HfApi(endpoint=endpoint, token=token)
    repo_id, _ = _writable_repo(api, token, repo_id)
    origin = folder.resolve().name
    say(f"publishing the pre-trained model {origin} (from {record.record.get('base_model')}) as {repo_id}")
    oid = publish_base(folder, repo_id, origin=origin, token=token, private=private, endpoint=endpoint_of(api))
    return f"{endpoint_of(api).rstrip('/')}/{repo_id}/commit/{oid}"


def _writable_repo(api, token: str, repo_id: str) -> tuple[str, str]:
    """(`repo_id` with the token owner's namespace when it had none, the user name); HubError when the token may
    not write to that namespace."""
    ep = endpoint_of(api)
    with hub_errors("check the token", ep):
        me = api.whoami(token=token)
    user = str(me.get("name") or "")
    orgs = {str(o.get("name")) for o in me.get("orgs") or [] if isinstance(o, dict)}
    if "/" not in repo_id:
        repo_id = f"{user}/{repo_id}"
    namespace = repo_id.split("/")[0]
    if namespace.lower() != user.lower() and namespace.lower() not in {o.lower() for o in orgs}:
        raise HubError(
            f"The token belongs to {user!r}, who cannot write to the namespace {namespace!r} of {repo_id} on {ep}. "
            f"Push to {user}/{repo_id.split('/')[1]} or use a token of {namespace!r}."
        )
    return repo_id, user


def _prepare_base(api, token: str, run: Run, namespace: str, repo_id: str, base_repo: str | None,
                  private: bool) -> _Base:
    origin = run.base_model
    ep = endpoint_of(api)
    if base_repo:
        base_repo = validate_repo_id(base_repo, what="base repo id", require_namespace=True)
        with hub_errors(f"find the base model {base_repo}", ep, repo_id=base_repo):
            info = api.model_info(base_repo, token=token)
        return _Base(base_repo, info.sha)
    folder = _local_base_folder(origin)
    if folder is None:
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

        trained_on = run.info.base_model_revision
        with hub_errors(f"find the base model {origin}", ep, repo_id=origin):
            try:
                info = api.model_info(origin, revision=trained_on, token=token)
            except RepositoryNotFoundError:
                raise HubError(
                    f"The run's base model {origin} is not on {ep}, so an adapter pushed there could not be loaded. "
                    "Publish the base there first and pass --base-repo (base_repo=...) with its repo id."
                ) from None
            except RevisionNotFoundError:
                raise HubError(
                    f"The run was trained on revision {trained_on} of {origin}, which {ep} does not have. Push to "
                    "the hub the base came from, or pass --base-repo with a repo that holds those weights."
                ) from None
        return _Base(origin, trained_on or info.sha)
    target = default_base_repo(origin, namespace)
    if target == repo_id:
        raise HubError(
            f"The base model would be published as {target}, the same repo as the adapter. Push the adapter under "
            "another name, or pass --base-repo."
        )
    say(f"publishing the base model {public_source(origin)} as {target} (skipped if already there)")
    revision = publish_base(folder, target, origin=origin, token=token, private=private, endpoint=ep)
    files = {name: folder / name for name in TOKENIZER_FILES if (folder / name).is_file()}
    return _Base(target, revision, files, folder / MODEL_CONFIG)


def _hub_tokenizer_files(api, token: str, base: _Base, names: list[str]) -> dict[str, Path | bytes | None]:
    """Download the base's copies of the run's tokenizer files (small) to compare; absent ones map to None."""
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    found: dict[str, Path | bytes | None] = {}
    for name in names:
        try:
            found[name] = Path(api.hf_hub_download(base.repo_id, name, revision=base.revision, token=token))
        except (EntryNotFoundError, HfHubHTTPError, *network_errors()):
            found[name] = None
    return found


def labelled_config(base_config: dict[str, Any], label_names: list[str],
                    problem_type: str = "single_label_classification") -> dict[str, Any]:
    """The base's config.json with the run's outputs, for an adapter repo: their names (``id2label``/``label2id``),
    ``num_labels`` and transformers' ``problem_type`` (``single_label_classification``,
    ``multi_label_classification`` or ``regression``: `hubtune.problems.Problem.hf_problem_type`).

    ``AutoConfig.from_pretrained(adapter_repo)`` then gives plain transformers/peft code the names
    (``model.config.id2label``) and a head of the right size and loss. ``auto_map`` is dropped: the adapter repo holds
    no modelling code.

    Example:
        >>> labelled_config({"model_type": "esm"}, ["non-promoter", "promoter"])["id2label"]
        {'0': 'non-promoter', '1': 'promoter'}
        >>> labelled_config({"model_type": "esm"}, ["activity"], "regression")["problem_type"]
        'regression'
    """
    config = {k: v for k, v in base_config.items() if k != "auto_map"}
    config["id2label"] = {str(i): name for i, name in enumerate(label_names)}
    config["label2id"] = {name: i for i, name in enumerate(label_names)}
    config["num_labels"] = len(label_names)
    config["problem_type"] = problem_type
    return config


def _base_config(api, token: str, base: _Base) -> dict[str, Any] | None:
    """The base's config.json (from its local folder or the hub), or None when it cannot be read."""
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    path = base.config_file
    if path is None:
        try:
            path = Path(api.hf_hub_download(base.repo_id, MODEL_CONFIG, revision=base.revision, token=token))
        except (EntryNotFoundError, HfHubHTTPError, *network_errors()):
            return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return config if isinstance(config, dict) else None


def push_to_hub(
    run_path: str | Path | Run,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    base_repo: str | None = None,
    token: str | None = None,
    compare_report: str | Path | None = None,
    commit_message: str | None = None,
    endpoint: str | None = None,
) -> str:
    """Publish a run folder on the Hub as one commit with a generated model card; returns the commit URL.

    Args:
        run_path: a finished run folder (or `Run`).
        repo_id: `user/name` (a bare `name` goes to the token owner's namespace).
        private: create the repo (and a base published with it) as private.
        revision: branch to commit to (created from `main` if missing).
        base_repo: repo id where the base model lives on that hub; default: the run's Hub base, or, for a tiny or
            local base, `<namespace>/<name>` published first.
        token: write token; default: HF_TOKEN or the saved login.
        compare_report: a `hubtune compare` report folder: its table goes into the card, its plots into `compare/`.
        commit_message: default: a summary of method, base, task and the headline test metric (MCC, macro AUPRC or
            Spearman).
        endpoint: the hub's URL; default: HF_ENDPOINT or huggingface.co.

    Raises:
        RunFolderError: the run folder is incomplete.
        HubError: bad repo id, missing or rejected token, no write access, unreachable hub, or a refused commit.
            Nothing is half-pushed: the files go in a single commit.

    Example:
        >>> hubtune.push_to_hub("runs/tata-lora", "alice/nt2-50m-tata-lora")  # doctest: +SKIP
        'https://huggingface.co/alice/nt2-50m-tata-lora/commit/3f2a...'
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    if not isinstance(run_path, Run) and is_pretrained_folder(run_path):
        # A base model written by `hubtune pretrain`, not a fine-tuning run.
        return push_pretrained(run_path, repo_id, private=private, token=token, endpoint=endpoint)
    run = run_path if isinstance(run_path, Run) else Run(run_path)
    run.check_complete()
    method = get_method(run.info.method)
    repo_id = validate_repo_id(repo_id)
    if base_repo is not None:
        base_repo = validate_repo_id(base_repo, what="base repo id", require_namespace=True)
    if revision is not None and (not revision.strip() or revision.startswith(("refs/pr", "/")) or ".." in revision):
        raise HubError(f"--revision {revision!r} is not a branch name. Use e.g. 'main' or 'experiment-1'.")
    compare = compare_section(compare_report)  # validates the report folder before anything is sent
    token = _resolve_token(token)
    api = HfApi(endpoint=endpoint, token=token)
    ep = endpoint_of(api)

    repo_id, user = _writable_repo(api, token, repo_id)
    namespace = repo_id.split("/")[0]

    # Render once before anything is published, so a card problem cannot leave a base pushed without its adapter.
    render_run_card(run, repo_id, base_repo or default_base_repo(run.base_model, namespace), compare_report,
                    CardOptions())
    base = _prepare_base(api, token, run, namespace, repo_id, base_repo, private)
    run_tokenizer = [name for name in TOKENIZER_FILES if (run.path / name).is_file()]
    if method.standalone:
        push_tokenizer = bool(run_tokenizer)  # a full model stands alone
    else:
        base_files = base.tokenizer_files or _hub_tokenizer_files(api, token, base, run_tokenizer)
        push_tokenizer = tokenizer_differs(run.path, base_files)

    files: dict[str, bytes | Path] = {}
    for name in method.weight_files:
        files[name] = run.path / name
    if ADAPTER_CONFIG_FILE in method.weight_files:
        adapter_config = json.loads((run.path / ADAPTER_CONFIG_FILE).read_text())
        adapter_config["base_model_name_or_path"] = base.repo_id
        adapter_config["revision"] = base.revision
        files[ADAPTER_CONFIG_FILE] = json_bytes(scrub_paths(adapter_config))
        base_config = _base_config(api, token, base)
        if base_config is not None:  # the output names and problem type where plain transformers reads them
            files[MODEL_CONFIG] = json_bytes(scrub_paths(labelled_config(
                base_config, list(run.info.label_names), run.info.problem.hf_problem_type)))
    elif MODEL_CONFIG in method.weight_files:
        model_config = json.loads((run.path / MODEL_CONFIG).read_text())
        model_config["problem_type"] = model_config.get("problem_type") or run.info.problem.hf_problem_type
        files[MODEL_CONFIG] = json_bytes(scrub_paths(model_config))
    files[INFO_FILE] = json_bytes(public_run_info(run.info, base_repo=base.repo_id, base_revision=base.revision))
    for name in (METRICS_FILE, LEAKAGE_FILE, TRAINING_LOG_FILE, BASE_PROBE_FILE):
        if (run.path / name).is_file():
            files[name] = run.path / name
    if push_tokenizer:
        for name in run_tokenizer:
            files[name] = run.path / name
    card = render_run_card(run, repo_id, base.repo_id, compare_report,
                           CardOptions(base_revision=base.revision, tokenizer_in_repo=push_tokenizer))
    files[README] = str(card).encode("utf-8")
    if compare:
        for plot in compare["plots"]:
            files[plot] = Path(compare_report) / Path(plot).name  # type: ignore[arg-type]
    _refuse_token_in_files(files, token)

    test_score = run.test_score()
    message = commit_message or (
        f"hubtune: {run.info.method} {run.info.family} model for {run.info.task} "
        f"(test {run.info.problem.metric_label} {'n/a' if test_score is None else f'{test_score:.3f}'})"
    )
    with hub_errors(f"push to {repo_id}", ep, repo_id=repo_id, user=user), lfs_uploads_for(ep):
        api.create_repo(repo_id, private=private, exist_ok=True, token=token)
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True, token=token)
        existing = api.list_repo_files(repo_id, revision=revision, token=token)
        operations: list[Any] = [CommitOperationAdd(path, data if isinstance(data, bytes) else str(data))
                                 for path, data in files.items()]
        stale = [path for path in existing if path not in files
                 and (path in MANAGED_FILES or path.startswith(COMPARE_FOLDER + "/"))]
        operations += [CommitOperationDelete(path) for path in stale]
        commit = api.create_commit(
            repo_id, operations, commit_message=message, revision=revision, token=token,
            commit_description=f"Base model: {base.repo_id} (revision {base.revision or 'main'}).",
        )
    return commit.commit_url


def _refuse_token_in_files(files: dict[str, bytes | Path], token: str) -> None:
    """Last line of defence: never publish a file that contains the token."""
    needle = token.encode("utf-8")
    for path, data in files.items():
        content = data if isinstance(data, bytes) else Path(data).read_bytes()
        if needle in content:
            raise HubError(f"Refusing to push: {path} contains the Hub token. Remove it from the run folder first.")


__all__ = ["MANAGED_FILES", "labelled_config", "public_run_info", "publish_base", "push_pretrained", "push_to_hub"]
