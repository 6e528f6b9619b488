"""The Space's downloads: a repo is checked from the hub's metadata before any weight is fetched, only the files a
hubtune model needs are downloaded, and the download cache keeps to a size budget by evicting the least recently used
repo.

The check, in order: the repo is public (unless private repos are allowed), it has `hubtune.json` (fetched alone and
validated, windowing included), its method's weight files exist as safetensors (a pickled `.bin` is refused), the
files to download fit the per-model size limit, and its model belongs to a family hubtune implements (whatever the
method) with a base that is public and within the base size limit. A repo that fails any step leaves nothing on disk.

Settings (environment): HUBTUNE_SPACE_MAX_REPO_MB, HUBTUNE_SPACE_MAX_BASE_MB, HUBTUNE_SPACE_CACHE_MB,
HUBTUNE_SPACE_ALLOW_PRIVATE (1 to serve private repos the Space's HF_TOKEN can read; default: public only).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, HubError, ModelError
from ..hub.discover import RepoFiles, download_repo, repo_files
from ..methods import get_method
from ..methods.lora import ADAPTER_CONFIG_FILE
from ..models import FAMILIES, TINY_MODELS, get_family, resolve_model
from ..repo_ids import looks_like_hub_id
from ..run import BASE_PROBE_FILE, INFO_FILE, METRICS_FILE, TOKENIZER_FILES, RunInfo

ENV_MAX_REPO_MB = "HUBTUNE_SPACE_MAX_REPO_MB"
ENV_MAX_BASE_MB = "HUBTUNE_SPACE_MAX_BASE_MB"
ENV_CACHE_MB = "HUBTUNE_SPACE_CACHE_MB"
ENV_ALLOW_PRIVATE = "HUBTUNE_SPACE_ALLOW_PRIVATE"
MB = 1_000_000
MAX_JSON_BYTES = 2 * MB  # hubtune.json, metrics.json, config.json: small files, read whole
JSON_FILES = (INFO_FILE, METRICS_FILE, "config.json", ADAPTER_CONFIG_FILE)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
GENERIC_FAMILY = get_family("auto")


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB"


def served_families() -> str:
    """The families a Space serves, for messages ("Nucleotide Transformer, ... or DNABERT-2")."""
    names = [f.display_name for f in FAMILIES.values() if f is not GENERIC_FAMILY]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


@dataclass(frozen=True)
class RepoPolicy:
    """What the Space downloads: size limits, the cache budget and whether private repos are served.

    Example:
        >>> RepoPolicy.from_env({"HUBTUNE_SPACE_MAX_REPO_MB": "50"}).max_repo_bytes
        50000000
    """

    max_repo_bytes: int = 256 * MB  # files downloaded for one model (LoRA adapters: a few MB)
    max_base_bytes: int = 2_500 * MB  # weights of the base model a repo builds on
    cache_bytes: int = 2_000 * MB  # all downloaded repos together (least recently used evicted first)
    allow_private: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RepoPolicy:
        """Defaults, overridden by HUBTUNE_SPACE_MAX_REPO_MB, _MAX_BASE_MB, _CACHE_MB (positive integers, in MB)
        and HUBTUNE_SPACE_ALLOW_PRIVATE (1/true/yes).

        Raises:
            ConfigError: a size that is not a positive integer, or a cache smaller than one model (names the variable).
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var, name in ((ENV_MAX_REPO_MB, "max_repo_bytes"), (ENV_MAX_BASE_MB, "max_base_bytes"),
                          (ENV_CACHE_MB, "cache_bytes")):
            raw = (env.get(var) or "").strip()
            if not raw:
                continue
            if not raw.isdigit() or int(raw) < 1:
                raise ConfigError(f"The environment variable {var}={raw!r} must be a positive whole number of MB.")
            values[name] = int(raw) * MB
        values["allow_private"] = (env.get(ENV_ALLOW_PRIVATE) or "").strip().lower() in ("1", "true", "yes")
        policy = cls(**values)
        if policy.cache_bytes < policy.max_repo_bytes:
            raise ConfigError(f"{ENV_CACHE_MB} ({policy.cache_bytes // MB} MB) must be at least {ENV_MAX_REPO_MB} "
                              f"({policy.max_repo_bytes // MB} MB): the cache must hold the largest model it accepts.")
        return policy


def _refuse(repo_id: str, reason: str) -> HubError:
    return HubError(f"{repo_id} cannot be served here: {reason}")


def plan_download(listing: RepoFiles, fetch: Callable[[list[str]], Path], policy: RepoPolicy, *,
                  token: str | bool | None) -> list[str]:
    """Check a hubtune repo from its file list (fetching only hubtune.json, and config.json for a whole model) and
    return the files to download.

    Args:
        listing: the repo's files and sizes (`hubtune.hub.discover.repo_files`).
        fetch: downloads the named files of this commit into the staging folder and returns the folder.
        token: for the base model's metadata (False: public only).

    Raises:
        HubError: the repo is private, not a hubtune model, ships pickled weights, is incomplete or too large, or its
            base is private or too large. ModelError: its model is not of a family hubtune implements.
        RunFolderError: hubtune.json is not valid, or its windowing is unreasonable.

    Example:
        >>> plan_download(repo_files("alice/tata-lora"), fetch, RepoPolicy(), token=False)  # doctest: +SKIP
        ['hubtune.json', 'adapter_config.json', 'adapter_model.safetensors', 'metrics.json', ...]
    """
    repo_id, sizes = listing.repo_id, listing.sizes
    if listing.private and not policy.allow_private:
        raise _refuse(repo_id, "it is private, and this Space serves public repos only.")
    if INFO_FILE not in sizes:
        if ADAPTER_CONFIG_FILE in sizes:
            raise HubError(f"{repo_id} is a plain peft adapter without {INFO_FILE}: its labels and windowing are "
                           "unknown, so this Space cannot serve it. Push it with `hubtune push` to add them.")
        raise HubError(f"{repo_id} has no {INFO_FILE}: it is not a hubtune model, so its labels and windowing are "
                       "unknown. Pick a model pushed with `hubtune push`.")
    for name in JSON_FILES:
        size = sizes.get(name)
        if name in sizes and (size is None or size > MAX_JSON_BYTES):
            raise _refuse(repo_id, f"its {name} is {'of unknown size' if size is None else _mb(size)}; at most "
                                   f"{_mb(MAX_JSON_BYTES)} is read.")
    folder = fetch([INFO_FILE])
    info = _read_info(folder, repo_id)
    method = get_method(info.method)
    missing = [name for name in method.weight_files if name not in sizes]
    if missing:
        pickles = sorted(p for p in sizes if p.lower().endswith(PICKLE_SUFFIXES))
        if pickles:
            raise _refuse(repo_id, f"its weights are a pickle ({pickles[0]}); this Space loads safetensors only. "
                                   "Push the model again with `hubtune push`, which writes safetensors.")
        raise _refuse(repo_id, f"it is incomplete: {', '.join(missing)} missing (a {info.method} model needs "
                               f"{', '.join(method.weight_files)}).")
    wanted = [INFO_FILE, *method.weight_files, METRICS_FILE, BASE_PROBE_FILE, *TOKENIZER_FILES]
    files = [name for name in dict.fromkeys(wanted) if name in sizes]
    total = listing.total(files)
    if total is None:
        raise _refuse(repo_id, "the hub did not report the size of its files.")
    if total > policy.max_repo_bytes:
        raise _refuse(repo_id, f"its model files take {_mb(total)}, more than the {_mb(policy.max_repo_bytes)} this "
                               f"Space downloads per model ({ENV_MAX_REPO_MB}). Run it locally with "
                               f"`hubtune predict {repo_id}`.")
    if method.standalone:
        family = resolve_model(fetch(["config.json"])).family
        what = "its model"
    else:
        family = _check_base(info, policy, token=token)
        what = f"its base {info.base_model}"
    if family is GENERIC_FAMILY:
        raise ModelError(f"{repo_id} cannot be served here: {what} is not a {served_families()} model; this Space only "
                         "serves models of those families.")
    return files


def _read_info(folder: Path, repo_id: str) -> RunInfo:
    where = f"{repo_id}/{INFO_FILE}"
    try:
        data = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise HubError(f"{where} is not valid JSON; the repo is damaged.") from None
    return RunInfo.from_dict(data, where=where)  # window and stride validated there


def _check_base(info: RunInfo, policy: RepoPolicy, *, token: str | bool | None) -> Any:
    """The family of the base model, after checking that it is public (unless allowed) and not too large."""
    base = info.base_model
    if base in TINY_MODELS:
        return resolve_model(base).family
    if not looks_like_hub_id(base):
        raise HubError(f"The base model {base!r} is not a Hub repo id (user/name); this Space loads bases from the "
                       "hub only.")
    listing = repo_files(base, revision=info.base_model_revision, token=token)
    if listing.private and not policy.allow_private:
        raise HubError(f"The base model {base} is private, and this Space serves public models only.")
    weights = [p for p in listing.sizes if p.endswith(".safetensors")] or \
              [p for p in listing.sizes if p.lower().endswith(PICKLE_SUFFIXES)]
    size = listing.total(weights)
    if size is None or size > policy.max_base_bytes:
        told = "of unknown size" if size is None else _mb(size)
        raise HubError(f"The base model {base} is {told}; this Space loads bases of at most "
                       f"{_mb(policy.max_base_bytes)} ({ENV_MAX_BASE_MB}).")
    return resolve_model(base, revision=info.base_model_revision, token=token or None).family


def disk_usage(folder: Path) -> int:
    """Bytes of the regular files under `folder`, never following symbolic links.

    Example:
        >>> disk_usage(Path("/nonexistent"))
        0
    """
    total = 0
    for root, _dirs, names in os.walk(folder, followlinks=False):
        for name in names:
            with contextlib.suppress(OSError):
                stat = os.lstat(os.path.join(root, name))
                total += stat.st_size if not os.path.islink(os.path.join(root, name)) else 0
    return total


@dataclass
class _Entry:
    folder: Path
    size: int


@dataclass
class DownloadStats:
    """What the download cache did (tests read these)."""

    downloads: int = 0
    evictions: int = 0
    refused: int = 0
    evicted: list[str] = field(default_factory=list)


class RepoCache:
    """Checked downloads of hubtune repos in a folder private to this process, within a size budget (LRU).

    Example:
        >>> cache = RepoCache(RepoPolicy(cache_bytes=1_000 * MB))  # doctest: +SKIP
        >>> cache.fetch("alice/tata-lora")  # doctest: +SKIP
        PosixPath('/tmp/hubtune-space-repos-k2j3/alice--tata-lora-8h1x')
    """

    def __init__(self, policy: RepoPolicy | None = None, *, token: str | None = None,
                 on_evict: Callable[[str], None] | None = None):
        """
        Args:
            policy: limits and the private-repo setting; default: `RepoPolicy.from_env()`.
            token: the Space's Hub token; used for visitors' repos only when the policy allows private repos.
            on_evict: called with the repo id of every repo removed from disk.
        """
        self.policy = policy or RepoPolicy.from_env()
        self.token = token
        self.on_evict = on_evict
        self.stats = DownloadStats()
        self.root = Path(tempfile.mkdtemp(prefix="hubtune-space-repos-"))  # mode 0700: private to this process
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.root), True)
        self._lock = threading.Lock()
        self._download_lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pins: Counter[str] = Counter()

    @property
    def visitor_token(self) -> str | bool | None:
        """The token used for repos a visitor names: the Space's own only when private repos are allowed."""
        return self.token if self.policy.allow_private else False

    def usage(self) -> int:
        """Bytes held by the downloaded repos."""
        with self._lock:
            return sum(e.size for e in self._entries.values())

    def touch(self, repo_id: str) -> None:
        """Mark a repo as just used (it moves to the end of the eviction order)."""
        with self._lock:
            if repo_id in self._entries:
                self._entries.move_to_end(repo_id)

    def cached(self) -> list[str]:
        """Repo ids on disk, least recently used first."""
        with self._lock:
            return list(self._entries)

    @contextlib.contextmanager
    def pinned(self, repo_id: str) -> Iterator[None]:
        """Keep `repo_id` from being evicted while a model is loaded from it."""
        with self._lock:
            self._pins[repo_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._pins[repo_id] -= 1
                if self._pins[repo_id] <= 0:
                    del self._pins[repo_id]

    def fetch(self, repo_id: str, validate: Callable[[Path], Any] | None = None) -> Path:
        """The local folder of a checked repo, downloaded when not on disk yet.

        Args:
            validate: called with the downloaded folder before it is kept; whatever it raises removes the folder.

        Raises:
            HubError / ModelError / RunFolderError: the repo fails a check (see `plan_download`); nothing is kept.
        """
        with self._lock:
            entry = self._entries.get(repo_id)
            if entry is not None and entry.folder.is_dir():
                self._entries.move_to_end(repo_id)
                return entry.folder
        with self._download_lock:  # one download at a time: the budget is checked against what is really there
            with self._lock:
                entry = self._entries.get(repo_id)
                if entry is not None and entry.folder.is_dir():
                    self._entries.move_to_end(repo_id)
                    return entry.folder
            staging = Path(tempfile.mkdtemp(prefix=repo_id.replace("/", "--") + "-", dir=self.root))
            try:
                folder = self._download(repo_id, staging, validate)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                self.stats.refused += 1
                raise
        return folder

    def _download(self, repo_id: str, staging: Path, validate: Callable[[Path], Any] | None) -> Path:
        token = self.visitor_token
        listing = repo_files(repo_id, token=token)

        def fetch(names: list[str]) -> Path:
            return download_repo(repo_id, revision=listing.sha, token=token, allow_patterns=names, local_dir=staging)

        files = plan_download(listing, fetch, self.policy, token=token)
        expected = listing.total(files) or 0
        self._make_room(expected, keep=repo_id)
        fetch(files)
        shutil.rmtree(staging / ".cache", ignore_errors=True)  # the client's download bookkeeping
        size = disk_usage(staging)
        if size > self.policy.max_repo_bytes:
            raise _refuse(repo_id, f"its files took {_mb(size)} on disk, more than the hub announced.")
        if validate is not None:
            validate(staging)
        with self._lock:
            self._entries[repo_id] = _Entry(staging, size)
        self.stats.downloads += 1
        return staging

    def _make_room(self, needed: int, *, keep: str) -> None:
        victims: list[tuple[str, _Entry]] = []
        with self._lock:
            used = sum(e.size for e in self._entries.values())
            for key in list(self._entries):
                if used + needed <= self.policy.cache_bytes:
                    break
                if key == keep or self._pins.get(key):
                    continue
                entry = self._entries.pop(key)
                used -= entry.size
                victims.append((key, entry))
            if used + needed > self.policy.cache_bytes:
                for key, entry in victims:  # nothing was deleted yet: put them back
                    self._entries[key] = entry
                    self._entries.move_to_end(key, last=False)
                raise HubError("The Space's download cache is full of models in use right now; try again in a "
                               "moment.")
        for key, entry in victims:
            self._remove(key, entry)

    def _remove(self, key: str, entry: _Entry) -> None:
        shutil.rmtree(entry.folder, ignore_errors=True)  # rmtree never follows symbolic links
        self.stats.evictions += 1
        self.stats.evicted.append(key)
        if self.on_evict is not None:
            self.on_evict(key)

    def discard(self, repo_id: str) -> None:
        """Remove a repo from disk (e.g. one found unusable after download)."""
        with self._lock:
            entry = self._entries.pop(repo_id, None)
        if entry is not None:
            self._remove(repo_id, entry)

    def close(self) -> None:
        """Delete every downloaded repo and the cache folder."""
        with self._lock:
            self._entries.clear()
        self._finalizer()


__all__ = [
    "ENV_ALLOW_PRIVATE",
    "ENV_CACHE_MB",
    "ENV_MAX_BASE_MB",
    "ENV_MAX_REPO_MB",
    "MAX_JSON_BYTES",
    "DownloadStats",
    "RepoCache",
    "RepoPolicy",
    "disk_usage",
    "plan_download",
    "served_families",
]
