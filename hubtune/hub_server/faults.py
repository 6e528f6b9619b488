"""Fault injection for the local Hub server: a plan of faults and the ASGI middleware that injects them.

A :class:`FaultPlan` tells the server to misbehave a fixed number of times, so reliability code can be tested
against the real ``huggingface_hub`` client:

- ``fail_commits``: the next N commits store their blobs, then answer 500 before the commit is recorded (what a
  crash between writing content and recording the commit looks like);
- ``rate_limit``: route name -> N; the next N requests on that route answer 429 with ``Retry-After``;
- ``drop_lfs_uploads``: the next N LFS PUTs read half of the body, then the server breaks the connection before
  the answer is complete (the client sees a network failure, never a usable response).

:class:`FaultMiddleware` applies the plan around the routes, which know nothing about faults: it answers 429
itself, cuts dropped uploads itself, and hands a commit that must fail a store whose ``commit`` raises
:class:`~hubtune.hub_server.errors.InjectedFailure` (blobs stored by the request stay; nothing is recorded).

A plan can be given to :class:`~hubtune.hub_server.HubServer` directly, changed while the server runs (the
``fail_next_commits`` / ``rate_limit_route`` / ``drop_next_lfs_uploads`` helpers are thread safe), or read from the
``HUBTUNE_HUB_FAULTS`` environment variable as JSON, for servers started in a subprocess::

    HUBTUNE_HUB_FAULTS='{"fail_commits": 1, "rate_limit": {"preupload": 2}, "drop_lfs_uploads": 1}'
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, cast

from starlette.datastructures import QueryParams
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from hubtune.errors import ConfigError

from .errors import InjectedFailure, RateLimited
from .records import Commit
from .store import HubStore
from .web import STORE_KEY, error_response

logger = logging.getLogger("hubtune.hub_server")

FAULTS_ENV_VAR = "HUBTUNE_HUB_FAULTS"

# Route names accepted by ``rate_limit``; each is the server's name for one kind of request.
ROUTES = frozenset(
    {
        "create_repo",
        "delete_repo",
        "validate_yaml",
        "whoami",
        "list_repos",
        "repo_info",
        "preupload",
        "lfs_batch",
        "lfs_upload",
        "commit",
        "tree",
        "paths_info",
        "commits",
        "refs",
        "branch",
        "tag",
        "settings",
        "auth_check",
        "resolve",
    }
)


@dataclass
class FaultPlan:
    """Counts of faults still to inject; each injected fault decrements its counter.

    Example::

        plan = FaultPlan(rate_limit={"preupload": 1})
        plan.fail_next_commits(1)
        server = HubServer(root, faults=plan)
    """

    fail_commits: int = 0
    rate_limit: dict[str, int] = field(default_factory=dict)
    drop_lfs_uploads: int = 0
    retry_after: int = 1
    # How many faults of each kind were injected so far (for tests and logs).
    injected: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.fail_commits < 0 or self.drop_lfs_uploads < 0 or self.retry_after < 0:
            raise ConfigError(
                "Hub fault plan: fail_commits, drop_lfs_uploads and retry_after must be >= 0; "
                f"got {self.fail_commits}, {self.drop_lfs_uploads}, {self.retry_after}."
            )
        for route, count in self.rate_limit.items():
            _check_route(route)
            if not isinstance(count, int) or count < 0:
                raise ConfigError(f"Hub fault plan: rate_limit[{route!r}] must be an integer >= 0, got {count!r}.")

    # ----------------------------------------------------------------------------------------------- building
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultPlan:
        """Build a plan from a dict with the keys ``fail_commits``, ``rate_limit``, ``drop_lfs_uploads``, ``retry_after``."""
        if not isinstance(data, dict):
            raise ConfigError(f"Hub fault plan must be a JSON object, got {type(data).__name__}.")
        known = {"fail_commits", "rate_limit", "drop_lfs_uploads", "retry_after"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"Hub fault plan has unknown key(s) {unknown}; use only {sorted(known)} "
                f'(example: {{"fail_commits": 1, "rate_limit": {{"preupload": 2}}}}).'
            )
        try:
            return cls(
                fail_commits=int(data.get("fail_commits", 0)),
                rate_limit={str(k): int(v) for k, v in dict(data.get("rate_limit", {})).items()},
                drop_lfs_uploads=int(data.get("drop_lfs_uploads", 0)),
                retry_after=int(data.get("retry_after", 1)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Hub fault plan has a non-integer count: {exc}.") from exc

    @classmethod
    def from_json(cls, text: str) -> FaultPlan:
        """Parse a plan from a JSON string (the format of ``HUBTUNE_HUB_FAULTS``)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{FAULTS_ENV_VAR} is not valid JSON ({exc.msg} at character {exc.pos}); "
                'expected for example {"fail_commits": 1}.'
            ) from exc
        return cls.from_dict(data)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> FaultPlan:
        """Read ``HUBTUNE_HUB_FAULTS``; an unset or empty variable gives a plan that injects nothing."""
        env = os.environ if environ is None else environ
        text = env.get(FAULTS_ENV_VAR, "").strip()
        return cls.from_json(text) if text else cls()

    def to_json(self) -> str:
        """Serialise the remaining counts, e.g. to hand the plan to a subprocess server via the environment."""
        with self._lock:
            return json.dumps(
                {
                    "fail_commits": self.fail_commits,
                    "rate_limit": dict(self.rate_limit),
                    "drop_lfs_uploads": self.drop_lfs_uploads,
                    "retry_after": self.retry_after,
                }
            )

    # ----------------------------------------------------------------------------------- changing at run time
    def fail_next_commits(self, n: int = 1) -> None:
        """Make the next ``n`` commits answer 500 after their blobs are stored."""
        with self._lock:
            self.fail_commits += n

    def rate_limit_route(self, route: str, n: int = 1) -> None:
        """Answer 429 (with ``Retry-After``) to the next ``n`` requests on ``route``."""
        _check_route(route)
        with self._lock:
            self.rate_limit[route] = self.rate_limit.get(route, 0) + n

    def drop_next_lfs_uploads(self, n: int = 1) -> None:
        """Close the connection halfway through the next ``n`` LFS PUT bodies."""
        with self._lock:
            self.drop_lfs_uploads += n

    def clear(self) -> None:
        """Stop injecting anything (counts of already injected faults are kept)."""
        with self._lock:
            self.fail_commits = 0
            self.rate_limit.clear()
            self.drop_lfs_uploads = 0

    # ----------------------------------------------------------------------------------- used by the server
    def take_rate_limit(self, route: str) -> bool:
        """True if this request on ``route`` must be answered with 429 (consumes one count)."""
        return self._take(route, "rate_limit")

    def take_commit_failure(self) -> bool:
        """True if this commit must fail with 500 (consumes one count)."""
        return self._take(None, "fail_commits")

    def take_lfs_drop(self) -> bool:
        """True if this LFS upload must be cut halfway (consumes one count)."""
        return self._take(None, "drop_lfs_uploads")

    def _take(self, route: str | None, kind: str) -> bool:
        with self._lock:
            if kind == "rate_limit":
                assert route is not None
                left = self.rate_limit.get(route, 0)
                if left <= 0:
                    return False
                self.rate_limit[route] = left - 1
                key = f"rate_limit:{route}"
            else:
                left = getattr(self, kind)
                if left <= 0:
                    return False
                setattr(self, kind, left - 1)
                key = kind
            self.injected[key] = self.injected.get(key, 0) + 1
            return True


def _check_route(route: str) -> None:
    if route not in ROUTES:
        raise ConfigError(f"Hub fault plan: unknown route {route!r} for rate_limit; use one of {sorted(ROUTES)}.")


# --------------------------------------------------------------------------------------------------- middleware
class CommitFailingStore:
    """Stands for a :class:`HubStore` during one commit request: its ``commit`` fails while a fault is planned."""

    def __init__(self, store: HubStore, plan: FaultPlan) -> None:
        self._store = store
        self._plan = plan

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def commit(self, *args: Any, **kwargs: Any) -> Commit:
        """Raise ``InjectedFailure`` if a commit failure is planned (consuming it), else commit."""
        if self._plan.take_commit_failure():
            logger.info("fault: failing a commit after its blobs were stored")
            raise InjectedFailure("Internal error while committing (injected fault); nothing was committed.")
        return self._store.commit(*args, **kwargs)


def route_name(scope: Scope) -> str | None:
    """Name of the route of the Starlette app in ``scope`` that fully matches this request, if any."""
    for route in scope["app"].routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return getattr(route, "name", None)
    return None


class FaultMiddleware:
    """Injects the faults of a :class:`FaultPlan` into the requests it sees (outside routing and auth)."""

    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_name(scope)
        if route is None:
            await self.app(scope, receive, send)
        elif self.plan.take_rate_limit(route):
            logger.info("fault: 429 on %s", route)
            if route != "lfs_upload":  # read what the client sends so the connection stays usable
                await _drain(receive, None)
            error = RateLimited("Too many requests (injected fault); retry later.", self.plan.retry_after)
            await error_response(error)(scope, receive, send)
        elif route == "lfs_upload" and self.plan.take_lfs_drop():
            await self._drop_halfway(scope, receive, send)
        elif route == "commit":
            store = cast(HubStore, CommitFailingStore(scope["app"].state.hub.store, self.plan))
            await self.app({**scope, STORE_KEY: store}, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _drop_halfway(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read half of the upload body, then break the connection in the middle of the answer."""
        announced = QueryParams(scope.get("query_string", b"")).get("size", "")
        await _drain(receive, int(announced) // 2 if announced.isdigit() else 0)
        logger.info("fault: dropping connection in the middle of an LFS upload")
        # The answer announces a body it never sends: the server closes the connection, the client gets no response.
        await send({"type": "http.response.start", "status": 500, "headers": [(b"content-length", b"1")]})


async def _drain(receive: Receive, limit: int | None) -> None:
    """Read and discard the request body, all of it or until ``limit`` bytes were read."""
    seen = 0
    while limit is None or seen < limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
