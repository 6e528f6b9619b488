"""The local hub server against hostile input: bodies sent without the rights to send them, bodies over the limit
(whatever their framing), header injection through error paths, absurd Range headers, deeply nested JSON and YAML,
file names that clash under case folding or Unicode normalisation, bidi controls, `.git` folders; blobs of deleted
repos; where tokens come from. Raw sockets are used where the real client would refuse to send the payload.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import unicodedata
import uuid
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from hubtune.errors import ConfigError
from hubtune.hub_server import HubServer
from hubtune.hub_server.tokens import parse_token_spec, read_token_file, tokens_from_env
from hubtune.hub_server.validation import fold_path, validate_repo_path

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------------------------------------- raw HTTP
def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=20)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict[str, list[str]], bytes]:
    """Status, headers (lowercase name -> values) and the body (as long as Content-Length says)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    length = int(headers.get("content-length", ["0"])[0])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _send_slowly_until_answered(url: str, head: bytes, total: int, chunked: bool = False) -> tuple[int, int]:
    """Send `head`, then up to `total` body bytes in 64 KiB pieces, stopping as soon as the server answers.
    Returns (status, body bytes sent before the answer)."""
    sock = _connect(url)
    sock.sendall(head)
    piece = b"x" * 65536
    sent = 0
    try:
        while sent < total:
            sock.setblocking(False)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break  # the answer is there
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            sock.sendall(piece)
            sent += len(piece)
        sock.settimeout(20)
        status, _, _ = _read_response(sock)
    except (BrokenPipeError, ConnectionResetError):
        sock.settimeout(20)
        status, _, _ = _read_response(sock)
    finally:
        sock.close()
    return status, sent


def _commit_body(*lines: dict) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def _file_line(path: str, content: bytes = b"x") -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}


HEADER = {"key": "header", "value": {"summary": "probe", "description": ""}}


def _post(url: str, path: str, body: bytes, token: str | None = None, method: str = "POST"):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url + path, data=body, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


# ------------------------------------------------------------------------------------------------- auth first
@pytest.mark.parametrize(
    "who, path, expected",
    [
        ("anonymous", "/api/repos/create", 401),
        ("anonymous", "/api/models/alice/{repo}/commit/main", 401),
        ("bob", "/api/models/alice/{repo}/commit/main", 403),
        ("bob", "/alice/{repo}.git/info/lfs/objects/batch", 403),
    ],
)
def test_requests_without_the_rights_are_answered_before_their_body_is_read(hub_server, who, path, expected):
    repo = HfApi(endpoint=hub_server.url, token=hub_server.token).create_repo(f"alice/{_name('guard')}").repo_id
    path = path.format(repo=repo.split("/")[1])
    auth = f"Authorization: Bearer {hub_server.other_token}\r\n" if who == "bob" else ""
    declared = 300 * MiB
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {declared}\r\n\r\n".encode()
    status, sent = _send_slowly_until_answered(hub_server.url, head, declared)
    # The server answered while most of the 300 MB were never sent: it did not wait for (or buffer) the body.
    assert status == expected
    assert sent < 64 * MiB


def test_body_over_the_limit_is_refused_whatever_the_framing(tmp_path):
    with HubServer(tmp_path / "hub", tokens={"tok": "alice"}, max_body_bytes=2 * MiB) as server:
        api = HfApi(endpoint=server.url, token="tok")
        repo = api.create_repo("alice/limits").repo_id
        path = f"/api/models/{repo}/commit/main"
        auth = "Authorization: Bearer tok\r\n"
        # Declared too large: refused unread.
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {10 * MiB}\r\n\r\n".encode()
        status, sent = _send_slowly_until_answered(server.url, head, 10 * MiB)
        assert status == 413 and sent < 10 * MiB
        # Chunked with one enormous chunk size: the bytes actually received are counted.
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\nffffffffffff\r\n".encode()
        status, sent = _send_slowly_until_answered(server.url, head, 16 * MiB)
        assert status == 413 and sent < 16 * MiB
        # Negative or malformed chunk sizes are protocol errors, not a way around the limit.
        for size in (b"-1", b"-0", b"0x10", b"+10", b"1 1"):
            sock = _connect(server.url)
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n".encode()
                + size
                + b"\r\n"
                + b"x" * 4096
            )
            assert _read_response(sock)[0] == 400, size
            sock.close()
        assert api.list_repo_commits(repo)[0].title == "initial commit"
        assert list((tmp_path / "hub" / "tmp").iterdir()) == []  # nothing spooled was left behind
        # Under the limit, commits still work (the body goes through a spooled file).
        api.upload_file(path_or_fileobj=os.urandom(MiB // 2), path_in_repo="half.bin", repo_id=repo)
        # An LFS object larger than the limit is refused by the batch API, before any upload.
        big = {"operation": "upload", "objects": [{"oid": "a" * 64, "size": 3 * MiB}]}
        status, body, _ = _post(server.url, f"/{repo}.git/info/lfs/objects/batch", json.dumps(big).encode(), "tok")
        assert status == 200 and json.loads(body)["objects"][0]["error"]["code"] == 422


def test_server_memory_stays_flat_under_large_bodies(tmp_path):
    """In a separate process: a 300 MB unauthenticated POST and a 96 MB chunked commit body (under the limit,
    so the server reads all of it) leave the server's resident memory within a few MB."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("reading another process's resident memory needs Linux /proc")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    code = (
        "import sys; from pathlib import Path; from hubtune.hub_server import serve; "
        "serve(Path(sys.argv[1]), '127.0.0.1', 0, {'tok': 'dave'}, max_body_bytes=128 * 1024 * 1024)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "hub")], env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split("Local hub at ", 1)[1].split(" ", 1)[0]

        def rss_mb() -> float:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
            raise AssertionError("no VmRSS")

        status, _, _ = _post(url, "/api/repos/create", json.dumps({"name": "mem"}).encode(), "tok")
        assert status == 200
        before = rss_mb()
        head = f"POST /api/repos/create HTTP/1.1\r\nHost: x\r\nContent-Length: {300 * MiB}\r\n\r\n".encode()
        assert _send_slowly_until_answered(url, head, 300 * MiB)[0] == 401
        # Blank 1 MiB lines: the server reads the whole body, line by line, and finds no header line.
        line = b" " * (MiB - 1) + b"\n"
        sock = _connect(url)
        sock.sendall(
            b"POST /api/models/dave/mem/commit/main HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(96):
            sock.sendall(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        status, _, body = _read_response(sock)
        sock.close()
        assert status == 400 and b"header" in body
        growth = rss_mb() - before
        assert growth < 40, f"server RSS grew by {growth:.0f} MB"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ------------------------------------------------------------------------------------------------- headers
INJECT = "%0d%0aSet-Cookie:%20injected=1%0d%0aX-Injected:%20yes"


def test_no_request_text_reaches_a_response_header(hub_server):
    repo = HfApi(endpoint=hub_server.url, token=hub_server.token).create_repo(f"alice/{_name('hdr')}").repo_id
    probes = [
        ("PUT", f"/api/models/a{INJECT}/b/settings", None),  # 401
        ("POST", f"/api/models/a{INJECT}/b/commit/main", None),  # 401
        ("POST", f"/a{INJECT}/b.git/info/lfs/objects/batch", None),  # 401
        ("POST", f"/api/models/{repo}/commit/main{INJECT}", hub_server.other_token),  # 403
        ("POST", f"/api/models/alice{INJECT}/x/preupload/main", hub_server.other_token),  # 404
        ("GET", f"/api/models/{repo}/tree/main{INJECT}", None),  # 404
        ("GET", f"/{repo}/resolve/main/none{INJECT}.txt", None),  # 404 with X-Repo-Commit
        ("GET", f"/api/models/{repo}/revision/x{INJECT}", None),  # 404
        ("PUT", f"/lfs-upload/model/alice/x{INJECT}/{'a' * 64}?size=1&expires=1&sig={INJECT}", None),  # 403
        ("GET", f"/nothing{INJECT}", None),  # no route
        ("GET", f"/api/models?cursor=0&limit=1&x={INJECT}", None),  # Link header built from the query
    ]
    for method, path, token in probes:
        sock = _connect(hub_server.url)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 0\r\n\r\n".encode())
        status, headers, _ = _read_response(sock)
        sock.close()
        assert status < 500, path
        assert "set-cookie" not in headers and "x-injected" not in headers, path
        for name, values in headers.items():
            for value in values:
                if name == "link":  # the next-page link repeats the query, percent-encoded
                    assert "%0D%0ASet-Cookie" in value and "\n" not in value
                else:
                    assert "injected" not in value.lower() and "set-cookie" not in value.lower(), (path, name, value)
                assert all(" " <= ch <= "~" for ch in value), (path, name, value)
                assert len(value) <= 400, (path, name)


# ------------------------------------------------------------------------------------------------- Range, JSON
def test_absurd_range_headers_get_416_and_normal_ones_still_work(hub_server):
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    repo = api.create_repo(f"alice/{_name('range')}").repo_id
    api.upload_file(path_or_fileobj=b"hello world", path_in_repo="a.txt", repo_id=repo)
    url = f"/{repo}/resolve/main/a.txt"
    for value in ("bytes=" + "1" * 5000 + "-", "bytes=0-" + "9" * 5000, "bytes=-" + "9" * 4000, "items=0-1", "x"):
        sock = _connect(hub_server.url)
        sock.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\nRange: {value}\r\n\r\n".encode())
        status, headers, _ = _read_response(sock)
        sock.close()
        assert status == 416, value[:20]
        assert headers["content-range"] == ["bytes */11"]
    sock = _connect(hub_server.url)
    sock.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\nRange: bytes=6-\r\nConnection: close\r\n\r\n".encode())
    status, headers, body = _read_response(sock)
    sock.close()
    assert status == 206 and body == b"world"


def test_deeply_nested_json_is_a_clear_400(hub_server):
    repo = HfApi(endpoint=hub_server.url, token=hub_server.token).create_repo(f"alice/{_name('deep')}").repo_id
    for body in (b"[" * 100_000, b'{"a":' * 100_000, b"[" * 70 + b"]" * 70):
        status, text, _ = _post(hub_server.url, "/api/repos/create", body, hub_server.token)
        assert status == 400 and b"nested" in text
    deep = _commit_body(HEADER) + b'{"key": "file", "value": ' + b"[" * 5000 + b"\n"
    status, text, _ = _post(hub_server.url, f"/api/models/{repo}/commit/main", deep, hub_server.token)
    assert status == 400 and b"line 2" in text


def test_hostile_readme_metadata_never_breaks_repo_info(hub_server):
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    nested = "---\ntags: " + "[" * 3000 + "]" * 3000 + "\n---\n"
    laughs = ["---", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    bomb = "\n".join([*laughs, "tags: *a6", "---", ""])
    for readme in (nested, bomb):
        repo = api.create_repo(f"alice/{_name('card')}").repo_id
        body = _commit_body(HEADER, _file_line("README.md", readme.encode()))
        assert _post(hub_server.url, f"/api/models/{repo}/commit/main", body, hub_server.token)[0] == 200
        info = api.model_info(repo)  # the card is ignored, the repo still answers
        assert info.card_data is None or not info.card_data.get("tags")
        status, text, _ = _post(
            hub_server.url, "/api/validate-yaml", json.dumps({"content": readme}).encode(), hub_server.token
        )
        assert status == 400 and b"metadata" in text


# ------------------------------------------------------------------------------------------------- file names
def _commit(hub, repo: str, *paths: str) -> tuple[int, bytes]:
    body = _commit_body(HEADER, *(_file_line(p) for p in paths))
    status, text, _ = _post(hub.url, f"/api/models/{repo}/commit/main", body, hub.token)
    return status, text


def test_file_names_that_clash_or_deceive_are_refused(hub_server):
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    repo = api.create_repo(f"alice/{_name('names')}").repo_id
    nfc = unicodedata.normalize("NFC", "café.txt")
    nfd = unicodedata.normalize("NFD", "café.txt")
    assert _commit(hub_server, repo, nfc, "README.md", "data/x.txt")[0] == 200
    head = api.model_info(repo).sha
    clashes = [nfd, "readme.md", "README.MD", "Data/X.txt", "CAFÉ.TXT", "readme.md/inner.txt"]
    for bad in clashes:
        status, text = _commit(hub_server, repo, bad)
        assert status == 400 and b"clashes" in text, bad
    status, text = _commit(hub_server, repo, "new.txt", "NEW.txt")  # twins inside one commit
    assert status == 400 and b"clashes" in text
    deceiving = ["evil\u202etxt.exe", "a\u2066b.txt", "a\u200e.txt", "a\u200f.txt", "x\u202a.txt", ".GIT/config"]
    deceiving += ["sub/.Git/HEAD", ".git/config", "a/.git", "x\u0085y.txt"]
    for bad in deceiving:
        status, text = _commit(hub_server, repo, bad)
        assert status == 400 and b"Invalid file path" in text, ascii(bad)
        assert bad.isascii() or bad.encode() not in text  # a non-ASCII name is shown escaped, not rendered
    assert api.model_info(repo).sha == head
    # Replacing a file under its exact name, and a name whose twin was deleted first, are fine.
    assert _commit(hub_server, repo, nfc)[0] == 200
    api.create_commit(repo, [CommitOperationAdd("Other.txt", b"1")], commit_message="add")
    api.delete_file("Other.txt", repo_id=repo)
    api.upload_file(path_or_fileobj=b"2", path_in_repo="other.txt", repo_id=repo)
    assert "other.txt" in api.list_repo_files(repo)


def test_fold_path_and_validation_units():
    assert fold_path("README.md") == fold_path("readme.MD")
    assert fold_path(unicodedata.normalize("NFD", "é")) == fold_path("É")
    assert fold_path("a.txt") != fold_path("b.txt")
    for good in (".gitattributes", "a/.gitignore", "git/x", "café.txt", "日本語.txt"):
        assert validate_repo_path(good) == good


# ------------------------------------------------------------------------------------------------- blobs
def test_deleting_a_repo_removes_the_blobs_no_other_repo_uses(tmp_path):
    with HubServer(tmp_path / "hub", tokens={"tok": "erin"}) as server:
        api = HfApi(endpoint=server.url, token="tok")
        blobs = server.store.blobs
        first, second = api.create_repo("erin/first").repo_id, api.create_repo("erin/second").repo_id
        shared, only_first = b"shared content\n", b"\0only in first" + os.urandom(64)  # regular, then LFS
        for repo in (first, second):
            api.upload_file(path_or_fileobj=shared, path_in_repo="shared.txt", repo_id=repo)
        api.upload_file(path_or_fileobj=only_first, path_in_repo="w.bin", repo_id=first)
        api.upload_file(path_or_fileobj=b"old", path_in_repo="old.txt", repo_id=first)
        api.delete_file("old.txt", repo_id=first)  # only in the history of first
        digest = {
            name: hashlib.sha256(data).hexdigest()
            for name, data in (("shared", shared), ("only", only_first), ("old", b"old"))
        }
        assert all(blobs.has(d) for d in digest.values())
        api.delete_repo(first)
        assert blobs.has(digest["shared"]) and not blobs.has(digest["only"]) and not blobs.has(digest["old"])
        assert server.store.check_integrity() == []
        assert api.hf_hub_download(second, "shared.txt", cache_dir=tmp_path / "c")
        api.delete_repo(second)
        assert sorted(p for p in (tmp_path / "hub" / "blobs").rglob("*") if p.is_file()) == []
        # A new repo after everything was removed still gets its .gitattributes content.
        third = api.create_repo("erin/third").repo_id
        attributes = Path(api.hf_hub_download(third, ".gitattributes", cache_dir=tmp_path / "d")).read_text()
        assert "filter=lfs" in attributes
        assert server.store.check_integrity() == []


# ------------------------------------------------------------------------------------------------- tokens
def test_token_file_and_environment(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("# local hub users\nsecret-a:alice\n\n  secret-b:bob  \n")
    assert read_token_file(path) == {"secret-a": "alice", "secret-b": "bob"}
    path.write_text("secret-a:alice\nsecret-only\n")
    with pytest.raises(ConfigError, match="line 2") as err:
        read_token_file(path)
    assert "secret-only" not in str(err.value)
    with pytest.raises(ConfigError, match="holds no"):
        path.write_text("# nothing\n")
        read_token_file(path)
    assert tokens_from_env({"HF_TOKEN": "s3", "HUBTUNE_HUB_USER": "carol"}) == {"s3": "carol"}
    assert tokens_from_env({"HF_TOKEN": "s3"}) == {"s3": "demo"}
    assert tokens_from_env({}) == {}
    with pytest.raises(ConfigError) as err:
        parse_token_spec("hf_abcdef", "--token #1")
    assert "hf_abcdef" not in str(err.value)


def test_hub_serve_reads_a_token_file_and_warns_about_tokens_on_the_command_line(tmp_path, monkeypatch, capsys):
    import hubtune.hub_server as hub_server_pkg
    from hubtune.cli import main

    seen: dict = {}
    monkeypatch.setattr(hub_server_pkg, "serve", lambda root, **kw: seen.update(kw))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("file-secret:alice\n")
    tokens.chmod(0o600)
    assert main(["hub", "serve", "--root", str(tmp_path / "h"), "--token-file", str(tokens), "--max-body-mb", "5"]) == 0
    assert seen["tokens"] == {"file-secret": "alice"} and seen["max_body_bytes"] == 5 * MiB
    out = capsys.readouterr()
    assert "warning" not in out.err and "file-secret" not in out.out + out.err
    assert main(["hub", "serve", "--root", str(tmp_path / "h"), "--token", "cli-secret:bob"]) == 0
    out = capsys.readouterr()
    assert seen["tokens"] == {"cli-secret": "bob"} and "visible to every user" in out.err
    assert "cli-secret" not in out.out + out.err
    monkeypatch.setenv("HF_TOKEN", "env-secret")
    monkeypatch.setenv("HUBTUNE_HUB_USER", "carol")
    assert main(["hub", "serve", "--root", str(tmp_path / "h")]) == 0
    assert seen["tokens"] == {"env-secret": "carol"} and "warning" not in capsys.readouterr().err
