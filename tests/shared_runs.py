"""Trained runs that several test files share, so each trains once per test session."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest


def shared_tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small LoRA run on the bundled task, in the session's base temp folder (trained on first use)."""
    from hubtune.data import example_task_path
    from hubtune.train import TrainConfig, finetune

    folder = tmp_path_factory.getbasetemp() / "shared-tiny-lora-run"
    if not (folder / "hubtune.json").is_file():
        finetune(TrainConfig(model="tiny-nt", data=str(example_task_path()), method="lora", max_steps=20,
                             eval_steps=10, max_rows=100, output=str(folder), overwrite=True))
    return folder


def shared_task_run(tmp_path_factory: pytest.TempPathFactory, problem: str, method: str = "lora") -> Path:
    """One small run on a generated multi-label ("binding") or regression ("activity") example task (trained on
    first use, shared by the session)."""
    from hubtune.data.example_tasks import ACTIVITY_TARGETS, BINDING_LABELS, activity_task_path, binding_task_path
    from hubtune.train import TrainConfig, finetune

    data, columns = ((activity_task_path(), ACTIVITY_TARGETS) if problem == "regression" else
                     (binding_task_path(), BINDING_LABELS))
    folder = tmp_path_factory.getbasetemp() / f"shared-{problem}-{method}-run"
    if not (folder / "hubtune.json").is_file():
        finetune(TrainConfig(model="tiny-nt", data=str(data), label_columns=",".join(columns), method=method,
                             max_steps=20, eval_steps=10, max_rows=100, output=str(folder), overwrite=True))
    return folder


def import_script(name: str, path: Path):
    """Import a script that lives outside any package (space/app.py, bench/*.py) once per process."""
    import importlib.util
    import os
    import sys

    if name not in sys.modules:
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Tiny models on a shared 2-core runner are many times faster single-threaded (no thread oversubscription)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
