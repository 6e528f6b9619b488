"""Sharing runs on a Hub: `push_run` publishes a run folder as one commit, `load_classifier` loads it back,
`list_adapters` finds hubtune adapters by their card data.

Works against huggingface.co or any Hub-compatible server (`hubtune hub serve`); the endpoint comes from
`HF_ENDPOINT` (or the `endpoint=` argument of `push_run` / `list_adapters`).

What a push contains: `adapter_config.json` (with `base_model_name_or_path` set to the base's repo id on that hub)
and `adapter_model.safetensors` for LoRA runs, `config.json` + `model.safetensors` for full/freeze runs,
`probe_head.safetensors` for probe runs; `hubtune.json` (local paths reduced to file names, base model = its repo id
and commit), `metrics.json`, `leakage.json`, `training_log.json`, `base_probe_head.safetensors`, the tokenizer only
when it differs from the base's (always for full/freeze runs, which stand alone), and the generated `README.md`.
Everything goes in one commit, so a failed push leaves the repo as it was; pushing identical content again creates
no commit. A base that is not on the hub (a built-in tiny model or a local folder) is first published as
`<namespace>/<name>` with its own card, unless `base_repo` says where it already lives.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .card import (
    TOKENIZER_FILES,
    CardOptions,
    compare_section,
    default_base_repo,
    is_local_path,
    looks_like_hub_id,
    public_source,
    render_base_card,
    render_run_card,
    tokenizer_differs,
)
from .errors import HubError, RunFolderError
from .models.registry import FAMILIES, TINY_MODELS, get_family
from .progress import info as say
from .run import (
    BASE_PROBE_FILE,
    INFO_FILE,
    LEAKAGE_FILE,
    METRICS_FILE,
    PROBE_HEAD_FILE,
    TRAINING_LOG_FILE,
    Run,
)

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
MODEL_CONFIG = "config.json"
MODEL_WEIGHTS = "model.safetensors"
README = "README.md"
COMPARE_FOLDER = "compare"
# Files a push owns: when a re-push no longer contains one of them (e.g. the tokenizer now matches the base), it is
# deleted in the same commit so the repo never mixes two runs. Other files in the repo are left alone.
MANAGED_FILES = frozenset({
    ADAPTER_CONFIG, ADAPTER_WEIGHTS, MODEL_CONFIG, MODEL_WEIGHTS, PROBE_HEAD_FILE, BASE_PROBE_FILE, INFO_FILE,
    METRICS_FILE, LEAKAGE_FILE, TRAINING_LOG_FILE, *TOKENIZER_FILES,
})
_WEIGHT_FILES = {
    "lora": (ADAPTER_CONFIG, ADAPTER_WEIGHTS),
    "full": (MODEL_CONFIG, MODEL_WEIGHTS),
    "freeze": (MODEL_CONFIG, MODEL_WEIGHTS),
    "probe": (PROBE_HEAD_FILE,),
}
_REQUIRED_INFO_KEYS = ("label_names", "method", "base_model", "max_length", "window_bp", "stride_bp")
_REPO_PART_RE = re.compile(r"^\w(?:[\w.-]{0,94}\w)?$", re.ASCII)


# ---------------------------------------------------------------------------------------------------------------------
# Validation and errors
# ---------------------------------------------------------------------------------------------------------------------


def validate_repo_id(repo_id: str, *, what: str = "repo id", require_namespace: bool = False) -> str:
    """Check that `repo_id` is a valid Hub repo id (`namespace/name` or `name`); returns it stripped.

    Raises:
        HubError: the id is empty, a local path, or breaks the Hub's naming rules (the message says which).
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
    for part in parts:
        if not _REPO_PART_RE.match(part) or "--" in part or ".." in part or part.endswith(".git"):
            raise HubError(
                f"The {what} {text!r} is not a valid Hub repo id: each part may use letters, digits, '-', '_' and "
                "'.', must start and end with a letter or digit, at most 96 characters, without '--', '..' or a "
                "'.git' ending. Example: 'alice/promoter-lora'."
            )
    return text


def _network_errors() -> tuple[type[BaseException], ...]:
    from huggingface_hub import errors as hf_errors

    transport = getattr(hf_errors, "HTTPError", None)  # the HTTP library's base error, re-exported by the client
    return tuple(e for e in (transport, OSError, ConnectionError) if isinstance(e, type))


def _endpoint(api) -> str:
    return str(getattr(api, "endpoint", None) or os.environ.get("HF_ENDPOINT") or "https://huggingface.co")


@contextlib.contextmanager
def _hub_errors(action: str, endpoint: str, *, repo_id: str | None = None, user: str | None = None) -> Iterator[None]:
    """Turn the client's HTTP and network exceptions into one-paragraph HubErrors (never showing a token)."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalTokenNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        yield
    except HubError:
        raise
    except RevisionNotFoundError:
        raise HubError(f"Could not {action}: the revision does not exist in {repo_id} on {endpoint}.") from None
    except RepositoryNotFoundError:
        raise HubError(
            f"Could not {action}: {repo_id} was not found on {endpoint} (or it is private and the token cannot read "
            "it). Check the repo id, HF_ENDPOINT and the token."
        ) from None
    except LocalTokenNotFoundError:
        raise HubError(_NO_TOKEN_MESSAGE) from None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        server_message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        if status == 401:
            raise HubError(
                f"Could not {action}: {endpoint} rejected the token (401 Unauthorized). Check HF_TOKEN / --token, or "
                "log in again with `hf auth login`."
            ) from None
        if status == 403:
            who = f"user {user!r}" if user else "this token"
            raise HubError(
                f"Could not {action}: {who} may not write to {repo_id} on {endpoint} (403 Forbidden). Push to your "
                "own namespace or an organisation you belong to, with a write token."
            ) from None
        if status == 400:
            raise HubError(f"Could not {action}: {endpoint} refused the request (400): {server_message}") from None
        raise HubError(
            f"Could not {action}: {endpoint} answered {status or 'an error'} ({server_message}). Nothing was changed "
            "by this push; try again later."
        ) from None
    except _network_errors() as exc:
        raise HubError(
            f"Could not {action}: cannot reach {endpoint} ({type(exc).__name__}: {exc}). Check the network and "
            "HF_ENDPOINT (for a local hub: is `hubtune hub serve` running?). Nothing was pushed by this step."
        ) from None
    except RuntimeError as exc:
        failed_file = _failed_upload(exc)
        if failed_file is None:
            raise
        # The client wraps any failure of an LFS upload (network, or an HTTP error such as the 403 of an upload
        # link a restarted server no longer accepts) in this RuntimeError; the commit itself was never sent, so
        # this is never a permission problem and re-running the push fixes it.
        raise HubError(
            f"Could not {action}: upload of {failed_file} to {endpoint} failed: {_describe_cause(exc.__cause__)}; "
            "nothing was committed; re-run the push."
        ) from None


_UPLOAD_FAILED_RE = re.compile(r"^Error while uploading '(?P<path>.+)' to the Hub\.?$")
_URL_RE = re.compile(r"\bhttps?://\S+")


def _failed_upload(exc: RuntimeError) -> str | None:
    """The repo path of the file whose upload failed, when `exc` is the client's wrapper of an LFS upload error."""
    match = _UPLOAD_FAILED_RE.match(str(exc).strip())
    return match.group("path") if match else None


def _describe_cause(cause: BaseException | None) -> str:
    """A short, link-free description of why an upload failed (upload links carry a signature: never show them)."""
    if cause is None:
        return "the client gave no reason"
    status = getattr(getattr(cause, "response", None), "status_code", None)
    detail = getattr(cause, "server_message", None) or (str(cause).splitlines() or [""])[0]
    detail = _URL_RE.sub("<upload link>", detail).strip()[:200]
    head = f"{status} from the server" if status else type(cause).__name__
    return f"{head} ({detail})" if detail else head


@contextlib.contextmanager
def _lfs_uploads_for(endpoint: str) -> Iterator[None]:
    """Upload through git-LFS (not Xet) when the hub is not huggingface.co: Hub-compatible servers speak LFS only.

    The client reads HF_HUB_DISABLE_XET once at import; a process that imported it without the variable would
    otherwise ask a local hub for a Xet token and fail.
    """
    from huggingface_hub import constants

    host = (urlsplit(endpoint).hostname or "").lower()
    if host == "huggingface.co" or host.endswith((".huggingface.co", ".hf.co")) or constants.HF_HUB_DISABLE_XET:
        yield
        return
    constants.HF_HUB_DISABLE_XET = True
    try:
        yield
    finally:
        constants.HF_HUB_DISABLE_XET = False


_NO_TOKEN_MESSAGE = (
    "No Hub token found: pushing needs a token with write access. Pass token=... (--token), set HF_TOKEN, or log "
    "in with `hf auth login`."
)


# ---------------------------------------------------------------------------------------------------------------------
# Run folder checks and public metadata
# ---------------------------------------------------------------------------------------------------------------------


def check_run_folder(run_path: str | Path | Run) -> Run:
    """Open a run folder for pushing and make sure every file the push needs is there.

    Raises:
        RunFolderError: the folder, `hubtune.json`, a metrics/leakage file, a weights file or a required field in
            `hubtune.json` is missing (the message names it).
    """
    run = run_path if isinstance(run_path, Run) else Run(run_path)
    missing_keys = [key for key in _REQUIRED_INFO_KEYS if run.info.get(key) in (None, "", [])]
    if missing_keys:
        raise RunFolderError(
            f"{run.path / INFO_FILE} lacks the field(s) {', '.join(missing_keys)}; it was not written by a finished "
            "`hubtune train`. Re-run training to get a complete run folder."
        )
    method = run.method
    if method not in _WEIGHT_FILES:
        raise RunFolderError(f"{run.path / INFO_FILE}: unknown method {method!r} (expected lora, full, freeze or probe).")
    needed = (METRICS_FILE, LEAKAGE_FILE, *_WEIGHT_FILES[method])
    missing = [name for name in needed if not (run.path / name).is_file()]
    if missing:
        raise RunFolderError(
            f"Run folder {run.path} is incomplete: {', '.join(missing)} missing (a {method} run needs "
            f"{', '.join(needed)}). Nothing was pushed. Re-run training, or copy the whole run folder."
        )
    return run


def _scrub_paths(value: Any) -> Any:
    """Reduce anything that looks like a local path to its last component (folders of this machine stay private)."""
    if isinstance(value, dict):
        return {k: _scrub_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_paths(v) for v in value]
    if isinstance(value, str) and (value.startswith(("/", "~", "./", "../")) or re.match(r"^[A-Za-z]:[\\/]", value)):
        return Path(value.replace("\\", "/").rstrip("/")).name
    return value


def public_run_info(info: dict[str, Any], *, base_repo: str, base_revision: str | None) -> dict[str, Any]:
    """The run's hubtune.json as published: the base is its repo id + commit, local paths become file names."""
    data = copy.deepcopy(info)
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
    return _scrub_paths(data)


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------------------------------------------------
# Push
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class _Base:
    """Where the base model lives on the target hub."""

    repo_id: str
    revision: str | None
    tokenizer_files: dict[str, Path | bytes | None] = field(default_factory=dict)


def _resolve_token(token: str | None) -> str:
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise HubError(_NO_TOKEN_MESSAGE)
    return found


def _local_base_folder(origin: str) -> Path | None:
    """The folder of a tiny or local base model, or None when the base is a Hub id."""
    if origin in TINY_MODELS:
        from .models import tiny_model_path

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

    from .models.registry import family_from_config, read_local_config

    repo_id = validate_repo_id(repo_id, what="base repo id", require_namespace=True)
    api = HfApi(endpoint=endpoint, token=token)
    family = family_from_config(read_local_config(folder), origin)
    if origin in TINY_MODELS:
        family = FAMILIES[TINY_MODELS[origin]]
    card = render_base_card(folder, repo_id, origin=origin, family=family)
    operations = [CommitOperationAdd(rel, str(path)) for rel, path in _base_upload_files(folder)]
    operations.append(CommitOperationAdd(README, str(card).encode("utf-8")))
    ep = _endpoint(api)
    with _hub_errors(f"publish the base model as {repo_id}", ep, repo_id=repo_id), _lfs_uploads_for(ep):
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


def _prepare_base(api, token: str, run: Run, namespace: str, repo_id: str, base_repo: str | None,
                  private: bool) -> _Base:
    origin = run.base_model
    ep = _endpoint(api)
    if base_repo:
        base_repo = validate_repo_id(base_repo, what="base repo id", require_namespace=True)
        with _hub_errors(f"find the base model {base_repo}", ep, repo_id=base_repo):
            info = api.model_info(base_repo, token=token)
        return _Base(base_repo, info.sha)
    folder = _local_base_folder(origin)
    if folder is None:
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

        trained_on = run.info.get("base_model_revision")
        with _hub_errors(f"find the base model {origin}", ep, repo_id=origin):
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
    return _Base(target, revision, files)


def _hub_tokenizer_files(api, token: str, base: _Base, names: list[str]) -> dict[str, Path | bytes | None]:
    """Download the base's copies of the run's tokenizer files (small) to compare; absent ones map to None."""
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    found: dict[str, Path | bytes | None] = {}
    for name in names:
        try:
            found[name] = Path(api.hf_hub_download(base.repo_id, name, revision=base.revision, token=token))
        except (EntryNotFoundError, HfHubHTTPError, *_network_errors()):
            found[name] = None
    return found


def push_run(
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
        commit_message: default: a summary of method, base, task and test MCC.
        endpoint: the hub's URL; default: HF_ENDPOINT or huggingface.co.

    Raises:
        RunFolderError: the run folder is incomplete.
        HubError: bad repo id, missing or rejected token, no write access, unreachable hub, or a refused commit.
            Nothing is half-pushed: the files go in a single commit.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    run = check_run_folder(run_path)
    repo_id = validate_repo_id(repo_id)
    if base_repo is not None:
        base_repo = validate_repo_id(base_repo, what="base repo id", require_namespace=True)
    if revision is not None and (not revision.strip() or revision.startswith(("refs/pr", "/")) or ".." in revision):
        raise HubError(f"--revision {revision!r} is not a branch name. Use e.g. 'main' or 'experiment-1'.")
    compare = compare_section(compare_report)  # validates the report folder before anything is sent
    token = _resolve_token(token)
    api = HfApi(endpoint=endpoint, token=token)
    ep = _endpoint(api)

    with _hub_errors("check the token", ep):
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

    # Render once before anything is published, so a card problem cannot leave a base pushed without its adapter.
    render_run_card(run, repo_id, base_repo or default_base_repo(run.base_model, namespace), compare_report,
                    CardOptions())
    base = _prepare_base(api, token, run, namespace, repo_id, base_repo, private)
    run_tokenizer = [name for name in TOKENIZER_FILES if (run.path / name).is_file()]
    if run.method in ("full", "freeze"):
        push_tokenizer = bool(run_tokenizer)  # a full model stands alone
    else:
        base_files = base.tokenizer_files or _hub_tokenizer_files(api, token, base, run_tokenizer)
        push_tokenizer = tokenizer_differs(run.path, base_files)

    files: dict[str, bytes | Path] = {}
    for name in _WEIGHT_FILES[run.method]:
        files[name] = run.path / name
    if run.method == "lora":
        adapter_config = json.loads((run.path / ADAPTER_CONFIG).read_text())
        adapter_config["base_model_name_or_path"] = base.repo_id
        adapter_config["revision"] = base.revision
        files[ADAPTER_CONFIG] = _json_bytes(_scrub_paths(adapter_config))
    elif run.method in ("full", "freeze"):
        files[MODEL_CONFIG] = _json_bytes(_scrub_paths(json.loads((run.path / MODEL_CONFIG).read_text())))
    files[INFO_FILE] = _json_bytes(public_run_info(run.info, base_repo=base.repo_id, base_revision=base.revision))
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

    test_mcc = run.test_mcc()
    message = commit_message or (
        f"hubtune: {run.method} {run.info.get('family')} model for {run.info.get('task')} "
        f"(test MCC {'n/a' if test_mcc is None else f'{test_mcc:.3f}'})"
    )
    with _hub_errors(f"push to {repo_id}", ep, repo_id=repo_id, user=user), _lfs_uploads_for(ep):
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


# The name the package exports (`hubtune.push_to_hub`).
push_to_hub = push_run


# ---------------------------------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------------------------------


def _download(repo_id: str, revision: str | None, token: str | None) -> Path:
    from huggingface_hub import snapshot_download

    ep = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    with _hub_errors(f"download {repo_id}", ep, repo_id=repo_id):
        folder = snapshot_download(repo_id, revision=revision, token=token,
                                   ignore_patterns=["*.md", "*.png", f"{COMPARE_FOLDER}/*"])
    return Path(folder)


def _plain_adapter_info(folder: Path, where: str, label_names: list[str] | None,
                        token: str | None = None) -> dict[str, Any]:
    """hubtune.json-like settings for a plain peft adapter (no hubtune.json): labels must come from the caller."""
    from .models import resolve_model

    config_path = folder / ADAPTER_CONFIG
    if not config_path.is_file():
        raise HubError(
            f"{where} has neither {INFO_FILE} nor {ADAPTER_CONFIG}: it is not a hubtune model or a peft adapter."
        )
    adapter_config = json.loads(config_path.read_text())
    base = adapter_config.get("base_model_name_or_path")
    if not label_names:
        raise HubError(
            f"{where} is a plain peft adapter without {INFO_FILE}, so its labels are unknown. Pass them in the order "
            "of the classifier's outputs: load_classifier(..., label_names=['negative', 'positive'])."
        )
    if not base:
        raise HubError(f"{where}/{ADAPTER_CONFIG} does not name its base model (base_model_name_or_path is empty).")
    revision = adapter_config.get("revision")
    family = resolve_model(base, revision=revision, token=token).family
    max_length = family.model_max_tokens or 512
    window_bp = family.window_bp(max_length)
    return {
        "format": "hubtune-run",
        "label_names": list(label_names),
        "method": "lora",
        "family": family.name,
        "base_model": base,
        "base_model_revision": revision,
        "max_length": max_length,
        "window_bp": window_bp,
        "stride_bp": max(1, window_bp // 2),
        "pooling": "mean",
    }


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"))


def _load_folder_tokenizer(folder: Path, family_name: str | None):
    from transformers import AutoTokenizer

    family = FAMILIES.get(family_name or "auto") or get_family("auto")
    try:
        return AutoTokenizer.from_pretrained(str(folder), **family.tokenizer_kwargs)
    except (OSError, ValueError) as exc:
        raise HubError(f"Could not load the tokenizer shipped with the model: {exc}") from None


def load_classifier(
    repo_id_or_path: str | Path,
    *,
    revision: str | None = None,
    device: str | None = None,
    label_names: list[str] | None = None,
    token: str | None = None,
    base_model_instance: Any = None,
):
    """Load a shared hubtune model (Hub repo id, downloaded snapshot or run folder) as a ready `Classifier`.

    Reads `hubtune.json` (labels, max length, windowing, base model and revision), loads the base with
    `hubtune.load_base_model` and the adapter with `PeftModel.from_pretrained` (full/freeze runs load whole; probe runs
    use the frozen base + `probe_head.safetensors`).

    Args:
        repo_id_or_path: `user/name` on the hub in HF_ENDPOINT, or a local folder.
        revision: branch, tag or commit of the repo.
        device: "cpu", "cuda", ...; default: CUDA when available.
        label_names: class names, required for a plain peft adapter without `hubtune.json`; for hubtune models they
            may rename the classes (same count).
        token: for private repos; default: HF_TOKEN or the saved login.
        base_model_instance: an already loaded base classification model to reuse (it is copied, never modified),
            which makes loading several adapters of one base cheap.

    Returns:
        `hubtune.predict.Classifier` with `.predict(seqs)`, `.predict_proba`, `.predict_base_proba`, `.embeddings`.

    Raises:
        HubError: the repo cannot be found or downloaded, or labels are unknown.
    """
    from .models import load_base_model, load_tokenizer
    from .predict import Classifier

    text = str(repo_id_or_path)
    local = Path(text).expanduser()
    if local.is_dir():
        folder, where = local, local.name
    else:
        repo_id = validate_repo_id(text)
        folder, where = _download(repo_id, revision, token), repo_id

    info_path = folder / INFO_FILE
    if info_path.is_file():
        try:
            info = json.loads(info_path.read_text())
        except json.JSONDecodeError as exc:
            raise HubError(f"{where}/{INFO_FILE} is not valid JSON (line {exc.lineno}).") from None
        if info.get("format") != "hubtune-run":
            raise HubError(f"{where}/{INFO_FILE} was not written by hubtune (format {info.get('format')!r}).")
        if label_names:
            if len(label_names) != len(info["label_names"]):
                raise HubError(
                    f"{where} has {len(info['label_names'])} classes ({', '.join(info['label_names'])}) but "
                    f"{len(label_names)} label names were given."
                )
            info["label_names"] = list(label_names)
    else:
        info = _plain_adapter_info(folder, where, label_names, token)

    labels = list(info["label_names"])
    method = info.get("method", "lora")
    if method in ("full", "freeze"):
        model = load_base_model(folder, len(labels), label_names=labels, token=token)
    else:
        if base_model_instance is not None:
            base = _copy_base(base_model_instance, labels, where)
        else:
            base = load_base_model(info["base_model"], len(labels), label_names=labels,
                                   revision=info.get("base_model_revision"), token=token)
        if method == "lora":
            model = _attach_adapter(base, folder, where, len(labels))
        else:
            model = base
    if _has_tokenizer(folder):
        tokenizer = _load_folder_tokenizer(folder, info.get("family"))
    else:
        tokenizer = load_tokenizer(info["base_model"], revision=info.get("base_model_revision"), token=token)
    return Classifier.from_folder(folder, info, model, tokenizer, device=device)


def _copy_base(instance: Any, labels: list[str], where: str):
    if hasattr(instance, "peft_config"):
        raise HubError("base_model_instance must be the plain base model, not a PeftModel with an adapter attached.")
    n_out = getattr(getattr(instance, "config", None), "num_labels", None)
    if n_out is not None and n_out != len(labels):
        raise HubError(
            f"base_model_instance has a {n_out}-class head but {where} has {len(labels)} classes. Load the base with "
            f"hubtune.load_base_model(base, num_labels={len(labels)})."
        )
    model = copy.deepcopy(instance)  # PeftModel.from_pretrained injects layers in place: keep the caller's intact
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {name: i for i, name in enumerate(labels)}
    return model


def _attach_adapter(base, folder: Path, where: str, n_labels: int):
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(base, str(folder))
    except RuntimeError as exc:
        if "size mismatch" in str(exc):
            raise HubError(
                f"The adapter in {where} does not fit its base: {str(exc).splitlines()[0][:200]}. With a plain peft "
                f"adapter, check that label_names has as many names as the adapter's head has outputs ({n_labels} "
                "given)."
            ) from None
        raise


# ---------------------------------------------------------------------------------------------------------------------
# Discover
# ---------------------------------------------------------------------------------------------------------------------


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
    ep = _endpoint(api)
    found: list[AdapterInfo] = []
    with _hub_errors("list hubtune models", ep):
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


__all__ = [
    "AdapterInfo",
    "check_run_folder",
    "list_adapters",
    "load_classifier",
    "public_run_info",
    "publish_base",
    "push_run",
    "push_to_hub",
    "validate_repo_id",
]
