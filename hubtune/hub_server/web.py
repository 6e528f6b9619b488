"""HTTP plumbing shared by the routes of the local Hub server.

- :class:`HubContext`: what every request of one server shares (store, public URL, upload-link secret);
- :class:`Call` and :func:`endpoint`: handlers are plain functions ``(call) -> Response`` that run in a worker
  thread; the endpoint checks the caller's rights first, then reads the bounded request body (small JSON in memory,
  anything larger spooled to a temporary file, see :mod:`.bodies`), so a handler never does I/O on the event loop
  and nobody without the rights gets a byte of their body read;
- :func:`error_response` and :data:`EXCEPTION_HANDLERS`: the one mapping from domain errors to HTTP answers
  (status, ``X-Error-Code``, ``X-Error-Message``, JSON ``{"error": ...}``) the ``huggingface_hub`` client expects;
- :func:`page_response`: one page of a listing with a ``Link: <...>; rel="next"`` header;
- :class:`AccessLogMiddleware`: method, path (never the query: upload links carry a signature there) and status.

Example::

    def whoami(call: Call) -> Response:
        return json_response({"name": call.require_user("call whoami")})

    Route("/api/whoami-v2", endpoint(whoami), methods=["GET"], name="whoami")
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Any, Literal
from urllib.parse import quote, unquote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access import readable_repo, writable_repo
from .bodies import MAX_JSON_BODY, parse_json, read_small_body, spool_body
from .errors import (
    AuthenticationRequired,
    Conflict,
    EntryNotFound,
    Forbidden,
    HubServerError,
    InjectedFailure,
    InvalidRequest,
    NotSupported,
    PayloadTooLarge,
    RangeNotSatisfiable,
    RateLimited,
    RepoNotFound,
    RevisionNotFound,
    RouteNotFound,
    StaleParentCommit,
)
from .records import Repo
from .store import HubStore

logger = logging.getLogger("hubtune.hub_server")

# Default largest request body (a commit payload or one LFS object); HubServer(max_body_bytes=...) changes it.
DEFAULT_MAX_BODY_BYTES = 50 * 1024**3
# Longest header value derived from a message.
MAX_HEADER_TEXT = 200
# ASGI scope keys this server adds: the caller's user name (auth middleware) and, for one request, another store.
USER_KEY = "hubtune.user"
STORE_KEY = "hubtune.store"

PLURALS = {"model": "models", "dataset": "datasets", "space": "spaces"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_TRUE = {"1", "true", "True", "yes"}
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")

_STATUS: dict[type[HubServerError], int] = {
    PayloadTooLarge: 413,
    InvalidRequest: 400,
    AuthenticationRequired: 401,
    Forbidden: 403,
    RouteNotFound: 404,
    RepoNotFound: 404,
    RevisionNotFound: 404,
    EntryNotFound: 404,
    Conflict: 409,
    StaleParentCommit: 412,
    RangeNotSatisfiable: 416,
    RateLimited: 429,
    InjectedFailure: 500,
    NotSupported: 501,
}
# Errors the client recognises by the X-Error-Code header (it raises RepositoryNotFoundError etc. from them).
_ERROR_CODES = (RepoNotFound, RevisionNotFound, EntryNotFound)


@dataclass
class HubContext:
    """What all requests of one server share; kept on ``app.state.hub``."""

    store: HubStore
    public_url: str
    # Largest request body accepted (bytes actually received, whatever the framing).
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Signs LFS upload links; a new server invalidates the links of the previous one.
    upload_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))


# --------------------------------------------------------------------------------------------------- errors
def status_for(exc: HubServerError) -> int:
    """HTTP status of a domain error (500 for one this table does not know)."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


def header_text(text: str) -> str:
    """``text`` made safe for a header value: printable ASCII only (anything else becomes '?'), at most
    :data:`MAX_HEADER_TEXT` characters.

    Example: ``header_text("a\r\nSet-Cookie: x")`` is ``"a??Set-Cookie: x"``.
    """
    text = text[: MAX_HEADER_TEXT + 1]
    safe = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    return safe if len(safe) <= MAX_HEADER_TEXT else safe[: MAX_HEADER_TEXT - 3] + "..."


def error_response(exc: HubServerError) -> JSONResponse:
    """The answer to a refused request, as the Hub gives it.

    Example: ``error_response(RepoNotFound("alice/x"))`` is a 404 with ``X-Error-Code: RepoNotFound``.
    """
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, _ERROR_CODES):
        headers["X-Error-Code"] = type(exc).__name__
    if status in (401, 403):
        # The client reads this header for 401/403; it is a fixed text, never anything the request sent.
        headers["X-Error-Message"] = header_text(exc.headline)
    if isinstance(exc, EntryNotFound) and exc.commit:
        headers["X-Repo-Commit"] = header_text(exc.commit)
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(int(exc.retry_after))
    if isinstance(exc, RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{int(exc.size)}"
    return JSONResponse({"error": exc.message}, status_code=status, headers=headers)


async def _on_hub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubServerError)
    return error_response(exc)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):  # no route for this path, or not for this method
        path = unquote(request.scope.get("raw_path", b"").decode("latin-1"))
        return error_response(RouteNotFound(f"No route for {request.method} {path}"))
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


async def _on_disconnect(request: Request, exc: Exception) -> Response:
    return Response(status_code=400)  # the client is gone; nothing is sent


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    logger.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "Internal error in the local hub server; see its log."}, status_code=500)


EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    HubServerError: _on_hub_error,
    HTTPException: _on_http_exception,
    ClientDisconnect: _on_disconnect,
    Exception: _on_unexpected,
}


# --------------------------------------------------------------------------------------------------- requests
class Call:
    """One request as a handler sees it: path and query parameters, the body, the caller, the store.

    ``body`` holds a small body (JSON, form); ``body_file`` a spooled large one (NDJSON commits), else None.
    """

    def __init__(
        self, request: Request, body: bytes = b"", repo_type: str | None = None, body_file: IO[bytes] | None = None
    ) -> None:
        self.request = request
        self.body = body
        self.body_file = body_file
        self.repo_type = repo_type or "model"
        self._json: dict[str, Any] | None = None

    @property
    def hub(self) -> HubContext:
        """The server's shared state."""
        return self.request.app.state.hub

    @property
    def store(self) -> HubStore:
        """The store this request works on (fault injection may hand one request a stand-in)."""
        return self.request.scope.get(STORE_KEY) or self.hub.store

    @property
    def method(self) -> str:
        """HTTP method."""
        return self.request.method

    @property
    def user(self) -> str | None:
        """The caller's user name (the auth middleware checked the token), or None when anonymous."""
        return self.request.scope.get(USER_KEY)

    def require_user(self, action: str) -> str:
        """The caller's user name; ``AuthenticationRequired`` when no token was sent."""
        if self.user is None:
            raise AuthenticationRequired(
                f"You must be authenticated to {action}: pass a token (HfApi(token=...) or the HF_TOKEN variable)."
            )
        return self.user

    def path(self, name: str) -> str:
        """A path parameter of the route."""
        return str(self.request.path_params[name])

    def raw_segments(self) -> list[str]:
        """The URL path split at '/' before percent-decoding, each segment then decoded (keeps encoded '/')."""
        raw = self.request.scope.get("raw_path") or self.request.url.path.encode()
        return [unquote(seg) for seg in raw.decode("latin-1").split("/")[1:]]

    def param(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        return self.request.query_params.get(name, default)

    def params(self, name: str) -> list[str]:
        """All values of a query parameter."""
        return self.request.query_params.getlist(name)

    def flag(self, name: str) -> bool:
        """A boolean query parameter (``1``, ``true``, ``yes``)."""
        return self.param(name, "") in _TRUE

    def json(self) -> dict[str, Any]:
        """The body as a JSON object ({} when empty)."""
        if self._json is None:
            data = parse_json(self.body, "Request body") if self.body else {}
            if not isinstance(data, dict):
                raise InvalidRequest("Request body must be a JSON object.")
            self._json = data
        return self._json

    def base_url(self) -> str:
        """Scheme and authority the client used (the Host header when it is a plain host[:port])."""
        host = self.request.headers.get("host", "")
        return f"http://{host}" if _HOST_RE.match(host) else self.hub.public_url

    def read_repo(self) -> Repo:
        """The repo of this route, if the caller may read it."""
        return readable_repo(self.store, self.user, self.repo_type, self.path("ns"), self.path("name"))

    def write_repo(self, named: tuple[str, str, str] | None = None) -> tuple[Repo, str]:
        """The repo of this route (or ``named``: type, namespace, name) and the caller, if the caller may write."""
        repo_type, ns, name = named or (self.repo_type, self.path("ns"), self.path("name"))
        user = self.require_user(f"write to {ns}/{name}")
        return writable_repo(self.store, user, repo_type, ns, name), user

    def revision(self, repo: Repo, revision: str) -> str:
        """Commit oid of a branch, tag or commit of ``repo``; ``RevisionNotFound`` otherwise."""
        oid = self.store.resolve(repo, revision)
        if oid is None:
            raise RevisionNotFound(f"Invalid rev id: {revision} (not a branch, tag or commit of {repo.repo_id})")
        return oid


Handler = Callable[[Call], Response]
# What an endpoint reads: nothing, a small JSON/form body in memory, or a large body spooled to a temporary file.
BodyKind = Literal["none", "small", "spooled"]
# Who may send the body, checked before a byte of it is read: anyone, any known user, readers or writers of the
# route's repo.
Access = Literal["anyone", "user", "read", "write"]


def _check_access(call: Call, access: Access) -> None:
    if access == "user":
        call.require_user("use this endpoint")
    elif access == "read":
        call.read_repo()
    elif access == "write":
        call.write_repo()


def endpoint(
    handler: Handler, repo_type: str | None = None, *, body: BodyKind = "none", access: Access = "anyone"
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint: checks ``access``, reads the body as ``body`` says, then runs ``handler`` in a worker
    thread. A request without the rights is answered before its body is read, so it costs no memory or disk.

    Example: ``Route("/api/repos/create", endpoint(create_repo, body="small", access="user"), methods=["POST"])``.
    """

    async def run(request: Request) -> Response:
        call = Call(request, repo_type=repo_type)
        if access != "anyone":
            await run_in_threadpool(_check_access, call, access)
        if body == "small":
            call.body = await read_small_body(request, min(MAX_JSON_BODY, call.hub.max_body_bytes))
        elif body == "spooled":
            call.body_file = await spool_body(request, call.hub.max_body_bytes, call.store.blobs.tmp_dir)
        try:
            return await run_in_threadpool(handler, call)
        finally:
            if call.body_file is not None:
                call.body_file.close()

    run.__name__ = handler.__name__
    return run


def repo_routes(
    suffix: str,
    handler: Handler,
    methods: list[str],
    name: str,
    api: bool = True,
    *,
    body: BodyKind = "none",
    access: Access = "anyone",
) -> list[Route]:
    """One route per repo type: ``/api/{models|datasets|spaces}/{ns}/{name}{suffix}`` when ``api``, else
    ``/{''|datasets/|spaces/}{ns}/{name}{suffix}`` (datasets and spaces first, so they win over a model named so).
    ``body`` and ``access`` are passed to :func:`endpoint`.

    Example: ``repo_routes("/refs", refs, ["GET"], "refs")`` serves ``/api/models/alice/x/refs`` and the like.
    """
    if api:
        paths = [(t, f"/api/{plural}/{{ns}}/{{name}}{suffix}") for t, plural in PLURALS.items()]
    else:
        paths = [(t, f"/{URL_PREFIX[t]}{{ns}}/{{name}}{suffix}") for t in ("dataset", "space", "model")]
    return [
        Route(path, endpoint(handler, repo_type, body=body, access=access), methods=methods, name=name)
        for repo_type, path in paths
    ]


# --------------------------------------------------------------------------------------------------- responses
def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON answer."""
    return JSONResponse(payload, status_code=status, headers=headers)


def page_response(call: Call, items: list[Any], page_size: int) -> JSONResponse:
    """One page of ``items`` from the ``cursor`` query parameter on; a ``Link`` header points at the next page.

    Example: ``page_response(call, commits, page_size=100)``.
    """
    try:
        start = max(0, int(call.param("cursor", "0") or 0))
    except ValueError as exc:
        raise InvalidRequest("cursor must be an integer.") from exc
    headers = {}
    if start + page_size < len(items):
        query = [(k, v) for k, v in call.request.query_params.multi_items() if k != "cursor"]
        query.append(("cursor", str(start + page_size)))
        next_url = f"{call.base_url()}{quote(call.request.url.path)}?{urlencode(query)}"
        headers["Link"] = f'<{next_url}>; rel="next"'
    return json_response(items[start : start + page_size], headers=headers)


# --------------------------------------------------------------------------------------------------- logging
class AccessLogMiddleware:
    """Logs ``METHOD /path STATUS`` for every request; never the query string or any header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path = (scope.get("raw_path") or b"").decode("latin-1") or quote(scope["path"])
            logger.info("%s %s %s", scope["method"], header_text(path), status[0] if status else "-")
