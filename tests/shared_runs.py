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


def train_tiny_masked_lm(sequences: list[str], steps: int, folder: Path) -> str:
    """tiny-nt after `steps` of a short, seeded masked-LM training on `sequences` (all of one length, so no padding),
    saved with its tokenizer to `folder`; returns the folder. Its masked-LM head then models that DNA."""
    import torch

    from hubtune.models import load_base_model, load_tokenizer

    torch.manual_seed(0)
    model, tokenizer = load_base_model("tiny-nt", task="mlm"), load_tokenizer("tiny-nt")
    ids = tokenizer(list(sequences), return_tensors="pt")["input_ids"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        batch = ids[torch.randint(0, len(sequences), (16,), generator=generator)].clone()
        masked = torch.rand(batch.shape, generator=generator) < 0.15
        masked[:, 0] = False  # <cls>
        labels = torch.where(masked, batch, torch.full_like(batch, -100))
        batch[masked] = tokenizer.mask_token_id
        model(input_ids=batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return str(folder)


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
