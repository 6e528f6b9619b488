"""Bounded reading and parsing of request bodies for the local Hub server.

No body is ever held whole unless it is small: JSON bodies are capped at :data:`MAX_JSON_BODY` bytes, larger bodies
(NDJSON commits) are spooled to a temporary file in bounded chunks and read back line by line, each line capped at
:data:`MAX_NDJSON_LINE` bytes. The byte limits count the bytes actually received, whatever the framing
(``Content-Length`` or chunked); a declared length above the limit is refused before anything is read. Parsed JSON
and YAML are checked for nesting depth and size, so a deeply nested or alias-expanded document is a clear 400, not
a crash.

Example::

    data = await read_small_body(request, MAX_JSON_BODY)
    payload = parse_json(data, "Request body")  # InvalidRequest when malformed or nested too deeply
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from starlette.requests import Request

from .errors import InvalidRequest, PayloadTooLarge

# Largest JSON body (repo creation, preupload, LFS batch, paths-info, YAML check); a preupload batch of a few
# hundred files is well below it.
MAX_JSON_BODY = 16 * 1024 * 1024
# Largest line of an NDJSON commit: one regular file (at most 10 MiB) base64-encoded, with its JSON wrapping.
MAX_NDJSON_LINE = 16 * 1024 * 1024
# Deepest nesting of arrays/objects accepted in JSON bodies and README metadata (real payloads use fewer than 10).
MAX_NESTING = 64
# Most values a README's metadata may expand to (YAML aliases can make a small text expand enormously).
MAX_METADATA_NODES = 100_000
# A spooled body stays in memory up to this size, then moves to a temporary file.
SPOOL_MEMORY_BYTES = 1024 * 1024


def declared_length(request: Request, limit: int) -> int | None:
    """The ``Content-Length`` of a request (None when absent); ``PayloadTooLarge`` when above ``limit``.

    Example: ``declared_length(request, MAX_JSON_BODY)``.
    """
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not declared.isdigit() or len(declared) > 20:
        raise InvalidRequest("Content-Length must be a non-negative integer.")
    if int(declared) > limit:
        raise PayloadTooLarge(f"Request body of {declared} bytes is larger than the {limit} bytes this server accepts.")
    return int(declared)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body is larger than the {limit} bytes this server accepts.")


async def read_small_body(request: Request, limit: int) -> bytes:
    """The whole body of a request known to be small: ``PayloadTooLarge`` as soon as more than ``limit`` bytes
    are declared or received.

    Example: ``body = await read_small_body(request, MAX_JSON_BODY)``.
    """
    declared_length(request, limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def spool_body(request: Request, limit: int, folder: Path) -> IO[bytes]:
    """The body copied chunk by chunk into an anonymous temporary file under ``folder`` (memory first, up to
    :data:`SPOOL_MEMORY_BYTES`), positioned at its start; ``PayloadTooLarge`` beyond ``limit`` bytes. The caller
    closes it (closing deletes it).

    Example: ``with await spool_body(request, hub.max_body_bytes, store.blobs.tmp_dir) as body: ...``.
    """
    declared_length(request, limit)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, dir=folder, prefix="body-")
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            spool.write(chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def ndjson_lines(handle: IO[bytes], max_line: int = MAX_NDJSON_LINE) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of a spooled NDJSON body; never reads more than ``max_line`` bytes at once.

    Example: ``for number, line in ndjson_lines(body): ...``.
    """
    number = 0
    while True:
        line = handle.readline(max_line + 1)
        if not line:
            return
        number += 1
        if len(line) > max_line:
            raise PayloadTooLarge(
                f"Commit payload line {number} is longer than {max_line} bytes; files above 10 MiB go through git-LFS."
            )
        yield number, line


def check_structure(value: Any, what: str, max_depth: int = MAX_NESTING, max_nodes: int | None = None) -> None:
    """Raise ``InvalidRequest`` when parsed data nests deeper than ``max_depth`` or has more than ``max_nodes``
    values (shared YAML aliases count each time they appear). Iterative, so it cannot overflow the stack itself.

    Example: ``check_structure(json.loads(text), "Request body")``.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if max_nodes is not None and seen > max_nodes:
            raise InvalidRequest(f"{what} is too large: more than {max_nodes} values.")
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise InvalidRequest(f"{what} is nested more than {max_depth} levels deep.")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def parse_json(data: bytes | str, what: str) -> Any:
    """``data`` parsed as JSON; ``InvalidRequest`` (naming ``what``) when malformed or nested too deeply.

    Example: ``parse_json(b'{"name": "demo"}', "Request body")``.
    """
    try:
        value = json.loads(data)
    except RecursionError as exc:
        raise InvalidRequest(f"{what} is nested more than {MAX_NESTING} levels deep.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{what} is not valid JSON: {exc}") from exc
    check_structure(value, what)
    return value
