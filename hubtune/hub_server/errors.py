"""Domain errors of the local Hub server.

The store and the request handlers raise these; one exception handler in :mod:`hubtune.hub_server.web` turns them
into the HTTP answers the ``huggingface_hub`` client understands (status, ``X-Error-Code``, JSON ``error``). Nothing
here knows about HTTP.

Example::

    from hubtune.hub_server.errors import RepoNotFound

    error = RepoNotFound("alice/missing")
    print(error.message)  # Repository not found: alice/missing
"""

from __future__ import annotations


class HubServerError(Exception):
    """A request the server refuses; ``message`` is shown to the client as is (in the JSON body).

    ``headline`` is a short fixed text for the ``X-Error-Message`` header; it never contains anything the request
    sent (a URL or body can carry CR/LF), so the class default is used unless the server states another constant.
    """

    headline = "Request refused"

    def __init__(self, message: str, headline: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if headline is not None:
            self.headline = headline


class InvalidRequest(HubServerError):
    """The request is malformed: bad JSON, an invalid repo id, path, size or oid."""


class PayloadTooLarge(InvalidRequest):
    """The request body is larger than the server accepts."""


class AuthenticationRequired(HubServerError):
    """No token where one is needed, or a token the server does not know."""

    headline = "Authentication required"


class Forbidden(HubServerError):
    """The caller is known but may not do this (another user's namespace, deleting ``main``, a bad upload link)."""

    headline = "Not allowed with this token"


class RouteNotFound(HubServerError):
    """No route answers this method and path."""


class RepoNotFound(HubServerError):
    """The repo does not exist, or it is private and the caller may not see it (the same answer on purpose)."""

    def __init__(self, repo_id: str) -> None:
        super().__init__(f"Repository not found: {repo_id}")


class RevisionNotFound(HubServerError):
    """A branch, tag or commit the repo does not have."""


class EntryNotFound(HubServerError):
    """A file or folder the revision does not have; ``commit`` is the commit that was searched, when known."""

    def __init__(self, message: str, commit: str | None = None) -> None:
        super().__init__(message)
        self.commit = commit


class RangeNotSatisfiable(HubServerError):
    """A ``Range`` header the server will not serve (malformed, too long, or beyond the file); ``size`` of the file."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class Conflict(HubServerError):
    """The thing to create exists already (a repo, a branch, a tag)."""


class StaleParentCommit(HubServerError):
    """The commit names a parent that is no longer the head of its branch."""


class RateLimited(HubServerError):
    """Too many requests (injected fault); ``retry_after`` seconds is the advice for the client."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InjectedFailure(HubServerError):
    """An internal failure on purpose (fault injection); the store is left as before the request."""


class NotSupported(HubServerError):
    """A Hub feature the local server does not implement."""
