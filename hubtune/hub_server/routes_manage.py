"""Routes that manage whole repos: the caller's repo list with storage, moving (renaming) and duplicating a repo, and
a Space's variables.

=======  ===========================================================  ==========================================
method   path                                                         client call
=======  ===========================================================  ==========================================
GET      /api/settings/repositories                                   list_user_repos / ``hf repos ls``
GET      /api/organizations/{ns}/settings/repositories                list_user_repos(namespace=...)
POST     /api/repos/move                                              move_repo / ``hf repos move``
POST     /api/{type}/{ns}/{name}/duplicate                            duplicate_repo / ``hf repos duplicate``
GET      /api/spaces/{ns}/{name}/variables                            get_space_variables
POST     /api/spaces/{ns}/{name}/variables  (DELETE too)              add_space_variable / delete_space_variable
=======  ===========================================================  ==========================================

The local hub has users but no organisations: a user's own namespace is the only one they can list, move into or
duplicate into. A duplicate shares its files with the original (content-addressed blobs), so it costs no disk.

Example::

    app = Starlette(routes=[*routes_manage.routes(), ...])
"""

from __future__ import annotations

import re

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .errors import Conflict, Forbidden, InvalidRequest
from .records import Repo
from .validation import REPO_TYPES
from .web import URL_PREFIX, Call, endpoint, json_response, page_response, repo_routes

LIST_PAGE_SIZE = 1000
# Environment variable names a Space may set (what a shell accepts), and the longest value.
_VARIABLE_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_VARIABLE_VALUE = 64 * 1024


def _repo_id(value: object, field: str) -> tuple[str, str]:
    """``(namespace, name)`` from a ``namespace/name`` body field."""
    if not isinstance(value, str) or value.count("/") != 1:
        raise InvalidRequest(f"'{field}' must be a repo id 'namespace/name'.")
    namespace, name = value.split("/")
    return namespace, name


def _own_namespace(user: str, namespace: str, action: str) -> None:
    if namespace.lower() != user.lower():
        raise Forbidden(f"You don't have the rights to {action} under the namespace \"{namespace}\".")


def _url(call: Call, repo: Repo) -> str:
    return f"{call.base_url()}/{URL_PREFIX[repo.type]}{repo.repo_id}"


def list_user_repos(call: Call) -> Response:
    """Every repo of the caller's namespace (all types), with visibility and storage."""
    user = call.require_user("list your repos")
    namespace = call.request.path_params.get("ns") or user
    _own_namespace(user, namespace, "list repos")
    store = call.store
    rows = []
    for repo in store.list_repos():
        if repo.namespace.lower() != namespace.lower():
            continue
        head = store.branch_head(repo, "main")
        commit = store.get_commit(repo, head) if head else None
        size = sum(f.size for f in store.files(repo, head).values()) if head else 0
        rows.append({
            "id": repo.repo_id,
            "type": repo.type,
            "updatedAt": commit.created_at if commit else repo.created_at,
            "visibility": "private" if repo.private else "public",
            "storage": size,
        })
    total = sum(row["storage"] for row in rows) or 1
    for row in rows:
        row["storagePercent"] = round(100.0 * row["storage"] / total, 2)
    return page_response(call, rows, LIST_PAGE_SIZE)


def move_repo(call: Call) -> Response:
    """Rename a repo the caller owns, inside their own namespace (``Conflict`` if the new id is taken)."""
    user = call.require_user("move a repo")
    body = call.json()
    repo_type = body.get("type") or "model"
    if repo_type not in REPO_TYPES:
        raise InvalidRequest(f"Invalid repo type '{repo_type}': use one of {', '.join(REPO_TYPES)}.")
    from_ns, from_name = _repo_id(body.get("fromRepo"), "fromRepo")
    to_ns, to_name = _repo_id(body.get("toRepo"), "toRepo")
    repo, _ = call.write_repo((repo_type, from_ns, from_name))
    _own_namespace(user, to_ns, f"move {repo.repo_id}")
    moved = call.store.move_repo(repo, to_ns, to_name)
    return json_response({"url": _url(call, moved)})


def duplicate_repo(call: Call) -> Response:
    """Copy a repo the caller can read into their namespace (history, branches, tags and Space variables)."""
    user = call.require_user("duplicate a repo")
    source = call.read_repo()
    body = call.json()
    namespace, name = _repo_id(body.get("repository"), "repository")
    _own_namespace(user, namespace, "create a repo")
    visibility = body.get("visibility")
    if visibility not in (None, "public", "private"):
        raise InvalidRequest("visibility must be 'private' or 'public' on the local hub.")
    private = source.private if visibility is None else visibility == "private"
    variables = variables_from_body(body.get("variables")) if source.type == "space" else {}
    existing = call.store.get_repo(source.type, namespace, name)
    try:
        copy = call.store.copy_repo(source, namespace, name, private)
    except Conflict as exc:
        url = _url(call, existing) if existing else ""
        return json_response({"error": exc.message, "url": url}, status=409)
    for key, (value, description) in variables.items():
        call.store.set_variable(copy, key, value, description)
    return json_response({"url": _url(call, copy), "filesCopyPending": False})


def _variable(key: object, value: object, description: object) -> tuple[str, str, str | None]:
    if not isinstance(key, str) or not _VARIABLE_KEY_RE.match(key):
        raise InvalidRequest("A variable 'key' must be a name of letters, digits and '_' (not starting with a digit).")
    if not isinstance(value, str) or len(value) > MAX_VARIABLE_VALUE:
        raise InvalidRequest(f"A variable 'value' must be a string of at most {MAX_VARIABLE_VALUE} characters.")
    if description is not None and (not isinstance(description, str) or len(description) > 1000):
        raise InvalidRequest("A variable 'description' must be a string of at most 1000 characters.")
    return key, value, description


def variables_from_body(items: object) -> dict[str, tuple[str, str | None]]:
    """``{key: (value, description)}`` from the ``variables`` list of a create or duplicate body (checked)."""
    if items is None:
        return {}
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidRequest("'variables' must be a list of {key, value, description}.")
    checked = [_variable(i.get("key"), i.get("value"), i.get("description")) for i in items]
    return {key: (value, description) for key, value, description in checked}


def variables(call: Call) -> Response:
    """List (GET), set (POST ``{key, value, description}``) or remove (DELETE ``{key}``) a Space's variables."""
    if call.method == "GET":
        repo = call.read_repo()
    else:
        repo, _ = call.write_repo()
        body = call.json()
        if call.method == "POST":
            key, value, description = _variable(body.get("key"), body.get("value"), body.get("description"))
            call.store.set_variable(repo, key, value, description)
        else:
            key, _, _ = _variable(body.get("key"), "", None)
            call.store.delete_variable(repo, key)
    return json_response(call.store.variables(repo))


def routes() -> list[BaseRoute]:
    """The routes of this module, in matching order."""
    space_variables = [
        route
        for route in (
            *repo_routes("/variables", variables, ["GET"], "variables", access="read"),
            *repo_routes("/variables", variables, ["POST", "DELETE"], "variables", body="small", access="write"),
        )
        if route.path.startswith("/api/spaces/")
    ]
    return [
        Route("/api/settings/repositories", endpoint(list_user_repos, access="user"), methods=["GET"],
              name="list_user_repos"),
        Route("/api/organizations/{ns}/settings/repositories", endpoint(list_user_repos, access="user"),
              methods=["GET"], name="list_user_repos"),
        Route("/api/repos/move", endpoint(move_repo, body="small", access="user"), methods=["POST"], name="move_repo"),
        *repo_routes("/duplicate", duplicate_repo, ["POST"], "duplicate_repo", body="small", access="read"),
        *space_variables,
    ]
