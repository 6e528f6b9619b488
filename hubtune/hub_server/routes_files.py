"""The file download route: ``HEAD``/``GET /{prefix}{ns}/{name}/resolve/{rev}/{path}`` (``hf_hub_download``,
``snapshot_download``), with single byte ranges for resumed downloads.

Headers the client reads: ``X-Repo-Commit`` (the resolved commit), ``ETag`` (git blob oid, or SHA-256 for LFS
files), ``X-Linked-Etag``/``X-Linked-Size`` for LFS files, ``Content-Length``. A missing file answers 404 with
``X-Error-Code: EntryNotFound`` and ``X-Repo-Commit``. A ``Range`` header must be ``bytes=`` with at most
:data:`MAX_RANGES` ranges of at most 18-digit numbers; anything else answers 416 (``Content-Range: bytes */SIZE``).

Example::

    app = Starlette(routes=[*routes_files.routes(), ...])
"""

from __future__ import annotations

import re

from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute

from .errors import EntryNotFound, RangeNotSatisfiable
from .web import Call, repo_routes

MAX_RANGES = 8
_RANGE_RE = re.compile(r"^\s*(?:\d{1,18}-\d{0,18}|-\d{1,18})\s*$")


def check_range(header: str | None, size: int) -> None:
    """Raise ``RangeNotSatisfiable`` unless ``header`` (a ``Range`` value, or None) is a well-formed byte range set.

    Example: ``check_range("bytes=0-99", 1000)`` passes; ``check_range("bytes=" + "9" * 5000 + "-", 1000)`` raises.
    """
    if header is None:
        return
    unit, _, spec = header.partition("=")
    parts = spec.split(",")
    if unit.strip().lower() != "bytes" or len(parts) > MAX_RANGES or not all(_RANGE_RE.match(p) for p in parts):
        raise RangeNotSatisfiable(
            f"Unsupported Range header: use 'bytes=START-END' (at most {MAX_RANGES} ranges, numbers of up to 18 digits).",
            size,
        )


def resolve(call: Call) -> Response:
    """The bytes of one file at a revision (Starlette's ``FileResponse`` serves ``Range`` requests)."""
    repo = call.read_repo()
    # {prefix}{ns}/{name}/resolve/{rev}/{path}: the revision is one URL segment (an encoded '/' stays inside it).
    rest = call.raw_segments()[3 if call.repo_type == "model" else 4 :]
    revision = rest[0] if rest else ""
    path = "/".join(rest[1:])
    oid = call.revision(repo, revision)
    entry = call.store.file(repo, oid, path)
    if entry is None:
        raise EntryNotFound(f"Entry not found: {path} at revision {revision}", commit=oid)
    check_range(call.request.headers.get("range"), entry.size)
    etag = entry.sha256 if entry.lfs else entry.git_oid
    headers = {"X-Repo-Commit": oid, "ETag": f'"{etag}"'}
    if entry.lfs:
        headers["X-Linked-Etag"] = f'"{entry.sha256}"'
        headers["X-Linked-Size"] = str(entry.size)
    return FileResponse(call.store.blobs.path(entry.sha256), headers=headers, media_type="application/octet-stream")


def routes() -> list[BaseRoute]:
    """The routes of this module, in matching order."""
    return repo_routes("/resolve/{rest:path}", resolve, ["GET"], "resolve", api=False)
