"""Where a run is written: claiming `--output`, the `<output>.partial` staging folder, and the final swap.

hubtune never deletes what it did not write. Its folders carry an owner file, `.hubtune-folder.json`: a staging
folder gets one when it is created (`kind: staging`), and a run gets one listing every file it was committed with
(`kind: run`). From that:

- `--output` is checked before any data or model is loaded (`claim_output`). A missing or empty folder is fine. A
  finished hubtune run is refused unless `--overwrite` is given, and even then only if every file in it was written by
  hubtune (its listed files, plus a `README.md` from `hubtune card`). Any other folder or file is refused whatever the
  flags.
- A leftover `<output>.partial` is continued with `--resume`, discarded with `--overwrite` (only if its owner file
  says hubtune created it), and otherwise refused with a message naming both flags.
- The swap moves an old run aside under a name unique to the process (`tempfile.mkdtemp`), never touches `<output>.old`
  or any other neighbour, and removes only that moved-aside run.
- An output or staging path that is a symbolic link is refused (the swap would replace the link, not its target).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, RunFolderError
from .jsonio import read_json_object, write_json
from .methods import METHODS
from .pretrained_folder import RECORD_FILE, is_pretrained_folder
from .run import BASE_PROBE_FILE, INFO_FILE, REQUIRED_FILES, RUN_FORMAT, TOKENIZER_FILES, TRAINING_LOG_FILE

OWNER_FILE = ".hubtune-folder.json"
OWNER_FORMAT = "hubtune-folder"
CARD_FILE = "README.md"  # written into a finished run by `hubtune card`
# What runs committed before owner files existed can hold (used only when a run has no owner file).
_LEGACY_RUN_FILES = frozenset({*REQUIRED_FILES, TRAINING_LOG_FILE, BASE_PROBE_FILE, *TOKENIZER_FILES, CARD_FILE,
                               *(name for cls in METHODS.values() for name in cls.weight_files)})
_SHOWN = 4  # names listed in a message


@dataclass(frozen=True)
class FolderKind:
    """What kind of folder hubtune writes at `--output`: how a finished one is recognised and what it must hold."""

    name: str  # the owner file's `kind`
    noun: str  # "a finished run", in messages
    command: str  # the command that writes it, in messages
    required: tuple[str, ...]
    is_finished: Callable[[Path], bool]
    legacy_files: frozenset[str] = frozenset()  # what such a folder may hold when it has no owner file


def staging_dir(output: Path) -> Path:
    """Where a run is written before it is complete: `<output>.partial`.

    Example:
        >>> staging_dir(Path("runs/tata-lora"))
        PosixPath('runs/tata-lora.partial')
    """
    return output.with_name(output.name + ".partial")


def _owner(folder: Path) -> dict[str, Any] | None:
    """The owner record of a folder hubtune created, or None."""
    data = read_json_object(folder / OWNER_FILE)
    return data if data is not None and data.get("format") == OWNER_FORMAT else None


def is_hubtune_run(folder: str | Path) -> bool:
    """True when `folder` is a real folder holding a `hubtune.json` written by hubtune (a finished run).

    Example:
        >>> is_hubtune_run("runs/tata-lora")  # doctest: +SKIP
        True
    """
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    data = read_json_object(folder / INFO_FILE)
    return data is not None and data.get("format") == RUN_FORMAT


RUN_FOLDER = FolderKind("run", "a finished run", "hubtune train", REQUIRED_FILES, is_hubtune_run, _LEGACY_RUN_FILES)
PRETRAINED_FOLDER = FolderKind("pretrained", "a pre-trained model", "hubtune pretrain", ("config.json", RECORD_FILE),
                               is_pretrained_folder)


def is_hubtune_staging(folder: str | Path) -> bool:
    """True when `folder` is a staging folder that hubtune created (it carries hubtune's owner file).

    The owner file may already list the run's files (a commit interrupted just before the final rename).

    Example:
        >>> is_hubtune_staging("runs/tata-lora.partial")  # doctest: +SKIP
        True
    """
    folder = Path(folder)
    return folder.is_dir() and not folder.is_symlink() and _owner(folder) is not None


def _files(folder: Path) -> list[str]:
    """Every file and link under `folder`, relative POSIX paths, without following links."""
    found = []
    for root, dirs, names in os.walk(folder):
        base = Path(root)
        for name in [*names, *(d for d in dirs if (base / d).is_symlink())]:
            found.append((base / name).relative_to(folder).as_posix())
    return sorted(found)


def foreign_files(run: str | Path, kind: FolderKind | None = None) -> list[str]:
    """Files in a finished folder (a run by default) that hubtune did not write there (what `--overwrite` would lose).

    hubtune's own files are those the folder's owner file lists, its owner file, and a `README.md` from
    `hubtune card`; for a folder committed before owner files existed, the file names hubtune writes into it.

    Example:
        >>> foreign_files("runs/tata-lora")  # doctest: +SKIP
        ['notes/thesis.txt']
    """
    kind = kind or RUN_FOLDER
    run = Path(run)
    owner = _owner(run)
    listed = owner.get("files") if owner and owner.get("kind") == kind.name else None
    own = set(listed) if isinstance(listed, list) else set(kind.legacy_files)
    own |= {OWNER_FILE, CARD_FILE}
    return [name for name in _files(run) if name not in own]


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _refuse_links(*paths: Path) -> None:
    for path in paths:
        if path.is_symlink():
            raise ConfigError(
                f"--output: {path} is a symbolic link. hubtune writes a run folder by renaming it into place, which "
                "would replace the link rather than write where it points: give the real folder path instead."
            )


def check_replaceable(output: Path, *, overwrite: bool, kind: FolderKind | None = None) -> None:
    """Raise ConfigError unless a folder of `kind` (a run by default) may be committed at `output`: missing, empty,
    or a finished folder of that kind with `overwrite`.

    Example:
        >>> check_replaceable(Path("runs/new-run"), overwrite=False)  # nothing there: fine  # doctest: +SKIP
    """
    kind = kind or RUN_FOLDER
    _refuse_links(output)
    if not output.exists():
        return
    if not output.is_dir():
        raise ConfigError(f"--output {output} is a file, not a folder. Choose another --output.")
    if kind.is_finished(output):
        if not overwrite:
            raise ConfigError(f"{output} already holds {kind.noun}. Choose another --output or pass --overwrite.")
        foreign = foreign_files(output, kind)
        if foreign:
            raise ConfigError(
                f"--overwrite replaces only what hubtune wrote, and {output} also holds files hubtune did not write: "
                f"{_names(foreign)}. Move them out of it, or choose another --output."
            )
        return
    entries = sorted(p.name for p in output.iterdir())
    if entries:
        what = "not a hubtune run" if kind is RUN_FOLDER else f"not written by {kind.command}"
        raise ConfigError(
            f"--output {output} is a folder that is {what} (it holds {_names(entries)}). {kind.command} never "
            "writes into or replaces it, even with --overwrite: choose a new or empty folder for --output."
        )


def _check_staging(staging: Path, output: Path, *, overwrite: bool, resume: bool) -> None:
    _refuse_links(staging)
    if not staging.exists():
        return
    ours = is_hubtune_staging(staging)
    if not ours:
        raise ConfigError(
            f"{staging} exists but was not created by hubtune (it has no {OWNER_FILE}), and hubtune would write the "
            f"run for --output {output} there. Move it away or choose another --output; neither --resume nor "
            "--overwrite touches it."
        )
    if not (resume or overwrite):
        raise ConfigError(
            f"{staging} holds an interrupted run for --output {output} (with its checkpoints). Pass --resume to "
            "continue it from its last checkpoint, or --overwrite to discard it and start again."
        )


def claim_output(output: str | Path, *, overwrite: bool = False, resume: bool = False,
                 main_process: bool = True, kind: FolderKind | None = None) -> Path:
    """Check `--output` before any work; returns the staging folder to train in (not created yet: `open_staging`).

    Args:
        output: the run folder to write.
        overwrite: allow replacing a finished hubtune run there (only if it holds nothing hubtune did not write), and
            discarding hubtune's own leftover `<output>.partial`.
        resume: continue in hubtune's own leftover `<output>.partial`.
        main_process: False on the other processes of a distributed launch: they check the output but leave the
            staging folder, which the main process creates meanwhile, to it.
        kind: what is written there (`RUN_FOLDER`, the default, or `PRETRAINED_FOLDER`).

    Raises:
        ConfigError: a symbolic link; a file; a folder that is not a hubtune run (whatever the flags); a finished
            run without `overwrite`, or one holding files hubtune did not write; a leftover `.partial` without
            `resume` or `overwrite`, or one hubtune did not create.

    Example:
        >>> staging = claim_output(Path("runs/tata-lora"), overwrite=False, resume=False)  # doctest: +SKIP
        >>> open_staging(staging, overwrite=False, resume=False)  # doctest: +SKIP
    """
    output = Path(output)
    if output.name in ("", ".", ".."):
        raise ConfigError(f"--output {str(output)!r} must end in the name of the run folder to write, e.g. runs/my-run.")
    check_replaceable(output, overwrite=overwrite, kind=kind)
    staging = staging_dir(output)
    if main_process:
        _check_staging(staging, output, overwrite=overwrite, resume=resume)
    return staging


def open_staging(staging: Path, *, overwrite: bool = False, resume: bool = False) -> None:
    """Create the staging folder with hubtune's owner file (main process only, once data and model are known good).

    With `resume`, hubtune's own leftover staging folder is kept; with `overwrite`, it is emptied first. A staging
    folder hubtune did not create is never touched.

    Raises:
        ConfigError: as `claim_output`, if the staging folder changed since it was checked.

    Example:
        >>> open_staging(Path("runs/tata-lora.partial"), resume=True)  # doctest: +SKIP
    """
    output = staging.with_name(staging.name.removesuffix(".partial"))
    _check_staging(staging, output, overwrite=overwrite, resume=resume)
    if staging.exists() and not resume:
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    if not is_hubtune_staging(staging):
        write_json(staging / OWNER_FILE, {"format": OWNER_FORMAT, "kind": "staging", "output": output.name})


def commit_run_folder(staging: Path, output: Path, *, overwrite: bool = False,
                      kind: FolderKind | None = None) -> None:
    """Move a finished staging folder into place; an old run (allowed by `overwrite`) is replaced only now.

    The owner file is rewritten to list the run's files first, so a later `--overwrite` knows what hubtune wrote.

    Raises:
        RunFolderError: a required file was not written.
        ConfigError: `output` is (now) not replaceable, see `check_replaceable`.

    Example:
        >>> commit_run_folder(Path("runs/tata-lora.partial"), Path("runs/tata-lora"), overwrite=True)  # doctest: +SKIP
    """
    kind = kind or RUN_FOLDER
    missing = [name for name in kind.required if not (staging / name).is_file()]
    if missing:
        raise RunFolderError(f"Refusing to finish {output}: {', '.join(missing)} not written.")
    check_replaceable(output, overwrite=overwrite, kind=kind)
    files = [name for name in _files(staging) if name != OWNER_FILE]
    write_json(staging / OWNER_FILE, {"format": OWNER_FORMAT, "kind": kind.name, "files": files})
    if not kind.is_finished(output):  # missing or empty: a rename replaces an empty folder, and fails on anything else
        try:
            os.replace(staging, output)
        except OSError as exc:
            raise ConfigError(f"Could not move the finished run into --output {output} ({exc.strerror}); it is "
                              f"complete in {staging}.") from None
        return
    # A unique, freshly created name: no neighbour (such as <output>.old) is ever replaced or removed.
    aside = Path(tempfile.mkdtemp(prefix=f"{output.name}.", suffix=".old", dir=output.parent))
    os.replace(output, aside)
    try:
        os.replace(staging, output)
    except OSError:
        os.replace(aside, output)
        raise
    shutil.rmtree(aside, ignore_errors=True)  # the old run only: every file in it was checked to be hubtune's


__all__ = [
    "OWNER_FILE",
    "PRETRAINED_FOLDER",
    "RUN_FOLDER",
    "FolderKind",
    "check_replaceable",
    "claim_output",
    "commit_run_folder",
    "foreign_files",
    "is_hubtune_run",
    "is_hubtune_staging",
    "open_staging",
    "staging_dir",
]
