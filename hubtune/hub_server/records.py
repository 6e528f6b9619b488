"""Records of the local Hub server's store: repos, files of a commit, commits and commit operations.

Example::

    from hubtune.hub_server.records import CommitOp

    op = CommitOp("add", "README.md", sha256="ab" * 32, size=120)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .gitobjects import lfs_pointer


@dataclass(frozen=True)
class Repo:
    """One repository row."""

    id: int
    type: str
    namespace: str
    name: str
    private: bool
    sdk: str | None
    created_at: str

    @property
    def repo_id(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class FileEntry:
    """One file of one commit."""

    path: str
    size: int
    sha256: str
    git_oid: str
    lfs: bool

    @property
    def pointer_size(self) -> int:
        """Size of the git-LFS pointer file that stands for this file in git."""
        return len(lfs_pointer(self.sha256, self.size))


@dataclass(frozen=True)
class Commit:
    """One commit row."""

    oid: str
    parent: str | None
    tree: str
    title: str
    message: str
    author: str
    created_at: str


@dataclass(frozen=True)
class CommitOp:
    """One operation of a commit: ``add`` (content already in the blob store), ``delete`` or ``delete_folder``."""

    kind: str
    path: str
    sha256: str = ""
    size: int = 0
    lfs: bool = False


def now_iso() -> str:
    """Current UTC time in the Hub's format (``2024-05-01T12:00:00.000Z``)."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
