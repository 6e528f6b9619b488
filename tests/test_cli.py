"""The `hubtune` command line: each command on the bundled task, and bad input answered with exit 2, no traceback."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hubtune.cli import main
from hubtune.data import example_task_path

EXAMPLE = str(example_task_path())
GUE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "GUE"


@pytest.fixture(scope="module")
def cli_train(tmp_path_factory) -> tuple[Path, str]:
    output = tmp_path_factory.mktemp("cli") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", "--model", "tiny-nt", "--data", EXAMPLE, "--method", "lora", "--max-steps", "8",
                     "--eval-steps", "4", "--max-rows", "160", "--output", str(output)])
    assert code == 0
    return output, printed.getvalue()


@pytest.fixture(scope="module")
def cli_run(cli_train) -> Path:
    return cli_train[0]


def test_train_prints_comparison_and_writes_run(cli_train):
    run, printed = cli_train
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) >= {"finetuned", "probe", "kmer"}
    rows = {line.split("  ")[0]: line for line in printed.splitlines()}
    for key, label in (("finetuned", "fine-tuned"), ("probe", "pre-trained probe"), ("kmer", "k-mer baseline")):
        assert f"{metrics[key]['test']['mcc']:.3f}" in rows[label]
    assert f"run folder: {run}" in printed
    assert "pitfall diagnostics:" in printed


def test_train_options_come_from_the_config_dataclasses():
    from hubtune.cli import build_parser, train_config_from_args
    from hubtune.methods import FreezeConfig, LoraMethodConfig
    from hubtune.train import TrainConfig

    parse = build_parser().parse_args
    config = train_config_from_args(parse(["train", "--data", "d", "--lora-r", "4", "--no-baselines",
                                           "--seeds", "1,2", "--patience", "0"]))
    defaults = TrainConfig(data="d")
    assert config.method == LoraMethodConfig(r=4)  # the other LoRA options keep the method's own defaults
    assert (config.baselines, config.seeds, config.patience) == (False, [1, 2], None)
    assert (config.batch_size, config.epochs, config.lr) == (defaults.batch_size, defaults.epochs, defaults.lr)
    config = train_config_from_args(parse(["train", "--data", "d", "--method", "freeze", "--freeze-layers", "1",
                                           "--lora-r", "4"]))
    assert config.method == FreezeConfig(layers=1)


def test_predict_fasta_to_csv(cli_run: Path, tmp_path: Path):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">promoter_like\nGCGCGTATAAAAGGCGCGCGTACGATCGATCGGCGCGATCGCG\n>second one\nacgtacgtacgtnnacgt\n")
    out = tmp_path / "preds.csv"
    assert main(["predict", str(cli_run), "--input", str(fasta), "--output", str(out)]) == 0
    rows = list(csv.DictReader(open(out)))
    assert [r["id"] for r in rows] == ["promoter_like", "second"]
    assert set(rows[0]) == {"id", "label", "p_background", "p_promoter", "windows"}
    assert abs(float(rows[0]["p_background"]) + float(rows[0]["p_promoter"]) - 1) < 1e-5


def test_evaluate_on_other_data(cli_run: Path, capsys):
    assert main(["evaluate", str(cli_run), "--data", EXAMPLE, "--max-rows", "60", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert set(results) == {"train", "dev", "test"}
    assert results["test"]["n"] == 60


def test_data_command_reports_stats_and_leakage(capsys):
    assert main(["data", EXAMPLE]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "800 sequences" in out
    assert "leakage" in out


def test_data_command_warns_about_class_imbalance(tmp_path: Path, capsys):
    rows = [("ACGTACGTAC" if i % 2 else "TTGACAGGAT", "rare" if i % 20 == 0 else "common") for i in range(200)]
    table = tmp_path / "imbalanced.csv"
    with open(table, "w", newline="") as handle:
        csv.writer(handle).writerows([("sequence", "label"), *rows])
    assert main(["data", str(table)]) == 0
    out = capsys.readouterr().out
    assert "warning:" in out and "--class-weights" in out and "MCC" in out
    assert main(["data", str(table), "--json"]) == 0
    assert any("--class-weights" in w for w in json.loads(capsys.readouterr().out)["warnings"])


@pytest.mark.skipif(not GUE.is_dir(), reason="the GUE benchmark copy (../shared/data/GUE) is not on this machine")
def test_data_command_finds_gue_leak(capsys):
    assert main(["data", str(GUE / "prom" / "prom_core_all")]) == 0
    assert "42 distinct test sequences also occur in train (exact" in capsys.readouterr().out


def test_probe_layers_writes_plot_and_table(tmp_path: Path, capsys):
    out = tmp_path / "probe"
    assert main(["probe-layers", "--model", "tiny-nt", "--data", EXAMPLE, "--max-rows", "120", "--output", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "layer_probe.csv")))
    assert [int(r["layer"]) for r in rows] == [0, 1, 2]  # embeddings + 2 layers of tiny-nt
    assert (out / "layer_probe.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["train", "--model", "tiny-nt", "--data", "/nonexistent/task"], "/nonexistent/task"),
        (["train", "--model", "tiny-nt", "--data", EXAMPLE, "--method", "bogus"], "Unknown method 'bogus'"),
        (["train", "--model", "tiny-nt", "--data", EXAMPLE, "--method", "freeze", "--freeze-layers", "7"],
         "larger than the model"),
        (["train", "--data", EXAMPLE, "--model", "./not/a/model"], "neither a built-in tiny model"),
        (["train", "--model", "tiny-nt", "--data", EXAMPLE, "--lr", "-0.1"], "--lr must be a non-negative"),
        (["train", "--data", EXAMPLE], "--model"),
        (["predict", "/nonexistent/run", "--input", EXAMPLE + "/test.csv"], None),
    ],
)
def test_bad_input_exits_2_with_one_paragraph(args, fragment, tmp_path: Path):
    env = {**os.environ, "HUBTUNE_NO_PROGRESS": "1"}
    command = [sys.executable, "-m", "hubtune.cli", *args]
    if args[0] == "train":
        command += ["--output", str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "hubtune: error: " in result.stderr
    if fragment:
        assert fragment in " ".join(result.stderr.split())
    assert not (tmp_path / "out" / "hubtune.json").exists()


def test_help_for_every_command():
    for command in ("train", "data", "evaluate", "predict", "probe-layers", "demo", "push", "card", "compare"):
        result = subprocess.run([sys.executable, "-m", "hubtune.cli", command, "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and "usage: hubtune" in result.stdout
    result = subprocess.run([sys.executable, "-m", "hubtune.cli", "train", "--help"], capture_output=True, text=True)
    for flag in ("--model", "--data", "--method", "--output", "--epochs", "--max-steps", "--lr", "--batch-size",
                 "--max-length", "--seed", "--seeds", "--lora-r", "--lora-alpha", "--lora-targets", "--freeze-layers",
                 "--dedup", "--trust-remote-code"):
        assert flag in result.stdout


@pytest.mark.parametrize("command", ["train", "probe-layers"])
def test_a_model_must_be_named(command: str, capsys):
    """No silent random-weight default: the error lists the families and the tiny stand-ins, in one paragraph."""
    assert main([command, "--data", EXAMPLE]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hubtune: error: ") and "Traceback" not in err and "\n\n" not in err.strip()
    message = " ".join(err.split())
    from hubtune.models.registry import FAMILIES, TINY_MODELS

    assert "--model" in message
    for family in FAMILIES.values():
        if family.hub_ids:
            assert family.display_name in message
    for tiny in TINY_MODELS:
        assert tiny in message


def _subparsers(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subparsers(sub, (*prefix, name))


def _option_blocks(help_text: str) -> dict[str, str]:
    """Each option's help entry ("--batch-size BATCH_SIZE sequences ... (default: 16)"), whitespace normalised."""
    import re

    blocks: dict[str, str] = {}
    current: list[str] = []
    for line in help_text.splitlines():
        if re.match(r"^ {2}-", line):
            current = [line]
            blocks[line.split()[0].rstrip(",")] = ""
        elif current and line.startswith("    "):
            current.append(line)
        else:
            current = []
            continue
        blocks[current[0].split()[0].rstrip(",")] = " ".join(" ".join(current).split())
    return blocks


def test_every_help_shows_every_default(monkeypatch):
    from hubtune.cli import build_parser
    from hubtune.cli_options import default_text

    monkeypatch.setenv("COLUMNS", "100")
    commands = dict(_subparsers(build_parser()))
    assert {("train",), ("demo",), ("compare",), ("hub", "serve")} <= set(commands)
    checked = 0
    for name, sub in commands.items():
        blocks = _option_blocks(sub.format_help())
        for action in sub._actions:
            shown = default_text(action)
            if shown is None:
                continue
            block = blocks[action.option_strings[0]]
            assert f"(default: {shown})" in block or (shown == "off" and "off by default" in block), (name, block)
            checked += 1
    assert checked > 45
    train = _option_blocks(commands[("train",)].format_help())
    assert "(default: 16)" in train["--batch-size"]
    assert "(default: off)" in train["--dedup"] and "(default: off)" in train["--no-baselines"]
    assert "(default: 8)" in train["--lora-r"]  # a method's own default, though the option itself defaults to None
    assert "(default: runs/demo)" in _option_blocks(commands[("demo",)].format_help())["--output"]
    assert "(default: 8765)" in _option_blocks(commands[("hub", "serve")].format_help())["--port"]
