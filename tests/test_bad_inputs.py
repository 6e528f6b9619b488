"""The bad-input corpus (tests/corpus/cases.json): every input a user might feed hubtune, with what must happen.

For every case the Python API raises the named hubtune exception with a message naming the problem (file, line or
record, position), and leaves nothing half-written; valid-but-unusual inputs (CRLF, BOM, UTF-16, gzip, only N, a
1 Mb sequence) are accepted and give the same data as their plain counterparts. A representative subset also runs
through the CLI in a subprocess: exit code 2, one 'hubtune: error:' paragraph on stderr, no traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from shared_runs import import_script, shared_tiny_run

import hubtune.errors

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text())["cases"]
BY_ID = {case["id"]: case for case in CASES}
CLI_CASES = [case for case in CASES if case.get("cli")]
WRONG_TOKEN = "hf_wrong_token_0123456789abcdef"
PRIVATE_REPO = "alice/corpus-private"
# Settings every `train` case starts from: tiny, no baselines, so a case that slips through fails fast.
TRAIN_BASE = {"model": "tiny-nt", "max_steps": 2, "eval_steps": 1, "max_rows": 32, "baselines": False}


def _param(case: dict[str, Any]):
    return pytest.param(case, id=case["id"])


# ---------------------------------------------------------------------------------------------------------------------
# Fixtures: the shared tiny run, a private repo, generated inputs
# ---------------------------------------------------------------------------------------------------------------------




@dataclass
class Context:
    """What cases may refer to; the run, classifier and hub are created only when a case needs them."""

    factory: pytest.TempPathFactory
    request: pytest.FixtureRequest
    _classifier: Any = None

    @property
    def run(self) -> Path:
        return shared_tiny_run(self.factory)

    @property
    def hub(self):
        return self.request.getfixturevalue("hub_server")

    @property
    def classifier(self):
        if self._classifier is None:
            from hubtune.predict import load_classifier

            self._classifier = load_classifier(self.run, device="cpu")
        return self._classifier

    def private_repo(self) -> str:
        """A private repo of alice's on the local hub (created directly: no base model is published with it)."""
        from huggingface_hub import HfApi

        api = HfApi(token=self.hub.token)
        if not api.repo_exists(PRIVATE_REPO):
            api.create_repo(PRIVATE_REPO, private=True)
            api.upload_file(path_or_fileobj=(self.run / "hubtune.json").read_bytes(), path_in_repo="hubtune.json",
                            repo_id=PRIVATE_REPO)
        return PRIVATE_REPO


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, request) -> Context:
    return Context(tmp_path_factory, request)


def _dna(n: int, seed: int) -> str:
    return "".join(random.Random(seed).choices("ACGT", k=n))


def materialize(name: str, folder: Path, ctx: Context) -> Path:
    """Create the generated input `@name` in `folder` and return its path (large inputs are never committed)."""
    path = folder / name
    if name == "one_mb.fa":
        seq = _dna(1_000_000, 1)
        path.write_text(">chr_piece\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    elif name == "one_mb_row.csv":
        path.write_text((CORPUS / "valid" / "good.csv").read_text() + _dna(1_000_000, 2) + ",promoter\n")
    elif name == "empty_folder":
        path.mkdir()
    elif name == "missing.csv":
        pass  # never created
    elif name == "finished_run":
        path.mkdir()
        (path / "hubtune.json").write_text('{"format": "hubtune-run", "note": "an earlier finished run"}\n')
    elif name == "partial_run":
        path = folder / "interrupted.partial"
        shutil.copytree(ctx.run, path, ignore=shutil.ignore_patterns("hubtune.json"))
    elif name == "missing_run":
        path = folder / "typo-run"
    elif name == "space_201.fa":
        path.write_text("".join(f">s{i}\n{_dna(20, i)}\n" for i in range(201)))
    elif name == "space_225kb.fa":
        path.write_text("".join(f">long{i}\n{_dna(45_000, i)}\n" for i in range(5)))
    elif name == "space_1mb.txt":
        path.write_text(_dna(1_000_000, 3) + "\n")
    elif name == "space_html_id.fa":
        path.write_text(">ok\nACGTACGT\n><script>alert(1)</script>\nACGTZACGT\n")
    else:
        raise AssertionError(f"unknown generated input @{name}")
    return path


def input_path(case: dict[str, Any], folder: Path, ctx: Context) -> Path | None:
    spec = case.get("input")
    if spec is None:
        return None
    if spec.startswith("@"):
        return materialize(spec[1:], folder, ctx)
    path = CORPUS / spec
    assert path.exists(), f"corpus file {spec} is missing"
    return path


def resolve_settings(case: dict[str, Any], folder: Path, ctx: Context) -> dict[str, Any]:
    """Settings with generated paths, corpus paths and token names replaced by real values."""
    out: dict[str, Any] = {}
    for key, value in (case.get("settings") or {}).items():
        if isinstance(value, str) and value.startswith("@"):
            value = str(materialize(value[1:], folder, ctx))
        elif key == "labels_file":
            value = str(CORPUS / value)
        elif value == "$alice":
            value = ctx.hub.token
        elif value == "$wrong":
            value = WRONG_TOKEN
        elif value == "$private_repo":
            value = ctx.private_repo()
        out[key] = value
    return out


def fragments(case: dict[str, Any], path: Path | None) -> list[str]:
    name = path.name if path is not None else ""
    return [fragment.replace("{name}", name) for fragment in case.get("message", [])]


# ---------------------------------------------------------------------------------------------------------------------
# The corpus itself
# ---------------------------------------------------------------------------------------------------------------------


def test_corpus_covers_every_category_with_at_least_40_cases():
    counts = Counter(case["category"] for case in CASES)
    assert len(CASES) >= 40
    for category in ("sequences", "fasta", "tables", "gue", "configs", "hub", "space"):
        assert counts[category] >= 4 if category not in ("gue",) else counts[category] >= 2, counts
    assert len(BY_ID) == len(CASES), "case ids must be unique"
    errors = set(hubtune.errors.__dict__)
    for case in CASES:
        assert case["expect"] == "accepted" or case["expect"] in errors, case["id"]
        assert case["expect"] == "accepted" or case.get("message"), case["id"]
    assert 8 <= len(CLI_CASES) <= 30


def test_byte_exact_corpus_files_were_not_normalised():
    """CRLF, BOM, UTF-16 and gzip inputs are only meaningful byte for byte (see tests/corpus/.gitattributes)."""
    assert b"\r\n" in (CORPUS / "fasta" / "crlf.fa").read_bytes()
    assert (CORPUS / "tables" / "bom.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (CORPUS / "tables" / "utf16.csv").read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    assert (CORPUS / "fasta" / "good.fa.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (CORPUS / "tables" / "zero_bytes.csv").stat().st_size == 0
    assert b"\x00" in (CORPUS / "sequences" / "nul_bytes.txt").read_bytes()


# ---------------------------------------------------------------------------------------------------------------------
# Python API
# ---------------------------------------------------------------------------------------------------------------------


def method_from_flags(options: dict[str, Any]) -> Any:
    """The method config named by `options["method"]`, built from the flag-style options (`lora_r` -> r=...).

    The options of every method are removed from `options`; those of other methods are ignored, as on the CLI.
    """
    from hubtune.methods import METHODS, make_method

    name = options.pop("method", "lora")
    mine: dict[str, Any] = {}
    for cls in METHODS.values():
        prefix = f"{cls.cli_prefix}_" if cls.cli_prefix else None
        for key in [k for k in options if prefix and k.startswith(prefix)]:
            value = options.pop(key)
            if cls.name == name:
                mine[key[len(prefix):]] = value
    return make_method(name, **mine)


def call_api(case: dict[str, Any], path: Path | None, settings: dict[str, Any], folder: Path, ctx: Context) -> Any:
    from hubtune.data import example_task_path, load_task, read_sequences

    command = case["command"]
    if command == "data":
        return load_task(path, **settings)
    if command == "predict":
        if "run" in settings:
            from hubtune.run import Run

            Run(settings["run"])
        return read_sequences(path)
    if command == "train":
        from hubtune.config import TrainConfig
        from hubtune.train import finetune

        options = {**TRAIN_BASE, "data": str(path or example_task_path()), "output": str(folder / "out"), **settings}
        options = {k: v for k, v in options.items() if v is not None}
        options["method"] = method_from_flags(options)
        return finetune(TrainConfig(**options))
    if command == "evaluate":
        from hubtune.predict import evaluate_run

        return evaluate_run(ctx.run, str(path))
    if command == "push":
        from hubtune.hub import push_to_hub

        return push_to_hub(ctx.run, settings["repo_id"], token=settings.get("token"))
    if command == "load":
        from hubtune.predict import load_classifier

        return load_classifier(settings["repo_id"])
    if command == "space":
        from hubtune.serving import Limits, ModelCache, SpaceBackend

        backend = SpaceBackend(ModelCache(device="cpu"), Limits())
        return backend.parse(path.read_text())
    raise AssertionError(f"unknown command {command}")


def assert_nothing_half_written(case: dict[str, Any], folder: Path, settings: dict[str, Any], ctx: Context) -> None:
    finished = [p for p in folder.rglob("hubtune.json") if "an earlier finished run" not in p.read_text()
                and not p.parent.name.endswith(".partial")]
    if case["command"] == "train":
        assert not finished, f"a failed run left {finished}"
        assert not (folder / "out").exists(), "a failed run left a folder at the output path"
        if settings.get("output"):
            assert "an earlier finished run" in (Path(settings["output"]) / "hubtune.json").read_text()
    if case["command"] == "push" and "/" in settings["repo_id"] and not settings["repo_id"].startswith("."):
        from huggingface_hub import HfApi

        from hubtune.repo_ids import validate_repo_id

        try:
            validate_repo_id(settings["repo_id"])
        except hubtune.errors.HubError:
            return
        assert not HfApi(token=ctx.hub.token).repo_exists(settings["repo_id"]), "a refused push created the repo"


def check_accepted(case: dict[str, Any], result: Any, ctx: Context) -> None:
    expected = case.get("result", {})
    if case["command"] == "predict":
        records = result
        if "n_records" in expected:
            assert len(records) == expected["n_records"]
        if "lengths" in expected:
            assert [len(seq) for _, seq in records] == expected["lengths"]
        if "ids" in expected:
            assert [rid for rid, _ in records] == expected["ids"]
        if "same_as" in expected:
            from hubtune.data import read_sequences

            assert records == read_sequences(CORPUS / expected["same_as"])
        if expected.get("classify"):
            predictions = ctx.classifier.predict(records)
            assert [p.id for p in predictions] == [rid for rid, _ in records]
            for p in predictions:
                assert p.label in ctx.classifier.label_names
                assert abs(sum(p.probabilities.values()) - 1.0) < 1e-5
        return
    task = result
    rows = [(seq, task.label_names[label], rid) for split in task.splits.values()
            for seq, label, rid in zip(split.sequences, split.labels, split.ids, strict=True)]
    if "n_rows" in expected:
        assert len(rows) == expected["n_rows"]
    if "contains_sequence" in expected:
        assert expected["contains_sequence"] in {seq for seq, _, _ in rows}
    if "warning" in expected:
        assert expected["warning"] in task.warnings
    if "id_count" in expected:
        rid, count = expected["id_count"]
        assert sum(1 for _, _, r in rows if r == rid) == count
    if "longest" in expected:
        assert max(len(seq) for seq, _, _ in rows) == expected["longest"]
    if "splits" in expected:
        assert {s: len(sp) for s, sp in task.splits.items()} == expected["splits"]
    if "split_origin" in expected:
        assert expected["split_origin"] in task.split_origin
    if "same_as" in expected:
        from hubtune.data import load_task

        reference = load_task(CORPUS / expected["same_as"])
        assert task.label_names == reference.label_names
        for name, split in task.splits.items():
            other = reference.splits[name]
            assert split.sequences == other.sequences and split.labels == other.labels
            if expected.get("compare_ids"):
                assert split.ids == other.ids


@contextlib.contextmanager
def known_bug(case: dict[str, Any]) -> Iterator[None]:
    """A case marked with a library bug fails with the bug's description in front of the assertion."""
    try:
        yield
    except (AssertionError, pytest.fail.Exception) as exc:
        if not case.get("bug"):
            raise
        raise AssertionError(f"known library bug, see cases.json: {case['bug']}\n{exc}") from None


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_api(case: dict[str, Any], ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with known_bug(case):
        _check_api(case, ctx, tmp_path, monkeypatch)


def _check_api(case: dict[str, Any], ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if case.get("hub"):
        _ = ctx.hub
    if case.get("offline"):
        from huggingface_hub import constants

        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    path = input_path(case, tmp_path, ctx)
    settings = resolve_settings(case, tmp_path, ctx)
    expect = case["expect"]
    if expect == "accepted":
        check_accepted(case, call_api(case, path, settings, tmp_path, ctx), ctx)
        return
    error_class = getattr(hubtune.errors, expect)
    with pytest.raises(hubtune.errors.HubtuneError) as caught:
        call_api(case, path, settings, tmp_path, ctx)
    message = str(caught.value)
    assert type(caught.value) is error_class, f"{type(caught.value).__name__} instead of {expect}: {message}"
    for fragment in fragments(case, path):
        assert fragment in message, f"{fragment!r} missing from: {message}"
    for fragment in case.get("not_message", []):
        assert fragment not in message, f"{fragment!r} should not be in: {message}"
    assert "\n\n" not in message and "Traceback" not in message
    if WRONG_TOKEN in message or (case["category"] == "hub" and ctx.hub.token in message):
        raise AssertionError("a token appears in the error message")
    assert_nothing_half_written(case, tmp_path, settings, ctx)
    if case["command"] == "space":
        # What the Space shows: the same message, with user text (FASTA ids) escaped, never as markup.
        render = import_script("render", ROOT / "space" / "render.py")

        shown = render.status_html(message, ok=False)
        assert "<script>" not in shown
        if "<script>" in message:
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown


# ---------------------------------------------------------------------------------------------------------------------
# CLI (a subset, run in parallel subprocesses: each one pays for importing torch and transformers)
# ---------------------------------------------------------------------------------------------------------------------


def _flags(settings: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in settings.items():
        if value is None or key in ("output", "run", "repo_id", "token"):
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value is False and key == "baselines":
            out.append("--no-baselines")
        else:
            out += [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    return out


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    folder: Path
    path: Path | None
    settings: dict[str, Any]


def run_cli(case: dict[str, Any], folder: Path, ctx: Context) -> CliResult:
    from hubtune.data import example_task_path

    folder.mkdir(parents=True, exist_ok=True)
    path = input_path(case, folder, ctx)
    settings = resolve_settings(case, folder, ctx)
    command = case["command"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HUBTUNE_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    env.pop("HF_TOKEN", None)
    if case.get("offline"):
        env["HF_HUB_OFFLINE"] = "1"
    if command == "data":
        args = ["data", str(path), *_flags(settings), *(["--json"] if case["expect"] == "accepted" else [])]
    elif command == "predict":
        run = settings.get("run", str(ctx.run))
        if (case.get("settings") or {}).get("run") == "@missing_run":
            run = "./typo-run"  # as a user types it
        args = ["predict", run, "--input", str(path), "--output", str(folder / "predictions.csv")]
    elif command == "train":
        options = {**TRAIN_BASE, **settings}
        args = ["train", "--data", str(path or example_task_path()),
                "--output", str(settings.get("output") or folder / "out"), *_flags(options)]
    elif command == "evaluate":
        args = ["evaluate", str(ctx.run), "--data", str(path)]
    elif command == "push":
        args = ["push", str(ctx.run), "--repo", settings["repo_id"]]
        if settings.get("token"):
            args += ["--token", settings["token"]]
    else:
        raise AssertionError(f"no CLI for {command}")
    done = subprocess.run([sys.executable, "-m", "hubtune.cli", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)
    return CliResult(done.returncode, done.stdout, done.stderr, folder, path, settings)


@pytest.fixture(scope="module")
def cli_results(ctx: Context, tmp_path_factory) -> dict[str, CliResult]:
    """Run every CLI case once, three subprocesses at a time (the run, hub and private repo are prepared first)."""
    needs_run = any(c["command"] in ("predict", "evaluate", "push") for c in CLI_CASES)
    if needs_run:
        _ = ctx.run
    if any(c.get("hub") for c in CLI_CASES):
        _ = ctx.hub
    root = tmp_path_factory.mktemp("cli-cases")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {case["id"]: pool.submit(run_cli, case, root / case["id"], ctx) for case in CLI_CASES}
        return {case_id: future.result() for case_id, future in futures.items()}


@pytest.mark.parametrize("case", [_param(c) for c in CLI_CASES])
def test_cli(case: dict[str, Any], cli_results: dict[str, CliResult], ctx: Context):
    with known_bug(case):
        _check_cli(case, cli_results[case["id"]], ctx)


def _check_cli(case: dict[str, Any], result: CliResult, ctx: Context) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if case["expect"] == "accepted":
        assert result.returncode == 0, result.stderr[-3000:]
        stats = json.loads(result.stdout)["stats"]
        assert sum(s["n"] for s in stats["splits"].values()) == 12
        return
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    lines = result.stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("hubtune: error: ")]
    assert len(starts) == 1, result.stderr[-3000:]
    paragraph = lines[starts[0]:]
    assert all(line.strip() for line in paragraph), "the error message must be one paragraph"
    message = " ".join(paragraph)[len("hubtune: error: "):]
    for fragment in fragments(case, result.path):
        # The CLI wraps at 100 columns; compare with the line breaks turned back into spaces.
        assert " ".join(fragment.split()) in message, f"{fragment!r} missing from: {message}"
    for fragment in case.get("not_message", []):
        assert " ".join(fragment.split()) not in message, f"{fragment!r} should not be in: {message}"
    for secret in (WRONG_TOKEN, ctx.hub.token if case.get("hub") else None):
        if secret:
            assert secret not in result.stderr and secret not in result.stdout
    assert not (result.folder / "predictions.csv").exists()
    assert_nothing_half_written(case, result.folder, result.settings, ctx)
