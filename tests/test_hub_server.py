"""The local hub server, driven by the real huggingface_hub client (no mocks).

Every test makes its own repos (unique names) on the session's server, so the order of tests does not matter.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    ModelCard,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import get_hf_file_metadata, hf_hub_url

from hubtune.errors import ConfigError
from hubtune.hub_server import FaultPlan, HubServer
from hubtune.hub_server.store import LFS_SIZE_THRESHOLD

README = """---
tags:
- dna
- promoter
library_name: peft
base_model: tiny/dnabert-base
license: apache-2.0
---
# Promoter adapter

A LoRA adapter.
"""
BIG_SIZE = LFS_SIZE_THRESHOLD + 1024 * 1024  # just over the 10 MiB LFS threshold


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _api(hub, token: str | None | bool = None) -> HfApi:
    return HfApi(endpoint=hub.url, token=hub.token if token is None else token)


def _raw(hub, method: str, path: str, body: bytes | None = None, token: str | None = None, headers=None):
    """A request without the client, for payloads the client itself refuses to send. Returns (status, body, headers)."""
    req = urllib.request.Request(hub.url + path, data=body, method=method, headers=dict(headers or {}))
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


@pytest.fixture(scope="module")
def pushed(hub_server, tmp_path_factory):
    """alice/<adapter-…> with a README (YAML front matter), a small text file and an 11 MiB binary (LFS)."""
    folder = tmp_path_factory.mktemp("adapter")
    (folder / "README.md").write_text(README)
    (folder / "notes.txt").write_text("hello hub\n")
    (folder / "weights").mkdir()
    (folder / "weights" / "big.bin").write_bytes(os.urandom(BIG_SIZE))
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('adapter')}").repo_id
    info = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="Add adapter")
    return repo_id, folder, info.oid


# ------------------------------------------------------------------------------------------------- identity
def test_whoami_names_the_token_owner_and_rejects_unknown_tokens(hub_server):
    assert _api(hub_server).whoami()["name"] == "alice"
    assert _api(hub_server, hub_server.other_token).whoami()["name"] == "bob"
    with pytest.raises(HfHubHTTPError, match="Invalid user token") as err:
        _api(hub_server, "hf_not_a_real_token").whoami()
    assert err.value.response.status_code == 401


# ------------------------------------------------------------------------------------------------- upload/download
def test_upload_folder_stores_small_files_regular_and_big_binary_as_lfs(hub_server, pushed):
    repo_id, folder, oid = pushed
    info = _api(hub_server).model_info(repo_id, files_metadata=True)
    assert info.sha == oid and len(oid) == 40
    files = {s.rfilename: s for s in info.siblings}
    assert set(files) == {".gitattributes", "README.md", "notes.txt", "weights/big.bin"}
    assert files["notes.txt"].lfs is None and files["notes.txt"].size == len("hello hub\n")
    big = files["weights/big.bin"]
    assert big.lfs is not None and big.lfs.size == BIG_SIZE and big.size == BIG_SIZE


def test_hf_hub_download_returns_identical_bytes_and_hub_metadata(hub_server, pushed):
    repo_id, folder, oid = pushed
    small = hf_hub_download(repo_id, "notes.txt")
    big = hf_hub_download(repo_id, "weights/big.bin")
    assert Path(small).read_text() == "hello hub\n"
    assert Path(big).read_bytes() == (folder / "weights" / "big.bin").read_bytes()
    meta = get_hf_file_metadata(hf_hub_url(repo_id, "weights/big.bin", endpoint=hub_server.url))
    assert meta.commit_hash == oid and meta.size == BIG_SIZE and len(meta.etag) == 64  # sha256 of an LFS file


def test_snapshot_download_fetches_every_file(hub_server, pushed, tmp_path):
    repo_id, folder, oid = pushed
    local = Path(snapshot_download(repo_id, local_dir=tmp_path / "snap"))
    for rel in ("README.md", "notes.txt", "weights/big.bin"):
        assert (local / rel).read_bytes() == (folder / rel).read_bytes()
    assert (local / ".gitattributes").is_file()


def test_range_requests_return_partial_content(hub_server, pushed):
    repo_id, folder, oid = pushed
    expected = (folder / "weights" / "big.bin").read_bytes()
    status, body, headers = _raw(
        hub_server, "GET", f"/{repo_id}/resolve/main/weights/big.bin", headers={"Range": "bytes=10-19"}
    )
    assert status == 206 and body == expected[10:20]
    assert headers["Content-Range"] == f"bytes 10-19/{BIG_SIZE}"
    status, body, _ = _raw(hub_server, "GET", f"/{repo_id}/resolve/main/notes.txt", headers={"Range": "bytes=-3"})
    assert status == 206 and body == b"ub\n"


def test_model_info_and_model_card_expose_readme_metadata(hub_server, pushed):
    repo_id, _, _ = pushed
    info = _api(hub_server).model_info(repo_id)
    assert info.card_data.tags == ["dna", "promoter"]
    assert info.card_data.base_model == "tiny/dnabert-base"
    assert {"dna", "promoter", "peft", "base_model:tiny/dnabert-base", "license:apache-2.0"} <= set(info.tags)
    assert info.library_name == "peft" and info.private is False and info.author == "alice"
    assert info.last_modified is not None
    card = ModelCard.load(repo_id)
    assert card.data.license == "apache-2.0" and "A LoRA adapter." in card.text


def test_reupload_of_identical_content_makes_no_commit(hub_server, pushed):
    repo_id, folder, oid = pushed
    api = _api(hub_server)
    before = api.list_repo_commits(repo_id)
    again = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="Same again")
    assert again.oid == oid
    assert [c.commit_id for c in api.list_repo_commits(repo_id)] == [c.commit_id for c in before]


def test_commit_history_lists_commits_newest_first(hub_server, tmp_path):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('history')}").repo_id
    api.upload_file(path_or_fileobj=b"one", path_in_repo="a.txt", repo_id=repo_id, commit_message="First")
    second = api.upload_file(
        path_or_fileobj=b"two", path_in_repo="a.txt", repo_id=repo_id, commit_message="Second", commit_description="d"
    )
    api.delete_file("a.txt", repo_id=repo_id, commit_message="Remove a")
    commits = api.list_repo_commits(repo_id)
    assert [c.title for c in commits] == ["Remove a", "Second", "First", "initial commit"]
    assert commits[1].commit_id == second.oid and commits[1].message == "d" and commits[0].authors == ["alice"]
    assert hf_hub_download(repo_id, "a.txt", revision=second.oid, cache_dir=tmp_path) and not api.file_exists(
        repo_id, "a.txt"
    )


def test_branch_uploads_stay_off_main(hub_server, tmp_path):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('branchy')}").repo_id
    api.create_branch(repo_id, branch="dev")
    api.upload_file(path_or_fileobj=b"dev only", path_in_repo="dev.txt", repo_id=repo_id, revision="dev")
    assert Path(hf_hub_download(repo_id, "dev.txt", revision="dev", cache_dir=tmp_path)).read_bytes() == b"dev only"
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(repo_id, "dev.txt", cache_dir=tmp_path)
    assert {b.name for b in api.list_repo_refs(repo_id).branches} == {"main", "dev"}
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo_id, revision="no-such-branch")


def test_stale_parent_commit_is_refused(hub_server):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('parent')}").repo_id
    first = api.upload_file(path_or_fileobj=b"1", path_in_repo="x.txt", repo_id=repo_id)
    api.upload_file(path_or_fileobj=b"2", path_in_repo="x.txt", repo_id=repo_id)
    head = api.model_info(repo_id).sha
    with pytest.raises(HfHubHTTPError, match="A commit has happened since") as err:
        api.create_commit(repo_id, [CommitOperationAdd("y.txt", b"3")], commit_message="late", parent_commit=first.oid)
    assert err.value.response.status_code == 412
    assert api.model_info(repo_id).sha == head


def test_dataset_and_space_repos(hub_server):
    api = _api(hub_server)
    ds = api.create_repo(f"alice/{_name('data')}", repo_type="dataset").repo_id
    api.upload_file(path_or_fileobj=b"seq,label\nACGT,1\n", path_in_repo="train.csv", repo_id=ds, repo_type="dataset")
    assert [s.rfilename for s in api.dataset_info(ds).siblings] == [".gitattributes", "train.csv"]
    space = api.create_repo(f"alice/{_name('demo')}", repo_type="space", space_sdk="gradio").repo_id
    assert api.space_info(space).sdk == "gradio"


def test_create_twice_conflicts_and_delete_removes(hub_server):
    api = _api(hub_server)
    repo_id = f"alice/{_name('dup')}"
    api.create_repo(repo_id)
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(repo_id)
    assert err.value.response.status_code == 409
    assert api.create_repo(repo_id, exist_ok=True).repo_id == repo_id
    api.delete_repo(repo_id)
    assert not api.repo_exists(repo_id)


def test_lfs_upload_links_verify_content_and_signature(hub_server):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('lfs')}").repo_id
    good = b"\0" + os.urandom(1000)
    oid = hashlib.sha256(good).hexdigest()
    batch = json.dumps({"operation": "upload", "objects": [{"oid": oid, "size": len(good)}]}).encode()
    status, body, _ = _raw(hub_server, "POST", f"/{repo_id}.git/info/lfs/objects/batch", batch, hub_server.token)
    assert status == 200
    href = json.loads(body)["objects"][0]["actions"]["upload"]["href"]
    path = href[len(hub_server.url) :]
    bad = bytearray(good)
    bad[-1] ^= 1
    assert _raw(hub_server, "PUT", path, bytes(bad))[0] == 400  # same size, wrong sha256
    assert _raw(hub_server, "PUT", path, good + b"x")[0] in (400, 413)  # wrong size
    assert _raw(hub_server, "PUT", path.replace("sig=", "sig=0"), good)[0] == 403  # tampered link
    status, body, _ = _raw(hub_server, "POST", f"/{repo_id}.git/info/lfs/objects/batch", batch, hub_server.token)
    assert "actions" in json.loads(body)["objects"][0]  # nothing was stored by the refused uploads
    assert _raw(hub_server, "PUT", path, good)[0] == 200
    status, body, _ = _raw(hub_server, "POST", f"/{repo_id}.git/info/lfs/objects/batch", batch, hub_server.token)
    assert "actions" not in json.loads(body)["objects"][0]  # stored now: the client will skip the upload


def test_listings_follow_pagination_links(hub_server, monkeypatch):
    from hubtune.hub_server import routes_browse

    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('pages')}").repo_id
    ops = [CommitOperationAdd(f"d/f{i}.txt", str(i).encode()) for i in range(5)]
    api.create_commit(repo_id, ops, commit_message="five files")
    api.upload_file(path_or_fileobj=b"more", path_in_repo="g.txt", repo_id=repo_id)
    monkeypatch.setattr(routes_browse, "TREE_PAGE_SIZE", 2)
    monkeypatch.setattr(routes_browse, "COMMITS_PAGE_SIZE", 1)
    monkeypatch.setattr(routes_browse, "LIST_PAGE_SIZE", 1)
    files = sorted(api.list_repo_files(repo_id))
    assert files == [".gitattributes", "d/f0.txt", "d/f1.txt", "d/f2.txt", "d/f3.txt", "d/f4.txt", "g.txt"]
    assert len(api.list_repo_commits(repo_id)) == 3
    listed = {m.id: m for m in api.list_models(author="alice", full=True)}  # one repo per page
    assert len(listed) > 1 and "g.txt" in [s.rfilename for s in listed[repo_id].siblings]


# ------------------------------------------------------------------------------------------------- discovery
def test_list_models_filters_by_tag_search_and_author(hub_server):
    alice, bob = _api(hub_server), _api(hub_server, hub_server.other_token)
    marker = f"m{uuid.uuid4().hex[:8]}"  # never all digits: YAML would read the tag as a number
    for api, owner, tag in ((alice, "alice", "enhancer"), (bob, "bob", "splice")):
        repo_id = api.create_repo(f"{owner}/{marker}-{tag}").repo_id
        card = f"---\ntags:\n- {tag}\n- {marker}\nlibrary_name: peft\n---\nbody\n"
        api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo_id)
    anon = _api(hub_server, False)
    assert [m.id for m in anon.list_models(filter=marker)] == [f"alice/{marker}-enhancer", f"bob/{marker}-splice"]
    assert [m.id for m in anon.list_models(filter=[marker, "splice"])] == [f"bob/{marker}-splice"]
    assert [m.id for m in anon.list_models(search=f"{marker}-enh")] == [f"alice/{marker}-enhancer"]
    assert [m.id for m in anon.list_models(author="bob", search=marker)] == [f"bob/{marker}-splice"]
    with_cards = list(anon.list_models(filter=marker, cardData=True))
    assert with_cards[0].card_data.tags == ["enhancer", marker]
    assert all(m.card_data is None for m in anon.list_models(filter=marker))


# ------------------------------------------------------------------------------------------------- access control
def test_private_repo_is_invisible_without_the_owners_token(hub_server, tmp_path):
    alice = _api(hub_server)
    repo_id = alice.create_repo(f"alice/{_name('secret')}", private=True).repo_id
    alice.upload_file(path_or_fileobj=b"hidden", path_in_repo="s.txt", repo_id=repo_id)
    assert alice.model_info(repo_id).private is True
    assert repo_id in [m.id for m in alice.list_models(author="alice")]
    for other in (_api(hub_server, False), _api(hub_server, hub_server.other_token)):
        with pytest.raises(RepositoryNotFoundError):
            other.model_info(repo_id)
        assert repo_id not in [m.id for m in other.list_models(author="alice")]
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, "s.txt", token=False, cache_dir=tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, "s.txt", token=hub_server.other_token, cache_dir=tmp_path)
    assert Path(hf_hub_download(repo_id, "s.txt", token=hub_server.token, cache_dir=tmp_path)).read_bytes() == b"hidden"


def test_writes_need_a_valid_token_of_the_namespace_owner(hub_server):
    alice = _api(hub_server)
    repo_id = alice.create_repo(f"alice/{_name('guarded')}").repo_id
    with pytest.raises(HfHubHTTPError, match="must be authenticated") as err:
        _api(hub_server, False).create_repo(f"alice/{_name('anon')}")
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError, match="Invalid credentials") as err:
        _api(hub_server, "hf_wrong").upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert err.value.response.status_code == 401
    bob = _api(hub_server, hub_server.other_token)
    with pytest.raises(HfHubHTTPError, match="rights to write") as err:
        bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert err.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError, match="namespace") as err:
        bob.create_repo(f"alice/{_name('squat')}")
    assert err.value.response.status_code == 403
    assert [c.title for c in alice.list_repo_commits(repo_id)] == ["initial commit"]


def test_path_traversal_and_malformed_paths_are_rejected(hub_server):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('paths')}").repo_id
    head = api.model_info(repo_id).sha
    for bad in ("../escape.txt", "a/../../etc/passwd", "/etc/passwd", "a\\b.txt", "a//b.txt", "a/./b", "dir/", ""):
        lines = [
            {"key": "header", "value": {"summary": "evil", "description": ""}},
            {"key": "file", "value": {"path": bad, "content": base64.b64encode(b"x").decode(), "encoding": "base64"}},
        ]
        body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        status, text, _ = _raw(hub_server, "POST", f"/api/models/{repo_id}/commit/main", body, hub_server.token)
        assert status == 400, bad
        assert b"Invalid file path" in text
        status, _, _ = _raw(
            hub_server,
            "POST",
            f"/api/models/{repo_id}/preupload/main",
            json.dumps({"files": [{"path": bad, "sample": "", "size": 1}]}).encode(),
            hub_server.token,
        )
        assert status == 400, bad
    assert api.model_info(repo_id).sha == head


def test_invalid_repo_ids_get_400(hub_server):
    for name in ("bad name", "a--b", "-lead", "x" * 100, "../up"):
        payload = json.dumps({"name": name, "organization": "alice", "type": "model"}).encode()
        status, text, _ = _raw(hub_server, "POST", "/api/repos/create", payload, hub_server.token)
        assert status == 400, name
        assert b"Invalid repo id" in text


def test_invalid_readme_metadata_is_refused_before_upload(hub_server):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('yaml')}").repo_id
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.upload_file(path_or_fileobj=b"---\ntags: [unclosed\n---\n", path_in_repo="README.md", repo_id=repo_id)
    assert [c.title for c in api.list_repo_commits(repo_id)] == ["initial commit"]


def test_server_never_logs_tokens_or_upload_signatures(hub_server, caplog):
    api = _api(hub_server)
    with caplog.at_level(logging.DEBUG, logger="hubtune.hub_server"):
        repo_id = api.create_repo(f"alice/{_name('quiet')}").repo_id
        api.upload_file(path_or_fileobj=b"\0binary", path_in_repo="w.bin", repo_id=repo_id)
    assert "PUT /lfs-upload/" in caplog.text  # the LFS path really ran
    assert hub_server.token not in caplog.text and "sig=" not in caplog.text and "Bearer" not in caplog.text


# ------------------------------------------------------------------------------------------------- faults
def _faults(hub) -> FaultPlan:
    return hub.server.faults


def test_failed_commit_leaves_no_trace_and_a_retry_succeeds(hub_server, tmp_path):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('crash')}").repo_id
    head = api.model_info(repo_id).sha
    (tmp_path / "a.txt").write_text("new text")
    (tmp_path / "w.bin").write_bytes(b"\0" + os.urandom(4096))
    _faults(hub_server).fail_next_commits(1)
    with pytest.raises(HfHubHTTPError) as err:
        api.upload_folder(repo_id=repo_id, folder_path=tmp_path)
    assert err.value.response.status_code == 500
    info = api.model_info(repo_id)
    assert info.sha == head and [s.rfilename for s in info.siblings] == [".gitattributes"]
    assert hub_server.server.store.check_integrity() == []
    retried = api.upload_folder(repo_id=repo_id, folder_path=tmp_path)
    assert retried.oid != head
    assert (
        Path(hf_hub_download(repo_id, "w.bin", cache_dir=tmp_path / "c")).read_bytes()
        == (tmp_path / "w.bin").read_bytes()
    )


def test_rate_limited_route_is_retried_by_the_client(hub_server):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('busy')}").repo_id
    plan = _faults(hub_server)
    before = plan.injected.get("rate_limit:preupload", 0)
    plan.rate_limit_route("preupload", 1)
    info = api.upload_file(path_or_fileobj=b"ok", path_in_repo="ok.txt", repo_id=repo_id)
    assert plan.injected["rate_limit:preupload"] == before + 1
    assert api.model_info(repo_id).sha == info.oid


def test_rate_limited_commit_fails_cleanly(hub_server):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('busy-commit')}").repo_id
    head = api.model_info(repo_id).sha
    _faults(hub_server).rate_limit_route("commit", 1)
    with pytest.raises(HfHubHTTPError) as err:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert err.value.response.status_code == 429
    assert api.model_info(repo_id).sha == head


def test_connection_dropped_during_lfs_upload_is_retried(hub_server, tmp_path):
    api = _api(hub_server)
    repo_id = api.create_repo(f"alice/{_name('flaky')}").repo_id
    payload = b"\0" + os.urandom(2 * 1024 * 1024)
    plan = _faults(hub_server)
    before = plan.injected.get("drop_lfs_uploads", 0)
    plan.drop_next_lfs_uploads(1)
    api.upload_file(path_or_fileobj=payload, path_in_repo="w.bin", repo_id=repo_id)
    assert plan.injected["drop_lfs_uploads"] == before + 1
    assert Path(hf_hub_download(repo_id, "w.bin", cache_dir=tmp_path)).read_bytes() == payload
    assert hub_server.server.store.check_integrity() == []


def test_fault_plan_from_environment():
    plan = FaultPlan.from_env({"HUBTUNE_HUB_FAULTS": '{"fail_commits": 2, "rate_limit": {"resolve": 1}}'})
    assert plan.fail_commits == 2 and plan.rate_limit == {"resolve": 1}
    assert FaultPlan.from_json(plan.to_json()).rate_limit == {"resolve": 1}
    assert FaultPlan.from_env({}).fail_commits == 0
    with pytest.raises(ConfigError, match="not valid JSON"):
        FaultPlan.from_env({"HUBTUNE_HUB_FAULTS": "{oops"})
    with pytest.raises(ConfigError, match="unknown route"):
        FaultPlan.from_dict({"rate_limit": {"nope": 1}})


def test_every_fault_route_name_is_a_route_of_the_server():
    from hubtune.hub_server.app import all_routes
    from hubtune.hub_server.faults import ROUTES

    names = {route.name for route in all_routes()}
    assert ROUTES <= names, f"rate_limit would never fire on {sorted(ROUTES - names)}"


# ------------------------------------------------------------------------------------------------- lifecycle
def test_data_survives_a_restart(tmp_path):
    root = tmp_path / "hub"
    with HubServer(root, tokens={"tok": "carol"}) as first:
        api = HfApi(endpoint=first.url, token="tok")
        repo_id = api.create_repo("carol/keep").repo_id
        oid = api.upload_file(path_or_fileobj=b"kept", path_in_repo="k.txt", repo_id=repo_id).oid
    with HubServer(root, tokens={"tok": "carol"}) as second:
        api = HfApi(endpoint=second.url, token="tok")
        assert api.model_info(repo_id).sha == oid
        path = hf_hub_download(repo_id, "k.txt", endpoint=second.url, cache_dir=tmp_path / "cache")
        assert Path(path).read_bytes() == b"kept"


def test_serve_in_a_subprocess_reads_faults_from_the_environment(tmp_path):
    repo_root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, HUBTUNE_HUB_FAULTS='{"rate_limit": {"whoami": 1}}')
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo_root, env.get("PYTHONPATH")) if p)
    code = (
        "import sys; from pathlib import Path; from hubtune.hub_server import serve; "
        "serve(Path(sys.argv[1]), '127.0.0.1', 0, {'tok': 'dave'})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "hub")], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        url = line.split("Local hub at ", 1)[1].split(" ", 1)[0]
        req = urllib.request.Request(f"{url}/api/whoami-v2", headers={"Authorization": "Bearer tok"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 429 and err.value.headers["Retry-After"] == "1"
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["name"] == "dave"
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl+C does: serve() stops the server and returns
        assert proc.wait(timeout=10) == 0
