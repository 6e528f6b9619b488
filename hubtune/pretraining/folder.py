"""The pre-trained base folder: what `hubtune pretrain` writes, how it is recognised, claimed and put in place.

A pre-trained folder is a model folder in its family's published layout (config.json, weights with the masked-LM
head, tokenizer files) plus `pretraining.json` (this module's record: corpus, steps, held-out loss before and after)
and `pretraining.png`. It is not a run (it has no `hubtune.json`): `hubtune train --model DIR` fine-tunes it and
`hubtune push DIR` publishes it as a base model.

Output safety follows `hubtune.run_output`: `--output` is checked before any work; a missing or empty folder is
fine; an earlier pre-trained folder is replaced only with `--overwrite` and only if every file in it was written by
hubtune (its owner file lists them); anything else is refused whatever the flags; work happens in hubtune's own
`<output>.partial` (continued with `--resume`) and is swapped into place at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RunFolderError
from ..jsonio import write_json
from ..run_output import OWNER_FILE, OWNER_FORMAT, is_hubtune_run, is_hubtune_staging, staging_dir

RECORD_FILE = "pretraining.json"
PLOT_FILE = "pretraining.png"
RECORD_FORMAT = "hubtune-pretraining"
RECORD_VERSION = 1
OWNER_KIND = "pretrained"
_SHOWN = 4

__all__ = [
    "OWNER_KIND",
    "PLOT_FILE",
    "RECORD_FILE",
    "RECORD_FORMAT",
    "PretrainedBase",
    "claim_pretrain_output",
    "commit_pretrained",
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


def _read_json(path: Path) -> dict[str, Any] | None:
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_pretrained_folder(folder: str | Path) -> bool:
    """True when `folder` is a real folder with a `pretraining.json` written by `hubtune pretrain`.

    Example:
        >>> is_pretrained_folder("runs/nt-adapted")  # doctest: +SKIP
        True
    """
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    record = _read_json(folder / RECORD_FILE)
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
    return PretrainedBase(folder, _read_json(folder / RECORD_FILE) or {})


def _files(folder: Path) -> list[str]:
    found = []
    for root, dirs, names in os.walk(folder):
        base = Path(root)
        for name in [*names, *(d for d in dirs if (base / d).is_symlink())]:
            found.append((base / name).relative_to(folder).as_posix())
    return sorted(found)


def _foreign(folder: Path) -> list[str]:
    """Files in a pre-trained folder that its owner file does not list (hubtune did not write them)."""
    owner = _read_json(folder / OWNER_FILE) or {}
    listed = owner.get("files") if owner.get("kind") == OWNER_KIND else None
    own = set(listed) if isinstance(listed, list) else set()
    own |= {OWNER_FILE}
    return [name for name in _files(folder) if name not in own]


def _names(items: list[str]) -> str:
    return ", ".join(items[:_SHOWN]) + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _check_replaceable(output: Path, *, overwrite: bool) -> None:
    if output.is_symlink():
        raise ConfigError(f"--output {output} is a symbolic link; give the real folder path (hubtune renames the "
                          "finished folder into place, which would replace the link).")
    if not output.exists():
        return
    if not output.is_dir():
        raise ConfigError(f"--output {output} is a file, not a folder. Choose another --output.")
    if is_pretrained_folder(output):
        if not overwrite:
            raise ConfigError(f"{output} already holds a pre-trained model. Choose another --output or pass "
                              "--overwrite.")
        foreign = _foreign(output)
        if foreign:
            raise ConfigError(f"--overwrite replaces only what hubtune wrote, and {output} also holds files hubtune "
                              f"did not write: {_names(foreign)}. Move them out of it, or choose another --output.")
        return
    entries = sorted(p.name for p in output.iterdir())
    if entries:
        kind = "a fine-tuning run" if is_hubtune_run(output) else "a folder hubtune pretrain did not write"
        raise ConfigError(f"--output {output} is {kind} (it holds {_names(entries)}). hubtune pretrain never writes "
                          "into or replaces it, even with --overwrite: choose a new or empty folder for --output.")


def claim_pretrain_output(output: str | Path, *, overwrite: bool = False, resume: bool = False) -> Path:
    """Check `--output` before any work; returns the staging folder `<output>.partial` (created by `open_staging`).

    Raises:
        ConfigError: a symbolic link, a file, a folder that `hubtune pretrain` did not write (whatever the flags),
            an earlier pre-trained folder without `overwrite` or holding files hubtune did not write, a leftover
            `.partial` without `resume`/`overwrite` or one hubtune did not create.

    Example:
        >>> staging = claim_pretrain_output("runs/nt-adapted")  # doctest: +SKIP
    """
    output = Path(output)
    if output.name in ("", ".", ".."):
        raise ConfigError(f"--output {str(output)!r} must end in the name of the folder to write, e.g. runs/nt-adapted.")
    _check_replaceable(output, overwrite=overwrite)
    staging = staging_dir(output)
    if staging.is_symlink():
        raise ConfigError(f"{staging} is a symbolic link; hubtune pretrain does not write through it.")
    if staging.exists():
        if not is_hubtune_staging(staging):
            raise ConfigError(f"{staging} exists but was not created by hubtune (it has no {OWNER_FILE}); move it "
                              f"away or choose another --output. Neither --resume nor --overwrite touches it.")
        if not (resume or overwrite):
            raise ConfigError(f"{staging} holds an interrupted pre-training for --output {output}. Pass --resume to "
                              "continue it from its last checkpoint, or --overwrite to discard it and start again.")
    return staging


def commit_pretrained(staging: Path, output: Path, *, overwrite: bool = False) -> None:
    """Move the finished staging folder into place, listing its files in the owner file first.

    Raises:
        RunFolderError: the record or config.json was not written.
        ConfigError: `output` is (now) not replaceable.

    Example:
        >>> commit_pretrained(Path("runs/nt-adapted.partial"), Path("runs/nt-adapted"))  # doctest: +SKIP
    """
    missing = [name for name in ("config.json", RECORD_FILE) if not (staging / name).is_file()]
    if missing:
        raise RunFolderError(f"Refusing to finish {output}: {', '.join(missing)} not written.")
    _check_replaceable(output, overwrite=overwrite)
    files = [name for name in _files(staging) if name != OWNER_FILE]
    write_json(staging / OWNER_FILE, {"format": OWNER_FORMAT, "kind": OWNER_KIND, "files": files})
    if not is_pretrained_folder(output):  # missing or empty
        try:
            os.replace(staging, output)
        except OSError as exc:
            raise ConfigError(f"Could not move the pre-trained model into --output {output} ({exc.strerror}); it is "
                              f"complete in {staging}.") from None
        return
    aside = Path(tempfile.mkdtemp(prefix=f"{output.name}.", suffix=".old", dir=output.parent))
    os.replace(output, aside)
    try:
        os.replace(staging, output)
    except OSError:
        os.replace(aside, output)
        raise
    shutil.rmtree(aside, ignore_errors=True)  # the old folder only: every file in it was checked to be hubtune's
