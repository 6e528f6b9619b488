"""Routes of the git-LFS batch API and the upload links it hands out.

=======  ===========================================================  ==========================================
method   path                                                         client call
=======  ===========================================================  ==========================================
POST     /{prefix}{ns}/{name}.git/info/lfs/objects/batch              git-LFS batch API (upload)
PUT      /lfs-upload/{type}/{ns}/{name}/{oid}?size&expires&sig        LFS content (signed link, no token needed)
=======  ===========================================================  ==========================================

The client sends LFS content without its token, so each upload link carries its own credential: an HMAC over repo,
oid, size and expiry with a secret that lives as long as the server. Content is streamed to ``tmp/`` and kept only
once its size and SHA-256 match.

Example::

    app = Starlette(routes=[*routes_lfs.routes(), ...])
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .bodies import declared_length
from .errors import Forbidden, InvalidRequest
from .records import Repo
from .store import MAX_FILE_SIZE
from .validation import SHA256_RE
from .web import Call, HubContext, json_response, repo_routes

UPLOAD_LINK_TTL_S = 3600
_BAD_LINK = "Invalid or expired upload link; ask the LFS batch API for a new one."


def sign(hub: HubContext, repo: Repo, oid: str, size: int, expires: int) -> str:
    """The signature of an upload link for ``oid`` of ``size`` bytes into ``repo``, valid until ``expires``."""
    message = f"{repo.id}:{repo.type}:{oid}:{size}:{expires}".encode()
    return hmac.new(hub.upload_secret, message, hashlib.sha256).hexdigest()


def _batch_item(call: Call, repo: Repo, obj: Any, expires: int) -> dict[str, Any]:
    oid = obj.get("oid") if isinstance(obj, dict) else None
    size = obj.get("size") if isinstance(obj, dict) else None
    if not isinstance(oid, str) or not SHA256_RE.match(oid) or not isinstance(size, int):
        message = "oid must be a lowercase sha256 hex digest, size an int"
        return {"oid": str(oid), "size": size if isinstance(size, int) else 0, "error": {"code": 422, "message": message}}
    largest = min(MAX_FILE_SIZE, call.hub.max_body_bytes)
    if size < 0 or size > largest:
        message = f"size out of range: this server accepts files of at most {largest} bytes"
        return {"oid": oid, "size": size, "error": {"code": 422, "message": message}}
    if call.store.has_lfs_object(repo, oid) == size:
        return {"oid": oid, "size": size}  # already stored: no actions, the client skips it
    query = urlencode({"size": size, "expires": expires, "sig": sign(call.hub, repo, oid, size, expires)})
    href = f"{call.base_url()}/lfs-upload/{repo.type}/{quote(repo.namespace)}/{quote(repo.name)}/{oid}?{query}"
    return {
        "oid": oid,
        "size": size,
        "authenticated": True,
        "actions": {"upload": {"href": href, "expires_in": UPLOAD_LINK_TTL_S}},
    }


def lfs_batch(call: Call) -> Response:
    """Upload actions for the objects the repo does not hold yet."""
    repo, _ = call.write_repo()
    body = call.json()
    if body.get("operation", "upload") != "upload":
        raise InvalidRequest("The local hub's LFS batch API only supports operation 'upload'.")
    objects = body.get("objects")
    if not isinstance(objects, list):
        raise InvalidRequest("'objects' must be a list of {oid, size}.")
    expires = int(time.time()) + UPLOAD_LINK_TTL_S
    out = [_batch_item(call, repo, obj, expires) for obj in objects]
    return JSONResponse(
        {"transfer": "basic", "objects": out, "hash_algo": "sha256"}, media_type="application/vnd.git-lfs+json"
    )


def _upload_target(request: Request) -> tuple[Repo, str, int]:
    """(repo, oid, size) of a valid, unexpired upload link; ``Forbidden`` otherwise."""
    params = request.query_params
    repo_type, oid = request.path_params["type"], request.path_params["oid"]
    try:
        size = int(params.get("size", ""))
        expires = int(params.get("expires", ""))
    except ValueError as exc:
        raise Forbidden(_BAD_LINK) from exc
    hub: HubContext = request.app.state.hub
    repo = hub.store.get_repo(repo_type, request.path_params["ns"], request.path_params["name"])
    if (
        repo is None
        or SHA256_RE.match(oid) is None
        or expires < time.time()
        or not hmac.compare_digest(params.get("sig", "").encode(), sign(hub, repo, oid, size, expires).encode())
    ):
        raise Forbidden(_BAD_LINK)
    return repo, oid, size


async def lfs_upload(request: Request) -> Response:
    """Stream LFS content to the blob store; it is kept only if size and SHA-256 match the link."""
    repo, oid, size = await run_in_threadpool(_upload_target, request)
    declared_length(request, size)  # a body announced larger than the signed size is refused unread
    store = request.app.state.hub.store
    with store.blobs.upload(oid, size) as upload:
        async for chunk in request.stream():
            upload.write(chunk)
        await run_in_threadpool(upload.finish)
    await run_in_threadpool(store.link_lfs_object, repo, oid, size)
    return json_response({})


def routes() -> list[BaseRoute]:
    """The routes of this module, in matching order."""
    return [
        Route("/lfs-upload/{type}/{ns}/{name}/{oid}", lfs_upload, methods=["PUT"], name="lfs_upload"),
        *repo_routes(
            ".git/info/lfs/objects/batch", lfs_batch, ["POST"], "lfs_batch", api=False, body="small", access="write"
        ),
    ]
