"""The local hub's Space repos and repo-management routes, driven by the real `hf` CLI and `HfApi` (no mocks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from safetensors.numpy import save

HF_CLI = Path(sys.executable).with_name("hf")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _api(hub, token: str | None | bool = None) -> HfApi:
    return HfApi(endpoint=hub.url, token=hub.token if token is None else token)


def _hf(hub, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `hf` CLI against the local hub (the token in the environment, never on the command line)."""
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": token or hub.token, "HF_HUB_DISABLE_XET": "1",
           "NO_COLOR": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"}
    return subprocess.run([str(HF_CLI), *args], capture_output=True, text=True, env=env, timeout=120)


SPACE_README = """---
title: Demo
sdk: gradio
app_file: app.py
models:
- alice/promoter-lora
- alice/tiny-nt
---
# Demo Space
"""


def test_space_repos_upload_download_list_and_info(hub_server, tmp_path):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('space')}", repo_type="space", space_sdk="gradio").repo_id
    folder = tmp_path / "space"
    (folder / "wheels").mkdir(parents=True)
    (folder / "README.md").write_text(SPACE_README)
    (folder / "app.py").write_text("print('hello')\n")
    (folder / "wheels" / "pkg-0.1-py3-none-any.whl").write_bytes(os.urandom(2048))  # binary: goes through LFS
    api.upload_folder(repo_id=repo_id, repo_type="space", folder_path=folder)

    local = Path(snapshot_download(repo_id, repo_type="space", token=hub_server.token, local_dir=tmp_path / "dl"))
    for name in ("README.md", "app.py", "wheels/pkg-0.1-py3-none-any.whl"):
        assert (local / name).read_bytes() == (folder / name).read_bytes()
    info = api.space_info(repo_id)
    assert info.sdk == "gradio" and info.models == ["alice/promoter-lora", "alice/tiny-nt"]
    assert info.card_data.app_file == "app.py"
    assert repo_id in [s.id for s in api.list_spaces(author="alice")]
    assert repo_id not in [m.id for m in api.list_models(author="alice")]  # a Space is not a model
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(repo_id)


def test_hf_repos_ls_lists_the_callers_repos_of_every_type(hub_server):
    alice, bob = _api(hub_server), _api(hub_server, hub_server.other_token)
    model = alice.create_repo(f"alice/{_name('ls-model')}").repo_id
    space = alice.create_repo(f"alice/{_name('ls-space')}", repo_type="space", space_sdk="docker", private=True).repo_id
    theirs = bob.create_repo(f"bob/{_name('ls-bob')}").repo_id

    result = _hf(hub_server, "repos", "ls", "--limit", "0", "--format", "json")
    assert result.returncode == 0, result.stderr
    listed = {item["id"]: item for item in json.loads(result.stdout)}
    assert listed[model]["type"] == "model" and listed[model]["visibility"] == "public"
    assert listed[space]["type"] == "space" and listed[space]["visibility"] == "private"
    assert theirs not in listed
    assert theirs in [r.id for r in bob.list_user_repos()]
    with pytest.raises(HfHubHTTPError) as err:
        list(bob.list_user_repos(namespace="alice"))
    assert err.value.response.status_code == 403


def test_hf_repos_move_renames_with_history_and_stays_in_the_owners_namespace(hub_server):
    api = _api(hub_server)
    old = api.create_repo(f"alice/{_name('old')}").repo_id
    api.upload_file(path_or_fileobj=b"v1", path_in_repo="a.txt", repo_id=old)
    head = api.model_info(old).sha
    new = f"alice/{_name('new')}"

    result = _hf(hub_server, "repos", "move", old, new)
    assert result.returncode == 0, result.stderr
    assert api.model_info(new).sha == head
    assert len(api.list_repo_commits(new)) == 2
    assert not api.repo_exists(old)

    result = _hf(hub_server, "repos", "move", new, f"bob/{_name('stolen')}")
    assert result.returncode != 0 and "403" in result.stderr
    other = api.create_repo(f"alice/{_name('taken')}").repo_id
    with pytest.raises(HfHubHTTPError) as err:
        api.move_repo(new, other)
    assert err.value.response.status_code == 409
    with pytest.raises(HfHubHTTPError) as err:
        _api(hub_server, hub_server.other_token).move_repo(new, f"bob/{_name('x')}")
    assert err.value.response.status_code == 403  # bob may read alice's public repo, not move it


def test_duplicate_space_copies_files_history_and_variables(hub_server):
    alice, bob = _api(hub_server), _api(hub_server, hub_server.other_token)
    source = alice.create_repo(f"alice/{_name('orig')}", repo_type="space", space_sdk="gradio",
                               space_variables=[{"key": "HUBTUNE_SPACE_ADAPTERS", "value": "alice/a"}]).repo_id
    alice.upload_file(path_or_fileobj=SPACE_README.encode(), path_in_repo="README.md", repo_id=source,
                      repo_type="space")
    target = f"bob/{_name('copy')}"

    result = _hf(hub_server, "repos", "duplicate", source, target, "--type", "space", "-e", "EXTRA=1",
                 token=hub_server.other_token)
    assert result.returncode == 0, result.stderr
    assert bob.space_info(target).sha == alice.space_info(source).sha
    assert sorted(bob.list_repo_files(target, repo_type="space")) == [".gitattributes", "README.md"]
    values = {k: v.value for k, v in bob.get_space_variables(target).items()}
    assert values == {"HUBTUNE_SPACE_ADAPTERS": "alice/a", "EXTRA": "1"}
    assert set(alice.get_space_variables(source)) == {"HUBTUNE_SPACE_ADAPTERS"}  # the original is untouched

    bob.upload_file(path_or_fileobj=b"x", path_in_repo="more.txt", repo_id=target, repo_type="space")
    assert "more.txt" not in alice.list_repo_files(source, repo_type="space")
    assert bob.duplicate_repo(source, target, repo_type="space", exist_ok=True).repo_id == target
    with pytest.raises(HfHubHTTPError) as err:
        bob.duplicate_repo(source, f"alice/{_name('into-alice')}", repo_type="space")
    assert err.value.response.status_code == 403


def test_space_variables_are_set_by_the_owner_only(hub_server):
    alice, bob, anon = _api(hub_server), _api(hub_server, hub_server.other_token), _api(hub_server, False)
    space = alice.create_repo(f"alice/{_name('vars')}", repo_type="space", space_sdk="gradio").repo_id
    assert alice.get_space_variables(space) == {}
    alice.add_space_variable(space, "HUBTUNE_SPACE_ADAPTERS", "alice/a,alice/b", description="preselected")
    alice.add_space_variable(space, "HUBTUNE_SPACE_ADAPTERS", "alice/b")  # replaces
    found = anon.get_space_variables(space)
    assert found["HUBTUNE_SPACE_ADAPTERS"].value == "alice/b" and found["HUBTUNE_SPACE_ADAPTERS"].updated_at
    for api, status in ((bob, 403), (anon, 401)):
        with pytest.raises(HfHubHTTPError) as err:
            api.add_space_variable(space, "X", "1")
        assert err.value.response.status_code == status
    with pytest.raises(HfHubHTTPError) as err:
        alice.add_space_variable(space, "1 bad name", "1")
    assert err.value.response.status_code == 400
    assert alice.delete_space_variable(space, "HUBTUNE_SPACE_ADAPTERS") == {}


def test_list_models_honours_pipeline_tag_and_library(hub_server):
    api, anon = _api(hub_server), _api(hub_server, False)
    marker = f"m{uuid.uuid4().hex[:8]}"
    cards = {
        "classifier": f"---\ntags: [{marker}]\nlibrary_name: peft\npipeline_tag: text-classification\n---\n",
        "base": f"---\ntags: [{marker}]\nlibrary_name: transformers\npipeline_tag: fill-mask\n---\n",
    }
    for suffix, card in cards.items():
        repo_id = api.create_repo(f"alice/{marker}-{suffix}").repo_id
        api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo_id)
    ids = lambda **kw: [m.id for m in anon.list_models(filter=marker, **kw)]  # noqa: E731
    assert ids() == [f"alice/{marker}-classifier", f"alice/{marker}-base"]
    assert ids(pipeline_tag="text-classification") == [f"alice/{marker}-classifier"]
    assert ids(pipeline_tag="fill-mask") == [f"alice/{marker}-base"]
    assert ids(pipeline_tag="summarization") == []
    result = _hf(hub_server, "models", "ls", "--filter", marker, "--pipeline-tag", "text-classification",
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [m["id"] for m in json.loads(result.stdout)] == [f"alice/{marker}-classifier"]
    # The client has no `library` argument; the Hub's query parameter is checked directly.
    with urllib.request.urlopen(f"{hub_server.url}/api/models?filter={marker}&library=transformers") as resp:
        assert [m["id"] for m in json.loads(resp.read())] == [f"alice/{marker}-base"]


def test_list_repo_tree_expand_gives_the_last_commit_of_each_path(hub_server):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('tree')}").repo_id
    first = api.create_commit(repo_id, [CommitOperationAdd("a.txt", b"1"), CommitOperationAdd("d/b.txt", b"1")],
                              commit_message="first").oid
    second = api.create_commit(repo_id, [CommitOperationAdd("d/b.txt", b"2")], commit_message="second").oid

    entries = {e.path: e for e in api.list_repo_tree(repo_id, expand=True)}
    assert entries["a.txt"].last_commit.oid == first and entries["a.txt"].last_commit.title == "first"
    assert entries["d"].last_commit.oid == second
    nested = {e.path: e for e in api.list_repo_tree(repo_id, expand=True, recursive=True)}
    assert nested["d/b.txt"].last_commit.oid == second
    assert all(e.last_commit is None for e in api.list_repo_tree(repo_id))  # only when asked for
    at_first = {e.path: e for e in api.list_repo_tree(repo_id, expand=True, revision=first)}
    assert at_first["d"].last_commit.oid == first


def test_model_info_counts_safetensors_parameters_from_headers(hub_server):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('weights')}").repo_id
    weights = save({"w": np.zeros((3, 4), dtype=np.float32), "ids": np.zeros(5, dtype=np.int64)})
    head = save({"b": np.zeros((2, 2), dtype=np.float32)})
    api.create_commit(repo_id, [
        CommitOperationAdd("model.safetensors", weights),
        CommitOperationAdd("head/probe.safetensors", head),
        CommitOperationAdd("broken.safetensors", b"\xff" * 64),  # not safetensors: left out of the counts
    ], commit_message="weights")

    info = api.model_info(repo_id)
    assert info.safetensors.parameters == {"F32": 16, "I64": 5} and info.safetensors.total == 21
    assert api.model_info(repo_id, expand=["safetensors"]).safetensors.total == 21
    empty = api.create_repo(f"alice/{_name('noweights')}").repo_id
    assert api.model_info(empty).safetensors is None
