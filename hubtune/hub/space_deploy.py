"""Publishing the hubtune Space: `deploy_space` sends the app, its README and requirements and hubtune itself (as a
wheel built from the running package) to a Space repo in one commit, and preselects adapters through the Space's
``HUBTUNE_SPACE_ADAPTERS`` variable.

What the Space repo holds: ``app.py`` and ``render.py`` (from the ``space/`` folder), ``README.md`` (YAML for the
SDK, hardware and the adapters with their bases under ``models:``), ``requirements.txt`` (see
:mod:`hubtune.hub.space_files`), ``wheels/hubtune-<version>-py3-none-any.whl`` and, for ``sdk="docker"``, a
``Dockerfile``. A Gradio Space's builder installs requirements.txt before the repo's files are in place, so there
hubtune is installed from the wheel's URL on the hub (with its SHA-256); a Docker Space installs it from
``./wheels``. Deploying identical content again makes no commit.

Example:
    >>> deploy_space("alice/promoter-demo", adapters=["alice/tata-lora"], hardware="cpu-basic")  # doctest: +SKIP
    SpaceDeployment(repo_id='alice/promoter-demo', changed=True, ...)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, HubError
from ..repo_ids import validate_repo_id
from ..run import INFO_FILE, RunInfo
from .errors import NO_TOKEN_MESSAGE, endpoint_of, hub_errors, lfs_uploads_for
from .space_files import (
    DEFAULT_TITLE,
    SpaceChoice,
    readme_body,
    render_dockerfile,
    render_readme,
    render_requirements,
)
from .space_wheel import build_wheel, wheel_source

# The Space setting that preselects adapters (read by hubtune.serving as the environment variable of that name).
SPACE_ADAPTERS_VARIABLE = "HUBTUNE_SPACE_ADAPTERS"
WHEELS_FOLDER = "wheels"
APP_FILES = ("app.py", "render.py")
# Files a deployment owns: a re-deploy that no longer writes one of them deletes it in the same commit.
MANAGED = frozenset({*APP_FILES, "README.md", "requirements.txt", "Dockerfile"})


@dataclass
class SpaceDeployment:
    """What `deploy_space` did."""

    repo_id: str
    url: str
    changed: bool  # False: the Space already held exactly these files (no commit was made)
    commit_url: str | None
    files: list[str]
    adapters: list[str] = field(default_factory=list)
    variables_changed: bool = False


@dataclass(frozen=True)
class _Adapter:
    repo_id: str
    base_model: str
    task: str
    labels: tuple[str, ...]


def default_space_dir() -> Path:
    """The Space's files (app.py, render.py): the checkout's ``space/`` folder, or the copy installed with hubtune
    (package ``hubtune.space_app``)."""
    import hubtune

    package = Path(hubtune.__file__).resolve().parent
    checkout = package.parent / "space"
    return checkout if (checkout / "app.py").is_file() else package / "space_app"


def _adapter_list(adapters: str | list[str] | None) -> list[str]:
    if adapters is None:
        return []
    items = adapters.split(",") if isinstance(adapters, str) else list(adapters)
    names = [validate_repo_id(a.strip(), what="adapter repo id", require_namespace=True) for a in items if a.strip()]
    return list(dict.fromkeys(names))


def _check_adapters(api: Any, names: list[str], token: str, endpoint: str) -> list[_Adapter]:
    """Each adapter's task and labels from its hubtune.json; refuses missing, private or mixed-task adapters."""
    from huggingface_hub.errors import EntryNotFoundError

    found: list[_Adapter] = []
    for name in names:
        with hub_errors(f"find the adapter {name}", endpoint, repo_id=name):
            info = api.model_info(name, token=token)
            if info.private:
                raise HubError(
                    f"The adapter {name} is private: the Space's visitors could not load it. Make it public, or "
                    "leave it out of --adapters."
                )
            try:
                path = api.hf_hub_download(name, INFO_FILE, revision=info.sha, token=token)
            except EntryNotFoundError:
                raise HubError(
                    f"{name} on {endpoint} has no {INFO_FILE}: it is not a hubtune model, so the Space cannot show its "
                    "labels. Pick a model pushed with `hubtune push`."
                ) from None
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HubError(f"{name}/{INFO_FILE} is not valid JSON; the repo is damaged.") from None
        run = RunInfo.from_dict(data, where=f"{name}/{INFO_FILE}")
        found.append(_Adapter(name, str(run.base_model), str(run.task), tuple(run.label_names)))
    for adapter in found[1:]:
        if sorted(adapter.labels) != sorted(found[0].labels):
            raise ConfigError(
                f"{adapter.repo_id} predicts {', '.join(adapter.labels)} but {found[0].repo_id} predicts "
                f"{', '.join(found[0].labels)}: the Space compares adapters of one task side by side, so deploy "
                "adapters with the same labels (or one Space per task)."
            )
    return found


def _git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _unchanged(local: bytes, remote: Any) -> bool:
    """True if a remote tree entry holds exactly ``local`` (LFS files by SHA-256, others by git blob id)."""
    lfs = getattr(remote, "lfs", None)
    if lfs is not None:
        digest = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)
        return digest == hashlib.sha256(local).hexdigest()
    return getattr(remote, "blob_id", None) == _git_blob_oid(local)


def _refuse_foreign_space(api: Any, repo_id: str, token: str, endpoint: str) -> None:
    """Never overwrite a Space that hubtune did not deploy (it may hold someone's own app)."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        info = api.space_info(repo_id, token=token)
    except RepositoryNotFoundError:
        return
    files = {s.rfilename for s in info.siblings or []} - {".gitattributes"}
    if files and "hubtune" not in set(info.tags or []) | set(getattr(info.card_data, "tags", None) or []):
        raise HubError(
            f"The Space {repo_id} on {endpoint} already holds an app that hubtune did not deploy; it is left "
            "alone. Deploy to another repo id."
        )


def build_space_files(
    folder: Path, *, repo_id: str, endpoint: str, choice: SpaceChoice, models: list[str], title: str,
    space_dir: Path,
) -> dict[str, Path]:
    """Write the Space's files into ``folder``; returns repo path -> file. ``models`` go under ``models:``.

    Example: ``build_space_files(tmp, repo_id="alice/demo", endpoint=url, choice=SpaceChoice(), models=[], ...)``.
    """
    missing = [name for name in APP_FILES if not (space_dir / name).is_file()]
    if missing:
        raise ConfigError(
            f"The Space app files ({', '.join(missing)}) are not in {space_dir}. Run from a hubtune checkout or pass "
            "space_dir= (--space-dir) with the folder that holds app.py and render.py."
        )
    from huggingface_hub import hf_hub_url

    files: dict[str, Path] = {}
    for name in APP_FILES:
        files[name] = Path(shutil.copyfile(space_dir / name, folder / name))
    source = wheel_source()
    wheel = build_wheel(folder / WHEELS_FOLDER, source)
    wheel_path = f"{WHEELS_FOLDER}/{wheel.name}"
    files[wheel_path] = wheel
    if choice.sdk == "docker":
        hubtune_line = f"./{wheel_path}"
        (folder / "Dockerfile").write_text(render_dockerfile(choice), encoding="utf-8")
        files["Dockerfile"] = folder / "Dockerfile"
    else:  # the builder installs requirements.txt before the repo's files are there: fetch the wheel from the hub
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        url = hf_hub_url(repo_id, wheel_path, repo_type="space", endpoint=endpoint)
        hubtune_line = f"hubtune @ {url}#sha256={digest}"
    (folder / "requirements.txt").write_text(render_requirements(choice, source.metadata, hubtune_line),
                                             encoding="utf-8")
    files["requirements.txt"] = folder / "requirements.txt"
    readme = render_readme(choice, title=title, models=models, body=readme_body(space_dir))
    (folder / "README.md").write_text(readme, encoding="utf-8")
    files["README.md"] = folder / "README.md"
    return files


def deploy_space(
    repo_id: str,
    *,
    adapters: str | list[str] | None = None,
    hardware: str = "cpu-basic",
    sdk: str = "gradio",
    private: bool = False,
    title: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    space_dir: str | Path | None = None,
) -> SpaceDeployment:
    """Publish the hubtune Space to ``repo_id`` in one commit, hubtune included as a wheel; returns what was done.

    Args:
        repo_id: `user/name` of the Space (a bare `name` goes to the token owner's namespace).
        adapters: hubtune adapters to preselect (repo ids, a list or "a,b"); all of one task. They are checked on
            the hub and set as the Space's ``HUBTUNE_SPACE_ADAPTERS`` variable; None leaves that variable as it is.
        hardware: ``cpu-basic``, ``t4-small``, ``a10g-small`` or ``zero-a10g`` (README ``suggested_hardware`` and
            the torch build in requirements.txt; the Space's hardware itself is chosen in its settings).
        sdk: ``gradio`` or ``docker`` (Dockerfile + ``app_port``).
        private: create the Space as private (Docker SDK only: a Gradio Space's builder fetches the wheel by URL).
        title: the Space's title; default "hubtune DNA classifier".
        token: write token; default: HF_TOKEN or the saved login.
        endpoint: the hub's URL; default: HF_ENDPOINT or huggingface.co.
        space_dir: the folder with app.py and render.py; default: the project's ``space/``.

    Raises:
        ConfigError: unsupported hardware/SDK, adapters of different tasks, app files not found.
        HubError: no token, an adapter missing, private or not a hubtune model, the Space belongs to another app,
            or the hub refused.

    Example:
        >>> deploy_space("alice/promoter-demo", adapters="alice/tata-lora,alice/tata-full")  # doctest: +SKIP
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token

    choice = SpaceChoice(hardware=hardware, sdk=sdk)
    if private and sdk == "gradio":
        raise ConfigError(
            "A private Gradio Space cannot install hubtune: its builder fetches the wheel from the repo's URL without "
            "a token. Use --sdk docker for a private Space (it installs the wheel from the repo's files)."
        )
    repo_id = validate_repo_id(repo_id, what="Space repo id")
    names = _adapter_list(adapters)
    token = token or get_token()
    if not token:
        raise HubError(NO_TOKEN_MESSAGE)
    api = HfApi(endpoint=endpoint, token=token)
    ep = endpoint_of(api)
    with hub_errors("check the token", ep):
        user = str(api.whoami(token=token).get("name") or "")
    if "/" not in repo_id:
        repo_id = f"{user}/{repo_id}"
    checked = _check_adapters(api, names, token, ep)
    _refuse_foreign_space(api, repo_id, token, ep)

    with tempfile.TemporaryDirectory(prefix="hubtune-space-") as tmp:
        models = list(dict.fromkeys([a.repo_id for a in checked] + [a.base_model for a in checked]))
        files = build_space_files(Path(tmp), repo_id=repo_id, endpoint=ep, choice=choice, models=models,
                                  title=title or DEFAULT_TITLE, space_dir=Path(space_dir or default_space_dir()))
        with hub_errors(f"deploy the Space {repo_id}", ep, repo_id=repo_id, user=user), lfs_uploads_for(ep):
            url = str(api.create_repo(repo_id, repo_type="space", space_sdk=sdk, private=private, exist_ok=True))
            remote = {e.path: e for e in api.list_repo_tree(repo_id, repo_type="space", recursive=True)
                      if hasattr(e, "blob_id")}
            operations: list[Any] = [CommitOperationAdd(path, str(file)) for path, file in sorted(files.items())
                                     if path not in remote or not _unchanged(file.read_bytes(), remote[path])]
            operations += [CommitOperationDelete(path) for path in sorted(remote) if path not in files
                           and (path in MANAGED or path.startswith(WHEELS_FOLDER + "/"))]
            commit_url = None
            if operations:
                commit = api.create_commit(
                    repo_id, operations, repo_type="space",
                    commit_message=f"hubtune space deploy: {sdk} on {hardware}"
                    + (f" with {', '.join(names)}" if names else ""),
                )
                commit_url = commit.commit_url
            variables_changed = False
            if names:
                wanted = ",".join(names)
                current = api.get_space_variables(repo_id, token=token).get(SPACE_ADAPTERS_VARIABLE)
                if current is None or current.value != wanted:
                    api.add_space_variable(repo_id, SPACE_ADAPTERS_VARIABLE, wanted, description="adapters preselected "
                                           "and preloaded by the hubtune Space", token=token)
                    variables_changed = True
    return SpaceDeployment(repo_id=repo_id, url=url, changed=bool(operations), commit_url=commit_url,
                           files=sorted(files), adapters=names, variables_changed=variables_changed)


__all__ = ["SPACE_ADAPTERS_VARIABLE", "SpaceDeployment", "build_space_files", "default_space_dir", "deploy_space"]
