"""`Classifier`: a loaded run (model + tokenizer + heads + windowing) that turns DNA strings into labels.

`load_classifier` opens a run folder, a downloaded snapshot or a Hub repo id through the one loader
(`hubtune.run.load_run_model`); `evaluate_run` scores a run on another labelled dataset. Every entry point validates
its sequences with the one sequence validator (`hubtune.data.clean_sequence`): lowercase (soft-masked) DNA is
uppercased, anything that is not DNA is refused with the sequence named.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import clean_sequences, load_task
from .errors import DataError, HubError, ModelError, RunFolderError
from .evaluate import (
    INFERENCE_BATCH_SIZE,
    Windowing,
    average_windows,
    cut_windows,
    extract_embeddings,
    predict_windowed,
)
from .heads import LinearHead
from .hub import download_repo
from .methods.lora import ADAPTER_CONFIG_FILE
from .metrics_multilabel import DEFAULT_THRESHOLD
from .problems import MULTI_LABEL, REGRESSION, Problem
from .repo_ids import validate_repo_id
from .run import INFO_FILE, RunInfo, RunModel, load_run_model, plain_adapter_info


@dataclass
class Prediction:
    """What the model says about one sequence.

    Single-label: `label` is the class, `probabilities` the class probabilities. Multi-label: `labels` the label set
    (probabilities at or above the run's dev-tuned thresholds), `label` the same as text (``CTCF;GATA`` or ``none``),
    `probabilities` per label. Regression: `values` per target, `label` the values as text.
    """

    id: str
    label: str
    probabilities: dict[str, float]
    windows: int = 1
    labels: list[str] | None = None
    values: dict[str, float] | None = None


def validate_sequences(sequences: Sequence[str] | Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(id, uppercased sequence) pairs from raw strings or (id, sequence) pairs, each checked by the one validator.

    Raises:
        DataError: a sequence is empty or not DNA (the message names it), or there are no sequences.

    Example:
        >>> validate_sequences(["acgtN"])
        [('seq1', 'ACGTN')]
    """
    records = clean_sequences([sequences] if isinstance(sequences, str) else sequences)
    if not records:
        raise DataError("No sequences to classify.")
    return records


def _clean(sequences: Sequence[str]) -> list[str]:
    return [seq for _, seq in validate_sequences(sequences)]


@dataclass
class Classifier:
    """A trained sequence classifier ready for inference (eval mode, no gradients, batched).

    Example:
        >>> clf = hubtune.load_classifier("runs/tata-lora")  # doctest: +SKIP
        >>> clf.predict(["TATAAAAGGC..."])[0].label  # doctest: +SKIP
        'promoter'
    """

    model: Any
    tokenizer: Any
    info: RunInfo
    probe_head: LinearHead | None = None  # the classifier itself for probe runs
    base_probe_head: LinearHead | None = None  # the pre-trained model's probe, for base-vs-fine-tuned comparisons

    @classmethod
    def from_loaded(cls, loaded: RunModel) -> Classifier:
        return cls(model=loaded.model, tokenizer=loaded.tokenizer, info=loaded.info, probe_head=loaded.probe_head,
                   base_probe_head=loaded.base_probe_head)

    @property
    def label_names(self) -> list[str]:
        return list(self.info.label_names)

    @property
    def max_length(self) -> int:
        return self.info.max_length

    @property
    def windowing(self) -> Windowing:
        return Windowing(self.info.window_bp, self.info.stride_bp)

    @property
    def problem(self) -> Problem:
        """What the model predicts: classes, label sets or values (`hubtune.problems.Problem`)."""
        return self.info.problem

    # -- inference -------------------------------------------------------------------------------------------------
    def predict_outputs(self, sequences: Sequence[str], *, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """The model's outputs, shape (n, outputs): class probabilities, per-label probabilities (multi-label) or
        values in the targets' units (regression); long sequences are averaged over sliding windows."""
        return self._windows(_clean(sequences), batch_size)[0]

    def predict_proba(self, sequences: Sequence[str], *, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """Class probabilities (n, classes), or per-label probabilities (n, labels) of a multi-label model.

        Raises:
            ModelError: a regression model (it predicts values: `predict_values`).
        """
        if not self.problem.is_classification:
            raise ModelError("This model predicts values (regression), not probabilities; use predict_values().")
        return self.predict_outputs(sequences, batch_size=batch_size)

    def predict_values(self, sequences: Sequence[str], *, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """Predicted values (n, targets) of a regression model, in the targets' own units.

        Raises:
            ModelError: a classification model (it predicts probabilities: `predict_proba`).
        """
        if self.problem.is_classification:
            raise ModelError("This model predicts probabilities (classification), not values; use predict_proba().")
        return self.predict_outputs(sequences, batch_size=batch_size)

    def predict_windows(self, sequences: Sequence[str], *,
                        batch_size: int = INFERENCE_BATCH_SIZE) -> tuple[np.ndarray, list[np.ndarray]]:
        """Per-sequence outputs and each sequence's per-window output track."""
        return self._windows(_clean(sequences), batch_size)

    def predict_base_proba(self, sequences: Sequence[str], *,
                           batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray | None:
        """The pre-trained model's answer (frozen base + the probe head shipped with the run: probabilities, or values
        for regression), or None."""
        if self.base_probe_head is None:
            return None
        return self._probe_windows(self.base_probe_head, _clean(sequences), batch_size=batch_size, adapter=False)[0]

    def embeddings(self, sequences: Sequence[str], *, fine_tuned: bool = True,
                   batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """Mean-pooled last-layer embeddings of the fine-tuned (or, with `fine_tuned=False`, the pre-trained) encoder."""
        clean = [s[: self.windowing.window_bp] for s in _clean(sequences)]
        with self._adapter(enabled=fine_tuned):
            return extract_embeddings(self.model, self.tokenizer, clean, max_length=self.max_length,
                                      batch_size=batch_size)

    def predict(self, sequences: Sequence[str] | Sequence[tuple[str, str]], *,
                batch_size: int = INFERENCE_BATCH_SIZE) -> list[Prediction]:
        """Labels and probabilities for raw DNA strings or (id, sequence) pairs (validated and uppercased first)."""
        records = validate_sequences(sequences)
        outputs, tracks = self._windows([s for _, s in records], batch_size)
        return [self.describe(seq_id, row, windows=len(track))
                for (seq_id, _), row, track in zip(records, outputs, tracks, strict=True)]

    def describe(self, seq_id: str, row: np.ndarray, *, windows: int = 1) -> Prediction:
        """One sequence's outputs (a row of `predict_outputs`) as a `Prediction`.

        Example:
            >>> clf.describe("seq1", np.array([0.2, 0.8])).label  # doctest: +SKIP
            'promoter'
        """
        names = self.label_names
        if self.problem.name == REGRESSION:
            values = {name: float(v) for name, v in zip(names, row, strict=True)}
            return Prediction(id=seq_id, label=self.problem.label_text(names, row), probabilities={}, windows=windows,
                              values=values)
        probabilities = {name: float(p) for name, p in zip(names, row, strict=True)}
        if self.problem.name == MULTI_LABEL:
            thresholds = self.info.thresholds or [DEFAULT_THRESHOLD] * len(names)
            on = [int(p >= t) for p, t in zip(row, thresholds, strict=True)]
            return Prediction(id=seq_id, label=self.problem.label_text(names, on), probabilities=probabilities,
                              windows=windows, labels=[name for name, flag in zip(names, on, strict=True) if flag])
        return Prediction(id=seq_id, label=names[int(row.argmax())], probabilities=probabilities, windows=windows)

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _windows(self, clean: list[str], batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Probabilities and window tracks of already validated sequences."""
        if self.probe_head is not None:
            return self._probe_windows(self.probe_head, clean, batch_size=batch_size, adapter=True)
        return predict_windowed(self.model, self.tokenizer, clean, max_length=self.max_length,
                                windowing=self.windowing, batch_size=batch_size, problem=self.problem)

    def _adapter(self, enabled: bool):
        if enabled or not hasattr(self.model, "disable_adapter"):
            return nullcontext()
        return self.model.disable_adapter()

    def _probe_windows(self, head: LinearHead, sequences: list[str], *, batch_size: int,
                       adapter: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        pieces, owner = cut_windows(sequences, self.windowing)
        with self._adapter(enabled=adapter):
            features = extract_embeddings(self.model, self.tokenizer, pieces, max_length=self.max_length,
                                          batch_size=batch_size)
        return average_windows(self.problem.outputs(head.logits(features)), owner, len(sequences))


def resolve_run_source(source: str | Path, *, revision: str | None = None, token: str | None = None) -> tuple[Path, str]:
    """(local folder, display name) for a run folder, a downloaded snapshot or a Hub repo id (downloaded).

    Raises:
        RunFolderError: a path that does not exist. HubError: an invalid or unreachable repo id.
    """
    text = str(source)
    local = Path(text).expanduser()
    if local.is_dir():
        return local, local.name
    if text.startswith((".", "/", "~")) or "\\" in text:
        raise RunFolderError(f"Run folder {local.name or text} does not exist. Pass a finished run folder or a Hub "
                             "repo id (user/name).")
    repo_id = validate_repo_id(text)
    return download_repo(repo_id, revision=revision, token=token), repo_id


def read_run_info(folder: Path, where: str, *, label_names: list[str] | None = None,
                  token: str | None = None) -> RunInfo:
    """The RunInfo of a folder (hubtune.json), or one made for a plain peft adapter; `label_names` may rename classes.

    Raises:
        RunFolderError: unreadable hubtune.json, or a plain adapter without labels. HubError: wrong number of labels.
    """
    unfinished = folder.name.endswith(".partial")
    if not (folder / INFO_FILE).is_file() and (folder / ADAPTER_CONFIG_FILE).is_file() and not unfinished:
        return plain_adapter_info(folder, label_names, where=where, token=token)
    info = RunInfo.read(folder)  # names what is missing (and a '.partial' folder as an unfinished run)
    if label_names:
        if len(label_names) != len(info.label_names):
            raise HubError(
                f"{where} has {len(info.label_names)} classes ({', '.join(info.label_names)}) but "
                f"{len(label_names)} label names were given."
            )
        info.label_names = list(label_names)
    return info


def load_classifier(
    source: str | Path,
    *,
    revision: str | None = None,
    device: str | None = None,
    label_names: list[str] | None = None,
    token: str | None = None,
    base_model_instance: Any = None,
) -> Classifier:
    """Load a hubtune model (run folder, downloaded snapshot or Hub repo id) as a ready `Classifier`.

    Reads `hubtune.json` (labels, max length, windowing, base model and revision) and loads the model through
    `hubtune.run.load_run_model`: the base with `hubtune.load_base_model` plus the adapter with
    `PeftModel.from_pretrained` (full/freeze runs load whole; probe runs use the frozen base + their probe head).

    Args:
        source: a run folder, or `user/name` on the hub in HF_ENDPOINT.
        revision: branch, tag or commit of the repo.
        device: "cpu", "cuda", ...; default: CUDA when available.
        label_names: class names, required for a plain peft adapter without `hubtune.json`; for hubtune models they
            may rename the classes (same count).
        token: for private repos; default: HF_TOKEN or the saved login.
        base_model_instance: an already loaded base classification model to reuse (it is copied, never modified).

    Example:
        >>> clf = hubtune.load_classifier("alice/nt2-50m-tata-lora")  # doctest: +SKIP
        >>> [p.label for p in clf.predict(["TATAAAAGGCGCGCC..."])]  # doctest: +SKIP
        ['promoter']

    Raises:
        HubError: the repo cannot be found or downloaded. RunFolderError: the labels are unknown or hubtune.json is
        damaged. ModelError: the adapter does not fit its base.
    """
    folder, where = resolve_run_source(source, revision=revision, token=token)
    info = read_run_info(folder, where, label_names=label_names, token=token)
    base_factory = None
    if base_model_instance is not None:
        def base_factory() -> Any:
            return _copy_base(base_model_instance, info.label_names, where)
    loaded = load_run_model(folder, info=info, device=device, token=token, base_model=base_factory)
    return Classifier.from_loaded(loaded)


def _copy_base(instance: Any, labels: list[str], where: str) -> Any:
    if hasattr(instance, "peft_config"):
        raise ModelError("base_model_instance must be the plain base model, not a PeftModel with an adapter attached.")
    n_out = getattr(getattr(instance, "config", None), "num_labels", None)
    if n_out is not None and n_out != len(labels):
        raise ModelError(
            f"base_model_instance has a {n_out}-class head but {where} has {len(labels)} classes. Load the base with "
            f"hubtune.load_base_model(base, num_labels={len(labels)})."
        )
    model = copy.deepcopy(instance)  # PeftModel.from_pretrained injects layers in place: keep the caller's intact
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {name: i for i, name in enumerate(labels)}
    return model


def evaluate_run(source: str | Path, data: str, *, batch_size: int = INFERENCE_BATCH_SIZE,
                 max_rows: int | None = None, device: str | None = None, revision: str | None = None,
                 token: str | None = None) -> dict[str, Any]:
    """Score a run (folder or Hub repo id, as for `load_classifier`) on another labelled dataset (all its splits).

    Labels are matched by name; data labelled 0..k-1 take the run's class names in that order. Multi-label and
    regression data are read from the columns the run was trained on (its `label_column` / `label_columns`), and
    multi-label F1 uses the run's dev-tuned thresholds.

    Example:
        >>> hubtune.evaluate_run("runs/tata-lora", "data/other-promoters.csv")["test"]["mcc"]  # doctest: +SKIP
        0.41
    """
    # Settings and data first: a dataset that cannot be scored is refused before any model is loaded.
    folder, where = resolve_run_source(source, revision=revision, token=token)
    info = read_run_info(folder, where, token=token)
    labels = list(info.label_names)
    try:
        # The run's class names fix the label ids: raw labels may be those names or the ids 0..k-1.
        training = info.training or {}
        task = load_task(data, max_rows=max_rows, label_names=labels, problem_type=info.problem_type,
                         label_column=training.get("label_column") or "label",
                         sequence_column=training.get("sequence_column") or "sequence",
                         label_columns=training.get("label_columns"))
    except DataError as exc:
        kind = info.problem.output_kind
        raise DataError(f"{data} has labels the run never saw, or cannot be read as labelled data: {exc} The run "
                        f"{where} was trained on the {kind}s {', '.join(labels)}; evaluate it on data labelled with "
                        "those names" + (" (or their ids 0..k-1)." if kind == "class" else ".")) from None
    classifier = Classifier.from_loaded(load_run_model(folder, info=info, device=device))
    return {split_name: info.problem.score(split.labels, classifier.predict_outputs(split.sequences,
                                                                                  batch_size=batch_size),
                                           labels, thresholds=info.thresholds)
            for split_name, split in task.splits.items()}


__all__ = ["Classifier", "Prediction", "evaluate_run", "load_classifier", "read_run_info", "resolve_run_source",
           "validate_sequences"]
