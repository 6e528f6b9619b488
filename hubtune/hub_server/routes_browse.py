"""Routes that read repos: listings, repo info, file trees, paths info, commit history and refs.

=======  ===========================================================  ==========================================
method   path                                                         client call
=======  ===========================================================  ==========================================
GET      /api/{type}                                                  list_models / list_datasets / list_spaces
GET      /api/{type}/{ns}/{name}[/revision/{rev}]                     model_info (with safetensors) / space_info
GET      /api/{type}/{ns}/{name}/tree/{rev}[/{path}]                  list_repo_tree (expand: lastCommit)
POST     /api/{type}/{ns}/{name}/paths-info/{rev}                     get_paths_info
GET      /api/{type}/{ns}/{name}/commits/{rev}                        list_repo_commits
GET      /api/{type}/{ns}/{name}/refs                                 list_repo_refs
=======  ===========================================================  ==========================================

Listings are paginated like the Hub's (``Link: <...>; rel="next"``) with the page sizes below.

Example::

    app = Starlette(routes=[*routes_browse.routes(), ...])
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .access import owns
from .errors import EntryNotFound, InvalidRequest
from .gitobjects import tree_oids
from .insights import commit_summary, last_commits
from .payloads import commit_item, file_item, folder_item, only_expanded, repo_payload
from .records import FileEntry, Repo
from .web import PLURALS, Call, endpoint, json_response, page_response, repo_routes

TREE_PAGE_SIZE = 1000
TREE_EXPANDED_PAGE_SIZE = 50  # as on the Hub: expanded entries cost a history walk each
COMMITS_PAGE_SIZE = 100
LIST_PAGE_SIZE = 1000
_SORT_KEYS = ("lastModified", "createdAt", "downloads", "likes", "id")


def _expand(call: Call) -> list[str]:
    return call.params("expand") or call.params("expand[]")


def _files_and_folders(call: Call, repo: Repo, revision: str) -> tuple[dict[str, FileEntry], dict[str, str]]:
    """The files of a revision and the git tree oid of each of its folders ('' is the root)."""
    files = call.store.files(repo, call.revision(repo, revision))
    return files, tree_oids({p: f.git_oid for p, f in files.items()})


def list_repos(call: Call) -> Response:
    """Repos of one type the caller may see, filtered by tags (``filter``), ``author``, ``search``, and for models
    ``pipeline_tag`` and ``library`` (the card's ``pipeline_tag`` / ``library_name``)."""
    store = call.store
    filters = [f.lower() for f in call.params("filter") if f]
    author = (call.param("author") or "").lower()
    search = (call.param("search") or "").lower()
    pipeline = (call.param("pipeline_tag") or "").lower()
    libraries = {v.lower() for v in call.params("library") if v}
    expand = _expand(call)
    full = call.flag("full") or bool(expand)
    with_card = call.flag("cardData") or bool(expand)
    items = []
    for repo in store.list_repos(call.repo_type):
        if repo.private and not owns(call.user, repo):
            continue
        if author and repo.namespace.lower() != author:
            continue
        if search and search not in repo.repo_id.lower():
            continue
        head = store.branch_head(repo, "main")
        if head is None:
            continue
        payload = repo_payload(store, repo, head, with_card=with_card, full=full)
        if pipeline and str(payload.get("pipeline_tag") or "").lower() != pipeline:
            continue
        if libraries and str(payload.get("library_name") or "").lower() not in libraries:
            continue
        tags = {t.lower() for t in payload["tags"]}
        if payload.get("library_name"):
            tags.add(str(payload["library_name"]).lower())
        if any(f not in tags for f in filters):
            continue
        items.append(only_expanded(payload, expand))
    sort = call.param("sort")
    if sort in _SORT_KEYS:
        descending = call.param("direction", "-1") == "-1" and sort != "id"
        items.sort(key=lambda item: item.get(sort) or "", reverse=descending)
    limit = call.param("limit")
    if limit is None:
        return page_response(call, items, LIST_PAGE_SIZE)
    try:
        wanted = max(0, int(limit))
    except ValueError as exc:
        raise InvalidRequest(f"limit must be an integer, got {limit!r}.") from exc
    return page_response(call, items, min(wanted, LIST_PAGE_SIZE) or LIST_PAGE_SIZE)


def repo_info(call: Call) -> Response:
    """Repo info at a revision (main by default)."""
    repo = call.read_repo()
    revision = call.request.path_params.get("rev") or "main"
    oid = call.revision(repo, revision)
    payload = repo_payload(call.store, repo, oid, blobs=call.flag("blobs"))
    return json_response(only_expanded(payload, _expand(call)))


def tree(call: Call) -> Response:
    """Files and folders under a path at a revision; ``recursive=true`` lists everything below it, ``expand=true``
    adds each entry's ``lastCommit``."""
    repo = call.read_repo()
    # .../tree/{rev}/{path}: the revision is one URL segment (an encoded '/' stays inside it).
    rest = call.raw_segments()[5:]  # api, {type}, ns, name, tree, then {rev}/{path}
    revision = rest[0] if rest else ""
    path = "/".join(rest[1:]).strip("/")
    files, folders = _files_and_folders(call, repo, revision)
    if path and path not in folders:
        raise EntryNotFound(f"Folder '{path}' not found at revision {revision}.")
    recursive = call.flag("recursive")
    prefix = f"{path}/" if path else ""

    def wanted(p: str) -> bool:
        if not p.startswith(prefix) or p == path:
            return False
        return recursive or "/" not in p[len(prefix) :]

    dir_items = [folder_item(p, o) for p, o in folders.items() if p and wanted(p)]
    file_items = [file_item(f) for p, f in files.items() if wanted(p)]
    if recursive:
        items = sorted(dir_items + file_items, key=lambda item: item["path"])
    else:
        items = sorted(dir_items, key=lambda i: i["path"]) + sorted(file_items, key=lambda i: i["path"])
    if call.flag("expand"):
        start = _cursor(call)
        page = items[start : start + TREE_EXPANDED_PAGE_SIZE]
        changed = last_commits(call.store, repo, call.revision(repo, revision), [item["path"] for item in page])
        for item in page:
            if item["path"] in changed:
                item["lastCommit"] = commit_summary(changed[item["path"]])
        return page_response(call, items, TREE_EXPANDED_PAGE_SIZE)
    return page_response(call, items, TREE_PAGE_SIZE)


def _cursor(call: Call) -> int:
    try:
        return max(0, int(call.param("cursor", "0") or 0))
    except ValueError as exc:
        raise InvalidRequest("cursor must be an integer.") from exc


def paths_info(call: Call) -> Response:
    """Details of the listed paths that exist at a revision (form or JSON body with ``paths``)."""
    repo = call.read_repo()
    files, folders = _files_and_folders(call, repo, call.path("rev"))
    paths: Any
    if "json" in call.request.headers.get("content-type", ""):
        paths = call.json().get("paths", [])
    else:
        paths = parse_qs(call.body.decode("utf-8", errors="replace"), keep_blank_values=True).get("paths", [])
    if isinstance(paths, str):
        paths = [paths]
    out = []
    for raw in paths:
        p = str(raw).strip("/")
        if p in files:
            out.append(file_item(files[p]))
        elif p and p in folders:
            out.append(folder_item(p, folders[p]))
    return json_response(out)


def commits(call: Call) -> Response:
    """The history of a revision, newest first."""
    repo = call.read_repo()
    oid = call.revision(repo, call.path("rev"))
    return page_response(call, [commit_item(c) for c in call.store.history(repo, oid)], COMMITS_PAGE_SIZE)


def refs(call: Call) -> Response:
    """Branches and tags."""
    repo = call.read_repo()
    found = call.store.refs(repo)
    payload: dict[str, Any] = {
        "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": o} for n, o in found["branch"].items()],
        "converts": [],
        "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": o} for n, o in found["tag"].items()],
    }
    if call.param("include_prs"):
        payload["pullRequests"] = []
    return json_response(payload)


def routes() -> list[BaseRoute]:
    """The routes of this module, in matching order."""
    listings = [
        Route(f"/api/{plural}", endpoint(list_repos, repo_type), methods=["GET"], name="list_repos")
        for repo_type, plural in PLURALS.items()
    ]
    return [
        *listings,
        *repo_routes("", repo_info, ["GET"], "repo_info"),
        *repo_routes("/revision/{rev:path}", repo_info, ["GET"], "repo_info"),
        *repo_routes("/tree/{rest:path}", tree, ["GET"], "tree"),
        *repo_routes("/paths-info/{rev:path}", paths_info, ["POST"], "paths_info", body="small", access="read"),
        *repo_routes("/commits/{rev:path}", commits, ["GET"], "commits"),
        *repo_routes("/refs", refs, ["GET"], "refs"),
    ]
