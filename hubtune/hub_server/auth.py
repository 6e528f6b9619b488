"""Token authentication for the local Hub server, as ASGI middleware.

``Authorization: Bearer <token>`` is looked up in the server's ``token -> user`` table (constant-time compare); the
user name is put into the request scope for the handlers (:attr:`hubtune.hub_server.web.Call.user`). A request
without the header is anonymous; one with an unknown token or another scheme is answered 401 right here. Tokens are
never logged nor echoed.

Example::

    app = Starlette(routes=routes, middleware=[Middleware(TokenAuthMiddleware, tokens={"secret": "alice"})])
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from hubtune.errors import ConfigError

from .errors import AuthenticationRequired, InvalidRequest
from .validation import validate_repo_name
from .web import USER_KEY, error_response

INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


def check_tokens(tokens: dict[str, str]) -> dict[str, str]:
    """A copy of ``tokens`` after checking each token and user name; ``ConfigError`` names what to fix.

    Example: ``check_tokens({"secret-token": "alice"})``.
    """
    for token, user in tokens.items():
        if not isinstance(token, str) or not token or any(c.isspace() for c in token):
            raise ConfigError("Local hub tokens must be non-empty strings without spaces (--token TOKEN:USER).")
        try:
            validate_repo_name(user, "x")
        except InvalidRequest as exc:
            raise ConfigError(
                f"Local hub user name {user!r} is not a valid namespace: use letters, digits, '-', '_' or '.' "
                "(--token TOKEN:USER)."
            ) from exc
    return dict(tokens)


class TokenAuthMiddleware:
    """Maps the bearer token of each request to a user name; refuses unknown tokens with 401."""

    def __init__(self, app: ASGIApp, tokens: dict[str, str]) -> None:
        self.app = app
        self.tokens = dict(tokens)

    def user_for(self, token: str) -> str | None:
        """The user a token belongs to, or None (every known token is compared, in constant time)."""
        found = None
        for known, user in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = user
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization")
        user = None
        if header:
            scheme, _, token = header.partition(" ")
            token = token.strip()
            user = self.user_for(token) if scheme.lower() == "bearer" and token else None
            if user is None:
                # The client recognises this exact header text as "bad token" (not "repo not found").
                response = error_response(AuthenticationRequired(INVALID_CREDENTIALS, headline=INVALID_CREDENTIALS))
                await response(scope, receive, send)
                return
        await self.app({**scope, USER_KEY: user}, receive, send)
