"""HTTP side of the local Hub server: the routes the ``huggingface_hub`` client (2.x, Xet disabled) calls.

Routes (``{type}`` is ``models``, ``datasets`` or ``spaces``; ``{prefix}`` is empty for models, else ``datasets/`` or
``spaces/``):

=======  ===========================================================  ==========================================
method   path                                                         client call
=======  ===========================================================  ==========================================
POST     /api/repos/create                                            create_repo
DELETE   /api/repos/delete                                            delete_repo
POST     /api/validate-yaml                                           README metadata check before a commit
GET      /api/whoami-v2                                               whoami
GET      /api/{type}                                                  list_models / list_datasets / list_spaces
GET      /api/{type}/{ns}/{name}[/revision/{rev}]                     model_info / repo_info
POST     /api/{type}/{ns}/{name}/preupload/{rev}                      upload mode + remote oid of each file
POST     /api/{type}/{ns}/{name}/commit/{rev}                         create_commit (NDJSON)
GET      /api/{type}/{ns}/{name}/tree/{rev}[/{path}]                  list_repo_tree / list_repo_files
POST     /api/{type}/{ns}/{name}/paths-info/{rev}                     get_paths_info
GET      /api/{type}/{ns}/{name}/commits/{rev}                        list_repo_commits
GET      /api/{type}/{ns}/{name}/refs                                 list_repo_refs
POST     /api/{type}/{ns}/{name}/branch/{branch}  (DELETE too)        create_branch / delete_branch
POST     /api/{type}/{ns}/{name}/tag/{rev}, DELETE .../tag/{tag}      create_tag / delete_tag
PUT      /api/{type}/{ns}/{name}/settings                             update_repo_settings (visibility)
GET      /api/{type}/{ns}/{name}/auth-check[/write]                   auth_check
POST     /{prefix}{ns}/{name}.git/info/lfs/objects/batch              git-LFS batch API (upload)
PUT      /lfs-upload/{type}/{ns}/{name}/{oid}?size&expires&sig        LFS content (signed link, no token needed)
HEAD/GET /{prefix}{ns}/{name}/resolve/{rev}/{path}                    hf_hub_download, snapshot_download
=======  ===========================================================  ==========================================

Auth: ``Authorization: Bearer <token>``; tokens map to user names. Reads of public repos need no token; writes need a
token whose user owns the namespace (401 without a token, 403 for another namespace). A private repo answers 404
(``X-Error-Code: RepoNotFound``) to everyone but its owner, exactly like a missing repo. An unknown token answers 401.
Tokens and the ``Authorization`` header are never logged; access logs show method, path (no query) and status.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from hubtune.errors import ConfigError, HubError

from .faults import FaultPlan
from .store import (
    LFS_SIZE_THRESHOLD,
    MAX_FILE_SIZE,
    REPO_TYPES,
    SHA256_RE,
    SHORT_OID_RE,
    CommitOp,
    FileEntry,
    HubRequestError,
    HubStore,
    Repo,
    card_tags,
    matches_lfs_pattern,
    parse_front_matter,
    repo_not_found,
    tree_oids,
    validate_repo_name,
    validate_repo_path,
)

logger = logging.getLogger("hubtune.hub_server")

# Largest non-upload request body accepted (a commit carries regular files inline, base64-encoded).
MAX_API_BODY = 1024**3
UPLOAD_LINK_TTL_S = 3600
CHUNK = 1024 * 1024
TREE_PAGE_SIZE = 1000
COMMITS_PAGE_SIZE = 100
LIST_PAGE_SIZE = 1000
_PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_TRUE = {"1", "true", "True", "yes"}
_SECRET_PARAM_RE = re.compile(r"(sig|token)=[^&\s'\"]+")


class _Hub:
    """State shared by all request handlers of one server."""

    def __init__(self, store: HubStore, tokens: dict[str, str], faults: FaultPlan, public_url: str) -> None:
        self.store = store
        self.tokens = dict(tokens)
        self.faults = faults
        self.public_url = public_url
        # Signs LFS upload links; a new server invalidates the links of the previous one.
        self.secret = secrets.token_bytes(32)

    def user_for(self, token: str) -> str | None:
        found = None
        for known, user in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = user
        return found

    def sign(self, repo: Repo, oid: str, size: int, expires: int) -> str:
        message = f"{repo.id}:{repo.type}:{oid}:{size}:{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub: _Hub | None = None) -> None:
        super().__init__(address, _Handler)
        self.hub: _Hub = hub  # type: ignore[assignment]  # set right after binding
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Wake up handler threads idling on keep-alive connections so they exit."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Dropped(Exception):
    """The handler closed the connection on purpose (fault injection); send nothing."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hubtune-hub/1"
    # Idle keep-alive connections and stalled uploads are closed after this many seconds.
    timeout = 300
    server: _HTTPServer

    # ----------------------------------------------------------------------------------------- plumbing
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Only method, path without query (upload links carry a signature there) and status.
        path = urlsplit(self.path).path
        logger.info("%s %s %s", self.command, path, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        # Messages about malformed requests can quote the request line: mask upload signatures.
        text = _SECRET_PARAM_RE.sub(r"\1=***", format % args)
        logger.debug("%s - %s", self.address_string(), text)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    @property
    def hub(self) -> _Hub:
        return self.server.hub

    def _handle(self) -> None:
        self._body_read = False
        self._body: bytes = b""
        split = urlsplit(self.path)
        self.query = parse_qs(split.query, keep_blank_values=True)
        try:
            route, handler = self._route(split.path)
            if route != "lfs_upload":
                self._body = self._read_body(MAX_API_BODY)
            if route and self.hub.faults.take_rate_limit(route):
                logger.info("fault: 429 on %s", route)
                self._send_json(
                    429,
                    {"error": "Too many requests (injected fault); retry later."},
                    headers={"Retry-After": str(self.hub.faults.retry_after)},
                )
                return
            handler()
        except HubRequestError as exc:
            self._send_error(exc)
        except _Dropped:
            self.close_connection = True
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:  # a bug must not kill the server thread silently
            logger.exception("internal error on %s %s", self.command, split.path)
            try:
                self._send_json(500, {"error": "Internal error in the local hub server; see its log."})
            except OSError:
                self.close_connection = True

    def _read_body(self, limit: int) -> bytes:
        chunks = list(self._iter_body(limit))
        self._body_read = True
        return b"".join(chunks)

    def _iter_body(self, limit: int) -> Iterator[bytes]:
        """Yield the request body in chunks (Content-Length or chunked transfer encoding)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            total = 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("client closed the connection mid-body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                total += size
                if total > limit:
                    raise HubRequestError(413, f"Request body larger than {limit} bytes.")
                left = size
                while left:
                    data = self.rfile.read(min(left, CHUNK))
                    if not data:
                        raise ConnectionError("client closed the connection mid-body")
                    left -= len(data)
                    yield data
                self.rfile.readline(1024)  # CRLF after each chunk
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return
        try:
            length = int(length_header)
        except ValueError as exc:
            raise HubRequestError(400, "Invalid Content-Length header.") from exc
        if length < 0 or length > limit:
            raise HubRequestError(413, f"Request body of {length} bytes is larger than {limit} bytes.")
        left = length
        while left:
            data = self.rfile.read(min(left, CHUNK))
            if not data:
                raise ConnectionError("client closed the connection mid-body")
            left -= len(data)
            yield data

    def _finish_headers(self, status: int, headers: dict[str, str], length: int, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key, value)
        if not self._body_read:
            # The request body was not consumed: the connection cannot carry another request.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self._finish_headers(status, headers or {}, len(data), "application/json; charset=utf-8")
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_error(self, exc: HubRequestError, headers: dict[str, str] | None = None) -> None:
        extra = dict(headers or {})
        if exc.code:
            extra["X-Error-Code"] = exc.code
        if exc.status in (401, 403):
            # The client builds its 401/403 message from this header; headers must stay latin-1.
            extra["X-Error-Message"] = exc.message.encode("ascii", "replace").decode()
        self._send_json(exc.status, {"error": exc.message}, headers=extra)

    def _base_url(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.hub.public_url

    def _json_body(self) -> dict[str, Any]:
        if not self._body:
            return {}
        try:
            data = json.loads(self._body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HubRequestError(400, f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise HubRequestError(400, "Request body must be a JSON object.")
        return data

    def _param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def _flag(self, name: str) -> bool:
        return self._param(name, "") in _TRUE

    # ----------------------------------------------------------------------------------------- auth
    def _user(self) -> str | None:
        header = self.headers.get("Authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        user = self.hub.user_for(token) if scheme.lower() == "bearer" and token else None
        if user is None:
            raise HubRequestError(401, "Invalid credentials in Authorization header")
        return user

    def _require_user(self, action: str) -> str:
        user = self._user()
        if user is None:
            raise HubRequestError(
                401,
                f"You must be authenticated to {action}: pass a token (HfApi(token=...) or the HF_TOKEN variable).",
            )
        return user

    def _read_repo(self, repo_type: str, ns: str, name: str) -> Repo:
        """A repo the caller may read (404 otherwise, also for private repos of others)."""
        user = self._user()
        repo = self.hub.store.get_repo(repo_type, ns, name)
        if repo is None or (repo.private and (user is None or user.lower() != repo.namespace.lower())):
            raise repo_not_found(f"{ns}/{name}")
        return repo

    def _write_repo(self, repo_type: str, ns: str, name: str) -> tuple[Repo, str]:
        """A repo the caller may write: 401 without a token, 404 if invisible, 403 outside the user's namespace."""
        user = self._require_user(f"write to {ns}/{name}")
        repo = self.hub.store.get_repo(repo_type, ns, name)
        if repo is None or (repo.private and user.lower() != repo.namespace.lower()):
            raise repo_not_found(f"{ns}/{name}")
        if user.lower() != repo.namespace.lower():
            raise HubRequestError(
                403, f"You don't have the rights to write to {repo.repo_id}: it belongs to '{repo.namespace}'."
            )
        return repo, user

    # ----------------------------------------------------------------------------------------- routing
    def _route(self, raw_path: str) -> tuple[str, Callable[[], None]]:
        segs = raw_path.split("/")[1:]
        method = self.command
        not_found = HubRequestError(404, f"No route for {method} {unquote(raw_path)}")
        if not segs or segs == [""]:
            raise not_found
        if segs[0] == "api":
            api = segs[1:]
            if api == ["whoami-v2"] and method == "GET":
                return "whoami", self._whoami
            if api == ["validate-yaml"] and method == "POST":
                return "validate_yaml", self._validate_yaml
            if api == ["repos", "create"] and method == "POST":
                return "create_repo", self._create_repo
            if api == ["repos", "delete"] and method == "DELETE":
                return "delete_repo", self._delete_repo
            if api and api[0] in _PLURAL:
                repo_type = _PLURAL[api[0]]
                if len(api) == 1 and method == "GET":
                    return "list_repos", lambda: self._list_repos(repo_type)
                if len(api) < 3:
                    raise repo_not_found(unquote("/".join(api[1:])))
                ns, name = unquote(api[1]), unquote(api[2])
                return self._route_repo_api(repo_type, ns, name, api[3:], not_found)
            raise not_found
        if segs[0] == "lfs-upload" and method == "PUT" and len(segs) == 5 and segs[1] in REPO_TYPES:
            repo_type, ns, name, oid = segs[1], unquote(segs[2]), unquote(segs[3]), segs[4]
            return "lfs_upload", lambda: self._lfs_upload(repo_type, ns, name, oid)
        repo_type = "model"
        if segs[0] in ("datasets", "spaces"):
            repo_type = _PLURAL[segs[0]]
            segs = segs[1:]
        if len(segs) == 6 and segs[1].endswith(".git") and segs[2:] == ["info", "lfs", "objects", "batch"]:
            if method == "POST":
                ns, name = unquote(segs[0]), unquote(segs[1][: -len(".git")])
                return "lfs_batch", lambda: self._lfs_batch(repo_type, ns, name)
        if len(segs) >= 5 and segs[2] == "resolve" and method in ("GET", "HEAD"):
            ns, name, rev = unquote(segs[0]), unquote(segs[1]), unquote(segs[3])
            path = "/".join(unquote(s) for s in segs[4:])
            return "resolve", lambda: self._resolve(repo_type, ns, name, rev, path)
        raise not_found

    def _route_repo_api(
        self, repo_type: str, ns: str, name: str, rest: list[str], not_found: HubRequestError
    ) -> tuple[str, Callable[[], None]]:
        method = self.command
        if not rest and method == "GET":
            return "repo_info", lambda: self._repo_info(repo_type, ns, name, None)
        if not rest:
            raise not_found
        action, args = rest[0], [unquote(s) for s in rest[1:]]
        if action == "revision" and len(args) >= 1 and method == "GET":
            # A revision with unescaped slashes arrives as several segments.
            return "repo_info", lambda: self._repo_info(repo_type, ns, name, "/".join(args))
        if action == "preupload" and len(args) == 1 and method == "POST":
            return "preupload", lambda: self._preupload(repo_type, ns, name, args[0])
        if action == "commit" and len(args) == 1 and method == "POST":
            return "commit", lambda: self._commit(repo_type, ns, name, args[0])
        if action == "tree" and len(args) >= 1 and method == "GET":
            return "tree", lambda: self._tree(repo_type, ns, name, args[0], "/".join(args[1:]))
        if action == "paths-info" and len(args) == 1 and method == "POST":
            return "paths_info", lambda: self._paths_info(repo_type, ns, name, args[0])
        if action == "commits" and len(args) == 1 and method == "GET":
            return "commits", lambda: self._commits(repo_type, ns, name, args[0])
        if action == "refs" and not args and method == "GET":
            return "refs", lambda: self._refs(repo_type, ns, name)
        if action == "branch" and len(args) == 1 and method in ("POST", "DELETE"):
            return "branch", lambda: self._branch(repo_type, ns, name, args[0])
        if action == "tag" and len(args) == 1 and method in ("POST", "DELETE"):
            return "tag", lambda: self._tag(repo_type, ns, name, args[0])
        if action == "settings" and not args and method == "PUT":
            return "settings", lambda: self._settings(repo_type, ns, name)
        if action == "auth-check" and args in ([], ["write"]) and method == "GET":
            return "auth_check", lambda: self._auth_check(repo_type, ns, name, bool(args))
        if action in ("xet-write-token", "xet-read-token"):
            raise HubRequestError(
                501,
                "Xet storage is not supported by the local hub: set HF_HUB_DISABLE_XET=1 before importing "
                "huggingface_hub so it uses plain git-LFS uploads.",
            )
        raise not_found

    # ----------------------------------------------------------------------------------------- account routes
    def _whoami(self) -> None:
        user = self._require_user("call whoami")
        self._send_json(
            200,
            {
                "type": "user",
                "id": hashlib.sha1(user.encode()).hexdigest()[:24],
                "name": user,
                "fullname": user,
                "email": None,
                "emailVerified": False,
                "isPro": False,
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "local hub token", "role": "write"}},
            },
        )

    def _validate_yaml(self) -> None:
        body = self._json_body()
        content = body.get("content", "")
        if not isinstance(content, str):
            raise HubRequestError(400, "'content' must be a string.")
        try:
            parse_front_matter(content)
        except HubRequestError as exc:
            self._send_json(400, {"error": exc.message, "errors": [{"message": exc.message}]})
            return
        self._send_json(200, {"errors": [], "warnings": []})

    # ----------------------------------------------------------------------------------------- repo management
    def _create_repo(self) -> None:
        user = self._require_user("create a repo")
        body = self._json_body()
        repo_type = body.get("type") or "model"
        if repo_type not in REPO_TYPES:
            raise HubRequestError(400, f"Invalid repo type '{repo_type}': use one of {', '.join(REPO_TYPES)}.")
        name = body.get("name")
        namespace = body.get("organization") or user
        if not isinstance(name, str) or not isinstance(namespace, str):
            raise HubRequestError(400, "'name' (and 'organization' when given) must be strings.")
        validate_repo_name(namespace, name)
        if namespace.lower() != user.lower():
            raise HubRequestError(
                403, f'You don\'t have the rights to create a {repo_type} under the namespace "{namespace}".'
            )
        visibility = body.get("visibility")
        private = visibility == "private" if visibility is not None else bool(body.get("private", False))
        sdk = body.get("sdk") if repo_type == "space" else None
        url = f"{self._base_url()}/{_URL_PREFIX[repo_type]}{namespace}/{name}"
        try:
            repo = self.hub.store.create_repo(repo_type, namespace, name, private, sdk)
        except HubRequestError as exc:
            if exc.status == 409:
                self._send_json(409, {"error": exc.message, "url": url})
                return
            raise
        self._send_json(200, {"url": url, "name": repo.repo_id, "id": str(repo.id)})

    def _delete_repo(self) -> None:
        body = self._json_body()
        repo_type = body.get("type") or "model"
        if repo_type not in REPO_TYPES:
            raise HubRequestError(400, f"Invalid repo type '{repo_type}'.")
        user = self._require_user("delete a repo")
        name = body.get("name")
        namespace = body.get("organization") or user
        if not isinstance(name, str) or not isinstance(namespace, str):
            raise HubRequestError(400, "'name' (and 'organization' when given) must be strings.")
        repo, _ = self._write_repo(repo_type, namespace, name)
        self.hub.store.delete_repo(repo)
        self._send_json(200, {})

    def _settings(self, repo_type: str, ns: str, name: str) -> None:
        repo, _ = self._write_repo(repo_type, ns, name)
        body = self._json_body()
        visibility = body.get("visibility")
        if visibility is not None:
            if visibility not in ("private", "public"):
                raise HubRequestError(400, "visibility must be 'private' or 'public' on the local hub.")
            self.hub.store.set_private(repo, visibility == "private")
        elif "private" in body:
            self.hub.store.set_private(repo, bool(body["private"]))
        self._send_json(200, {})

    def _auth_check(self, repo_type: str, ns: str, name: str, write: bool) -> None:
        if write:
            self._write_repo(repo_type, ns, name)
        else:
            self._read_repo(repo_type, ns, name)
        self._send_json(200, {})

    # ----------------------------------------------------------------------------------------- repo metadata
    def _resolve_rev(self, repo: Repo, revision: str) -> str:
        oid = self.hub.store.resolve(repo, revision)
        if oid is None:
            raise HubRequestError(
                404, f"Invalid rev id: {revision} (not a branch, tag or commit of {repo.repo_id})", "RevisionNotFound"
            )
        return oid

    def _card(self, repo: Repo, files: dict[str, FileEntry]) -> dict[str, Any] | None:
        readme = files.get("README.md")
        if readme is None or readme.size > 1024 * 1024:
            return None
        with self.hub.store.open_blob(readme.sha256) as handle:
            text = handle.read().decode("utf-8", errors="replace")
        try:
            return parse_front_matter(text)
        except HubRequestError:
            return None  # a README written without validation: list the repo, just without card data

    def _repo_payload(
        self, repo: Repo, oid: str, *, blobs: bool = False, card_data: bool = True, full: bool = True
    ) -> dict[str, Any]:
        store = self.hub.store
        commit = store.get_commit(repo, oid)
        files = store.files(repo, oid)
        card = self._card(repo, files)
        payload: dict[str, Any] = {
            "_id": str(repo.id),
            "id": repo.repo_id,
            "author": repo.namespace,
            "private": repo.private,
            "tags": card_tags(card, repo.type),
            "downloads": 0,
            "likes": 0,
            "createdAt": repo.created_at,
            "lastModified": commit.created_at if commit else repo.created_at,
        }
        if repo.type == "model":
            payload["modelId"] = repo.repo_id
            if card and isinstance(card.get("library_name"), str):
                payload["library_name"] = card["library_name"]
            if card and isinstance(card.get("pipeline_tag"), str):
                payload["pipeline_tag"] = card["pipeline_tag"]
        if repo.type == "space":
            payload["sdk"] = repo.sdk or (card.get("sdk") if card else None)
        if full:
            payload.update({"sha": oid, "gated": False, "disabled": False})
            payload["siblings"] = [self._sibling(f, blobs) for f in files.values()]
            payload["usedStorage"] = sum(f.size for f in files.values())
        if card_data and card is not None:
            payload["cardData"] = card
        return payload

    @staticmethod
    def _sibling(entry: FileEntry, blobs: bool) -> dict[str, Any]:
        sibling: dict[str, Any] = {"rfilename": entry.path}
        if blobs:
            sibling["size"] = entry.size
            sibling["blobId"] = entry.git_oid
            if entry.lfs:
                sibling["lfs"] = {"size": entry.size, "sha256": entry.sha256, "pointerSize": entry.pointer_size}
        return sibling

    def _expand(self, payload: dict[str, Any]) -> dict[str, Any]:
        wanted = self.query.get("expand") or self.query.get("expand[]")
        if not wanted:
            return payload
        keep = {"_id", "id", *wanted}
        return {k: v for k, v in payload.items() if k in keep}

    def _repo_info(self, repo_type: str, ns: str, name: str, revision: str | None) -> None:
        repo = self._read_repo(repo_type, ns, name)
        oid = self._resolve_rev(repo, revision or "main")
        payload = self._repo_payload(repo, oid, blobs=self._flag("blobs"))
        self._send_json(200, self._expand(payload))

    def _list_repos(self, repo_type: str) -> None:
        user = self._user()
        store = self.hub.store
        filters = [f for f in self.query.get("filter", []) if f]
        author = (self._param("author") or "").lower()
        search = (self._param("search") or "").lower()
        with_card = self._flag("cardData")
        full = self._flag("full") or bool(self.query.get("expand") or self.query.get("expand[]"))
        items = []
        for repo in store.list_repos(repo_type):
            if repo.private and (user is None or user.lower() != repo.namespace.lower()):
                continue
            if author and repo.namespace.lower() != author:
                continue
            if search and search not in repo.repo_id.lower():
                continue
            head = store.branch_head(repo, "main")
            if head is None:
                continue
            payload = self._repo_payload(repo, head, card_data=True, full=full)
            tags = {t.lower() for t in payload["tags"]}
            if payload.get("library_name"):
                tags.add(str(payload["library_name"]).lower())
            if any(f.lower() not in tags for f in filters):
                continue
            if not with_card and not (self.query.get("expand") or self.query.get("expand[]")):
                payload.pop("cardData", None)
            items.append(self._expand(payload))
        sort = self._param("sort")
        if sort in ("lastModified", "createdAt", "downloads", "likes", "id"):
            descending = self._param("direction", "-1") == "-1" and sort != "id"
            items.sort(key=lambda item: item.get(sort) or "", reverse=descending)
        limit_param = self._param("limit")
        if limit_param is not None:
            try:
                limit = max(0, int(limit_param))
            except ValueError as exc:
                raise HubRequestError(400, f"limit must be an integer, got {limit_param!r}.") from exc
            self._send_page(items, page_size=min(limit, LIST_PAGE_SIZE) or LIST_PAGE_SIZE)
        else:
            self._send_page(items, page_size=LIST_PAGE_SIZE)

    def _send_page(self, items: list[Any], page_size: int) -> None:
        """Answer one page of ``items``; a ``Link: <...>; rel="next"`` header points at the next page."""
        try:
            start = max(0, int(self._param("cursor", "0") or 0))
        except ValueError as exc:
            raise HubRequestError(400, "cursor must be an integer.") from exc
        page = items[start : start + page_size]
        headers = {}
        if start + page_size < len(items):
            params = [(k, v) for k, values in self.query.items() if k != "cursor" for v in values]
            params.append(("cursor", str(start + page_size)))
            next_url = f"{self._base_url()}{urlsplit(self.path).path}?{urlencode(params)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        self._send_json(200, page, headers=headers)

    # ----------------------------------------------------------------------------------------- listing files
    def _tree_entries(self, files: dict[str, FileEntry]) -> tuple[dict[str, str], dict[str, FileEntry]]:
        folders = tree_oids({p: f.git_oid for p, f in files.items()})
        return folders, files

    @staticmethod
    def _file_item(entry: FileEntry) -> dict[str, Any]:
        item: dict[str, Any] = {"type": "file", "oid": entry.git_oid, "size": entry.size, "path": entry.path}
        if entry.lfs:
            item["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": entry.pointer_size}
        return item

    def _tree(self, repo_type: str, ns: str, name: str, revision: str, path: str) -> None:
        repo = self._read_repo(repo_type, ns, name)
        oid = self._resolve_rev(repo, revision)
        folders, files = self._tree_entries(self.hub.store.files(repo, oid))
        path = path.strip("/")
        if path and path not in folders:
            raise HubRequestError(404, f"Folder '{path}' not found at revision {revision}.", "EntryNotFound")
        recursive = self._flag("recursive")
        prefix = f"{path}/" if path else ""

        def wanted(p: str) -> bool:
            if not p.startswith(prefix) or p == path:
                return False
            return recursive or "/" not in p[len(prefix) :]

        dir_items = [
            {"type": "directory", "oid": o, "size": 0, "path": p} for p, o in folders.items() if p and wanted(p)
        ]
        file_items = [self._file_item(f) for p, f in files.items() if wanted(p)]
        if recursive:
            items = sorted(dir_items + file_items, key=lambda item: item["path"])
        else:
            items = sorted(dir_items, key=lambda i: i["path"]) + sorted(file_items, key=lambda i: i["path"])
        self._send_page(items, TREE_PAGE_SIZE)

    def _paths_info(self, repo_type: str, ns: str, name: str, revision: str) -> None:
        repo = self._read_repo(repo_type, ns, name)
        oid = self._resolve_rev(repo, revision)
        folders, files = self._tree_entries(self.hub.store.files(repo, oid))
        content_type = self.headers.get("Content-Type", "")
        if "json" in content_type:
            body = self._json_body()
            paths = body.get("paths", [])
        else:
            paths = parse_qs(self._body.decode("utf-8", errors="replace"), keep_blank_values=True).get("paths", [])
        if isinstance(paths, str):
            paths = [paths]
        out = []
        for raw in paths:
            p = str(raw).strip("/")
            if p in files:
                out.append(self._file_item(files[p]))
            elif p and p in folders:
                out.append({"type": "directory", "oid": folders[p], "size": 0, "path": p})
        self._send_json(200, out)

    def _commits(self, repo_type: str, ns: str, name: str, revision: str) -> None:
        repo = self._read_repo(repo_type, ns, name)
        oid = self._resolve_rev(repo, revision)
        items = [
            {
                "id": c.oid,
                "title": c.title,
                "message": c.message,
                "authors": [{"user": c.author, "avatar": None}],
                "date": c.created_at,
            }
            for c in self.hub.store.history(repo, oid)
        ]
        self._send_page(items, COMMITS_PAGE_SIZE)

    def _refs(self, repo_type: str, ns: str, name: str) -> None:
        repo = self._read_repo(repo_type, ns, name)
        refs = self.hub.store.refs(repo)
        payload: dict[str, Any] = {
            "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": o} for n, o in refs["branch"].items()],
            "converts": [],
            "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": o} for n, o in refs["tag"].items()],
        }
        if self._param("include_prs"):
            payload["pullRequests"] = []
        self._send_json(200, payload)

    def _branch(self, repo_type: str, ns: str, name: str, branch: str) -> None:
        repo, _ = self._write_repo(repo_type, ns, name)
        if self.command == "DELETE":
            self.hub.store.delete_ref(repo, "branch", branch)
        else:
            start = self._json_body().get("startingPoint")
            target = self._resolve_rev(repo, start if isinstance(start, str) and start else "main")
            self.hub.store.create_ref(repo, "branch", branch, target)
        self._send_json(200, {})

    def _tag(self, repo_type: str, ns: str, name: str, rev_or_tag: str) -> None:
        repo, _ = self._write_repo(repo_type, ns, name)
        if self.command == "DELETE":
            self.hub.store.delete_ref(repo, "tag", rev_or_tag)
        else:
            tag = self._json_body().get("tag")
            if not isinstance(tag, str) or not tag:
                raise HubRequestError(400, "'tag' must be a non-empty string.")
            self.hub.store.create_ref(repo, "tag", tag, self._resolve_rev(repo, rev_or_tag))
        self._send_json(200, {})

    # ----------------------------------------------------------------------------------------- uploads
    def _refuse_pull_requests(self) -> None:
        if self._param("create_pr") in _TRUE:
            raise HubRequestError(
                400, "Pull requests are not supported by the local hub; commit to a branch instead (create_pr=False)."
            )

    def _preupload(self, repo_type: str, ns: str, name: str, revision: str) -> None:
        repo, _ = self._write_repo(repo_type, ns, name)
        self._refuse_pull_requests()
        oid = self._resolve_rev(repo, revision)
        store = self.hub.store
        current = store.files(repo, oid)
        patterns = store.lfs_patterns(repo, oid)
        files = self._json_body().get("files")
        if not isinstance(files, list):
            raise HubRequestError(400, "'files' must be a list of {path, sample, size}.")
        answer = []
        for item in files:
            if not isinstance(item, dict):
                raise HubRequestError(400, "Each entry of 'files' must be an object.")
            path = validate_repo_path(item.get("path"))
            size = item.get("size")
            if not isinstance(size, int) or size < 0:
                raise HubRequestError(400, f"'size' of '{path}' must be a non-negative integer.")
            try:
                sample = base64.b64decode(item.get("sample") or "", validate=True)
            except (ValueError, TypeError) as exc:
                raise HubRequestError(400, f"'sample' of '{path}' is not valid base64.") from exc
            is_lfs = size >= LFS_SIZE_THRESHOLD or b"\x00" in sample or matches_lfs_pattern(path, patterns)
            existing = current.get(path)
            remote_oid = None
            if existing is not None:
                remote_oid = existing.sha256 if existing.lfs else existing.git_oid
            answer.append(
                {"path": path, "uploadMode": "lfs" if is_lfs else "regular", "shouldIgnore": False, "oid": remote_oid}
            )
        self._send_json(200, {"files": answer, "commitOid": oid})

    def _lfs_batch(self, repo_type: str, ns: str, name: str) -> None:
        repo, _ = self._write_repo(repo_type, ns, name)
        body = self._json_body()
        if body.get("operation", "upload") != "upload":
            raise HubRequestError(400, "The local hub's LFS batch API only supports operation 'upload'.")
        objects = body.get("objects")
        if not isinstance(objects, list):
            raise HubRequestError(400, "'objects' must be a list of {oid, size}.")
        base = self._base_url()
        expires = int(time.time()) + UPLOAD_LINK_TTL_S
        out = []
        for obj in objects:
            oid = obj.get("oid") if isinstance(obj, dict) else None
            size = obj.get("size") if isinstance(obj, dict) else None
            if not isinstance(oid, str) or not SHA256_RE.match(oid) or not isinstance(size, int):
                out.append(
                    {
                        "oid": str(oid),
                        "size": size if isinstance(size, int) else 0,
                        "error": {"code": 422, "message": "oid must be a lowercase sha256 hex digest, size an int"},
                    }
                )
                continue
            if size < 0 or size > MAX_FILE_SIZE:
                out.append({"oid": oid, "size": size, "error": {"code": 422, "message": "size out of range"}})
                continue
            if self.hub.store.has_lfs_object(repo, oid) == size:
                out.append({"oid": oid, "size": size})  # already stored: no actions, the client skips it
                continue
            sig = self.hub.sign(repo, oid, size, expires)
            query = urlencode({"size": size, "expires": expires, "sig": sig})
            href = f"{base}/lfs-upload/{repo.type}/{quote(repo.namespace)}/{quote(repo.name)}/{oid}?{query}"
            out.append(
                {
                    "oid": oid,
                    "size": size,
                    "authenticated": True,
                    "actions": {"upload": {"href": href, "expires_in": UPLOAD_LINK_TTL_S}},
                }
            )
        data = json.dumps({"transfer": "basic", "objects": out, "hash_algo": "sha256"}).encode()
        self._finish_headers(200, {}, len(data), "application/vnd.git-lfs+json")
        self.wfile.write(data)

    def _lfs_upload(self, repo_type: str, ns: str, name: str, oid: str) -> None:
        try:
            size = int(self._param("size", "") or "")
            expires = int(self._param("expires", "") or "")
        except ValueError as exc:
            raise HubRequestError(403, "Invalid or expired upload link; ask the LFS batch API for a new one.") from exc
        sig = self._param("sig", "") or ""
        repo = self.hub.store.get_repo(repo_type, ns, name)
        valid = (
            repo is not None
            and SHA256_RE.match(oid) is not None
            and expires >= time.time()
            and hmac.compare_digest(sig, self.hub.sign(repo, oid, size, expires))
        )
        if not valid or repo is None:
            raise HubRequestError(403, "Invalid or expired upload link; ask the LFS batch API for a new one.")
        if self.hub.faults.take_lfs_drop():
            self._drop_halfway(size)
        self.hub.store.put_blob_stream(self._iter_body(MAX_FILE_SIZE), oid, size)
        self._body_read = True
        self.hub.store.link_lfs_object(repo, oid, size)
        self._send_json(200, {})

    def _drop_halfway(self, size: int) -> None:
        """Fault: read half of the upload body, then close the socket without answering."""
        half = size // 2
        for chunk in self._iter_body(MAX_FILE_SIZE):
            half -= len(chunk)
            if half <= 0:
                break
        logger.info("fault: dropping connection in the middle of an LFS upload")
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Dropped()

    def _commit(self, repo_type: str, ns: str, name: str, revision: str) -> None:
        repo, user = self._write_repo(repo_type, ns, name)
        self._refuse_pull_requests()
        store = self.hub.store
        header: dict[str, Any] | None = None
        ops: list[CommitOp] = []
        for number, line in enumerate(self._body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
                raise HubRequestError(
                    400, f"Commit payload line {number} is not a {{key, value}} JSON object."
                ) from exc
            if not isinstance(value, dict):
                raise HubRequestError(400, f"Commit payload line {number}: 'value' must be an object.")
            if key == "header":
                header = value
            elif header is None:
                raise HubRequestError(400, "Commit payload must start with a 'header' line.")
            elif key == "file":
                ops.append(self._regular_file_op(value))
            elif key == "lfsFile":
                ops.append(self._lfs_file_op(repo, value))
            elif key == "deletedFile":
                ops.append(CommitOp("delete", validate_repo_path(value.get("path"))))
            elif key == "deletedFolder":
                raw = value.get("path")
                path = raw.rstrip("/") if isinstance(raw, str) else raw
                ops.append(CommitOp("delete_folder", validate_repo_path(path)))
            else:
                raise HubRequestError(400, f"Unknown commit operation '{key}' on line {number}.")
        if header is None:
            raise HubRequestError(400, "Commit payload is empty: a 'header' line is required.")
        title = header.get("summary")
        if not isinstance(title, str) or not title.strip():
            raise HubRequestError(400, "The commit header needs a non-empty 'summary'.")
        description = header.get("description") or ""
        parent = header.get("parentCommit")
        if parent is not None and (not isinstance(parent, str) or not SHORT_OID_RE.match(parent.lower())):
            raise HubRequestError(400, "'parentCommit' must be a commit oid (5 to 40 hex characters).")
        branches = store.refs(repo)["branch"]
        if revision not in branches:
            if store.resolve(repo, revision) is not None:
                raise HubRequestError(400, f"Can only commit to a branch; '{revision}' is a tag or a commit.")
            raise HubRequestError(404, f"Invalid rev id: {revision} (no such branch)", "RevisionNotFound")
        # Content is stored at this point; a failure from here on must leave the repo exactly as it was.
        if self.hub.faults.take_commit_failure():
            logger.info("fault: failing a commit after its blobs were stored")
            raise HubRequestError(500, "Internal error while committing (injected fault); nothing was committed.")
        commit = store.commit(repo, revision, ops, title.strip(), str(description), user, parent)
        url = f"{self._base_url()}/{_URL_PREFIX[repo.type]}{repo.repo_id}/commit/{commit.oid}"
        self._send_json(
            200,
            {
                "success": True,
                "commitOid": commit.oid,
                "commitUrl": url,
                "commitMessage": title,
                "hookOutput": "",
                "pullRequestUrl": None,
            },
        )

    def _regular_file_op(self, value: dict[str, Any]) -> CommitOp:
        path = validate_repo_path(value.get("path"))
        content = value.get("content", "")
        if not isinstance(content, str):
            raise HubRequestError(400, f"'content' of '{path}' must be a string.")
        if value.get("encoding", "base64") == "base64":
            try:
                data = base64.b64decode(content, validate=True)
            except (ValueError, TypeError) as exc:
                raise HubRequestError(400, f"'content' of '{path}' is not valid base64.") from exc
        else:
            data = content.encode()
        if len(data) > LFS_SIZE_THRESHOLD:
            raise HubRequestError(
                400, f"'{path}' is larger than 10 MiB and must be uploaded with git-LFS (ask preupload for its mode)."
            )
        digest = self.hub.store.put_blob(data)
        return CommitOp("add", path, digest, len(data), lfs=False)

    def _lfs_file_op(self, repo: Repo, value: dict[str, Any]) -> CommitOp:
        path = validate_repo_path(value.get("path"))
        oid = value.get("oid")
        if value.get("algo", "sha256") != "sha256" or not isinstance(oid, str) or not SHA256_RE.match(oid):
            raise HubRequestError(400, f"LFS file '{path}' needs algo 'sha256' and a sha256 hex 'oid'.")
        known = self.hub.store.has_lfs_object(repo, oid)
        size = value.get("size", known)
        if known is None or size != known:
            raise HubRequestError(
                400,
                f"LFS object {oid} for '{path}' was not uploaded to {repo.repo_id} (or its size differs); "
                "upload it through the LFS batch API first.",
            )
        return CommitOp("add", path, oid, int(size), lfs=True)

    # ----------------------------------------------------------------------------------------- downloads
    def _resolve(self, repo_type: str, ns: str, name: str, revision: str, path: str) -> None:
        repo = self._read_repo(repo_type, ns, name)
        oid = self._resolve_rev(repo, revision)
        entry = self.hub.store.file(repo, oid, path)
        if entry is None:
            exc = HubRequestError(404, f"Entry not found: {path} at revision {revision}", "EntryNotFound")
            self._send_error(exc, headers={"X-Repo-Commit": oid})
            return
        etag = entry.sha256 if entry.lfs else entry.git_oid
        headers = {"X-Repo-Commit": oid, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        if entry.lfs:
            headers["X-Linked-Etag"] = f'"{entry.sha256}"'
            headers["X-Linked-Size"] = str(entry.size)
        start, end = 0, entry.size - 1
        status = 200
        range_header = self.headers.get("Range")
        if range_header:
            parsed = _parse_range(range_header, entry.size)
            if parsed is None:
                headers["Content-Range"] = f"bytes */{entry.size}"
                self._send_json(416, {"error": f"Range {range_header!r} not satisfiable"}, headers=headers)
                return
            if parsed != (0, entry.size - 1) or entry.size == 0:
                start, end = parsed
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
        length = max(0, end - start + 1)
        self._finish_headers(status, headers, length, "application/octet-stream")
        if self.command == "HEAD" or length == 0:
            return
        with self.hub.store.open_blob(entry.sha256) as handle:
            handle.seek(start)
            left = length
            while left:
                data = handle.read(min(left, CHUNK))
                if not data:
                    raise ConnectionError("blob shorter than recorded")
                self.wfile.write(data)
                left -= len(data)


_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for a single byte range; the full file for forms we do not serve; None if unsatisfiable."""
    match = _RANGE_RE.match(header)
    if match is None:
        return (0, size - 1)  # multiple or malformed ranges: ignore the header, send everything
    first, last = match.groups()
    if not first and not last:
        return (0, size - 1)
    if not first:
        suffix = int(last)
        if suffix == 0:
            return None
        return (max(0, size - suffix), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return None
    return (start, end)


# --------------------------------------------------------------------------------------------------- public API
class HubServer:
    """A local Hugging-Face-Hub-compatible server over a folder, for offline use and tests.

    Args:
        root: Folder holding ``hub.sqlite`` and ``blobs/``; created if missing, reused if it exists.
        host: Interface to bind; loopback unless you mean to share the server.
        port: TCP port; 0 picks a free one (read it back from ``.port``).
        tokens: ``token -> user name``. Without tokens every repo is read-only.
        faults: Faults to inject; defaults to the plan in ``HUBTUNE_HUB_FAULTS`` (none when unset).

    Use as a context manager or call ``start()`` / ``stop()``. Point the client at it with
    ``HF_ENDPOINT=server.url`` and ``HF_HUB_DISABLE_XET=1`` set before ``huggingface_hub`` is imported.
    """

    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: dict[str, str] | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.root = Path(root)
        self.host = host
        self._requested_port = port
        self.tokens = _check_tokens(tokens or {})
        self.faults = faults if faults is not None else FaultPlan.from_env()
        self.store: HubStore | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (after ``start()``), else the requested one."""
        return self._httpd.server_address[1] if self._httpd else self._requested_port  # type: ignore[return-value]

    @property
    def url(self) -> str:
        """Base URL to use as ``HF_ENDPOINT``."""
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> HubServer:
        """Bind and serve in a background thread; returns self."""
        if self._httpd is not None:
            return self
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.store = HubStore(self.root)
        except OSError as exc:
            raise HubError(
                f"Cannot use '{self.root}' as the local hub folder: {exc}. Pick a writable folder with --root."
            ) from exc
        try:
            httpd = _HTTPServer((self.host, self._requested_port))
        except OSError as exc:
            self.store.close()
            self.store = None
            raise HubError(
                f"Cannot listen on {self.host}:{self._requested_port}: {exc}. "
                "Another process may use this port; pick another with --port (0 picks a free one)."
            ) from exc
        self._httpd = httpd
        httpd.hub = _Hub(self.store, self.tokens, self.faults, self.url)
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="hubtune-hub-server", daemon=True
        )
        self._thread.start()
        logger.info("local hub serving %s at %s", self.root, self.url)
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and the database."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_open_connections()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _check_tokens(tokens: dict[str, str]) -> dict[str, str]:
    for token, user in tokens.items():
        if not isinstance(token, str) or not token or any(c.isspace() for c in token):
            raise ConfigError("Local hub tokens must be non-empty strings without spaces (--token TOKEN:USER).")
        try:
            validate_repo_name(user, "x")
        except HubRequestError as exc:
            raise ConfigError(
                f"Local hub user name {user!r} is not a valid namespace: use letters, digits, '-', '_' or '.' "
                "(--token TOKEN:USER)."
            ) from exc
    return dict(tokens)


def serve(root: Path, host: str = "127.0.0.1", port: int = 8765, tokens: dict[str, str] | None = None) -> None:
    """Run the local hub in the foreground until interrupted (Ctrl+C); prints the URL once listening."""
    server = HubServer(root, host=host, port=port, tokens=tokens)
    server.start()
    users = sorted(set(server.tokens.values()))
    print(
        f"Local hub at {server.url} (data in {server.root}; users: {', '.join(users) or 'none, read-only'}). "
        f"Set HF_ENDPOINT={server.url} and HF_HUB_DISABLE_XET=1 for clients. Ctrl+C stops it.",
        flush=True,
    )
    forever = threading.Event()
    try:
        while not forever.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
