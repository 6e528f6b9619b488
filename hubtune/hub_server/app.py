"""The ASGI application of the local Hub server: Starlette routes, middleware and the domain-error handler.

The routes speak the subset of the Hub protocol that ``huggingface_hub`` 2.x uses with Xet disabled; each module
lists its own: :mod:`.routes_repos` (account, repo creation, branches, tags), :mod:`.routes_manage` (repo lists,
move, duplicate, Space variables), :mod:`.routes_browse` (listings, repo info, trees, commits, refs),
:mod:`.routes_upload` (preupload, commits), :mod:`.routes_lfs` (git-LFS batch API and upload links) and
:mod:`.routes_files` (file downloads). ``{type}`` is ``models``, ``datasets`` or ``spaces``.

Middleware, outermost first: access log (method, path, status; never the query or a header), fault injection
(:mod:`.faults`), token authentication (:mod:`.auth`). Domain errors raised anywhere below become the Hub's error
answers in :func:`hubtune.hub_server.web.error_response`.

Auth: ``Authorization: Bearer <token>``; tokens map to user names. Reads of public repos need no token; writes need a
token whose user owns the namespace (401 without a token, 403 for another namespace). A private repo answers 404
(``X-Error-Code: RepoNotFound``) to everyone but its owner, exactly like a missing repo. An unknown token answers 401.
All of this is decided before a byte of the request body is read; bodies are then read within bounds
(:mod:`.bodies`), and no response header ever repeats text from the request.

Example::

    app = build_app(HubContext(store, "http://127.0.0.1:8765"), tokens={"secret": "alice"}, faults=FaultPlan())
    uvicorn.run(app, host="127.0.0.1", port=8765)
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from . import routes_browse, routes_files, routes_lfs, routes_manage, routes_repos, routes_upload
from .auth import TokenAuthMiddleware
from .faults import FaultMiddleware, FaultPlan
from .web import EXCEPTION_HANDLERS, AccessLogMiddleware, HubContext


def all_routes() -> list[BaseRoute]:
    """Every route of the server, in matching order (fixed paths before patterns that could also match them)."""
    return [
        *routes_repos.routes(),
        *routes_manage.routes(),
        *routes_upload.routes(),
        *routes_browse.routes(),
        *routes_lfs.routes(),
        *routes_files.routes(),
    ]


def build_app(context: HubContext, tokens: dict[str, str], faults: FaultPlan) -> Starlette:
    """The Starlette application serving one store; ``tokens`` maps token -> user name.

    Example: ``build_app(HubContext(HubStore(root), "http://127.0.0.1:8765"), {"secret": "alice"}, FaultPlan())``.
    """
    app = Starlette(
        routes=all_routes(),
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(FaultMiddleware, plan=faults),
            Middleware(TokenAuthMiddleware, tokens=tokens),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.router.redirect_slashes = False  # a redirect would echo the Host header into Location
    app.state.hub = context
    return app
