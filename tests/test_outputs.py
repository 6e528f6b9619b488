"""hubtune never deletes what it did not write: `--output`, `--overwrite`, leftover `.partial` folders and the demo.

Most checks call the output-folder functions directly (fast); a few go through `hubtune train` / `hubtune demo` to
show the refusal comes before any data or model is loaded, as one paragraph with exit code 2.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hubtune.cli import main
from hubtune.errors import ConfigError
from hubtune.run_output import (
    OWNER_FILE,
    check_replaceable,
    claim_output,
    commit_run_folder,
    foreign_files,
    is_hubtune_staging,
    open_staging,
    staging_dir,
)

RUN_FILES = {"hubtune.json": '{"format": "hubtune-run"}\n', "metrics.json": "{}\n", "leakage.json": "{}\n",
             "adapter_model.safetensors": "weights"}


def _stage(output: Path, *, overwrite: bool = False, resume: bool = False, marker: str = "") -> Path:
    """What training does: claim the output, open the staging folder, write the run files into it."""
    staging = claim_output(output, overwrite=overwrite, resume=resume)
    open_staging(staging, overwrite=overwrite, resume=resume)
    for name, text in RUN_FILES.items():
        (staging / name).write_text(text)
    (staging / "metrics.json").write_text(json.dumps({"marker": marker}))
    return staging


def _train(output: Path, *, overwrite: bool = False, marker: str = "") -> None:
    commit_run_folder(_stage(output, overwrite=overwrite, marker=marker), output, overwrite=overwrite)


def _marker(run: Path) -> str:
    return json.loads((run / "metrics.json").read_text())["marker"]


# ---------------------------------------------------------------------------------------------------------------------
# --output and --overwrite
# ---------------------------------------------------------------------------------------------------------------------


def test_overwrite_never_replaces_a_folder_that_is_not_a_run(tmp_path: Path):
    output = tmp_path / "thesis"
    output.mkdir()
    (output / "thesis.txt").write_text("three years of work")
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match=r"not a hubtune run.*thesis\.txt.*even with --overwrite"):
            claim_output(output, overwrite=overwrite)
    # Also at the final swap, should the folder appear while a run trains.
    other = tmp_path / "elsewhere"
    staging = _stage(other)
    with pytest.raises(ConfigError, match="not a hubtune run"):
        commit_run_folder(staging, output, overwrite=True)
    assert (output / "thesis.txt").read_text() == "three years of work"
    assert staging.is_dir()  # the finished run is kept, not thrown away


def test_a_file_at_the_output_path_is_refused(tmp_path: Path):
    output = tmp_path / "notes.txt"
    output.write_text("keep")
    with pytest.raises(ConfigError, match="is a file"):
        claim_output(output, overwrite=True)
    assert output.read_text() == "keep"


def test_an_empty_folder_is_accepted_as_output(tmp_path: Path):
    output = tmp_path / "made-by-hand"
    output.mkdir()
    _train(output, marker="first")
    assert _marker(output) == "first"


def test_overwrite_replaces_a_finished_run_and_nothing_next_to_it(tmp_path: Path):
    output = tmp_path / "run"
    _train(output, marker="first")
    with pytest.raises(ConfigError, match="already holds a finished run.*--overwrite"):
        claim_output(output)
    neighbour = tmp_path / "run.old"  # a name the swap once used for itself
    neighbour.mkdir()
    (neighbour / "keep.txt").write_text("mine")
    (output / "README.md").write_text("# card from `hubtune card`\n")  # hubtune's own: replaced with the run
    _train(output, overwrite=True, marker="second")
    assert _marker(output) == "second"
    assert not (output / "README.md").exists()
    assert (neighbour / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run.old"]  # nothing moved aside is left behind


def test_overwrite_refuses_a_run_holding_files_hubtune_did_not_write(tmp_path: Path):
    output = tmp_path / "run"
    _train(output, marker="first")
    (output / "notes").mkdir()
    (output / "notes" / "thesis.txt").write_text("draft")
    assert foreign_files(output) == ["notes/thesis.txt"]
    with pytest.raises(ConfigError, match=r"did not write: notes/thesis\.txt"):
        claim_output(output, overwrite=True)
    assert (output / "notes" / "thesis.txt").read_text() == "draft"


def test_a_run_written_before_owner_files_is_judged_by_hubtune_file_names(tmp_path: Path):
    output = tmp_path / "old-run"
    output.mkdir()
    for name, text in {**RUN_FILES, "vocab.txt": "A\n", "training_log.json": "{}"}.items():
        (output / name).write_text(text)
    assert not (output / OWNER_FILE).exists()
    assert foreign_files(output) == []
    check_replaceable(output, overwrite=True)
    (output / "my-plot.png").write_bytes(b"png")
    assert foreign_files(output) == ["my-plot.png"]


def test_the_committed_run_lists_the_files_hubtune_wrote(tmp_path: Path):
    output = tmp_path / "run"
    _train(output)
    owner = json.loads((output / OWNER_FILE).read_text())
    assert owner["kind"] == "run"
    assert sorted(owner["files"]) == sorted(RUN_FILES)


# ---------------------------------------------------------------------------------------------------------------------
# <output>.partial
# ---------------------------------------------------------------------------------------------------------------------


def test_a_leftover_partial_is_refused_without_resume_or_overwrite(tmp_path: Path):
    output = tmp_path / "run"
    staging = claim_output(output)
    open_staging(staging)
    checkpoint = staging / "checkpoints" / "checkpoint-40" / "trainer_state.json"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_text("{}")
    assert is_hubtune_staging(staging)
    with pytest.raises(ConfigError, match=r"interrupted run.*--resume.*--overwrite"):
        claim_output(output)
    with pytest.raises(ConfigError, match="--resume"):
        open_staging(staging)  # checked again where the folder would be emptied
    assert checkpoint.is_file()
    open_staging(claim_output(output, resume=True), resume=True)
    assert checkpoint.is_file()  # --resume continues in it
    open_staging(claim_output(output, overwrite=True), overwrite=True)
    assert not checkpoint.exists() and is_hubtune_staging(staging)  # --overwrite starts again


def test_a_partial_whose_commit_was_cut_short_is_still_hubtunes(tmp_path: Path):
    output = tmp_path / "run"
    staging = _stage(output)
    (staging / OWNER_FILE).write_text(json.dumps({"format": "hubtune-folder", "kind": "run", "files": []}))
    with pytest.raises(ConfigError, match="--resume"):
        claim_output(output)
    _train(output, overwrite=True, marker="again")
    assert _marker(output) == "again" and not staging.exists()


def test_a_partial_folder_hubtune_did_not_create_is_never_touched(tmp_path: Path):
    output = tmp_path / "run"
    foreign = staging_dir(output)
    foreign.mkdir()
    (foreign / "data.csv").write_text("sequence,label\n")
    for flags in ({}, {"overwrite": True}, {"resume": True}, {"overwrite": True, "resume": True}):
        with pytest.raises(ConfigError, match="not created by hubtune"):
            claim_output(output, **flags)
        with pytest.raises(ConfigError, match="not created by hubtune"):
            open_staging(foreign, **flags)
    assert (foreign / "data.csv").read_text() == "sequence,label\n"
    assert claim_output(output, main_process=False) == foreign  # other processes leave the staging to the main one


# ---------------------------------------------------------------------------------------------------------------------
# Symbolic links
# ---------------------------------------------------------------------------------------------------------------------


def test_symlinked_output_or_staging_is_refused(tmp_path: Path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "run"
    link.symlink_to(target, target_is_directory=True)
    with pytest.raises(ConfigError, match="symbolic link"):
        claim_output(link, overwrite=True)
    link.unlink()
    staging_dir(link).symlink_to(target, target_is_directory=True)
    with pytest.raises(ConfigError, match="symbolic link"):
        claim_output(link, overwrite=True, resume=True)
    assert target.is_dir() and not any(target.iterdir())


# ---------------------------------------------------------------------------------------------------------------------
# Through the command line: refused before any data or model is loaded
# ---------------------------------------------------------------------------------------------------------------------


def _train_cli(output: Path, *flags: str) -> list[str]:
    # The data does not exist: a refusal naming the output proves the output was checked first.
    return ["train", "--model", "tiny-nt", "--data", "/nonexistent/task", "--output", str(output), *flags]


def _one_paragraph_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("hubtune: error: ")
    assert "\n\n" not in err.strip()
    return " ".join(err.split())


def test_train_overwrite_keeps_a_users_folder(tmp_path: Path, capsys):
    output = tmp_path / "DIR"
    output.mkdir()
    (output / "thesis.txt").write_text("three years of work")
    assert main(_train_cli(output, "--overwrite")) == 2
    message = _one_paragraph_error(capsys)
    assert "not a hubtune run" in message and "--output" in message and "/nonexistent/task" not in message
    assert (output / "thesis.txt").read_text() == "three years of work"


def test_train_refuses_a_leftover_partial_naming_resume_and_overwrite(tmp_path: Path, capsys):
    output = tmp_path / "DIR"
    open_staging(staging_dir(output))
    checkpoint = staging_dir(output) / "checkpoints" / "checkpoint-8"
    checkpoint.mkdir(parents=True)
    assert main(_train_cli(output)) == 2
    message = _one_paragraph_error(capsys)
    assert "--resume" in message and "--overwrite" in message and "/nonexistent/task" not in message
    assert checkpoint.is_dir()


def test_train_refuses_a_symlinked_output(tmp_path: Path, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "DIR").symlink_to(tmp_path / "real", target_is_directory=True)
    assert main(_train_cli(tmp_path / "DIR", "--overwrite")) == 2
    assert "symbolic link" in _one_paragraph_error(capsys)


def test_train_overwrite_replaces_its_run_and_keeps_dir_old(tiny_run: Path, tmp_path: Path):
    from hubtune.data import example_task_path
    from hubtune.run import Run
    from hubtune.train import TrainConfig, finetune

    output = tmp_path / "DIR"
    shutil.copytree(tiny_run, output)
    before = (output / "hubtune.json").read_text()
    (tmp_path / "DIR.old").mkdir()
    (tmp_path / "DIR.old" / "keep.txt").write_text("not hubtune's")
    run = finetune(TrainConfig(model="tiny-nt", data=str(example_task_path()), method="probe", max_rows=40,
                               baselines=False, output=str(output), overwrite=True))
    assert isinstance(run, Run) and run.info.method == "probe"
    assert (output / "hubtune.json").read_text() != before
    assert (tmp_path / "DIR.old" / "keep.txt").read_text() == "not hubtune's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DIR", "DIR.old"]


# ---------------------------------------------------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------------------------------------------------


def test_demo_keeps_a_users_run_folder(tmp_path: Path, capsys):
    output = tmp_path / "D"
    (output / "run").mkdir(parents=True)
    (output / "run" / "results.csv").write_text("mine")
    assert main(["demo", "--output", str(output), "--no-hub", "--max-steps", "1"]) == 2
    message = _one_paragraph_error(capsys)
    assert "--output" in message and "run" in message
    assert (output / "run" / "results.csv").read_text() == "mine"


def test_demo_refuses_a_folder_holding_other_things(tmp_path: Path):
    from hubtune.demo import check_demo_output

    output = tmp_path / "D"
    output.mkdir()
    (output / "model_card.md").write_text("an earlier demo's card")
    check_demo_output(output)
    (output / "paper.tex").write_text("mine")
    with pytest.raises(ConfigError, match=r"--output.*paper\.tex"):
        check_demo_output(output)


def test_demo_may_replace_its_own_earlier_output(tiny_run: Path, tmp_path: Path):
    from hubtune.demo import check_demo_output

    output = tmp_path / "D"
    shutil.copytree(tiny_run, output / "run")
    (output / "hub").mkdir()
    (output / "model_card.md").write_text("card")
    check_demo_output(output)  # an earlier demo's run, hub and card: accepted
    (output / "run" / "extra.txt").write_text("added by hand")
    with pytest.raises(ConfigError, match="not a run the demo wrote"):
        check_demo_output(output)
