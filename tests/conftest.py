"""Shared test setup.

huggingface_hub reads its settings from the environment once, when it is first imported, so everything below runs
at import time of this file, before any test module imports it: a throw-away HF_HOME (no real cache or token is ever
touched), plain git-LFS uploads instead of Xet, no telemetry, and HF_ENDPOINT pointing at the local hub server that
the session-scoped ``hub_server`` fixture starts. No test talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

if "huggingface_hub" in sys.modules:  # too late: its constants already point elsewhere
    raise RuntimeError("huggingface_hub was imported before tests/conftest.py could configure it")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_HF_HOME = tempfile.mkdtemp(prefix="hubtune-test-hf-home-")
atexit.register(shutil.rmtree, _HF_HOME, ignore_errors=True)
HUB_PORT = _free_port()

os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{HUB_PORT}"
os.environ["HF_HUB_DISABLE_XET"] = "1"  # the local hub speaks git-LFS only
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
# Any of these would make the client refuse to connect, or send a real token to the local server.
for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE"):
    os.environ.pop(_name, None)


@dataclass
class LocalHub:
    """What tests need to talk to the session's hub server."""

    url: str
    token: str  # alice's
    other_token: str  # bob's
    server: object  # hubtune.hub_server.HubServer


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHub]:
    """A local hub on HF_ENDPOINT's port with two users, alice and bob, shared by the whole session."""
    from hubtune.hub_server import HubServer

    token, other_token = f"hf_alice_{secrets.token_hex(8)}", f"hf_bob_{secrets.token_hex(8)}"
    root: Path = tmp_path_factory.mktemp("hub")
    server = HubServer(root, port=HUB_PORT, tokens={token: "alice", other_token: "bob"})
    server.start()
    try:
        yield LocalHub(url=server.url, token=token, other_token=other_token, server=server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small trained LoRA run on the bundled task, shared by every test file (trained once per session)."""
    from shared_runs import shared_tiny_run

    return shared_tiny_run(tmp_path_factory)


@pytest.fixture(scope="module")
def quiet_single_thread() -> Iterator[None]:
    """No progress bars and one torch thread for a whole test module (tiny models train faster on a shared 2-core
    runner without thread oversubscription). Use with `pytestmark = pytest.mark.usefixtures("quiet_single_thread")`."""
    from shared_runs import one_torch_thread

    old = os.environ.get("HUBTUNE_NO_PROGRESS")
    os.environ["HUBTUNE_NO_PROGRESS"] = "1"
    try:
        with one_torch_thread():
            yield
    finally:
        if old is None:
            os.environ.pop("HUBTUNE_NO_PROGRESS", None)
        else:
            os.environ["HUBTUNE_NO_PROGRESS"] = old


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small LoRA run on the generated regression task (two targets), shared by every test file."""
    from shared_runs import shared_task_run

    return shared_task_run(tmp_path_factory, "regression")


@pytest.fixture(scope="session")
def multilabel_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small LoRA run on the generated multi-label task (five labels), shared by every test file."""
    from shared_runs import shared_task_run

    return shared_task_run(tmp_path_factory, "multi_label")


@pytest.fixture(scope="session")
def tiny_dnabert2() -> Path:
    """The registered tiny-dnabert2 checkpoint (built once, read-only)."""
    from hubtune.models import tiny_model_path

    return tiny_model_path("tiny-dnabert2")


@pytest.fixture(scope="session")
def tiny_ntv2() -> Path:
    """The registered tiny-ntv2 checkpoint (built once, read-only)."""
    from hubtune.models import tiny_model_path

    return tiny_model_path("tiny-ntv2")
