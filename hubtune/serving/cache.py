"""The Space's models in memory: base models shared by their adapters, adapters switched per request, LRU eviction.

`ModelCache` keeps one base model instance per (base id, revision, number of outputs). The first adapter of a base
is loaded with the one loader (`hubtune.run.load_run_model`), which wraps the base in a `PeftModel`; further
adapters of that base are attached by their method (`attach`) and chosen per request with `set_adapter`, so switching
adapters costs microseconds instead of a model load. Past `max_adapters` the least recently used adapter is removed
with `delete_adapter`; a base whose last adapter goes is freed. Models whose method cannot share a base (whole models,
probes) are kept whole, one entry each, in the same LRU order. A lock serialises model work, because `set_adapter`
changes state that a concurrent request would otherwise see.

A public Space serves only the genomic families hubtune implements: a model on any other architecture is refused
before its weights are downloaded (`hubtune.serving.repos`), checked again before it is loaded, and no code from a
model repo ever runs. Hub repos are fetched through a `RepoCache` (checked first, size budget, LRU eviction).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, HubtuneError, ModelError
from ..methods import get_method
from ..models import load_base_model, resolve_model
from ..predict import Classifier
from ..repo_ids import validate_repo_id
from ..run import has_tokenizer, inference_device, load_run_heads, load_run_model, load_run_tokenizer, to_inference
from .adapters import AdapterMeta
from .messages import public_message
from .passes import DEFAULT_MEMO_BYTES, ServedModel, WindowMemo
from .repos import GENERIC_FAMILY, RepoCache, served_families

ENV_DEVICE = "HUBTUNE_SPACE_DEVICE"


@dataclass
class CacheStats:
    """Counters that show what the cache did (tests and the benchmark read them).

    Example:
        >>> CacheStats().base_loads
        0
    """

    base_loads: int = 0
    adapter_loads: int = 0
    adapter_switches: int = 0
    adapter_evictions: int = 0
    base_evictions: int = 0


@dataclass
class _BaseEntry:
    key: tuple[Any, ...]
    model: Any
    tokenizer: Any | None  # the base model's tokenizer; None until an adapter without its own tokenizer needs it
    adapters: list[str] = field(default_factory=list)  # cache keys of the adapters attached to this model
    active: str | None = None  # peft adapter name currently set
    memo: WindowMemo | None = None  # per-window outputs of this model and its adapters, kept between requests


@dataclass
class _AdapterEntry:
    key: str
    meta: AdapterMeta
    classifier: Classifier
    base_key: tuple[Any, ...]
    peft_name: str | None  # None: a model kept whole (its method does not share a base)


def default_device() -> str:
    """HUBTUNE_SPACE_DEVICE if set, else CUDA when available, else CPU.

    Example:
        >>> default_device() in ("cpu", "cuda") or bool(os.environ.get("HUBTUNE_SPACE_DEVICE"))
        True
    """
    return os.environ.get(ENV_DEVICE) or inference_device(None)


def shares_base(meta: AdapterMeta) -> bool:
    """True when the model's method attaches to a shared base model (an adapter), False when it is kept whole.

    Example:
        >>> shares_base(cache.meta("alice/promoter-lora"))  # doctest: +SKIP
        True
    """
    return callable(getattr(get_method(meta.info.method), "attach", None))


class ModelCache:
    """Base models and adapters in memory, shared by all requests (see the module docstring).

    Example:
        >>> cache = ModelCache(max_adapters=4, device="cpu")  # doctest: +SKIP
        >>> with cache.use("alice/promoter-lora") as classifier:  # doctest: +SKIP
        ...     classifier.predict_outputs(["ACGT" * 30])
    """

    def __init__(self, *, max_adapters: int = 4, max_bases: int = 2, device: str | None = None,
                 token: str | None = None, allow_local_paths: bool = False, downloads: RepoCache | None = None,
                 memo_bytes: int = DEFAULT_MEMO_BYTES):
        """
        Args:
            max_adapters: adapters (and whole models) kept in memory; the least recently used go first.
            max_bases: base model instances kept in memory (a base goes with all its adapters).
            device: "cpu", "cuda", ...; default: `default_device()`.
            token: Hub token for private repos; default: HF_TOKEN or the saved login.
            allow_local_paths: also accept local run folders as adapter ids (never in a public Space).
            downloads: where Hub repos are checked and downloaded; default: a `RepoCache` with the policy from the
                environment (public repos only unless HUBTUNE_SPACE_ALLOW_PRIVATE=1).
            memo_bytes: per base model, how many bytes of per-window outputs (pooled embeddings, logits) are kept
                for later requests; 0 keeps nothing between passes.
        """
        if max_adapters < 1 or max_bases < 1:
            raise ConfigError("ModelCache needs max_adapters >= 1 and max_bases >= 1.")
        self.max_adapters = max_adapters
        self.max_bases = max_bases
        self.device = device or default_device()
        self.token = token
        self.allow_local_paths = allow_local_paths
        self.memo_bytes = memo_bytes
        self.stats = CacheStats()
        self._lock = threading.RLock()
        self._meta_lock = threading.Lock()
        self._metas: dict[str, AdapterMeta] = {}
        self._adapters: OrderedDict[str, _AdapterEntry] = OrderedDict()
        self._bases: OrderedDict[tuple[Any, ...], _BaseEntry] = OrderedDict()
        self._names = itertools.count(1)
        self._downloads = downloads
        if downloads is not None and downloads.on_evict is None:
            downloads.on_evict = self._forget

    @property
    def downloads(self) -> RepoCache:
        """The checked, size-bounded download cache of Hub repos (made on first use)."""
        with self._meta_lock:
            if self._downloads is None:
                self._downloads = RepoCache(token=self.token, on_evict=self._forget)
            return self._downloads

    def _forget(self, key: str) -> None:
        with self._meta_lock:
            self._metas.pop(key, None)

    def _is_local(self, key: str) -> bool:
        return self.allow_local_paths and Path(key).is_absolute()

    def _pinned(self, key: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext() if self._is_local(key) else self.downloads.pinned(key)

    # -- metadata (download, no model work) ------------------------------------------------------------------------
    def resolve_id(self, adapter: str) -> str:
        """The cache key of an adapter id: a validated Hub repo id, or (if allowed) an existing local folder.

        Raises:
            HubError: not a valid repo id (the message says why).
        """
        text = str(adapter).strip()
        if self.allow_local_paths and Path(text).expanduser().is_dir():
            return str(Path(text).expanduser().resolve())
        return validate_repo_id(text, what="adapter repo id")

    def meta(self, adapter: str) -> AdapterMeta:
        """Check, download (once while it stays in the download cache) and read an adapter's metadata; no model is
        loaded.

        Raises:
            HubError: invalid id, repo not found, private, too large, pickled weights or not a hubtune model.
            ModelError: not a family hubtune implements. RunFolderError: a damaged hubtune.json or bad windowing.
        """
        key = self.resolve_id(adapter)
        with self._meta_lock:
            cached = self._metas.get(key)
        if cached is not None and cached.folder.is_dir():
            if not self._is_local(key):
                self.downloads.touch(key)
            return cached
        if self._is_local(key):
            meta = AdapterMeta.from_folder(Path(key), key)
        else:
            folder = self.downloads.fetch(key, validate=lambda found: AdapterMeta.from_folder(found, key))
            meta = AdapterMeta.from_folder(folder, key)
        with self._meta_lock:
            self._metas[key] = meta
        return meta

    # -- models ----------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def use(self, adapter: str) -> Iterator[Classifier]:
        """Yield the adapter's `hubtune.predict.Classifier`, with its adapter active, holding the model lock."""
        key = self.resolve_id(adapter)
        with self._pinned(key), self._use(key) as served:  # its files stay on disk while it may be loaded
            yield served.classifier

    @contextlib.contextmanager
    def serve(self, adapter: str) -> Iterator[ServedModel]:
        """Like `use`, but yield a `hubtune.serving.passes.ServedModel`: the classifier plus what the one-pass
        inference of `hubtune.serving.passes` needs (the adapter's unique role and the base model's `WindowMemo`).

        Example:
            >>> with cache.serve("alice/promoter-lora") as served:  # doctest: +SKIP
            ...     answer(served, ["ACGT" * 30], batch_size=32).base_outputs
        """
        key = self.resolve_id(adapter)
        with self._pinned(key), self._use(key) as served:
            yield served

    @contextlib.contextmanager
    def _use(self, key: str) -> Iterator[ServedModel]:
        meta = self.meta(key)  # network outside the lock
        with self._lock:
            entry = self._adapters.get(meta.repo_id)
            if entry is None:
                entry = self._load(meta)
            self._adapters.move_to_end(meta.repo_id)
            base = self._bases[entry.base_key]
            self._bases.move_to_end(entry.base_key)
            if entry.peft_name is not None and base.active != entry.peft_name:
                base.model.set_adapter(entry.peft_name, inference_mode=True)
                base.active = entry.peft_name
                self.stats.adapter_switches += 1
            if base.memo is None:
                base.memo = WindowMemo(self.memo_bytes)
            role = entry.peft_name or "model"
            shared_tokenizer = base.tokenizer is not None and entry.classifier.tokenizer is base.tokenizer
            yield ServedModel(entry.classifier, role, "base" if shared_tokenizer else role, base.memo)

    def preload(self, adapters: Sequence[str]) -> list[str]:
        """Load adapters ahead of the first request; returns one problem message per adapter that failed (fit to
        show a visitor: paths and hub URLs scrubbed, unexpected errors logged and summarised).

        Example:
            >>> cache.preload(["alice/promoter-lora", "alice/missing"])  # doctest: +SKIP
            ['alice/missing: The repo alice/missing was not found ...']
        """
        problems = []
        for adapter in adapters:
            try:
                with self.use(adapter):
                    pass
            except Exception as exc:  # noqa: BLE001 - one bad preselected adapter must not stop the Space
                problems.append(f"{adapter}: {public_message(exc)}")
        return problems

    def loaded(self) -> dict[str, list[str]]:
        """Adapters in memory per base model (least recently used first), e.g. {"alice/tiny-nt (2 outputs)": [...]}.

        Adapters of one base with the same number of outputs share it whatever they predict (classes, labels or
        values): the problem type only changes the training loss, never the forward pass."""
        def name(key: tuple[Any, ...]) -> str:
            if key[0] == "standalone":
                return f"{key[1]} (standalone)"
            return f"{key[0]}{f'@{key[1]}' if key[1] else ''} ({key[2]} outputs)"

        with self._lock:
            return {name(key): list(base.adapters) for key, base in self._bases.items()}

    # -- loading ---------------------------------------------------------------------------------------------------
    def _base_factory(self, meta: AdapterMeta) -> Callable[[], Any]:
        """Check that the model belongs to a family hubtune implements, and return how to build its base model."""
        info = meta.info
        whole = get_method(info.method).standalone
        source = str(meta.folder) if whole else info.base_model
        resolved = resolve_model(source, revision=None if whole else info.base_model_revision, token=self.token)
        if resolved.family is GENERIC_FAMILY:
            raise ModelError(
                f"{meta.repo_id} is a model on {info.base_model}, which is not a {served_families()} model; this "
                "Space only serves models of those families."
            )
        labels = list(info.label_names)

        def build() -> Any:
            return load_base_model(info.base_model, len(labels), label_names=labels, resolved=resolved,
                                   token=self.token, problem_type=info.problem.hf_problem_type)

        return build

    def _load(self, meta: AdapterMeta) -> _AdapterEntry:
        info = meta.info
        if not shares_base(meta):
            loaded = load_run_model(meta.folder, info=info, device=self.device, token=self.token,
                                    base_model=self._base_factory(meta))
            base_key: tuple[Any, ...] = ("standalone", meta.repo_id)
            self._bases[base_key] = _BaseEntry(base_key, loaded.model, loaded.tokenizer, [meta.repo_id])
            self.stats.base_loads += 1
            entry = _AdapterEntry(meta.repo_id, meta, Classifier.from_loaded(loaded), base_key, None)
        else:
            base_key = (info.base_model, info.base_model_revision, len(info.label_names))
            name = f"adapter{next(self._names)}"
            base = self._bases.get(base_key)
            if base is None:  # only a new base is resolved and checked; one in memory passed when it was loaded
                loaded = load_run_model(meta.folder, info=info, device=self.device, token=self.token,
                                        base_model=self._base_factory(meta), adapter_name=name)
                base = _BaseEntry(base_key, loaded.model, None if has_tokenizer(meta.folder) else loaded.tokenizer)
                self._bases[base_key] = base
                self.stats.base_loads += 1
                classifier = Classifier.from_loaded(loaded)
            else:
                classifier = self._attach(base, meta, name)
            base.adapters.append(meta.repo_id)
            base.active = name
            entry = _AdapterEntry(meta.repo_id, meta, classifier, base_key, name)
        self.stats.adapter_loads += 1
        self._adapters[meta.repo_id] = entry
        self._evict(keep=meta.repo_id)
        return entry

    def _attach(self, base: _BaseEntry, meta: AdapterMeta, name: str) -> Classifier:
        info = meta.info
        method = info.method_settings
        try:
            method.attach(base.model, meta.folder, name)  # type: ignore[attr-defined]
        except HubtuneError:
            if base.active is not None:  # a failed load may have moved the active adapter
                base.model.set_adapter(base.active, inference_mode=True)
            raise
        to_inference(base.model, self.device)  # the new adapter's weights: same device and dtype as the base
        base.model.set_adapter(name, inference_mode=True)
        if has_tokenizer(meta.folder):  # the run changed the tokenizer: use its own copy
            tokenizer = load_run_tokenizer(meta.folder, info, token=self.token)
        else:
            if base.tokenizer is None:
                base.tokenizer = load_run_tokenizer(meta.folder, info, token=self.token)
            tokenizer = base.tokenizer
        probe_head, base_probe_head = load_run_heads(meta.folder, info)
        return Classifier(model=base.model, tokenizer=tokenizer, info=info, probe_head=probe_head,
                          base_probe_head=base_probe_head)

    def _evict(self, keep: str) -> None:
        while len(self._adapters) > self.max_adapters:
            oldest = next(k for k in self._adapters if k != keep)
            self._drop_adapter(oldest)
        keep_base = self._adapters[keep].base_key
        while len(self._bases) > self.max_bases:
            oldest_base = next(k for k in self._bases if k != keep_base)
            for key in list(self._bases[oldest_base].adapters):
                self._drop_adapter(key)

    def _drop_adapter(self, key: str) -> None:
        entry = self._adapters.pop(key)
        base = self._bases[entry.base_key]
        base.adapters.remove(key)
        self.stats.adapter_evictions += 1
        if not base.adapters:  # nothing uses this base any more: free it
            del self._bases[entry.base_key]
            self.stats.base_evictions += 1
            _free_memory()
            return
        base.model.delete_adapter(entry.peft_name)
        base.active = base.model.active_adapter if isinstance(base.model.active_adapter, str) else None


def _free_memory() -> None:
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


__all__ = ["ENV_DEVICE", "CacheStats", "ModelCache", "default_device", "shares_base"]
