"""Pushing through a misbehaving hub: the local hub server's fault injection (500 on a commit, a dropped LFS upload,
429 answers) and a server killed with SIGKILL in the middle of an LFS upload, then restarted on the same folder.

Each fault states its outcome: `push_to_hub` either succeeds after the client's retries, or raises a `HubError` and
leaves the repo exactly as it was (its commits, files and hubtune.json); pushing again afterwards succeeds, and once
more creates no commit; the token appears in no log, output, message or pushed file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hubtune.errors import HubError
from hubtune.hub_server import FaultPlan

ROOT = Path(__file__).resolve().parent.parent


def variant(run: Path, folder: Path, tag: str, extra_mb: int = 0) -> Path:
    """A copy of `run` with other content: its task renamed and new adapter bytes (so an LFS upload is needed),
    optionally padded with `extra_mb` MB of extra tensor data."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    out = Path(shutil.copytree(run, folder / f"run-{tag}"))
    info = json.loads((out / "hubtune.json").read_text())
    info["task"] = f"promoter-{tag}"
    (out / "hubtune.json").write_text(json.dumps(info, indent=2))
    tensors = load_file(str(out / "adapter_model.safetensors"))
    if extra_mb:
        tensors["padding"] = np.zeros(extra_mb * 1024 * 1024 // 4, dtype=np.float32)
    save_file(tensors, str(out / "adapter_model.safetensors"), metadata={"format": "pt", "variant": tag})
    return out


@dataclass
class RepoState:
    commits: list[str]
    files: list[str]
    task: str | None


def repo_state(api, repo: str) -> RepoState:
    if not api.repo_exists(repo):
        return RepoState([], [], None)
    commits = [c.commit_id for c in api.list_repo_commits(repo)]
    files = sorted(api.list_repo_files(repo))
    task = None
    if "hubtune.json" in files:
        task = json.loads(Path(api.hf_hub_download(repo, "hubtune.json", revision=commits[0])).read_text())["task"]
    return RepoState(commits, files, task)


def assert_unchanged(api, repo: str, before: RepoState) -> None:
    assert repo_state(api, repo) == before, "a failed push changed the repo"


def assert_pushed(api, repo: str, before: RepoState, run: Path) -> RepoState:
    after = repo_state(api, repo)
    assert after.commits[1:] == before.commits and len(after.commits) == len(before.commits) + 1, "not one commit"
    assert after.task == json.loads((run / "hubtune.json").read_text())["task"]
    assert {"adapter_model.safetensors", "adapter_config.json", "hubtune.json", "README.md"} <= set(after.files)
    pushed = Path(api.hf_hub_download(repo, "adapter_model.safetensors", revision=after.commits[0]))
    assert pushed.read_bytes() == (run / "adapter_model.safetensors").read_bytes()
    return after


def assert_token_nowhere(token: str, api, repo: str, texts: list[str], tmp_path: Path) -> None:
    for text in texts:
        assert token not in text
    folder = Path(api.snapshot_download(repo, local_dir=str(tmp_path / f"snapshot-{secrets.token_hex(4)}")))
    for path in folder.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), f"the token is in the pushed file {path.name}"


@pytest.fixture
def logs(caplog) -> Iterator[pytest.LogCaptureFixture]:
    """Everything the client, hubtune and the in-process hub server log, at DEBUG."""
    caplog.set_level(logging.DEBUG)
    yield caplog


@pytest.fixture
def faults(hub_server) -> Iterator[FaultPlan]:
    """The session hub's fault plan, with nothing planned before and after the test."""
    plan = hub_server.server.faults
    plan.clear()
    yield plan
    plan.clear()


def _push(run: Path, repo: str, token: str, endpoint: str | None = None) -> tuple[str | None, HubError | None]:
    from hubtune.hub import push_to_hub

    try:
        return push_to_hub(run, repo, token=token, endpoint=endpoint), None
    except HubError as exc:
        return None, exc


# ---------------------------------------------------------------------------------------------------------------------
# Faults injected by the session's hub server
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultScenario:
    """One fault: how to plan it, which faults must then be injected, and how the push must end."""

    name: str
    plan: Callable[[FaultPlan], None]
    injected: dict[str, int]  # how many faults of each kind the push must meet
    fails_with: str | None  # None: the client retries and the push succeeds; else: in the HubError's message
    slow: bool = False  # the client waits out Retry-After several times


SCENARIOS = [
    FaultScenario("commit-500", lambda plan: plan.fail_next_commits(1), {"fail_commits": 1}, fails_with="500"),
    FaultScenario(
        "lfs-drop", lambda plan: plan.drop_next_lfs_uploads(1), {"drop_lfs_uploads": 1}, fails_with=None
    ),
    FaultScenario(
        # 429 on every step the client retries: one push call still succeeds.
        "429-retried",
        lambda plan: [plan.rate_limit_route(route, 1) for route in ("preupload", "lfs_batch", "lfs_upload")],
        {"rate_limit:preupload": 1, "rate_limit:lfs_batch": 1, "rate_limit:lfs_upload": 1},
        fails_with=None,
        slow=True,
    ),
    # The client does not retry a 429 on the commit itself: the push stops with a HubError and nothing changes.
    FaultScenario("429-commit", lambda plan: plan.rate_limit_route("commit", 1), {"rate_limit:commit": 1}, "429"),
]


@pytest.mark.parametrize(
    "scenario",
    [pytest.param(s, id=s.name, marks=[pytest.mark.slow] if s.slow else []) for s in SCENARIOS],
)
def test_a_fault_during_a_push_ends_as_stated_and_a_rerun_pushes_once(
    scenario: FaultScenario, hub_server, faults, tiny_run, tmp_path, logs, capfd
):
    from huggingface_hub import HfApi

    api = HfApi(token=hub_server.token)
    repo = f"alice/faults-{scenario.name}"
    _, error = _push(tiny_run, repo, hub_server.token)
    assert error is None, str(error)
    before = repo_state(api, repo)
    run = variant(tiny_run, tmp_path, scenario.name)  # new adapter bytes: the push needs an LFS upload

    injected_before = dict(faults.injected)
    scenario.plan(faults)
    url, error = _push(run, repo, hub_server.token)
    met = {kind: faults.injected.get(kind, 0) - injected_before.get(kind, 0) for kind in scenario.injected}
    assert met == scenario.injected, "the push did not meet the planned faults"
    if scenario.fails_with is None:
        assert error is None and url, f"the client should have retried: {error}"
    else:
        assert isinstance(error, HubError) and scenario.fails_with in str(error), str(error)
        assert_unchanged(api, repo, before)
        url, error = _push(run, repo, hub_server.token)
        assert error is None and url, str(error)
    after = assert_pushed(api, repo, before, run)

    _push(run, repo, hub_server.token)
    assert repo_state(api, repo) == after, "pushing identical content again created a commit"
    out, err = capfd.readouterr()
    assert_token_nowhere(hub_server.token, api, repo, [logs.text, out, err], tmp_path)


# ---------------------------------------------------------------------------------------------------------------------
# A hub server process killed with SIGKILL during an LFS upload, restarted on the same folder and port
# ---------------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def hub_process(root: Path, port: int, token: str, log: Path) -> Iterator[subprocess.Popen]:
    """`hubtune hub serve` in a subprocess; yields once it accepts connections."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HUBTUNE_HUB_FAULTS", None)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hubtune.cli", "hub", "serve", "--root", str(root), "--port", str(port),
             "--token", f"{token}:alice"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the hub server did not start"
                time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.slow
def test_server_killed_during_an_lfs_upload_keeps_the_repo_consistent(tiny_run, tmp_path, logs, capfd):
    from huggingface_hub import HfApi

    token = f"hf_killtest_{secrets.token_hex(12)}"
    root, port, log = tmp_path / "hub", _free_port(), tmp_path / "server.log"
    endpoint = f"http://127.0.0.1:{port}"
    repo = "alice/faults-killed"
    api = HfApi(endpoint=endpoint, token=token)
    big = variant(tiny_run, tmp_path, "big", extra_mb=48)

    with hub_process(root, port, token, log) as server:
        _, error = _push(tiny_run, repo, token, endpoint)  # the repo and its base exist before the fault
        assert error is None, str(error)
        before = repo_state(api, repo)
        result: dict = {}

        def push_in_background() -> None:
            try:
                result["url"], result["error"] = _push(big, repo, token, endpoint)
            except BaseException as exc:  # noqa: BLE001 - anything but a HubError is a failure, reported below
                result["unexpected"] = exc

        pusher = threading.Thread(target=push_in_background)
        pusher.start()
        deadline = time.monotonic() + 120
        while not list((root / "tmp").glob("upload-*")):  # the server is streaming the big file to disk
            assert pusher.is_alive(), f"the push ended before the upload was seen: {result}"
            assert time.monotonic() < deadline
            time.sleep(0.001)
        server.send_signal(signal.SIGKILL)
        server.wait()
    assert list((root / "tmp").glob("upload-*")), "the kill did not happen mid-upload"

    with hub_process(root, port, token, log):
        pusher.join(timeout=180)
        assert not pusher.is_alive()
        # The upload link was signed by the killed server: the restarted one refuses the client's retry, so the push
        # fails. huggingface_hub reports a failed upload as RuntimeError("Error while uploading ... to the Hub.")
        # with the HTTP error only as its __cause__; hubtune must turn that into a HubError (no traceback).
        failure = result.get("error") or result.get("unexpected")
        assert isinstance(failure, HubError), f"the push ended with {result}, not with a HubError"
        assert_unchanged(api, repo, before)
        url, error = _push(big, repo, token, endpoint)
        assert error is None and url, str(error)
        after = assert_pushed(api, repo, before, big)
        _push(big, repo, token, endpoint)
        assert repo_state(api, repo) == after, "pushing identical content again created a commit"
        assert not list((root / "tmp").glob("upload-*")), "the restarted server kept the partial upload"
        out, err = capfd.readouterr()
        texts = [logs.text, out, err, log.read_text(), str(failure)]
        assert_token_nowhere(token, api, repo, texts, tmp_path)
