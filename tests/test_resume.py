"""Kill and resume: a `hubtune train` process killed with SIGKILL mid-run leaves no complete-looking run folder, and
`--resume` continues from its last Trainer checkpoint to exactly the metrics of an uninterrupted run of the same seed.

Every process runs with one CPU thread. With two threads, MKL may split a matrix product differently when the
machine is busy (MKL_DYNAMIC), so two uninterrupted runs of the same seed occasionally differ in the last bits of
the loss; with one thread every run is bit-identical, which is what lets this test demand exact equality.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hubtune.data import example_task_path

MAX_STEPS = 16
EVAL_STEPS = 4
# Keys of the Trainer's log entries that are not model results: timings, and the end-of-training `train_loss`,
# which the Trainer averages over the losses computed in the current process only (after a resume, the steps before
# the checkpoint contribute nothing), so it is bookkeeping that differs by design, not a metric of the model.
_NOT_MODEL_KEYS = {"eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "train_runtime",
                   "train_samples_per_second", "train_steps_per_second", "train_loss"}


def _command(output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "hubtune.cli", "train", "--model", "tiny-nt", "--data", str(example_task_path()),
        "--max-steps", str(MAX_STEPS), "--eval-steps", str(EVAL_STEPS), "--max-rows", "64", "--batch-size", "8",
        "--patience", "2", "--output", str(output), "--seed", "3", "--no-baselines", *extra,
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "HUBTUNE_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}


def _complete_checkpoints(staging: Path) -> list[Path]:
    # The Trainer writes trainer_state.json last, so its presence marks a checkpoint it could resume from.
    return sorted(staging.glob("checkpoints/seed-3/checkpoint-*/trainer_state.json"))


def _model_log(log: list[dict]) -> list[dict]:
    return [{k: v for k, v in entry.items() if k not in _NOT_MODEL_KEYS} for entry in log]


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_metrics_of_an_uninterrupted_run(tmp_path: Path):
    killed_out = tmp_path / "killed"
    staging = tmp_path / "killed.partial"
    env = _env()

    # The uninterrupted reference runs alongside (one thread each, so the two cores are used in parallel).
    reference_out = tmp_path / "reference"
    reference = subprocess.Popen(_command(reference_out), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
    victim = subprocess.Popen(_command(killed_out), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    try:
        while not _complete_checkpoints(staging) and victim.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert victim.poll() is None, f"training ended before a checkpoint was seen:\n{victim.stderr.read()[-3000:]}"
        assert _complete_checkpoints(staging), "no checkpoint appeared within the time limit"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    except BaseException:
        reference.kill()
        reference.communicate()
        raise
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        victim.stderr.close()
    assert victim.returncode == -signal.SIGKILL

    # Killed mid-way: nothing looks like a finished run.
    assert not killed_out.exists()
    assert not list(staging.rglob("hubtune.json"))
    saved_steps = [int(p.parent.name.rsplit("-", 1)[1]) for p in _complete_checkpoints(staging)]
    assert max(saved_steps) < MAX_STEPS

    resumed = subprocess.run(_command(killed_out, "--resume"), cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
    _, reference_err = reference.communicate(timeout=300)
    assert reference.returncode == 0, reference_err[-3000:]
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    resumed_from = [line for line in resumed.stderr.splitlines() if line.startswith("resuming seed 3 from")]
    assert resumed_from, resumed.stderr[-3000:]
    step = int(resumed_from[0].rsplit("checkpoint-", 1)[1])
    assert step in saved_steps and 0 < step < MAX_STEPS

    # The resumed run is a normal finished run folder: staging renamed, Trainer checkpoints (pickles) gone.
    assert (killed_out / "hubtune.json").is_file()
    assert not staging.exists()
    assert not (killed_out / "checkpoints").exists()

    reference_metrics = json.loads((reference_out / "metrics.json").read_text())
    resumed_metrics = json.loads((killed_out / "metrics.json").read_text())
    assert resumed_metrics["finetuned"] == reference_metrics["finetuned"]
    assert resumed_metrics["per_seed"][0]["best_step"] == reference_metrics["per_seed"][0]["best_step"]
    # Step by step: every logged train loss, grad norm, learning rate and dev metric is identical, including the
    # steps trained before the kill (restored from the checkpoint's trainer state) and the early-stopping decision.
    reference_log = json.loads((reference_out / "training_log.json").read_text())["seed-3"]
    resumed_log = json.loads((killed_out / "training_log.json").read_text())["seed-3"]
    assert _model_log(resumed_log) == _model_log(reference_log)


def test_resume_skips_a_checkpoint_whose_trainer_state_was_cut_off(tmp_path: Path):
    """A kill while the Trainer writes trainer_state.json (it is written last, not atomically) leaves a checkpoint
    with a truncated state file; --resume must fall back to the previous complete checkpoint.

    Taking any checkpoint that merely has the file would make `hubtune train --resume` die in the Trainer with a
    json.JSONDecodeError.
    """
    from hubtune.trainer import last_complete_checkpoint

    seed_dir = tmp_path / "checkpoints" / "seed-3"
    for step in (4, 8):
        (seed_dir / f"checkpoint-{step}").mkdir(parents=True)
    state = json.dumps({"global_step": 4, "log_history": [{"loss": 0.69, "step": 4}], "best_metric": 0.1})
    (seed_dir / "checkpoint-4" / "trainer_state.json").write_text(state)
    (seed_dir / "checkpoint-8" / "trainer_state.json").write_text(state.replace("4", "8")[: len(state) // 2])
    assert last_complete_checkpoint(seed_dir) == seed_dir / "checkpoint-4"
    (seed_dir / "checkpoint-8" / "trainer_state.json").write_text(state)
    assert last_complete_checkpoint(seed_dir) == seed_dir / "checkpoint-8"
