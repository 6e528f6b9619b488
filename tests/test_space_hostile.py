"""The Space against hostile repos and visitors: repos checked before any weight download (hubtune.json, safetensors,
size, known family for every method, public only), a size-bounded download cache, window/stride validated and model
work counted in windows, uploads capped by the server, messages without server paths or hub URLs, ids drawn as plain
text in figures, and a CSV folder private to the process. Repos are made from raw files on the local hub: no training.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from test_space import free_port, load_app_module, load_render_module

from hubtune.errors import DataError, HubError, ModelError, RunFolderError
from hubtune.run import INFO_FILE, RunInfo
from hubtune.serving import (
    GENERIC_ERROR,
    AdapterMeta,
    AdapterPrediction,
    Comparison,
    IsmResult,
    Limits,
    ModelCache,
    RepoCache,
    RepoPolicy,
    SpaceBackend,
    WindowTrack,
    public_message,
    scrub_message,
    window_count,
    window_starts,
)

KB = 1000
RUN = secrets.token_hex(3)  # repo names unique to this test process (the session hub is shared)


def _info(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"label_names": ["neg", "pos"], "method": "lora", "base_model": "tiny-nt", "family": "nt",
                              "max_length": 64, "window_bp": 378, "stride_bp": 189}
    return RunInfo(**{**values, **changes}).to_dict()


def _card(labels: list[str]) -> bytes:
    return ("---\ntags:\n- hubtune\nhubtune:\n  labels: [" + ", ".join(labels) + "]\n  task: probe-test\n---\n# x\n"
            ).encode()


def _lora_files(weights_bytes: int = 2 * KB, **info: Any) -> dict[str, bytes]:
    return {
        INFO_FILE: json.dumps(_info(**info)).encode(),
        "adapter_config.json": json.dumps({"peft_type": "LORA", "base_model_name_or_path": "tiny-nt"}).encode(),
        "adapter_model.safetensors": os.urandom(weights_bytes),
        "README.md": _card(["neg", "pos"]),
    }


def push_files(hub: Any, name: str, files: dict[str, bytes], *, private: bool = False) -> str:
    """Create `alice/<name>-<run>` on the local hub with exactly these files; returns the repo id."""
    from huggingface_hub import CommitOperationAdd, HfApi

    repo_id = f"alice/{name}-{RUN}"
    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo(repo_id, private=private)
    api.create_commit(repo_id, [CommitOperationAdd(path, io.BytesIO(data)) for path, data in files.items()],
                      commit_message="files")
    return repo_id


def _in_hf_cache(repo_id: str) -> list[Path]:
    """Files of `repo_id` in the Hugging Face cache (where a plain snapshot download would have put them)."""
    folder = Path(os.environ["HF_HOME"]) / "hub" / f"models--{repo_id.replace('/', '--')}"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() or p.is_symlink()]


@pytest.fixture
def downloads() -> Iterator[RepoCache]:
    cache = RepoCache(RepoPolicy(max_repo_bytes=1_000 * KB, cache_bytes=1_000 * KB))
    try:
        yield cache
    finally:
        cache.close()


# ---------------------------------------------------------------------------------------------------------------------
# Checks before any weight download
# ---------------------------------------------------------------------------------------------------------------------


def test_a_repo_that_is_not_hubtune_is_refused_without_downloading_its_files(hub_server, downloads):
    repo = push_files(hub_server, "not-hubtune", {"model.safetensors": os.urandom(300 * KB),
                                                  "config.json": b'{"model_type": "esm"}'})
    peft_only = push_files(hub_server, "peft-only", {"adapter_config.json": b"{}",
                                                    "adapter_model.safetensors": os.urandom(KB)})
    cache = ModelCache(downloads=downloads)
    with pytest.raises(HubError, match="has no hubtune.json: it is not a hubtune model"):
        cache.meta(repo)
    with pytest.raises(HubError, match="plain peft adapter without hubtune.json"):
        cache.meta(peft_only)
    assert _in_hf_cache(repo) == [] and _in_hf_cache(peft_only) == []
    assert _files_under(downloads.root) == [] and downloads.cached() == []  # nothing left behind


def test_a_repo_over_the_size_limit_is_refused_before_its_weights_are_downloaded(hub_server, downloads):
    repo = push_files(hub_server, "too-big", _lora_files(weights_bytes=1_200 * KB))
    cache = ModelCache(downloads=downloads)
    start = time.perf_counter()
    with pytest.raises(HubError, match=r"model files take 1\.2 MB, more than the 1\.0 MB this Space downloads"):
        cache.meta(repo)
    print(f"\n1.2 MB repo refused in {time.perf_counter() - start:.2f} s")
    assert _files_under(downloads.root) == [] and _in_hf_cache(repo) == []


def test_pickled_weights_are_refused_with_a_short_message_and_never_read(hub_server, downloads):
    files = _lora_files()
    del files["adapter_model.safetensors"]
    files["adapter_model.bin"] = b"\x80\x04\x95 not really a pickle"
    repo = push_files(hub_server, "pickled", files)
    with pytest.raises(HubError) as info:
        ModelCache(downloads=downloads).meta(repo)
    assert "its weights are a pickle (adapter_model.bin); this Space loads safetensors only" in str(info.value)
    assert "Unpickling" not in str(info.value)
    assert _files_under(downloads.root) == []


def test_the_model_family_is_checked_before_download_for_every_method(hub_server, downloads):
    gpt2_config = json.dumps({"model_type": "gpt2", "n_layer": 1}).encode()
    whole = push_files(hub_server, "full-gpt2", {INFO_FILE: json.dumps(_info(method="full")).encode(),
                                                 "config.json": gpt2_config, "model.safetensors": os.urandom(200 * KB)})
    base = push_files(hub_server, "gpt2-base", {"config.json": gpt2_config, "model.safetensors": os.urandom(KB)})
    probe = push_files(hub_server, "probe-on-gpt2", {INFO_FILE: json.dumps(_info(method="probe", base_model=base,
                                                                                family="auto")).encode(),
                                                     "probe_head.safetensors": os.urandom(100 * KB)})
    cache = ModelCache(downloads=downloads)
    with pytest.raises(ModelError, match="its model is not a .* model; this Space only serves"):
        cache.meta(whole)
    with pytest.raises(ModelError, match=f"its base {base} is not a .* model"):
        cache.meta(probe)
    assert _files_under(downloads.root) == []
    assert not any(p.name.endswith(".safetensors") for p in _in_hf_cache(whole) + _in_hf_cache(probe))


def test_private_repos_are_listed_and_served_only_when_the_owner_allows_it(hub_server, monkeypatch):
    repo = push_files(hub_server, "private-adapter", _lora_files(), private=True)
    public = push_files(hub_server, "public-adapter", _lora_files())
    app = load_app_module()
    monkeypatch.setenv("HF_TOKEN", hub_server.token)  # the Space owner's token, read by the Hub client by default
    listed = {a.repo_id for a in app.default_listing(RepoPolicy())}
    assert public in listed and repo not in listed
    closed = RepoCache(RepoPolicy(), token=hub_server.token)
    with pytest.raises(HubError, match="was not found"):  # the same answer as for a repo that does not exist
        ModelCache(token=hub_server.token, downloads=closed).meta(repo)
    assert ModelCache(downloads=closed).meta(public).label_names == ["neg", "pos"]
    opened = RepoCache(RepoPolicy(allow_private=True), token=hub_server.token)
    assert repo in {a.repo_id for a in app.default_listing(RepoPolicy(allow_private=True), hub_server.token)}
    assert ModelCache(token=hub_server.token, downloads=opened).meta(repo).label_names == ["neg", "pos"]
    closed.close()
    opened.close()
    assert RepoPolicy.from_env({}).allow_private is False
    assert RepoPolicy.from_env({"HUBTUNE_SPACE_ALLOW_PRIVATE": "1"}).allow_private is True


# ---------------------------------------------------------------------------------------------------------------------
# The download cache
# ---------------------------------------------------------------------------------------------------------------------


def test_the_download_cache_keeps_to_its_budget_by_evicting_the_least_recently_used_repo(hub_server):
    repos = [push_files(hub_server, f"lru-{i}", _lora_files(weights_bytes=300 * KB)) for i in range(3)]
    bad = push_files(hub_server, "lru-bad", _lora_files(weights_bytes=300 * KB, window_bp=2, stride_bp=1))
    downloads = RepoCache(RepoPolicy(max_repo_bytes=400 * KB, cache_bytes=700 * KB))  # room for two
    cache = ModelCache(downloads=downloads)
    first = cache.meta(repos[0]).folder
    cache.meta(repos[1])
    cache.meta(repos[0])  # used again: repos[1] is now the least recently used
    cache.meta(repos[2])
    assert downloads.cached() == [repos[0], repos[2]]
    assert downloads.stats.evicted == [repos[1]]
    assert downloads.usage() <= 700 * KB
    assert first.is_dir() and len(list(downloads.root.iterdir())) == 2  # the evicted folder is gone from disk
    with pytest.raises(RunFolderError, match="window_bp must be at least"):
        cache.meta(bad)
    assert len(list(downloads.root.iterdir())) == 2  # a refused repo leaves nothing behind
    assert cache.meta(repos[1]).folder.is_dir()  # evicted repos are fetched again when asked for
    assert downloads.stats.downloads == 4
    downloads.close()
    assert not downloads.root.exists()
    env = RepoPolicy.from_env({"HUBTUNE_SPACE_CACHE_MB": "900", "HUBTUNE_SPACE_MAX_REPO_MB": "300"})
    assert (env.cache_bytes, env.max_repo_bytes) == (900_000_000, 300_000_000)
    with pytest.raises(Exception, match="HUBTUNE_SPACE_CACHE_MB"):
        RepoPolicy.from_env({"HUBTUNE_SPACE_CACHE_MB": "-1"})


# ---------------------------------------------------------------------------------------------------------------------
# Windows: validated, and counted as the unit of model work
# ---------------------------------------------------------------------------------------------------------------------


def _local_adapter(folder: Path, **info: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INFO_FILE).write_text(json.dumps(_info(**info)))
    return folder


def test_window_and_stride_from_a_repo_are_validated(tmp_path):
    for changes, message in [({"window_bp": 2, "stride_bp": 1}, r"window_bp must be at least \d+ .*window_bp=2"),
                             ({"stride_bp": -5}, "stride_bp must be a positive integer, got -5"),
                             ({"window_bp": 100, "stride_bp": 101}, "stride_bp at most window_bp.*stride_bp=101")]:
        folder = tmp_path / secrets.token_hex(4)
        data = {**_info(), **changes}
        folder.mkdir()
        (folder / INFO_FILE).write_text(json.dumps(data))
        with pytest.raises(RunFolderError, match=message):
            AdapterMeta.from_folder(folder, "alice/x")


def test_a_request_is_refused_by_its_number_of_model_windows_before_any_model_work(tmp_path):
    adapter = _local_adapter(tmp_path / "a", window_bp=50, stride_bp=25)
    (adapter / "base_probe_head.safetensors").write_bytes(b"")  # the base model's answer doubles the work
    cache = ModelCache(allow_local_paths=True)
    backend = SpaceBackend(cache, Limits(max_windows=100, max_ism_bp=1000))
    with pytest.raises(DataError, match=r"needs 158 model windows; this Space runs at most 100"):
        backend.classify("A" * 2000, [str(adapter)])  # 79 windows, and as many for the base model
    with pytest.raises(DataError, match="in-silico mutagenesis needs 151 model windows"):
        backend.ism("A" * 50, str(adapter))  # one window + 3 variants x 50 bases
    with pytest.raises(DataError, match="score track needs 159 model windows"):
        backend.window_track("A" * 4000, str(adapter))
    assert cache.stats.base_loads == 0 and cache.loaded() == {}
    for length, window, stride in [(1, 16, 8), (16, 16, 8), (17, 16, 8), (1000, 50, 7), (999, 20, 20), (5, 3, 1)]:
        assert window_count(length, window, stride) == len(window_starts(length, window, stride))


# ---------------------------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------------------------


def test_messages_never_show_server_paths_or_hub_urls():
    text = scrub_message(f"Could not read alice/x on {os.environ['HF_ENDPOINT']} (/tmp/hubtune-space-repos-a/b/c.json)")
    assert text == "Could not read alice/x on the hub (c.json)"
    assert public_message(HubError("cannot reach http://10.0.0.7:8080/api (see /srv/hub/store.db)")) == \
        "cannot reach the hub (see store.db)"
    assert public_message(IndexError("list index out of range in /srv/app/x.py")) == GENERIC_ERROR


# ---------------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------------


def test_ids_and_class_names_are_drawn_as_plain_text_in_every_figure(tmp_path):
    render = load_render_module()
    hostile, label = r"$\frac{a}$", "$x^"
    probs = np.array([[0.3, 0.7]])
    meta = AdapterMeta("alice/x", tmp_path, RunInfo.from_dict(_info()))
    comparison = Comparison([(hostile, "ACGT")], ["neg", label], [AdapterPrediction("alice/x", ["neg", label], probs,
                                                                                   probs, [probs])], [meta])
    figures = [
        render.figure_outputs(comparison),
        render.figure_ism(IsmResult("alice/x", hostile, "ACGT", ["neg", label], 1, probs[0], np.zeros((4, 4)))),
        render.figure_track(WindowTrack("alice/x", hostile, 600, [0, 300], 378, np.array([[0.2, 0.8], [0.4, 0.6]]),
                                        ["neg", label])),
    ]
    for fig in figures:
        fig.savefig(io.BytesIO(), format="png")  # mathtext would raise here
    ticks = [t.get_text() for t in figures[0].axes[0].get_yticklabels()]
    drawn = figures[0].axes[0].yaxis.get_ticklabels()[0]
    assert ticks == [render.plain(hostile)] and drawn._preprocess_math(drawn.get_text()) == (hostile, False)


# ---------------------------------------------------------------------------------------------------------------------
# The running app: upload cap, messages, CSV folder
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_space() -> Iterator[tuple[str, Any, SpaceBackend]]:
    app = load_app_module()
    backend = SpaceBackend(ModelCache(), Limits(max_input_bytes=2_000))
    demo = app.build_app(backend, adapters=[], listing=lambda: [], preload=False)
    port = free_port()
    app.launch(demo, host="127.0.0.1", port=port, block=False)
    try:
        yield f"http://127.0.0.1:{port}", app, backend
    finally:
        demo.close(verbose=False)


def test_uploads_over_the_input_byte_limit_are_refused_by_the_server(small_space):
    url, _, _ = small_space
    big = httpx.post(f"{url}/gradio_api/upload", files={"files": ("big.fa", b">a\n" + b"A" * 5_000)}, timeout=30)
    small = httpx.post(f"{url}/gradio_api/upload", files={"files": ("small.fa", b">a\nACGT\n")}, timeout=30)
    assert small.status_code == 200
    assert big.status_code == 413, big.text[:200]


def test_api_errors_are_scrubbed_and_unexpected_ones_are_one_generic_sentence(small_space, monkeypatch):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    url, _, backend = small_space
    client = Client(url, verbose=False, analytics_enabled=False)
    with pytest.raises(AppError) as missing:
        client.predict("ACGT", f"alice/no-such-repo-{RUN}", api_name="/classify")
    assert "was not found on the hub" in str(missing.value)
    assert "127.0.0.1" not in str(missing.value) and "http" not in str(missing.value)

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise IndexError(f"list index out of range in {Path(__file__).resolve()}")

    monkeypatch.setattr(backend, "parse", explode)
    with pytest.raises(AppError) as broken:
        client.predict("ACGT", "alice/x", api_name="/classify")
    assert GENERIC_ERROR in str(broken.value) and "/" not in str(broken.value).replace("/classify", "")


def test_the_csv_folder_is_private_to_the_process_and_cleanup_never_follows_links(small_space, tmp_path):
    _, app, _ = small_space
    folder = app.csv_folder()
    assert folder == app.csv_folder()
    assert folder.stat().st_mode & 0o777 == 0o700
    assert folder.name != "hubtune-space-csv"
    precious = tmp_path / "thesis.txt"
    precious.write_text("keep me")
    link = folder / "link.csv"
    link.symlink_to(precious)
    old = folder / "old.csv"
    old.write_text("x")
    past = time.time() - 7200
    os.utime(old, (past, past))
    os.utime(precious, (past, past))
    app.csv_folder()
    assert not old.exists() and precious.read_text() == "keep me"
    link.unlink()
