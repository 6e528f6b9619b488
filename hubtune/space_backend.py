"""What the Space does, without the UI: read pasted or uploaded DNA, keep models in memory, classify, compare with the
pre-trained base, explain (in-silico mutagenesis, per-window score track) and project embeddings (PCA).

The Gradio app (`space/app.py`) is a thin layer over `SpaceBackend`; everything here is testable without Gradio.

Memory model: `ModelCache` keeps one base model instance per (base id, revision, number of classes). The first LoRA
adapter of a base wraps it in a `PeftModel`; further adapters of that base are attached with `load_adapter` and chosen
per request with `set_adapter`, so switching adapters costs microseconds instead of a model load. Past
`max_adapters` the least recently used adapter is removed with `delete_adapter`; a base whose last adapter goes is
freed. Full/freeze/probe models are kept whole (one entry each, in the same LRU order). A lock serialises model work,
because `set_adapter` changes state that a concurrent request would otherwise see.

Limits (sequences per request, total bases, single sequence length, ISM length, adapters per request, input size)
are checked right after parsing, before any download or model work, and raise `DataError` / `ConfigError`.
"""

from __future__ import annotations

import contextlib
import gzip
import html
import itertools
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, DataError, HubError, ModelError

BASES = "ACGT"
ENV_ADAPTERS = "HUBTUNE_SPACE_ADAPTERS"
UPLOAD_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz", ".txt", ".txt.gz", ".csv", ".csv.gz",
                   ".tsv")
MAX_EXAMPLES = 8
_METRIC_SOURCES = (("finetuned", "fine-tuned"), ("probe", "pre-trained probe"), ("kmer", "k-mer baseline"))


# ---------------------------------------------------------------------------------------------------------------------
# Limits and input
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Caps on one request, enforced before any model work. Environment overrides: HUBTUNE_SPACE_MAX_SEQUENCES,
    HUBTUNE_SPACE_MAX_TOTAL_BP, HUBTUNE_SPACE_MAX_SEQUENCE_BP, HUBTUNE_SPACE_MAX_ISM_BP,
    HUBTUNE_SPACE_MAX_ADAPTERS_PER_REQUEST, HUBTUNE_SPACE_MAX_INPUT_BYTES."""

    max_sequences: int = 200
    max_total_bp: int = 200_000
    max_sequence_bp: int = 50_000
    max_ism_bp: int = 1_000
    max_adapters_per_request: int = 4
    max_input_bytes: int = 10_000_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """Defaults, overridden by `HUBTUNE_SPACE_MAX_*` variables (positive integers)."""
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for name in cls.__dataclass_fields__:
            var = f"HUBTUNE_SPACE_{name.upper()}"
            raw = env.get(var)
            if raw is None or not raw.strip():
                continue
            try:
                value = int(raw)
            except ValueError:
                value = 0
            if value < 1:
                raise ConfigError(f"The environment variable {var}={raw!r} must be a positive integer.")
            values[name] = value
        return cls(**values)


def check_limits(records: Sequence[tuple[str, str]], limits: Limits) -> None:
    """Refuse a request that is too large (count, total length, single length), before any model work.

    Raises:
        DataError: the message names the limit, the value found and, for a long sequence, its id.
    """
    if not records:
        raise DataError("No sequences given. Paste DNA sequences (one per line, or FASTA) or upload a file.")
    if len(records) > limits.max_sequences:
        raise DataError(
            f"{len(records)} sequences were given; this Space classifies at most {limits.max_sequences} per request. "
            "Split the input into smaller batches, or run `hubtune predict` locally for large files."
        )
    for seq_id, seq in records:
        if len(seq) > limits.max_sequence_bp:
            raise DataError(
                f"Sequence {seq_id!r} is {len(seq):,} bp long; the limit for one sequence is "
                f"{limits.max_sequence_bp:,} bp. Cut it into pieces, or run `hubtune predict` locally."
            )
    total = sum(len(seq) for _, seq in records)
    if total > limits.max_total_bp:
        raise DataError(
            f"The input holds {total:,} bp in total; the limit per request is {limits.max_total_bp:,} bp. "
            "Send fewer or shorter sequences per request."
        )


def _check_text_size(text: str, limits: Limits, what: str) -> None:
    size = len(text.encode("utf-8", errors="replace"))
    if size > limits.max_input_bytes:
        raise DataError(
            f"The {what} is {size:,} bytes; the limit is {limits.max_input_bytes:,} bytes. Send a smaller input."
        )


def _check_file_size(path: Path, limits: Limits) -> None:
    """Refuse oversized uploads, including gzip files that decompress to more than the limit (read in chunks)."""
    try:
        size = path.stat().st_size
    except OSError:
        raise DataError(f"The uploaded file {path.name!r} cannot be read. Upload it again.") from None
    if size > limits.max_input_bytes:
        raise DataError(
            f"The uploaded file {path.name!r} is {size:,} bytes; the limit is {limits.max_input_bytes:,} bytes."
        )
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    if not gzipped:
        return
    total = 0
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                total += len(chunk)
                if total > limits.max_input_bytes:
                    raise DataError(
                        f"The uploaded file {path.name!r} decompresses to more than {limits.max_input_bytes:,} bytes, "
                        "the limit. Upload a smaller file."
                    )
    except (OSError, EOFError) as exc:
        raise DataError(f"The uploaded file {path.name!r} is not valid gzip data ({exc}). Compress it again.") from None


def read_input(text: str | None, file: str | Path | None, limits: Limits) -> list[tuple[str, str]]:
    """Sequences from pasted text (raw lines or FASTA) and/or an uploaded file, validated and within `limits`.

    File types: FASTA (.fa/.fasta/.fna, optionally .gz), one sequence per line (.txt) or a table with a `sequence`
    column (.csv/.tsv). Ids: FASTA headers' first word, an `id` column, or `seq1`, `seq2`, ... for pasted lines.

    Raises:
        DataError: no input, a bad character (with record/line and position), an unsupported file, or a limit.
    """
    from .data import parse_sequence_text, read_sequences

    records: list[tuple[str, str]] = []
    if text is not None and text.strip():
        _check_text_size(text, limits, "pasted text")
        records += parse_sequence_text(text)
    if file:
        path = Path(file)
        name = path.name.lower()
        if not name.endswith(UPLOAD_SUFFIXES):
            raise DataError(
                f"The uploaded file {path.name!r} has an unsupported type. Upload FASTA (.fa, .fasta, .fa.gz), "
                "plain text with one sequence per line (.txt), or a CSV with a 'sequence' column."
            )
        _check_file_size(path, limits)
        try:
            records += read_sequences(path)
        except DataError as exc:
            # The server-side upload folder is nobody's business: name the file only.
            raise DataError(str(exc).replace(str(path), path.name)) from None
    if not records:
        raise DataError("No sequences given. Paste DNA sequences (one per line, or FASTA) or upload a file.")
    seen: dict[str, int] = {}
    unique = []
    for seq_id, seq in records:  # duplicate ids would make table rows and the sequence picker ambiguous
        count = seen.get(seq_id, 0)
        seen[seq_id] = count + 1
        unique.append((seq_id if count == 0 else f"{seq_id}_{count + 1}", seq))
    check_limits(unique, limits)
    return unique


def parse_adapter_list(value: str | Sequence[str] | None) -> list[str]:
    """Adapter ids from a list or a comma/space/newline separated string, deduplicated, order kept."""
    if value is None:
        return []
    items = re.split(r"[\s,;]+", value) if isinstance(value, str) else [str(v) for v in value]
    return list(dict.fromkeys(item.strip() for item in items if item and item.strip()))


def adapters_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """The adapters to preload, from HUBTUNE_SPACE_ADAPTERS (comma or space separated repo ids)."""
    env = os.environ if environ is None else environ
    return parse_adapter_list(env.get(ENV_ADAPTERS))


# ---------------------------------------------------------------------------------------------------------------------
# Adapter metadata
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class AdapterMeta:
    """What the Space needs to know about a shared model before loading it (read from hubtune.json/metrics.json)."""

    repo_id: str
    folder: Path
    label_names: list[str]
    method: str
    base_model: str
    base_revision: str | None
    task: str | None
    family: str | None
    max_length: int
    window_bp: int
    stride_bp: int
    test_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    examples: list[tuple[str, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_folder(cls, folder: Path, repo_id: str) -> AdapterMeta:
        """Read a downloaded repo or run folder.

        Examples come from an optional `examples` list in hubtune.json: strings, or objects with `sequence` and
        optional `id` / `label` (only valid DNA is kept; nothing is made up when the list is absent).

        Raises:
            HubError: hubtune.json is missing or unreadable (a plain peft adapter has no labels to show).
        """
        from .data import clean_sequence
        from .run import INFO_FILE, METRICS_FILE

        info_path = folder / INFO_FILE
        if not info_path.is_file():
            raise HubError(
                f"{repo_id} has no {INFO_FILE}: it is not a hubtune model, so its labels and windowing are unknown. "
                "Pick a model pushed with `hubtune push`."
            )
        try:
            info = json.loads(info_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HubError(f"{repo_id}/{INFO_FILE} is not valid JSON; the repo is damaged.") from None
        missing = [k for k in ("label_names", "base_model", "max_length", "window_bp", "stride_bp") if not info.get(k)]
        if info.get("format") != "hubtune-run" or missing:
            raise HubError(
                f"{repo_id}/{INFO_FILE} was not written by a finished hubtune run (missing: "
                f"{', '.join(missing) or 'format'}). Pick a model pushed with `hubtune push`."
            )
        metrics: dict[str, Any] = {}
        if (folder / METRICS_FILE).is_file():
            with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
                metrics = json.loads((folder / METRICS_FILE).read_text())
        test_metrics = {}
        for key, title in _METRIC_SOURCES:
            test = ((metrics.get(key) or {}).get("test")) or {}
            if test:
                test_metrics[title] = {k: test.get(k) for k in ("mcc", "f1_macro", "accuracy", "auroc")}
        examples: list[tuple[str, str]] = []
        for i, item in enumerate(info.get("examples") or []):
            raw = item.get("sequence") if isinstance(item, dict) else item
            try:
                seq, _ = clean_sequence(raw, where="example")
            except DataError:
                continue
            seq_id = str(item.get("id") or f"example{i + 1}") if isinstance(item, dict) else f"example{i + 1}"
            label = item.get("label") if isinstance(item, dict) else None
            examples.append((f"{seq_id} label={label}" if label is not None else seq_id, seq))
            if len(examples) >= MAX_EXAMPLES:
                break
        return cls(
            repo_id=repo_id,
            folder=folder,
            label_names=[str(n) for n in info["label_names"]],
            method=str(info.get("method") or "lora"),
            base_model=str(info["base_model"]),
            base_revision=info.get("base_model_revision"),
            task=info.get("task"),
            family=info.get("family"),
            max_length=int(info["max_length"]),
            window_bp=int(info["window_bp"]),
            stride_bp=int(info["stride_bp"]),
            test_metrics=test_metrics,
            examples=examples,
            info=info,
        )

    def examples_fasta(self) -> str:
        """All examples as FASTA text (empty when the adapter ships none)."""
        return "".join(f">{seq_id}\n{seq}\n" for seq_id, seq in self.examples)


# ---------------------------------------------------------------------------------------------------------------------
# Model cache
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class CacheStats:
    """Counters that show what the cache did (tests and the benchmark read them)."""

    base_loads: int = 0
    adapter_loads: int = 0
    adapter_switches: int = 0
    adapter_evictions: int = 0
    base_evictions: int = 0


@dataclass
class _BaseEntry:
    key: tuple[Any, ...]
    model: Any
    tokenizer: Any
    adapters: list[str] = field(default_factory=list)  # cache keys of the adapters attached to this model
    active: str | None = None  # peft adapter name currently set


@dataclass
class _AdapterEntry:
    key: str
    meta: AdapterMeta
    classifier: Any
    base_key: tuple[Any, ...]
    peft_name: str | None  # None: a standalone model (full/freeze/probe)


def default_device() -> str:
    """HUBTUNE_SPACE_DEVICE if set, else CUDA when available, else CPU."""
    forced = os.environ.get("HUBTUNE_SPACE_DEVICE")
    if forced:
        return forced
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _prepare(model: Any, device: str) -> Any:
    """Inference setup: target device, half precision on GPUs (same results up to rounding), eval mode."""
    model = model.to(device)
    if device.startswith("cuda"):
        model = model.half()
    model.eval()
    return model


def _load_head(path: Path):
    if not path.is_file():
        return None
    from safetensors.numpy import load_file

    from .evaluate import LinearHead

    return LinearHead.from_tensors(load_file(str(path)))


class ModelCache:
    """Base models and adapters in memory, shared by all requests (see the module docstring)."""

    def __init__(self, *, max_adapters: int = 4, max_bases: int = 2, device: str | None = None,
                 token: str | None = None, allow_local_paths: bool = False):
        """
        Args:
            max_adapters: adapters (and standalone models) kept in memory; the least recently used go first.
            max_bases: base model instances kept in memory (a base goes with all its adapters).
            device: "cpu", "cuda", ...; default: `default_device()`.
            token: Hub token for private repos; default: HF_TOKEN or the saved login.
            allow_local_paths: also accept local run folders as adapter ids (never in a public Space).
        """
        if max_adapters < 1 or max_bases < 1:
            raise ConfigError("ModelCache needs max_adapters >= 1 and max_bases >= 1.")
        self.max_adapters = max_adapters
        self.max_bases = max_bases
        self.device = device or default_device()
        self.token = token
        self.allow_local_paths = allow_local_paths
        self.stats = CacheStats()
        self._lock = threading.RLock()
        self._meta_lock = threading.Lock()
        self._metas: dict[str, AdapterMeta] = {}
        self._adapters: OrderedDict[str, _AdapterEntry] = OrderedDict()
        self._bases: OrderedDict[tuple[Any, ...], _BaseEntry] = OrderedDict()
        self._names = itertools.count(1)

    # -- metadata (download, no model work) ------------------------------------------------------------------------
    def resolve_id(self, adapter: str) -> str:
        """The cache key of an adapter id: a validated Hub repo id, or (if allowed) an existing local folder.

        Raises:
            HubError: not a valid repo id (the message says why).
        """
        from .hub import validate_repo_id

        text = str(adapter).strip()
        if self.allow_local_paths and Path(text).expanduser().is_dir():
            return str(Path(text).expanduser().resolve())
        return validate_repo_id(text, what="adapter repo id")

    def meta(self, adapter: str) -> AdapterMeta:
        """Download (once per process) and read an adapter's metadata; no model is loaded."""
        key = self.resolve_id(adapter)
        with self._meta_lock:
            cached = self._metas.get(key)
        if cached is not None:
            return cached
        if Path(key).is_dir():
            folder = Path(key)
        else:
            from .hub import _download

            folder = _download(key, None, self.token)
        meta = AdapterMeta.from_folder(folder, key)
        with self._meta_lock:
            self._metas[key] = meta
        return meta

    # -- models ----------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def use(self, adapter: str) -> Iterator[Any]:
        """Yield the adapter's `hubtune.predict.Classifier`, with its adapter active, holding the model lock."""
        meta = self.meta(adapter)  # network outside the lock
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
            yield entry.classifier

    def preload(self, adapters: Sequence[str]) -> list[str]:
        """Load adapters ahead of the first request; returns one problem message per adapter that failed."""
        problems = []
        for adapter in adapters:
            try:
                with self.use(adapter):
                    pass
            except (HubError, ModelError, ConfigError, DataError) as exc:
                problems.append(f"{adapter}: {exc}")
        return problems

    def loaded(self) -> dict[str, list[str]]:
        """Adapters in memory per base model (least recently used first), e.g. {"alice/tiny-nt (2 classes)": [...]}."""
        def name(key: tuple[Any, ...]) -> str:
            if key[0] == "standalone":
                return f"{key[1]} (standalone)"
            return f"{key[0]}{f'@{key[1]}' if key[1] else ''} ({key[2]} classes)"

        with self._lock:
            return {name(key): list(base.adapters) for key, base in self._bases.items()}

    def _load(self, meta: AdapterMeta) -> _AdapterEntry:
        from .evaluate import Windowing
        from .predict import Classifier

        if meta.method != "lora":
            from .hub import load_classifier

            clf = load_classifier(meta.folder, device=self.device, token=self.token)
            base_key: tuple[Any, ...] = ("standalone", meta.repo_id)
            self._bases[base_key] = _BaseEntry(base_key, clf.model, clf.tokenizer, [meta.repo_id])
            self.stats.base_loads += 1
            entry = _AdapterEntry(meta.repo_id, meta, clf, base_key, None)
        else:
            base_key = (meta.base_model, meta.base_revision, len(meta.label_names))
            name = f"adapter{next(self._names)}"
            base = self._bases.get(base_key)
            if base is None:
                base = self._load_base(meta, base_key, name)
            else:
                self._attach(base, meta, name)
            base.adapters.append(meta.repo_id)
            base.active = name
            tokenizer = base.tokenizer
            if _has_tokenizer(meta.folder):  # the run changed the tokenizer: use its own copy
                from .hub import _load_folder_tokenizer

                tokenizer = _load_folder_tokenizer(meta.folder, meta.family)
            clf = Classifier(
                model=base.model,
                tokenizer=tokenizer,
                label_names=list(meta.label_names),
                max_length=meta.max_length,
                windowing=Windowing(meta.window_bp, meta.stride_bp),
                method="lora",
                base_probe_head=_load_head(meta.folder / "base_probe_head.safetensors"),
                info=meta.info,
            )
            entry = _AdapterEntry(meta.repo_id, meta, clf, base_key, name)
        self.stats.adapter_loads += 1
        self._adapters[meta.repo_id] = entry
        self._evict(keep=meta.repo_id)
        return entry

    def _load_base(self, meta: AdapterMeta, base_key: tuple[Any, ...], name: str) -> _BaseEntry:
        from peft import PeftModel

        from .models import load_base_model, load_tokenizer, resolve_model

        labels = list(meta.label_names)
        resolved = resolve_model(meta.base_model, revision=meta.base_revision, token=self.token)
        if resolved.family.name == "auto":
            # A public app serves only the genomic families hubtune implements; never an arbitrary architecture.
            raise ModelError(
                f"{meta.repo_id} is an adapter on {meta.base_model}, which is not a DNABERT-2 or Nucleotide "
                "Transformer model; this Space only serves adapters on those families."
            )
        model = load_base_model(meta.base_model, len(labels), label_names=labels, resolved=resolved, token=self.token)
        tokenizer = load_tokenizer(meta.base_model, resolved=resolved, token=self.token)
        try:
            peft_model = PeftModel.from_pretrained(model, str(meta.folder), adapter_name=name)
        except (RuntimeError, ValueError) as exc:
            raise _adapter_error(meta, exc) from None
        base = _BaseEntry(base_key, _prepare(peft_model, self.device), tokenizer)
        self._bases[base_key] = base
        self.stats.base_loads += 1
        return base

    def _attach(self, base: _BaseEntry, meta: AdapterMeta, name: str) -> None:
        try:
            base.model.load_adapter(str(meta.folder), adapter_name=name)
        except (RuntimeError, ValueError) as exc:
            if name in base.model.peft_config:  # injected but not loaded: do not leave a half adapter behind
                with contextlib.suppress(Exception):
                    base.model.delete_adapter(name)
            if base.active is not None:
                base.model.set_adapter(base.active, inference_mode=True)
            raise _adapter_error(meta, exc) from None
        _prepare(base.model, self.device)  # the new adapter's weights: same device and dtype as the base
        base.model.set_adapter(name, inference_mode=True)

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


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"))


def _adapter_error(meta: AdapterMeta, exc: Exception) -> HubError:
    first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return HubError(
        f"The adapter {meta.repo_id} could not be attached to its base {meta.base_model}: {first}. The repo may be "
        "damaged or made for another base model."
    )


def _free_memory() -> None:
    import gc

    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class AdapterPrediction:
    """One adapter's answer for a batch, next to the pre-trained base's (probe head shipped with the adapter)."""

    repo_id: str
    label_names: list[str]
    probs: np.ndarray  # (n, n_classes)
    base_probs: np.ndarray | None  # (n, n_classes), None when the repo has no base probe
    tracks: list[np.ndarray]  # per sequence: (n_windows, n_classes)

    @property
    def labels(self) -> list[str]:
        return [self.label_names[int(i)] for i in self.probs.argmax(axis=1)]

    @property
    def base_labels(self) -> list[str] | None:
        if self.base_probs is None:
            return None
        return [self.label_names[int(i)] for i in self.base_probs.argmax(axis=1)]

    @property
    def agree(self) -> list[bool] | None:
        base = self.base_labels
        return None if base is None else [a == b for a, b in zip(self.labels, base, strict=True)]


def _short_names(repo_ids: Sequence[str]) -> list[str]:
    """Column prefixes: the repo name when unique among the chosen adapters, else the full id."""
    tails = [Path(r).name if Path(r).is_absolute() else r.split("/")[-1] for r in repo_ids]
    return [tail if tails.count(tail) == 1 else rid for tail, rid in zip(tails, repo_ids, strict=True)]


@dataclass
class Comparison:
    """Classification of a batch by one or more adapters of the same task, each next to the pre-trained base."""

    records: list[tuple[str, str]]
    label_names: list[str]
    predictions: list[AdapterPrediction]
    metas: list[AdapterMeta]

    def columns(self) -> list[str]:
        """Table columns: id, length, windows, then per adapter: label, p(class)..., base label, base p(...), agree."""
        cols = ["id", "bp", "windows"]
        for name in _short_names([p.repo_id for p in self.predictions]):
            cols.append(f"{name}: label")
            cols += [f"{name}: p({c})" for c in self.label_names]
            cols.append(f"{name}: base label")
            cols += [f"{name}: base p({c})" for c in self.label_names]
            cols.append(f"{name}: agree")
        return cols

    def rows(self, digits: int | None = 4) -> list[list[Any]]:
        """Table rows in `columns()` order (probabilities rounded to `digits`, None for no rounding)."""
        def num(value: float) -> float:
            return float(value) if digits is None else round(float(value), digits)

        out = []
        for i, (seq_id, seq) in enumerate(self.records):
            row: list[Any] = [seq_id, len(seq), len(self.predictions[0].tracks[i])]
            for pred in self.predictions:
                row.append(pred.labels[i])
                row += [num(p) for p in pred.probs[i]]
                if pred.base_probs is None:
                    row.append("n/a")
                    row += [None] * len(self.label_names)
                    row.append("n/a")
                else:
                    row.append(pred.base_labels[i])  # type: ignore[index]
                    row += [num(p) for p in pred.base_probs[i]]
                    row.append("agree" if pred.agree[i] else "disagree")  # type: ignore[index]
            out.append(row)
        return out

    def to_dataframe(self, digits: int | None = 4):
        """The table as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows(digits), columns=self.columns())

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV (full precision; cells that a spreadsheet would run as formulas are defused)."""
        frame = self.to_dataframe(digits=None).map(csv_safe)
        path = Path(path)
        frame.to_csv(path, index=False)
        return path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: label names, adapters, columns and rows, plus per-sequence records for API users."""
        sequences = []
        for i, (seq_id, seq) in enumerate(self.records):
            item: dict[str, Any] = {"id": seq_id, "bp": len(seq), "windows": len(self.predictions[0].tracks[i]),
                                    "adapters": {}}
            for pred in self.predictions:
                entry: dict[str, Any] = {
                    "label": pred.labels[i],
                    "probabilities": dict(zip(self.label_names, map(float, pred.probs[i]), strict=True)),
                }
                if pred.base_probs is not None:
                    entry["base_label"] = pred.base_labels[i]  # type: ignore[index]
                    entry["base_probabilities"] = dict(zip(self.label_names, map(float, pred.base_probs[i]),
                                                           strict=True))
                    entry["agree"] = bool(pred.agree[i])  # type: ignore[index]
                item["adapters"][pred.repo_id] = entry
            sequences.append(item)
        return {
            "label_names": list(self.label_names),
            "adapters": [p.repo_id for p in self.predictions],
            "columns": self.columns(),
            "rows": self.rows(),
            "sequences": sequences,
        }


@dataclass
class Projection:
    """2-D PCA of the batch's mean embeddings, pre-trained base vs fine-tuned, with each model's predicted class."""

    repo_id: str
    ids: list[str]
    base: np.ndarray  # (n, 2)
    fine_tuned: np.ndarray  # (n, 2)
    base_explained: np.ndarray  # (2,) fraction of variance on PC1/PC2
    fine_tuned_explained: np.ndarray
    base_labels: list[str]  # the base probe's prediction (the adapter's when the repo has no probe)
    fine_tuned_labels: list[str]
    label_names: list[str]


@dataclass
class IsmResult:
    """In-silico mutagenesis: change in P(target class) for every position x base (0 at the reference base)."""

    repo_id: str
    seq_id: str
    sequence: str
    label_names: list[str]
    target: int
    reference: np.ndarray  # (n_classes,) probabilities of the unmutated sequence
    delta: np.ndarray  # (length, 4) in BASES order

    @property
    def importance(self) -> np.ndarray:
        """Per position: mean drop in P(target) over the possible substitutions (positive = the base matters)."""
        mask = np.ones_like(self.delta, dtype=bool)
        for pos, base in enumerate(self.sequence):
            if base in BASES:
                mask[pos, BASES.index(base)] = False
        return -(self.delta * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "adapter": self.repo_id,
            "id": self.seq_id,
            "sequence": self.sequence,
            "bases": list(BASES),
            "target_class": self.label_names[self.target],
            "reference_probabilities": dict(zip(self.label_names, map(float, self.reference), strict=True)),
            "delta": np.round(self.delta, 6).tolist(),
        }


@dataclass
class WindowTrack:
    """Per-window probabilities of a sequence longer than the model window."""

    repo_id: str
    seq_id: str
    length: int
    starts: list[int]
    window_bp: int
    probs: np.ndarray  # (n_windows, n_classes)
    label_names: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "adapter": self.repo_id,
            "id": self.seq_id,
            "windows": [
                {"start": s, "end": min(s + self.window_bp, self.length),
                 "probabilities": dict(zip(self.label_names, map(float, row), strict=True))}
                for s, row in zip(self.starts, self.probs, strict=True)
            ],
        }


# ---------------------------------------------------------------------------------------------------------------------
# Algorithms
# ---------------------------------------------------------------------------------------------------------------------


def window_starts(length: int, window_bp: int, stride_bp: int) -> list[int]:
    """Start positions of the windows `hubtune.evaluate.Windowing.windows` cuts from a sequence of `length` bp."""
    if length <= window_bp:
        return [0]
    starts = list(range(0, length - window_bp + 1, stride_bp))
    if starts[-1] + window_bp < length:
        starts.append(length - window_bp)
    return starts


def ism_scan(sequence: str, window_bp: int, stride_bp: int, window_probs: Callable[[list[str]], np.ndarray], *,
             target: int | None = None, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray, int]:
    """Every single-base substitution of `sequence`, scored as the change in P(target) of the windowed classifier.

    The classifier's answer for a long sequence is the mean over its windows, and a substitution only changes the
    windows that contain it, so only those are re-scored: about 3 x length x (window/stride) model inputs instead of
    3 x length whole sequences, with exactly the same result.

    Args:
        window_probs: class probabilities for a list of strings of at most `window_bp` bases, shape (n, n_classes).
        target: class index; default: the class predicted for the unmutated sequence.
        chunk: variants scored per call (bounds memory).

    Returns:
        (delta (length, 4) in BASES order, reference probabilities (n_classes,), target).
    """
    starts = window_starts(len(sequence), window_bp, stride_bp)
    windows = [sequence[s : s + window_bp] for s in starts]
    ref_w = np.asarray(window_probs(windows), dtype=np.float64)
    reference = ref_w.mean(axis=0)
    t = int(reference.argmax()) if target is None else int(target)
    variants: list[str] = []
    where: list[tuple[int, int, int]] = []
    for wi, (start, window) in enumerate(zip(starts, windows, strict=True)):
        for offset, ref_base in enumerate(window):
            for bi, base in enumerate(BASES):
                if base != ref_base:
                    variants.append(window[:offset] + base + window[offset + 1 :])
                    where.append((wi, start + offset, bi))
    scores = np.empty(len(variants), dtype=np.float64)
    for lo in range(0, len(variants), chunk):
        scores[lo : lo + chunk] = np.asarray(window_probs(variants[lo : lo + chunk]), dtype=np.float64)[:, t]
    delta = np.zeros((len(sequence), len(BASES)), dtype=np.float64)
    if where:
        idx = np.asarray(where)
        np.add.at(delta, (idx[:, 1], idx[:, 2]), (scores - ref_w[idx[:, 0], t]) / len(starts))
    return delta, reference, t


def pca_2d(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First two principal components (n, 2) and their share of the variance; deterministic signs."""
    x = np.asarray(features, dtype=np.float64)
    n = x.shape[0]
    coords = np.zeros((n, 2))
    explained = np.zeros(2)
    if n < 2:
        return coords, explained
    centred = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, len(s))
    signs = np.sign(vt[:k][np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
    signs[signs == 0] = 1
    coords[:, :k] = u[:, :k] * s[:k] * signs
    total = float((s**2).sum())
    if total > 0:
        explained[:k] = s[:k] ** 2 / total
    return coords, explained


# ---------------------------------------------------------------------------------------------------------------------
# The backend the UI calls
# ---------------------------------------------------------------------------------------------------------------------


class SpaceBackend:
    """Parse input, enforce limits, then classify / compare / explain / project with models from a `ModelCache`."""

    def __init__(self, cache: ModelCache | None = None, limits: Limits | None = None, *,
                 batch_size: int | None = None):
        self.cache = cache or ModelCache()
        self.limits = limits or Limits.from_env()
        self.batch_size = batch_size or (64 if self.cache.device.startswith("cuda") else 32)

    # -- input -----------------------------------------------------------------------------------------------------
    def parse(self, text: str | None = None, file: str | Path | None = None) -> list[tuple[str, str]]:
        """Validated (id, sequence) pairs within the limits; see `read_input`."""
        return read_input(text, file, self.limits)

    def _records(self, sequences: str | Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        if isinstance(sequences, str):
            return self.parse(sequences)
        from .data import clean_sequence

        records = [(str(i), clean_sequence(s, where=f"sequence {str(i)!r}")[0]) for i, s in sequences]
        check_limits(records, self.limits)
        return records

    def _adapters(self, adapters: str | Sequence[str] | None) -> list[str]:
        ids = parse_adapter_list(adapters)
        if not ids:
            raise ConfigError("No adapter chosen. Pick one from the list or type a repo id such as 'user/name'.")
        if len(ids) > self.limits.max_adapters_per_request:
            raise ConfigError(
                f"{len(ids)} adapters were chosen; at most {self.limits.max_adapters_per_request} can be compared in "
                "one request. Remove some."
            )
        return [self.cache.resolve_id(a) for a in ids]  # validates every id before any download

    def prepare(self, adapters: str | Sequence[str]) -> list[str]:
        """Validate adapter ids and load them into the cache (no inference); returns their cache keys.

        On ZeroGPU the inference functions run in a short-lived worker process, so models must be loaded in the main
        process first, where they stay; elsewhere this just loads ahead of the request.
        """
        ids = self._adapters(adapters)
        for adapter in ids:
            with self.cache.use(adapter):
                pass
        return ids

    # -- classify --------------------------------------------------------------------------------------------------
    def classify(self, sequences: str | Sequence[tuple[str, str]], adapters: str | Sequence[str]) -> Comparison:
        """Each adapter's labels and probabilities next to its base model's, for every sequence.

        Args:
            sequences: pasted text (raw lines or FASTA) or (id, sequence) pairs.
            adapters: one or more adapter repo ids of the same task (same class names).

        Raises:
            DataError: bad input or a limit; ConfigError: no/too many adapters, or adapters of different tasks;
            HubError: an adapter cannot be found or loaded.
        """
        records = self._records(sequences)  # limits first: nothing is downloaded or run for a refused request
        ids = self._adapters(adapters)
        metas = [self.cache.meta(a) for a in ids]
        labels = metas[0].label_names
        for meta in metas[1:]:
            if sorted(meta.label_names) != sorted(labels):
                raise ConfigError(
                    f"{meta.repo_id} predicts {', '.join(meta.label_names)} but {metas[0].repo_id} predicts "
                    f"{', '.join(labels)}; only adapters of the same task can be compared side by side."
                )
        seqs = [s for _, s in records]
        predictions = []
        for meta in metas:
            with self.cache.use(meta.repo_id) as clf:
                probs, tracks = clf.predict_windows(seqs, batch_size=self.batch_size)
                base = clf.predict_base_proba(seqs, batch_size=self.batch_size)
            order = [meta.label_names.index(name) for name in labels]  # same classes, maybe another order
            predictions.append(AdapterPrediction(
                repo_id=meta.repo_id,
                label_names=list(labels),
                probs=np.asarray(probs)[:, order],
                base_probs=None if base is None else np.asarray(base)[:, order],
                tracks=[np.asarray(t)[:, order] for t in tracks],
            ))
        return Comparison(records=records, label_names=list(labels), predictions=predictions, metas=metas)

    # -- explain ---------------------------------------------------------------------------------------------------
    def ism(self, sequence: str | tuple[str, str], adapter: str, *, target: str | None = None) -> IsmResult:
        """In-silico mutagenesis of one sequence (at most `limits.max_ism_bp` bp) with one adapter.

        Raises:
            DataError: bad sequence, or longer than the ISM limit; ConfigError: unknown target class.
        """
        seq_id, seq = self.parse_one(sequence)
        self.check_ism(seq_id, seq)
        (repo,) = self._adapters([adapter])
        meta = self.cache.meta(repo)
        target_index = None
        if target is not None:
            if target not in meta.label_names:
                raise ConfigError(f"Unknown class {target!r}; {repo} predicts {', '.join(meta.label_names)}.")
            target_index = meta.label_names.index(target)
        with self.cache.use(repo) as clf:
            def score(pieces: list[str]) -> np.ndarray:
                return clf.predict_windows(pieces, batch_size=self.batch_size)[0]

            delta, reference, t = ism_scan(seq, meta.window_bp, meta.stride_bp, score, target=target_index)
        return IsmResult(repo, seq_id, seq, list(meta.label_names), t, reference, delta)

    def check_ism(self, seq_id: str, sequence: str) -> None:
        """Refuse in-silico mutagenesis of a sequence longer than `limits.max_ism_bp` (before any model work)."""
        if len(sequence) > self.limits.max_ism_bp:
            raise DataError(
                f"Sequence {seq_id!r} is {len(sequence):,} bp; in-silico mutagenesis scores 3 variants per base and is "
                f"limited to {self.limits.max_ism_bp:,} bp here. Paste the region of interest only."
            )

    def window_track(self, sequence: str | tuple[str, str], adapter: str) -> WindowTrack:
        """Per-window probabilities along one sequence (a single window when it fits the model)."""
        seq_id, seq = self.parse_one(sequence)
        (repo,) = self._adapters([adapter])
        meta = self.cache.meta(repo)
        with self.cache.use(repo) as clf:
            _, tracks = clf.predict_windows([seq], batch_size=self.batch_size)
        return WindowTrack(repo, seq_id, len(seq), window_starts(len(seq), meta.window_bp, meta.stride_bp),
                           meta.window_bp, np.asarray(tracks[0]), list(meta.label_names))

    def parse_one(self, sequence: str | tuple[str, str]) -> tuple[str, str]:
        """Exactly one validated (id, sequence) from text or a pair."""
        records = self._records(sequence) if isinstance(sequence, str) else self._records([sequence])
        if len(records) != 1:
            raise DataError(f"Give exactly one sequence here ({len(records)} were given).")
        return records[0]

    # -- embeddings ------------------------------------------------------------------------------------------------
    def project(self, sequences: str | Sequence[tuple[str, str]], adapter: str) -> Projection:
        """PCA of base vs fine-tuned mean embeddings (first window of each sequence), coloured by prediction."""
        records = self._records(sequences)
        (repo,) = self._adapters([adapter])
        meta = self.cache.meta(repo)
        seqs = [s for _, s in records]
        with self.cache.use(repo) as clf:
            fine = clf.embeddings(seqs, fine_tuned=True, batch_size=self.batch_size)
            base = clf.embeddings(seqs, fine_tuned=False, batch_size=self.batch_size)
            probs = clf.predict_proba(seqs, batch_size=self.batch_size)
            base_probs = clf.predict_base_proba(seqs, batch_size=self.batch_size)
        names = list(meta.label_names)
        fine_labels = [names[int(i)] for i in np.asarray(probs).argmax(axis=1)]
        base_labels = fine_labels if base_probs is None else [names[int(i)] for i in np.asarray(base_probs).argmax(1)]
        base_xy, base_var = pca_2d(base)
        fine_xy, fine_var = pca_2d(fine)
        return Projection(repo, [i for i, _ in records], base_xy, fine_xy, base_var, fine_var, base_labels,
                          fine_labels, names)


# ---------------------------------------------------------------------------------------------------------------------
# Presentation helpers (HTML is always escaped; figures use matplotlib's object API, no global pyplot state)
# ---------------------------------------------------------------------------------------------------------------------


def escape(text: Any) -> str:
    """HTML-escape any user-provided text (FASTA ids, repo ids, messages)."""
    return html.escape(str(text), quote=True)


def csv_safe(value: Any) -> Any:
    """Prefix text that a spreadsheet would evaluate as a formula (=, +, -, @, tab, CR) with a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def status_html(message: str, *, ok: bool) -> str:
    """An inline status line (escaped)."""
    css = "hubtune-ok" if ok else "hubtune-error"
    icon = "✓" if ok else "⚠"
    return f'<div class="hubtune-status {css}" role="status">{icon} {escape(message)}</div>'


def metrics_html(metas: Sequence[AdapterMeta]) -> str:
    """The card's test metrics, fine-tuned vs pre-trained probe vs k-mer baseline, one block per adapter."""
    if not metas:
        return ""
    parts = ['<div class="hubtune-metrics"><table><thead><tr><th>adapter</th><th>model</th><th>test MCC</th>'
             "<th>macro F1</th><th>accuracy</th><th>AUROC</th></tr></thead><tbody>"]

    def fmt(value: Any) -> str:
        return "–" if not isinstance(value, int | float) else f"{value:.3f}"

    for meta in metas:
        rows = meta.test_metrics or {"fine-tuned": {}}
        for i, (model, values) in enumerate(rows.items()):
            first = f'<td rowspan="{len(rows)}">{escape(meta.repo_id)}</td>' if i == 0 else ""
            parts.append(f"<tr>{first}<td>{escape(model)}</td><td>{fmt(values.get('mcc'))}</td>"
                         f"<td>{fmt(values.get('f1_macro'))}</td><td>{fmt(values.get('accuracy'))}</td>"
                         f"<td>{fmt(values.get('auroc'))}</td></tr>")
    parts.append("</tbody></table><p>Metrics from each model's card (held-out test split).</p></div>")
    return "".join(parts)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def figure_probabilities(comparison: Comparison, *, max_rows: int = 40):
    """Dot plot of class probabilities per sequence: each adapter and its base model (binary: the second class)."""
    names = comparison.label_names
    classes = [len(names) - 1] if len(names) == 2 else list(range(min(len(names), 4)))
    n = min(len(comparison.records), max_rows)
    fig = _figure(4.0 + 2.5 * len(classes), 1.2 + 0.28 * n)
    axes = fig.subplots(1, len(classes), sharey=True, squeeze=False)[0]
    ids = [seq_id if len(seq_id) <= 24 else seq_id[:23] + "…" for seq_id, _ in comparison.records[:n]]
    y = np.arange(n)
    short = _short_names([p.repo_id for p in comparison.predictions])
    for ax, c in zip(axes, classes, strict=True):
        for k, (pred, name) in enumerate(zip(comparison.predictions, short, strict=True)):
            color = _COLORS[k % len(_COLORS)]
            ax.scatter(pred.probs[:n, c], y, color=color, marker="o", s=28, label=f"{name} (fine-tuned)", zorder=3)
            if pred.base_probs is not None:
                ax.scatter(pred.base_probs[:n, c], y, facecolors="none", edgecolors=color, marker="s", s=28,
                           label=f"{name} (base probe)", zorder=3)
        ax.axvline(0.5, color="grey", lw=0.6, ls="--")
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel(f"P({names[c]})")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, ids, fontsize=8)
    axes[0].invert_yaxis()
    title = "class probabilities: fine-tuned (filled) vs base (open)"
    if len(comparison.records) > n:
        title += f" — first {n} of {len(comparison.records)}"
    fig.suptitle(title, fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(2, len(labels)), fontsize=8)
    return fig


def figure_projection(projection: Projection):
    """Side-by-side PCA of the pre-trained and the fine-tuned embeddings, points coloured by predicted class."""
    fig = _figure(9.0, 4.0)
    axes = fig.subplots(1, 2)
    panels = (
        (axes[0], projection.base, projection.base_explained, projection.base_labels, "pre-trained base"),
        (axes[1], projection.fine_tuned, projection.fine_tuned_explained, projection.fine_tuned_labels,
         "fine-tuned"),
    )
    for ax, xy, var, labels, title in panels:
        for k, name in enumerate(projection.label_names):
            mask = np.array([lab == name for lab in labels], dtype=bool)
            if mask.any():
                ax.scatter(xy[mask, 0], xy[mask, 1], s=22, color=_COLORS[k % len(_COLORS)], label=name, alpha=0.85)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"PC1 ({var[0]:.0%})")
        ax.set_ylabel(f"PC2 ({var[1]:.0%})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="predicted", title_fontsize=8)
    fig.suptitle(f"embeddings of the batch (PCA), {Path(projection.repo_id).name}: pre-trained vs fine-tuned",
                 fontsize=10)
    return fig


def figure_ism(result: IsmResult):
    """Heatmap of the ISM map (bases x positions) under a per-position importance bar."""
    length = len(result.sequence)
    fig = _figure(min(14.0, 5.0 + 0.06 * length), 3.6)
    top, heat = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2])
    importance = result.importance
    top.bar(np.arange(length), importance, width=1.0, color=np.where(importance >= 0, "#d62728", "#1f77b4"))
    top.set_ylabel("importance", fontsize=8)
    top.axhline(0, color="grey", lw=0.6)
    limit = float(np.abs(result.delta).max()) or 1e-6
    image = heat.imshow(result.delta.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                        interpolation="nearest", extent=(-0.5, length - 0.5, 3.5, -0.5))
    heat.set_yticks(range(4), list(BASES))
    if length <= 80:
        heat.set_xticks(range(length), list(result.sequence), fontsize=7, fontfamily="monospace")
    else:
        heat.set_xlabel("position (bp)")
    fig.colorbar(image, ax=[top, heat], label=f"Δ P({result.label_names[result.target]})", shrink=0.8)
    target = result.label_names[result.target]
    fig.suptitle(f"in-silico mutagenesis of {result.seq_id[:40]} — P({target}) = "
                 f"{result.reference[result.target]:.3f}", fontsize=10)
    return fig


def figure_track(track: WindowTrack):
    """Per-window class probabilities along a long sequence (window centres), with the averaged answer."""
    fig = _figure(9.0, 3.0)
    ax = fig.subplots()
    centres = [min(s + track.window_bp, track.length) / 2 + s / 2 for s in track.starts]
    classes = [len(track.label_names) - 1] if len(track.label_names) == 2 else range(len(track.label_names))
    for k in classes:
        color = _COLORS[k % len(_COLORS)]
        ax.plot(centres, track.probs[:, k], "o-", color=color, label=f"P({track.label_names[k]}) per window")
        ax.axhline(float(track.probs[:, k].mean()), color=color, ls="--", lw=0.8)
    ax.set_xlim(0, track.length)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"position (bp), windows of {track.window_bp} bp")
    ax.set_ylabel("probability")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"score track of {track.seq_id[:40]} ({len(track.starts)} windows; dashed: mean)", fontsize=10)
    return fig


__all__ = [
    "BASES",
    "ENV_ADAPTERS",
    "AdapterMeta",
    "AdapterPrediction",
    "CacheStats",
    "Comparison",
    "IsmResult",
    "Limits",
    "ModelCache",
    "Projection",
    "SpaceBackend",
    "WindowTrack",
    "adapters_from_env",
    "check_limits",
    "csv_safe",
    "default_device",
    "escape",
    "figure_ism",
    "figure_probabilities",
    "figure_projection",
    "figure_track",
    "ism_scan",
    "metrics_html",
    "parse_adapter_list",
    "pca_2d",
    "read_input",
    "status_html",
    "window_starts",
]
