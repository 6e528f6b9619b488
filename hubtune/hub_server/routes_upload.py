"""Routes that write commits: preupload (upload mode and remote oid of each file) and the NDJSON commit.

=======  ===========================================================  ==========================================
method   path                                                         client call
=======  ===========================================================  ==========================================
POST     /api/{type}/{ns}/{name}/preupload/{rev}                      upload mode + remote oid of each file
POST     /api/{type}/{ns}/{name}/commit/{rev}                         create_commit (NDJSON)
=======  ===========================================================  ==========================================

A commit stores the inline (regular) files' content first, then records the commit in one transaction; LFS files
must have been uploaded through the LFS routes before.

Example::

    app = Starlette(routes=[*routes_upload.routes(), ...])
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from .bodies import ndjson_lines, parse_json
from .errors import InvalidRequest, RevisionNotFound
from .gitobjects import matches_lfs_pattern
from .records import CommitOp, Repo
from .store import LFS_SIZE_THRESHOLD
from .validation import SHA256_RE, SHORT_OID_RE, validate_repo_path
from .web import URL_PREFIX, Call, json_response, repo_routes


def _refuse_pull_requests(call: Call) -> None:
    if call.flag("create_pr"):
        raise InvalidRequest(
            "Pull requests are not supported by the local hub; commit to a branch instead (create_pr=False)."
        )


def preupload(call: Call) -> Response:
    """For each announced file: ``regular`` or ``lfs``, and the oid the revision holds at that path (or null)."""
    repo, _ = call.write_repo()
    _refuse_pull_requests(call)
    oid = call.revision(repo, call.path("rev"))
    current = call.store.files(repo, oid)
    patterns = call.store.lfs_patterns(repo, oid)
    files = call.json().get("files")
    if not isinstance(files, list):
        raise InvalidRequest("'files' must be a list of {path, sample, size}.")
    answer = []
    for item in files:
        if not isinstance(item, dict):
            raise InvalidRequest("Each entry of 'files' must be an object.")
        path = validate_repo_path(item.get("path"))
        size = item.get("size")
        if not isinstance(size, int) or size < 0:
            raise InvalidRequest(f"'size' of '{path}' must be a non-negative integer.")
        try:
            sample = base64.b64decode(item.get("sample") or "", validate=True)
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(f"'sample' of '{path}' is not valid base64.") from exc
        is_lfs = size >= LFS_SIZE_THRESHOLD or b"\x00" in sample or matches_lfs_pattern(path, patterns)
        existing = current.get(path)
        remote_oid = None
        if existing is not None:
            remote_oid = existing.sha256 if existing.lfs else existing.git_oid
        answer.append(
            {"path": path, "uploadMode": "lfs" if is_lfs else "regular", "shouldIgnore": False, "oid": remote_oid}
        )
    return json_response({"files": answer, "commitOid": oid})


def _parse_commit(call: Call, repo: Repo) -> tuple[dict[str, Any], list[CommitOp]]:
    """The header and operations of an NDJSON commit body; regular files' content is stored on the way."""
    header: dict[str, Any] | None = None
    ops: list[CommitOp] = []
    lines = ndjson_lines(call.body_file) if call.body_file is not None else enumerate(call.body.splitlines(), 1)
    for number, line in lines:
        if not line.strip():
            continue
        item = parse_json(line, f"Commit payload line {number}")
        try:
            key, value = item["key"], item["value"]
        except (KeyError, TypeError) as exc:
            raise InvalidRequest(f"Commit payload line {number} is not a {{key, value}} JSON object.") from exc
        if not isinstance(value, dict):
            raise InvalidRequest(f"Commit payload line {number}: 'value' must be an object.")
        if key == "header":
            header = value
        elif header is None:
            raise InvalidRequest("Commit payload must start with a 'header' line.")
        elif key == "file":
            ops.append(_regular_file_op(call, value))
        elif key == "lfsFile":
            ops.append(_lfs_file_op(call, repo, value))
        elif key == "deletedFile":
            ops.append(CommitOp("delete", validate_repo_path(value.get("path"))))
        elif key == "deletedFolder":
            raw = value.get("path")
            path = raw.rstrip("/") if isinstance(raw, str) else raw
            ops.append(CommitOp("delete_folder", validate_repo_path(path)))
        else:
            raise InvalidRequest(f"Unknown commit operation '{key}' on line {number}.")
    if header is None:
        raise InvalidRequest("Commit payload is empty: a 'header' line is required.")
    return header, ops


def _regular_file_op(call: Call, value: dict[str, Any]) -> CommitOp:
    path = validate_repo_path(value.get("path"))
    content = value.get("content", "")
    if not isinstance(content, str):
        raise InvalidRequest(f"'content' of '{path}' must be a string.")
    if value.get("encoding", "base64") == "base64":
        try:
            data = base64.b64decode(content, validate=True)
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(f"'content' of '{path}' is not valid base64.") from exc
    else:
        data = content.encode()
    if len(data) > LFS_SIZE_THRESHOLD:
        raise InvalidRequest(
            f"'{path}' is larger than 10 MiB and must be uploaded with git-LFS (ask preupload for its mode)."
        )
    digest = call.store.blobs.put(data)
    return CommitOp("add", path, digest, len(data), lfs=False)


def _lfs_file_op(call: Call, repo: Repo, value: dict[str, Any]) -> CommitOp:
    path = validate_repo_path(value.get("path"))
    oid = value.get("oid")
    if value.get("algo", "sha256") != "sha256" or not isinstance(oid, str) or not SHA256_RE.match(oid):
        raise InvalidRequest(f"LFS file '{path}' needs algo 'sha256' and a sha256 hex 'oid'.")
    known = call.store.has_lfs_object(repo, oid)
    size = value.get("size", known)
    if known is None or size != known:
        raise InvalidRequest(
            f"LFS object {oid} for '{path}' was not uploaded to {repo.repo_id} (or its size differs); "
            "upload it through the LFS batch API first."
        )
    return CommitOp("add", path, oid, int(size), lfs=True)


def commit(call: Call) -> Response:
    """Apply an NDJSON commit (header, file, lfsFile, deletedFile, deletedFolder lines) to a branch."""
    repo, user = call.write_repo()
    _refuse_pull_requests(call)
    revision = call.path("rev")
    header, ops = _parse_commit(call, repo)
    title = header.get("summary")
    if not isinstance(title, str) or not title.strip():
        raise InvalidRequest("The commit header needs a non-empty 'summary'.")
    description = header.get("description") or ""
    parent = header.get("parentCommit")
    if parent is not None and (not isinstance(parent, str) or not SHORT_OID_RE.match(parent.lower())):
        raise InvalidRequest("'parentCommit' must be a commit oid (5 to 40 hex characters).")
    if call.store.branch_head(repo, revision) is None:
        if call.store.resolve(repo, revision) is not None:
            raise InvalidRequest(f"Can only commit to a branch; '{revision}' is a tag or a commit.")
        raise RevisionNotFound(f"Invalid rev id: {revision} (no such branch)")
    # Content is stored at this point; a failure from here on must leave the repo exactly as it was.
    done = call.store.commit(repo, revision, ops, title.strip(), str(description), user, parent)
    url = f"{call.base_url()}/{URL_PREFIX[repo.type]}{repo.repo_id}/commit/{done.oid}"
    return json_response(
        {
            "success": True,
            "commitOid": done.oid,
            "commitUrl": url,
            "commitMessage": title,
            "hookOutput": "",
            "pullRequestUrl": None,
        }
    )


def routes() -> list[BaseRoute]:
    """The routes of this module, in matching order."""
    return [
        *repo_routes("/preupload/{rev:path}", preupload, ["POST"], "preupload", body="small", access="write"),
        *repo_routes("/commit/{rev:path}", commit, ["POST"], "commit", body="spooled", access="write"),
    ]
