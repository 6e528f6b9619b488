"""The run folder: the contract between training and everything downstream (card, push, Space, compare).

A run folder holds the weights (LoRA adapter, full model, or probe head) in safetensors, the tokenizer, and
`hubtune.json` (labels, task, family, base model, max length, windowing, training config, versions), `metrics.json`
(fine-tuned, pre-trained probe and k-mer baseline; dev and test) and `leakage.json`. It is written atomically: files
go to `<dir>.partial/` which is renamed only once everything is there, so a folder with `hubtune.json` is complete.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RunFolderError

RUN_FORMAT_VERSION = 1
INFO_FILE = "hubtune.json"
METRICS_FILE = "metrics.json"
LEAKAGE_FILE = "leakage.json"
BASE_PROBE_FILE = "base_probe_head.safetensors"
PROBE_HEAD_FILE = "probe_head.safetensors"
TRAINING_LOG_FILE = "training_log.json"
REQUIRED_FILES = (INFO_FILE, METRICS_FILE, LEAKAGE_FILE)


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


def write_json(path: Path, data: Any) -> None:
    """Write JSON via a temporary file + rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def staging_dir(output: Path) -> Path:
    return output.with_name(output.name + ".partial")


def commit_run_folder(staging: Path, output: Path, *, overwrite: bool = False) -> None:
    """Move a finished staging folder into place (the old run, if any and allowed, is replaced only now)."""
    missing = [name for name in REQUIRED_FILES if not (staging / name).is_file()]
    if missing:
        raise RunFolderError(f"Refusing to finish run folder {output}: {', '.join(missing)} not written.")
    if output.exists():
        if not overwrite:
            raise RunFolderError(f"{output} already exists. Choose another --output or pass --overwrite.")
        trash = output.with_name(output.name + ".old")
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(output, trash)
        os.replace(staging, output)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staging, output)


@dataclass
class Prediction:
    """Predicted label and class probabilities for one sequence."""

    id: str
    label: str
    probabilities: dict[str, float]
    windows: int = 1


class Run:
    """A finished run folder: its metadata, metrics and a loader for the trained model."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise RunFolderError(f"Run folder {self.path} does not exist.")
        if not (self.path / INFO_FILE).is_file():
            hint = " (a '.partial' folder is a run that did not finish)" if self.path.name.endswith(".partial") else ""
            raise RunFolderError(f"{self.path} is not a finished hubtune run folder: {INFO_FILE} is missing{hint}.")
        try:
            self.info: dict[str, Any] = json.loads((self.path / INFO_FILE).read_text())
        except json.JSONDecodeError as exc:
            raise RunFolderError(f"{self.path / INFO_FILE} is not valid JSON (line {exc.lineno}).") from None
        if self.info.get("format") != "hubtune-run":
            raise RunFolderError(f"{self.path / INFO_FILE} was not written by hubtune.")

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, method={self.method!r}, base={self.base_model!r})"

    # -- metadata --------------------------------------------------------------------------------------------------
    @property
    def label_names(self) -> list[str]:
        return list(self.info["label_names"])

    @property
    def method(self) -> str:
        return self.info["method"]

    @property
    def base_model(self) -> str:
        return self.info["base_model"]

    @property
    def max_length(self) -> int:
        return int(self.info["max_length"])

    @cached_property
    def metrics(self) -> dict[str, Any]:
        return json.loads((self.path / METRICS_FILE).read_text())

    @cached_property
    def leakage(self) -> dict[str, Any]:
        return json.loads((self.path / LEAKAGE_FILE).read_text())

    def test_mcc(self, which: str = "finetuned") -> float | None:
        return (self.metrics.get(which) or {}).get("test", {}).get("mcc")

    # -- model -----------------------------------------------------------------------------------------------------
    def load_tokenizer(self):
        """The tokenizer saved with the run (no code from any repo is run)."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.path))

    def load_model(self):
        """The trained classifier: base + LoRA adapter, the full model, or (probe) the frozen base."""
        from .models import load_base_model

        method = self.method
        num_labels = len(self.label_names)
        if method in ("full", "freeze"):
            return load_base_model(self.path, num_labels, label_names=self.label_names)
        base = load_base_model(self.base_model, num_labels, label_names=self.label_names,
                               revision=self.info.get("base_model_revision"))
        if method == "probe":
            return base
        from peft import PeftModel

        return PeftModel.from_pretrained(base, str(self.path))

    def classifier(self, device: str | None = None):
        """A ready-to-use `Classifier` (model + tokenizer + windowing) for this run."""
        from .predict import Classifier

        return Classifier.from_run(self, device=device)

    def predict(self, sequences: list[str] | list[tuple[str, str]]) -> list[Prediction]:
        """Classify DNA sequences (long ones by sliding windows)."""
        return self.classifier().predict(sequences)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Publish this run (adapter, card, metrics) on the Hub; returns the commit URL. See `hubtune.hub.push_run`."""
        from .hub import push_run

        return push_run(self.path, repo_id, **kwargs)

    def summary(self) -> str:
        """The comparison table: fine-tuned vs pre-trained probe vs k-mer baseline on dev and test."""
        return format_comparison(self.metrics)


def load_run(path: str | Path) -> Run:
    """Open a finished run folder."""
    return Run(path)


def format_comparison(metrics: dict[str, Any]) -> str:
    """Plain-text table of MCC / F1 / accuracy / AUROC for the fine-tuned model and both baselines."""
    rows = [("model", "dev MCC", "test MCC", "test F1", "test acc", "test AUROC")]
    labels = {"finetuned": "fine-tuned", "probe": "pre-trained probe", "kmer": "k-mer baseline"}
    summary = metrics.get("summary", {})
    for key, label in labels.items():
        block = metrics.get(key)
        if not block:
            continue
        test, dev = block.get("test", {}), block.get("dev", {})

        def fmt(value: float | None) -> str:
            return "-" if value is None else f"{value:.3f}"

        test_mcc = fmt(test.get("mcc"))
        if key in summary and summary[key].get("n_seeds", 1) > 1:
            test_mcc = f"{summary[key]['test_mcc_mean']:.3f} ± {summary[key]['test_mcc_sd']:.3f}"
        rows.append((label, fmt(dev.get("mcc")), test_mcc, fmt(test.get("f1_macro")), fmt(test.get("accuracy")),
                     fmt(test.get("auroc"))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
