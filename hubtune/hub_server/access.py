"""Who may read or write a repo on the local Hub server.

Reads of public repos need no token. A private repo is visible only to the user who owns its namespace; to everyone
else it answers exactly like a missing repo (``RepoNotFound``), so its existence does not leak. Writes need the
owner's token (``Forbidden`` for another namespace).

Example::

    from hubtune.hub_server.access import readable_repo

    repo = readable_repo(store, None, "model", "alice", "promoter-lora")  # RepoNotFound if private or missing
"""

from __future__ import annotations

from .errors import Forbidden, RepoNotFound
from .records import Repo
from .store import HubStore


def owns(user: str | None, repo: Repo) -> bool:
    """True if ``user`` owns the namespace of ``repo`` (user names compare case-insensitively)."""
    return user is not None and user.lower() == repo.namespace.lower()


def readable_repo(store: HubStore, user: str | None, repo_type: str, namespace: str, name: str) -> Repo:
    """The repo if ``user`` (None: anonymous) may read it; ``RepoNotFound`` otherwise."""
    repo = store.get_repo(repo_type, namespace, name)
    if repo is None or (repo.private and not owns(user, repo)):
        raise RepoNotFound(f"{namespace}/{name}")
    return repo


def writable_repo(store: HubStore, user: str, repo_type: str, namespace: str, name: str) -> Repo:
    """The repo if ``user`` may write to it: ``RepoNotFound`` if invisible, ``Forbidden`` outside their namespace.

    Example: ``writable_repo(store, "alice", "model", "alice", "promoter-lora")``.
    """
    repo = readable_repo(store, user, repo_type, namespace, name)
    if not owns(user, repo):
        raise Forbidden(f"You don't have the rights to write to {repo.repo_id}: it belongs to '{repo.namespace}'.")
    return repo
