"""Trained runs that several test files share, so each trains once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


def shared_tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small LoRA run on the bundled task, in the session's base temp folder (trained on first use)."""
    from hubtune.data import example_task_path
    from hubtune.train import finetune

    folder = tmp_path_factory.getbasetemp() / "shared-tiny-lora-run"
    if not (folder / "hubtune.json").is_file():
        finetune(model="tiny-nt", data=str(example_task_path()), method="lora", max_steps=20, eval_steps=10,
                 max_rows=100, output=str(folder), overwrite=True)
    return folder
