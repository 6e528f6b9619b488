"""`Classifier`: a loaded model + tokenizer + windowing rule that turns DNA strings into labels and probabilities.

Used by `Run.predict`, `hubtune predict`, `hubtune.load_classifier` (from the Hub) and the Space.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .evaluate import LinearHead, Windowing, extract_embeddings, predict_windowed
from .run import BASE_PROBE_FILE, PROBE_HEAD_FILE, Prediction


def _as_records(sequences: Sequence[str] | Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    from .data import clean_sequence

    records = []
    for i, item in enumerate(sequences):
        seq_id, raw = item if isinstance(item, tuple) else (f"seq{i + 1}", item)
        clean, _ = clean_sequence(raw, where=f"sequence {i + 1} ({seq_id})")
        records.append((seq_id, clean))
    if not records:
        raise DataError("No sequences to classify.")
    return records


@dataclass
class Classifier:
    """A trained sequence classifier ready for inference (eval mode, no gradients, batched)."""

    model: Any
    tokenizer: Any
    label_names: list[str]
    max_length: int
    windowing: Windowing
    method: str = "lora"
    probe_head: LinearHead | None = None  # the classifier itself for probe runs
    base_probe_head: LinearHead | None = None  # the pre-trained model's probe, for base-vs-fine-tuned comparisons
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_run(cls, run, device: str | None = None) -> Classifier:
        folder = Path(run.path)
        return cls.from_folder(folder, run.info, run.load_model(), run.load_tokenizer(), device=device)

    @classmethod
    def from_folder(cls, folder: Path, info: dict[str, Any], model, tokenizer, device: str | None = None) -> Classifier:
        model = _to_device(model, device)
        model.eval()
        probe_head = _load_head(folder / PROBE_HEAD_FILE)
        base_head = _load_head(folder / BASE_PROBE_FILE)
        return cls(
            model=model,
            tokenizer=tokenizer,
            label_names=list(info["label_names"]),
            max_length=int(info["max_length"]),
            windowing=Windowing(int(info["window_bp"]), int(info["stride_bp"])),
            method=info.get("method", "lora"),
            probe_head=probe_head,
            base_probe_head=base_head,
            info=info,
        )

    # -- inference -------------------------------------------------------------------------------------------------
    def predict_proba(self, sequences: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Class probabilities, shape (n, n_classes); long sequences are averaged over sliding windows."""
        return self.predict_windows(sequences, batch_size=batch_size)[0]

    def predict_windows(self, sequences: Sequence[str], *, batch_size: int = 32) -> tuple[np.ndarray, list[np.ndarray]]:
        """Per-sequence probabilities and each sequence's per-window probability track."""
        if self.probe_head is not None:
            return self._probe_windows(self.probe_head, sequences, batch_size=batch_size, adapter=True)
        return predict_windowed(self.model, self.tokenizer, list(sequences), max_length=self.max_length,
                                windowing=self.windowing, batch_size=batch_size)

    def predict_base_proba(self, sequences: Sequence[str], *, batch_size: int = 32) -> np.ndarray | None:
        """The pre-trained model's answer (frozen base + the probe head shipped with the run), or None."""
        if self.base_probe_head is None:
            return None
        return self._probe_windows(self.base_probe_head, sequences, batch_size=batch_size, adapter=False)[0]

    def embeddings(self, sequences: Sequence[str], *, fine_tuned: bool = True, batch_size: int = 32) -> np.ndarray:
        """Mean-pooled last-layer embeddings of the fine-tuned (or, with `fine_tuned=False`, the pre-trained) encoder."""
        with self._adapter(enabled=fine_tuned):
            return extract_embeddings(self.model, self.tokenizer, [s[: self.windowing.window_bp] for s in sequences],
                                      max_length=self.max_length, batch_size=batch_size)

    def predict(self, sequences: Sequence[str] | Sequence[tuple[str, str]], *, batch_size: int = 32) -> list[Prediction]:
        """Labels and probabilities for raw DNA strings or (id, sequence) pairs (validated and uppercased first)."""
        records = _as_records(sequences)
        probs, tracks = self.predict_windows([s for _, s in records], batch_size=batch_size)
        out = []
        for (seq_id, _), row, track in zip(records, probs, tracks, strict=True):
            out.append(Prediction(
                id=seq_id,
                label=self.label_names[int(row.argmax())],
                probabilities={name: float(p) for name, p in zip(self.label_names, row, strict=True)},
                windows=len(track),
            ))
        return out

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _adapter(self, enabled: bool):
        if enabled or not hasattr(self.model, "disable_adapter"):
            return nullcontext()
        return self.model.disable_adapter()

    def _probe_windows(self, head: LinearHead, sequences: Sequence[str], *, batch_size: int,
                       adapter: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        pieces, owner = [], []
        for i, seq in enumerate(sequences):
            for window in self.windowing.windows(seq):
                pieces.append(window)
                owner.append(i)
        with self._adapter(enabled=adapter):
            features = extract_embeddings(self.model, self.tokenizer, pieces, max_length=self.max_length,
                                          batch_size=batch_size)
        probs = head.probs(features)
        tracks: list[list[np.ndarray]] = [[] for _ in sequences]
        for row, i in zip(probs, owner, strict=True):
            tracks[i].append(row)
        per_window = [np.stack(t) for t in tracks]
        return np.stack([t.mean(axis=0) for t in per_window]), per_window


def _load_head(path: Path) -> LinearHead | None:
    if not path.is_file():
        return None
    from safetensors.numpy import load_file

    return LinearHead.from_tensors(load_file(str(path)))


def _to_device(model, device: str | None):
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(device)
    if device.startswith("cuda"):
        model = model.half()  # inference only: half precision halves memory and time on GPUs
    return model
