"""The run folder: the contract between training and everything downstream (evaluate, card, push, Space, compare).

A run folder holds the weights (LoRA adapter, full model, or probe head) in safetensors, the tokenizer, and
`hubtune.json` (`RunInfo`: labels, task, family, base model, max length, windowing, training config, versions),
`metrics.json` (fine-tuned, pre-trained probe and k-mer baseline; dev and test), `leakage.json` and
`test_outputs.safetensors` (the kept model's outputs on the test split, which diagnostics reuse). It is written
atomically: files go to `<dir>.partial/` which is renamed only once everything is there, so a folder with
`hubtune.json` is complete.

Everything downstream reads a run through `RunInfo` and `load_run_model`, the one loader of a run's model, head and
tokenizer, which works the same on a run folder, a downloaded Hub snapshot, and a plain peft adapter.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .embedding_cache import sequences_digest
from .errors import ModelError, RunFolderError
from .heads import LinearHead
from .jsonio import write_json
from .methods import METHODS, MethodConfig, get_method, method_from_record
from .methods.lora import ADAPTER_CONFIG_FILE, LoraMethodConfig
from .metrics import upgrade_summary
from .models import load_base_model, load_tokenizer, resolve_model
from .models.registry import FAMILIES, get_family
from .problems import PROBLEMS, SINGLE_LABEL, Problem, get_problem

RUN_FORMAT = "hubtune-run"
RUN_FORMAT_VERSION = 1
INFO_FILE = "hubtune.json"
METRICS_FILE = "metrics.json"
LEAKAGE_FILE = "leakage.json"
BASE_PROBE_FILE = "base_probe_head.safetensors"
TRAINING_LOG_FILE = "training_log.json"
TEST_OUTPUTS_FILE = "test_outputs.safetensors"  # the kept model's outputs on the test split (diagnostics reuse them)
REQUIRED_FILES = (INFO_FILE, METRICS_FILE, LEAKAGE_FILE)
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a result depends on (recorded with every run and in every card)."""
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for package in ("hubtune", "torch", "transformers", "peft", "accelerate", "datasets", "huggingface_hub",
                    "scikit-learn", "safetensors"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            continue
    return versions


# ---------------------------------------------------------------------------------------------------------------------
# hubtune.json
# ---------------------------------------------------------------------------------------------------------------------


MIN_WINDOW_BP = 8  # shorter windows carry no signal and multiply the work per sequence


@dataclass
class RunInfo:
    """The typed content of `hubtune.json`: what a run predicts and how its model loads.

    Unknown keys (written by a newer hubtune of the same format version) are kept in `extra` and written back.

    Example:
        >>> info = RunInfo.read("runs/tata-lora")  # doctest: +SKIP
        >>> info.label_names, info.method, info.window_bp  # doctest: +SKIP
        (['non-promoter', 'promoter'], 'lora', 510)
    """

    label_names: list[str]
    method: str
    base_model: str
    max_length: int
    window_bp: int
    stride_bp: int
    family: str = "auto"
    base_model_revision: str | None = None
    task: str | None = None
    pooling: str = "mean"
    method_config: dict[str, Any] = field(default_factory=dict)
    format_version: int = RUN_FORMAT_VERSION
    data_source: str | None = None
    split_origin: str | None = None
    split_sizes: dict[str, int] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    best_seed: int | None = None
    trainable_parameters: int | None = None
    total_parameters: int | None = None
    train_seconds: float | None = None
    world_size: int = 1
    training: dict[str, Any] = field(default_factory=dict)
    dedup: bool = False
    versions: dict[str, str] = field(default_factory=dict)
    created: str | None = None
    examples: list[Any] = field(default_factory=list)
    base_model_origin: str | None = None
    # What the data is (catalogue entry for known benchmarks: species, length, negatives, source, licence, label meanings).
    dataset: dict[str, Any] | None = None
    # What the run predicts (hubtune.problems): single_label, multi_label or regression; label_names name its outputs.
    problem_type: str = SINGLE_LABEL
    # Multi-label: per-label decision thresholds tuned on dev (probabilities at or above one mean "carries the label").
    thresholds: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    REQUIRED = ("label_names", "method", "base_model", "max_length", "window_bp", "stride_bp")

    @classmethod
    def from_dict(cls, data: Any, *, where: str = INFO_FILE) -> RunInfo:
        """Validate a decoded hubtune.json; `where` names it in error messages.

        Raises:
            RunFolderError: not written by hubtune, written by a newer format, a required field is missing or has
                the wrong type, or the method is unknown.
        """
        if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise RunFolderError(f"{where} was not written by hubtune (format {found!r}).")
        version = data.get("format_version", 1)
        if not isinstance(version, int) or version > RUN_FORMAT_VERSION:
            raise RunFolderError(
                f"{where} has format version {version!r}, newer than this hubtune reads ({RUN_FORMAT_VERSION}). "
                "Upgrade hubtune (pip install -U hubtune)."
            )
        missing = [key for key in cls.REQUIRED if data.get(key) in (None, "", [])]
        if missing:
            raise RunFolderError(
                f"{where} lacks the field(s) {', '.join(missing)}; it was not written by a finished `hubtune train`. "
                "Re-run training to get a complete run folder."
            )
        problem_name = data.get("problem_type") or SINGLE_LABEL
        if problem_name not in PROBLEMS:
            raise RunFolderError(f"{where}: unknown problem_type {problem_name!r} (expected {', '.join(PROBLEMS)}).")
        labels = data["label_names"]
        least = 2 if problem_name == SINGLE_LABEL else 1
        if not isinstance(labels, list) or len(labels) < least:
            raise RunFolderError(f"{where}: label_names must list at least {least} name(s) for {problem_name}.")
        thresholds = data.get("thresholds")
        if thresholds is not None and (not isinstance(thresholds, list) or len(thresholds) != len(labels)
                                       or not all(isinstance(t, int | float) for t in thresholds)):
            raise RunFolderError(f"{where}: thresholds must be one number per label.")
        for key in ("max_length", "window_bp", "stride_bp"):
            if not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] <= 0:
                raise RunFolderError(f"{where}: {key} must be a positive integer, got {data[key]!r}.")
        if data["window_bp"] < MIN_WINDOW_BP or data["stride_bp"] > data["window_bp"]:
            raise RunFolderError(
                f"{where}: window_bp must be at least {MIN_WINDOW_BP} and stride_bp at most window_bp, got "
                f"window_bp={data['window_bp']}, stride_bp={data['stride_bp']}."
            )
        if data["method"] not in METHODS:
            raise RunFolderError(
                f"{where}: unknown method {data['method']!r} (expected {', '.join(METHODS)})."
            )
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        values["label_names"] = [str(name) for name in labels]
        values["format_version"] = version
        extra = {k: v for k, v in data.items() if k not in known and k != "format"}
        return cls(**values, extra=extra)

    @classmethod
    def read(cls, folder: str | Path) -> RunInfo:
        """Read and validate `<folder>/hubtune.json`.

        Raises:
            RunFolderError: the file is missing, not JSON, or not a valid hubtune.json (the message says which).
        """
        folder = Path(folder)
        path = folder / INFO_FILE
        if not path.is_file():
            hint = " (a '.partial' folder is a run that did not finish)" if folder.name.endswith(".partial") else ""
            raise RunFolderError(f"{folder.name} is not a finished hubtune run folder: {INFO_FILE} is missing{hint}.")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunFolderError(f"{folder.name}/{INFO_FILE} is not valid JSON (line {exc.lineno}).") from None
        except UnicodeDecodeError:
            raise RunFolderError(f"{folder.name}/{INFO_FILE} is not UTF-8 text.") from None
        return cls.from_dict(data, where=f"{folder.name}/{INFO_FILE}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to hubtune.json (`format` first, unknown keys kept)."""
        data: dict[str, Any] = {"format": RUN_FORMAT}
        for f in fields(self):
            if f.name != "extra":
                data[f.name] = getattr(self, f.name)
        data.update(self.extra)
        return data

    def write(self, folder: str | Path) -> None:
        """Write `<folder>/hubtune.json` atomically (its presence marks a complete run: write it last)."""
        write_json(Path(folder) / INFO_FILE, self.to_dict())

    @property
    def method_settings(self) -> MethodConfig:
        """The method config as recorded, with its behaviour (files, loading)."""
        return method_from_record(self.method_config, self.method)

    @property
    def num_labels(self) -> int:
        """Number of outputs: classes, labels or targets."""
        return len(self.label_names)

    @property
    def problem(self) -> Problem:
        """What the run predicts, with its metrics and outputs (`hubtune.problems.Problem`)."""
        return get_problem(self.problem_type)


def plain_adapter_info(folder: str | Path, label_names: list[str] | None, *, where: str,
                       token: str | None = None) -> RunInfo:
    """RunInfo for a plain peft adapter (no hubtune.json): base and defaults from its config, labels from the caller.

    Raises:
        RunFolderError: the folder holds neither hubtune.json nor adapter_config.json, the labels are not given, or
            the adapter config does not name its base model.
    """
    config_path = Path(folder) / ADAPTER_CONFIG_FILE
    if not config_path.is_file():
        raise RunFolderError(
            f"{where} has neither {INFO_FILE} nor {ADAPTER_CONFIG_FILE}: it is not a hubtune model or a peft adapter."
        )
    adapter_config = json.loads(config_path.read_text())
    if not label_names:
        raise RunFolderError(
            f"{where} is a plain peft adapter without {INFO_FILE}, so its labels are unknown. Pass them in the order "
            "of the classifier's outputs: load_classifier(..., label_names=['negative', 'positive'])."
        )
    base = adapter_config.get("base_model_name_or_path")
    if not base:
        raise RunFolderError(f"{where}/{ADAPTER_CONFIG_FILE} does not name its base model (base_model_name_or_path "
                             "is empty).")
    revision = adapter_config.get("revision")
    family = resolve_model(base, revision=revision, token=token).family
    max_length = family.model_max_tokens or 512
    window_bp = family.window_bp(max_length)
    return RunInfo(label_names=list(label_names), method=LoraMethodConfig.name, family=family.name, base_model=base,
                   base_model_revision=revision, max_length=max_length, window_bp=window_bp,
                   stride_bp=max(1, window_bp // 2))


# ---------------------------------------------------------------------------------------------------------------------
# Reading a run folder
# ---------------------------------------------------------------------------------------------------------------------


class Run:
    """A finished run folder: its `RunInfo`, metrics and leakage report.

    Example:
        >>> run = Run("runs/tata-lora")  # doctest: +SKIP
        >>> run.info.method, run.test_score()  # doctest: +SKIP
        ('lora', 0.528)
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise RunFolderError(f"Run folder {self.path} does not exist.")
        self.info = RunInfo.read(self.path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, method={self.info.method!r}, base={self.info.base_model!r})"

    @property
    def label_names(self) -> list[str]:
        return list(self.info.label_names)

    @property
    def method(self) -> str:
        return self.info.method

    @property
    def base_model(self) -> str:
        return self.info.base_model

    @cached_property
    def metrics(self) -> dict[str, Any]:
        metrics = _read_json(self.path, METRICS_FILE)
        summary = metrics.get("summary")
        if isinstance(summary, dict) and isinstance(summary.get("finetuned"), dict):
            summary["finetuned"] = upgrade_summary(summary["finetuned"])
        return metrics

    @cached_property
    def leakage(self) -> dict[str, Any]:
        return _read_json(self.path, LEAKAGE_FILE)

    @cached_property
    def training_log(self) -> dict[str, Any]:
        path = self.path / TRAINING_LOG_FILE
        return _read_json(self.path, TRAINING_LOG_FILE) if path.is_file() else {}

    def test_outputs(self, sequences: Sequence[str]) -> np.ndarray | None:
        """The kept model's outputs (probabilities, or values in the targets' units) on the test split as training
        computed them, one row per sequence; None when the run has none recorded or `sequences` are not the test
        sequences they were computed on (so callers predict instead).

        Example:
            >>> run = Run("runs/tata-lora")  # doctest: +SKIP
            >>> run.test_outputs(task.splits["test"].sequences).shape  # doctest: +SKIP
            (613, 2)
        """
        path = self.path / TEST_OUTPUTS_FILE
        if not path.is_file():
            return None
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="numpy") as stored:
                if (stored.metadata() or {}).get("sequences_sha256") != sequences_digest(sequences):
                    return None
                outputs = stored.get_tensor("outputs")
        except (SafetensorError, OSError, KeyError):
            return None
        return outputs if outputs.ndim == 2 and len(outputs) == len(sequences) else None

    def test_score(self, which: str = "finetuned") -> float | None:
        """The headline test metric (MCC, macro AUPRC or Spearman, see `info.problem`) of the fine-tuned model (or
        of a baseline: "probe", "kmer"); None when not measured."""
        return self.info.problem.headline((self.metrics.get(which) or {}).get("test"))

    def check_complete(self) -> None:
        """Raise RunFolderError unless the metrics, leakage report and the method's weight files are all there."""
        needed = [*REQUIRED_FILES[1:], *get_method(self.info.method).weight_files]
        missing = [name for name in needed if not (self.path / name).is_file()]
        if missing:
            raise RunFolderError(
                f"Run folder {self.path} is incomplete: {', '.join(missing)} missing (a {self.info.method} run needs "
                f"{', '.join(needed)}). Re-run training, or copy the whole run folder."
            )


def write_test_outputs(folder: str | Path, sequences: Sequence[str], outputs: np.ndarray) -> None:
    """Record a model's outputs on the test `sequences` (float64, one row per sequence) in a run folder."""
    from safetensors.numpy import save_file

    rows = np.ascontiguousarray(np.asarray(outputs, dtype=np.float64).reshape(len(sequences), -1))
    save_file({"outputs": rows}, str(Path(folder) / TEST_OUTPUTS_FILE),
              metadata={"sequences_sha256": sequences_digest(sequences)})


def _read_json(folder: Path, name: str) -> dict[str, Any]:
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{folder.name} is incomplete: {name} is missing.") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunFolderError(f"{folder.name}/{name} is not valid JSON.") from None


def load_run(path: str | Path) -> Run:
    """Open a finished run folder.

    Example:
        >>> hubtune.load_run("runs/tata-lora").metrics["finetuned"]["test"]["mcc"]  # doctest: +SKIP
        0.528
    """
    return Run(path)


# ---------------------------------------------------------------------------------------------------------------------
# The one loader
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class RunModel:
    """A run's model ready for inference: the network, its tokenizer, the heads and the run's settings."""

    model: Any
    tokenizer: Any
    info: RunInfo
    folder: Path
    probe_head: LinearHead | None = None  # the classifier itself for probe runs
    base_probe_head: LinearHead | None = None  # the pre-trained model's probe, for base-vs-fine-tuned comparisons


def load_run_heads(folder: str | Path, info: RunInfo) -> tuple[LinearHead | None, LinearHead | None]:
    """(the method's own head, the pre-trained probe head) of a run folder; None where the run has none."""
    folder = Path(folder)
    return info.method_settings.load_head(folder), LinearHead.load(folder / BASE_PROBE_FILE)


def has_tokenizer(folder: str | Path) -> bool:
    """True when `folder` ships its own tokenizer files."""
    return any((Path(folder) / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"))


def load_run_tokenizer(folder: str | Path, info: RunInfo, *, token: str | None = None) -> Any:
    """The tokenizer shipped in `folder`, or else the base model's (no code from any repo is run)."""
    if has_tokenizer(folder):
        from transformers import AutoTokenizer

        family = FAMILIES.get(info.family) or get_family("auto")
        try:
            return AutoTokenizer.from_pretrained(str(folder), **family.tokenizer_kwargs)
        except (OSError, ValueError) as exc:
            raise ModelError(f"Could not load the tokenizer shipped with the model: {exc}") from None
    return load_tokenizer(info.base_model, revision=info.base_model_revision, token=token)


def inference_device(device: str | None = None) -> str:
    """`device`, or CUDA when available, else CPU."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def to_inference(model: Any, device: str | None = None) -> Any:
    """Move a model to `device` for inference: eval mode, half precision on GPUs (same results up to rounding)."""
    device = inference_device(device)
    model = model.to(device)
    if device.startswith("cuda"):
        model = model.half()
    model.eval()
    return model


def load_run_model(
    folder: str | Path,
    *,
    info: RunInfo | None = None,
    device: str | None = None,
    token: str | None = None,
    base_model: Any = None,
    adapter_name: str = "default",
    trust_remote_code: bool = False,
) -> RunModel:
    """Load a run's model, tokenizer and heads: THE loader used by predict, evaluate, diagnostics, hub and the Space.

    Args:
        folder: a run folder or a downloaded Hub snapshot.
        info: the run's settings; default: read from `<folder>/hubtune.json`.
        device: "cpu", "cuda", ...; default: CUDA when available.
        token: for a private base model on the Hub.
        base_model: a callable returning a fresh base classification model, used instead of loading one (the Space
            shares bases this way); default: `hubtune.load_base_model(info.base_model, ...)`.
        adapter_name: the peft adapter name (LoRA runs).
        trust_remote_code: allow the base's repo code (only for bases outside the known families).

    Example:
        >>> loaded = load_run_model("runs/tata-lora", device="cpu")  # doctest: +SKIP
        >>> loaded.model, loaded.tokenizer, loaded.info.label_names  # doctest: +SKIP
    """
    folder = Path(folder)
    info = info or RunInfo.read(folder)
    method = info.method_settings
    labels = list(info.label_names)

    def load_base() -> Any:
        if base_model is not None:
            return base_model()
        return load_base_model(info.base_model, len(labels), label_names=labels, revision=info.base_model_revision,
                               token=token, trust_remote_code=trust_remote_code,
                               problem_type=info.problem.hf_problem_type)

    model = method.load_model(folder, load_base, num_labels=len(labels), label_names=labels,
                              adapter_name=adapter_name)
    tokenizer = load_run_tokenizer(folder, info, token=token)
    probe_head, base_probe_head = load_run_heads(folder, info)
    return RunModel(model=to_inference(model, device), tokenizer=tokenizer, info=info, folder=folder,
                    probe_head=probe_head, base_probe_head=base_probe_head)


__all__ = [
    "BASE_PROBE_FILE",
    "INFO_FILE",
    "LEAKAGE_FILE",
    "METRICS_FILE",
    "RUN_FORMAT_VERSION",
    "MIN_WINDOW_BP",
    "TOKENIZER_FILES",
    "TEST_OUTPUTS_FILE",
    "TRAINING_LOG_FILE",
    "Run",
    "RunInfo",
    "RunModel",
    "has_tokenizer",
    "library_versions",
    "load_run",
    "load_run_heads",
    "load_run_model",
    "load_run_tokenizer",
    "plain_adapter_info",
    "to_inference",
    "write_test_outputs",
]
