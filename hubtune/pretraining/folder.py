"""Claiming and committing `hubtune pretrain`'s output: `hubtune.run_output`'s rules for a pre-trained folder.

The folder contract itself (`pretraining.json`, `is_pretrained_folder`, `read_pretraining_record`) lives in
`hubtune.pretrained_folder`, below the card and the hub, which read it.
"""

from __future__ import annotations

from pathlib import Path

from ..run_output import PRETRAINED_FOLDER, claim_output, commit_run_folder

__all__ = ["claim_pretrain_output", "commit_pretrained"]


def claim_pretrain_output(output: str | Path, *, overwrite: bool = False, resume: bool = False) -> Path:
    """Check `--output` before any work; returns the staging folder `<output>.partial` (created by `open_staging`).

    Raises:
        ConfigError: as `hubtune.run_output.claim_output` for a pre-trained folder.

    Example:
        >>> staging = claim_pretrain_output("runs/nt-adapted")  # doctest: +SKIP
    """
    return claim_output(output, overwrite=overwrite, resume=resume, kind=PRETRAINED_FOLDER)


def commit_pretrained(staging: Path, output: Path, *, overwrite: bool = False) -> None:
    """Move the finished staging folder into place (an earlier pre-trained folder is replaced only now).

    Example:
        >>> commit_pretrained(Path("runs/nt-adapted.partial"), Path("runs/nt-adapted"))  # doctest: +SKIP
    """
    commit_run_folder(staging, output, overwrite=overwrite, kind=PRETRAINED_FOLDER)
