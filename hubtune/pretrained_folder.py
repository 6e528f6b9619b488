"""The pre-trained base folder contract: what `hubtune pretrain` writes and how it is recognised.

A pre-trained folder is a model folder in its family's published layout (config.json, weights with the masked-LM
head, tokenizer files) plus `pretraining.json` (corpus, steps, held-out loss before and after) and `pretraining.png`.
It is not a run (it has no `hubtune.json`): `hubtune train --model DIR` fine-tunes it and `hubtune push DIR` publishes
it as a base model. Claiming and committing it follow `hubtune.run_output` (folder kind `PRETRAINED_FOLDER`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RunFolderError
from .jsonio import read_json_object

RECORD_FILE = "pretraining.json"
PLOT_FILE = "pretraining.png"
RECORD_FORMAT = "hubtune-pretraining"
RECORD_VERSION = 1

__all__ = [
    "PLOT_FILE",
    "RECORD_FILE",
    "RECORD_FORMAT",
    "RECORD_VERSION",
    "PretrainedBase",
    "is_pretrained_folder",
    "read_pretraining_record",
]


@dataclass(frozen=True)
class PretrainedBase:
    """A pre-trained folder and its record (see `read_pretraining_record`)."""

    path: Path
    record: dict[str, Any]

    @property
    def loss_before(self) -> float | None:
        return (self.record.get("eval") or {}).get("before", {}).get("loss")

    @property
    def loss_after(self) -> float | None:
        return (self.record.get("eval") or {}).get("after", {}).get("loss")


def is_pretrained_folder(folder: str | Path) -> bool:
    """True when `folder` is a real folder with a `pretraining.json` written by `hubtune pretrain`.

    Example:
        >>> is_pretrained_folder("runs/nt-adapted")  # doctest: +SKIP
        True
    """
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    record = read_json_object(folder / RECORD_FILE)
    return record is not None and record.get("format") == RECORD_FORMAT


def read_pretraining_record(folder: str | Path) -> PretrainedBase:
    """The record of a pre-trained folder.

    Raises:
        RunFolderError: `folder` is not a folder written by `hubtune pretrain`.

    Example:
        >>> read_pretraining_record("runs/nt-adapted").loss_after  # doctest: +SKIP
        6.91
    """
    folder = Path(folder)
    if not is_pretrained_folder(folder):
        raise RunFolderError(f"{folder} is not a folder written by `hubtune pretrain` (no valid {RECORD_FILE}).")
    return PretrainedBase(folder, read_json_object(folder / RECORD_FILE) or {})
