"""Routes for the account and repo management: whoami, README metadata check, create/delete a repo, settings,
auth checks, branches and tags.

=======  ===========================================================  ==========================================
method   path                                                         client call
=======  ===========================================================  ==========================================
GET      /api/whoami-v2                                               whoami
POST     /api/validate-yaml                                           README metadata check before a commit
POST     /api/repos/create                                            create_repo
DELETE   /api/repos/delete                                            delete_repo
PUT      /api/{type}/{ns}/{name}/settings                             update_repo_settings (visibility)
GET      /api/{type}/{ns}/{name}/auth-check[/write]                   auth_check
POST     /api/{type}/{ns}/{name}/branch/{branch}  (DELETE too)        create_branch / delete_branch
POST     /api/{type}/{ns}/{name}/tag/{rev}, DELETE .../tag/{tag}      create_tag / delete_tag
=======  ===========================================================  ==========================================

Example::

    app = Starlette(routes=[*routes_repos.routes(), ...])
"""

from __future__ import annotations

import hashlib

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .errors import Conflict, Forbidden, InvalidRequest, NotSupported
from .metadata import parse_front_matter
from .routes_manage import variables_from_body
from .validation import REPO_TYPES, validate_repo_name
from .web import URL_PREFIX, Call, endpoint, json_response, repo_routes


def whoami(call: Call) -> Response:
    """The caller's account."""
    user = call.require_user("call whoami")
    return json_response(
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
        }
    )


def validate_yaml(call: Call) -> Response:
    """Check README front matter before the client commits it."""
    content = call.json().get("content", "")
    if not isinstance(content, str):
        raise InvalidRequest("'content' must be a string.")
    try:
        parse_front_matter(content)
    except InvalidRequest as exc:
        return json_response({"error": exc.message, "errors": [{"message": exc.message}]}, status=400)
    return json_response({"errors": [], "warnings": []})


def _named_repo(call: Call, user: str) -> tuple[str, str, str]:
    """(type, namespace, name) from a create/delete body; the namespace defaults to the caller's."""
    body = call.json()
    repo_type = body.get("type") or "model"
    if repo_type not in REPO_TYPES:
        raise InvalidRequest(f"Invalid repo type '{repo_type}': use one of {', '.join(REPO_TYPES)}.")
    name = body.get("name")
    namespace = body.get("organization") or user
    if not isinstance(name, str) or not isinstance(namespace, str):
        raise InvalidRequest("'name' (and 'organization' when given) must be strings.")
    return repo_type, namespace, name


def create_repo(call: Call) -> Response:
    """Create a repo in the caller's namespace; 409 (with its url) if it exists."""
    user = call.require_user("create a repo")
    repo_type, namespace, name = _named_repo(call, user)
    validate_repo_name(namespace, name)
    if namespace.lower() != user.lower():
        raise Forbidden(f'You don\'t have the rights to create a {repo_type} under the namespace "{namespace}".')
    body = call.json()
    visibility = body.get("visibility")
    private = visibility == "private" if visibility is not None else bool(body.get("private", False))
    sdk = body.get("sdk") if repo_type == "space" else None
    variables = variables_from_body(body.get("variables")) if repo_type == "space" else {}
    url = f"{call.base_url()}/{URL_PREFIX[repo_type]}{namespace}/{name}"
    try:
        repo = call.store.create_repo(repo_type, namespace, name, private, sdk)
    except Conflict as exc:
        return json_response({"error": exc.message, "url": url}, status=409)
    for key, (value, description) in variables.items():
        call.store.set_variable(repo, key, value, description)
    return json_response({"url": url, "name": repo.repo_id, "id": str(repo.id)})


def delete_repo(call: Call) -> Response:
    """Delete a repo the caller owns."""
    user = call.require_user("delete a repo")
    repo, _ = call.write_repo(_named_repo(call, user))
    call.store.delete_repo(repo)
    return json_response({})


def settings(call: Call) -> Response:
    """Change visibility."""
    repo, _ = call.write_repo()
    body = call.json()
    visibility = body.get("visibility")
    if visibility is not None:
        if visibility not in ("private", "public"):
            raise InvalidRequest("visibility must be 'private' or 'public' on the local hub.")
        call.store.set_private(repo, visibility == "private")
    elif "private" in body:
        call.store.set_private(repo, bool(body["private"]))
    return json_response({})


def auth_check(call: Call) -> Response:
    """200 if the caller may read the repo."""
    call.read_repo()
    return json_response({})


def auth_check_write(call: Call) -> Response:
    """200 if the caller may write to the repo."""
    call.write_repo()
    return json_response({})


def branch(call: Call) -> Response:
    """Create a branch (from ``startingPoint``, default main) or delete one."""
    repo, _ = call.write_repo()
    name = call.path("rev")
    if call.method == "DELETE":
        call.store.delete_ref(repo, "branch", name)
    else:
        start = call.json().get("startingPoint")
        target = call.revision(repo, start if isinstance(start, str) and start else "main")
        call.store.create_ref(repo, "branch", name, target)
    return json_response({})


def tag(call: Call) -> Response:
    """Create a tag on a revision (POST .../tag/{rev}) or delete one (DELETE .../tag/{tag})."""
    repo, _ = call.write_repo()
    rev_or_tag = call.path("rev")
    if call.method == "DELETE":
        call.store.delete_ref(repo, "tag", rev_or_tag)
    else:
        name = call.json().get("tag")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("'tag' must be a non-empty string.")
        call.store.create_ref(repo, "tag", name, call.revision(repo, rev_or_tag))
    return json_response({})


def xet_token(call: Call) -> Response:
    """Xet is not spoken here: tell the user how to make the client use git-LFS."""
    raise NotSupported(
        "Xet storage is not supported by the local hub: set HF_HUB_DISABLE_XET=1 before importing "
        "huggingface_hub so it uses plain git-LFS uploads."
    )


def routes() -> list[BaseRoute]:
    """The routes of this module, in matching order."""
    return [
        Route("/api/whoami-v2", endpoint(whoami), methods=["GET"], name="whoami"),
        Route("/api/validate-yaml", endpoint(validate_yaml, body="small"), methods=["POST"], name="validate_yaml"),
        Route(
            "/api/repos/create", endpoint(create_repo, body="small", access="user"), methods=["POST"], name="create_repo"
        ),
        Route(
            "/api/repos/delete", endpoint(delete_repo, body="small", access="user"), methods=["DELETE"], name="delete_repo"
        ),
        *repo_routes("/settings", settings, ["PUT"], "settings", body="small", access="write"),
        *repo_routes("/auth-check", auth_check, ["GET"], "auth_check"),
        *repo_routes("/auth-check/write", auth_check_write, ["GET"], "auth_check"),
        *repo_routes("/branch/{rev:path}", branch, ["POST", "DELETE"], "branch", body="small", access="write"),
        *repo_routes("/tag/{rev:path}", tag, ["POST", "DELETE"], "tag", body="small", access="write"),
        *repo_routes("/xet-write-token/{rev:path}", xet_token, ["GET", "POST"], "xet"),
        *repo_routes("/xet-read-token/{rev:path}", xet_token, ["GET", "POST"], "xet"),
    ]
