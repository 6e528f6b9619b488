"""Storage of the local Hub server: SQLite for metadata, a content-addressed folder for file contents.

Layout under the root folder::

    hub.sqlite          repos, commits, per-commit file lists, refs (branches/tags), LFS objects per repo
    blobs/, tmp/        file contents by SHA-256 and partial uploads (:mod:`hubtune.hub_server.blobs`)

Consistency rule: a blob is written (atomic rename) before any row refers to it, and each commit (its row, its file
list and the branch move) is one SQLite transaction. A crash at any point leaves either the old or the new commit
visible, never a mix; at worst an unreferenced blob stays in ``blobs/``. Deleting a repo removes the blobs no other
repo references, under the same lock that writing a repo's first blob takes.

The store knows nothing about HTTP: it raises the domain errors of :mod:`hubtune.hub_server.errors`.

Example::

    from hubtune.hub_server.store import CommitOp, HubStore

    store = HubStore(Path("hub-data"))
    repo = store.create_repo("model", "alice", "demo", private=False)
    digest = store.blobs.put(b"hello")
    store.commit(repo, "main", [CommitOp("add", "a.txt", digest, 5)], "Add a.txt", "", "alice")
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .blobs import BlobStore
from .errors import Conflict, EntryNotFound, Forbidden, InvalidRequest, RevisionNotFound, StaleParentCommit
from .gitobjects import (
    DEFAULT_GITATTRIBUTES,
    commit_oid,
    git_blob_oid,
    gitattributes_lfs_patterns,
    lfs_pointer,
    tree_oids,
)
from .records import Commit, CommitOp, FileEntry, Repo, now_iso
from .validation import SHORT_OID_RE, fold_path, validate_ref_name, validate_repo_name

# Files at least this large are stored as LFS (the Hub refuses regular files above 10 MiB).
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
# Upper bound for one stored file; a guard against filling the disk by mistake, not a Hub limit.
MAX_FILE_SIZE = 50 * 1024**3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS repos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    namespace TEXT NOT NULL COLLATE NOCASE,
    name TEXT NOT NULL COLLATE NOCASE,
    private INTEGER NOT NULL,
    sdk TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (type, namespace, name)
);
CREATE TABLE IF NOT EXISTS commits (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    oid TEXT NOT NULL,
    parent TEXT,
    tree TEXT NOT NULL,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (repo_id, oid)
);
CREATE TABLE IF NOT EXISTS files (
    repo_id INTEGER NOT NULL,
    commit_oid TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    git_oid TEXT NOT NULL,
    lfs INTEGER NOT NULL,
    PRIMARY KEY (repo_id, commit_oid, path),
    FOREIGN KEY (repo_id, commit_oid) REFERENCES commits(repo_id, oid) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS refs (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    commit_oid TEXT NOT NULL,
    PRIMARY KEY (repo_id, kind, name)
);
CREATE TABLE IF NOT EXISTS lfs_objects (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (repo_id, sha256)
);
CREATE TABLE IF NOT EXISTS variables (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    description TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (repo_id, key)
);
CREATE INDEX IF NOT EXISTS files_by_sha256 ON files (sha256);
CREATE INDEX IF NOT EXISTS lfs_objects_by_sha256 ON lfs_objects (sha256);
"""


class HubStore:
    """Thread-safe metadata store (SQLite) with its content-addressed blobs (``.blobs``), rooted at one folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = BlobStore(self.root)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.root / "hub.sqlite", check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    # ------------------------------------------------------------------------------------------------- repos
    def create_repo(self, repo_type: str, namespace: str, name: str, private: bool, sdk: str | None = None) -> Repo:
        """Create a repo with an initial commit holding ``.gitattributes`` on ``main`` (``Conflict`` if it exists)."""
        validate_repo_name(namespace, name)
        created = now_iso()
        attributes = DEFAULT_GITATTRIBUTES.encode()
        blob_oid = git_blob_oid(attributes)
        tree = tree_oids({".gitattributes": blob_oid})[""]
        oid = commit_oid(tree, None, namespace, created, "initial commit", "")
        with self._transaction() as db:
            digest = self.blobs.put(attributes)  # under the lock: a concurrent delete cannot remove it before use
            if self.get_repo(repo_type, namespace, name) is not None:
                raise Conflict(f"You already created this {repo_type} repo: {namespace}/{name}")
            cur = db.execute(
                "INSERT INTO repos (type, namespace, name, private, sdk, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (repo_type, namespace, name, int(private), sdk, created),
            )
            repo_id = int(cur.lastrowid or 0)
            db.execute(
                "INSERT INTO commits VALUES (?, ?, NULL, ?, ?, '', ?, ?)",
                (repo_id, oid, tree, "initial commit", namespace, created),
            )
            db.execute(
                "INSERT INTO files VALUES (?, ?, '.gitattributes', ?, ?, ?, 0)",
                (repo_id, oid, len(attributes), digest, blob_oid),
            )
            db.execute("INSERT INTO refs VALUES (?, 'branch', 'main', ?)", (repo_id, oid))
        repo = self.get_repo(repo_type, namespace, name)
        assert repo is not None
        return repo

    def get_repo(self, repo_type: str, namespace: str, name: str) -> Repo | None:
        """The repo, or None (names compare case-insensitively, like on the Hub)."""
        rows = self._query(
            "SELECT * FROM repos WHERE type = ? AND namespace = ? AND name = ?", (repo_type, namespace, name)
        )
        return _repo_from_row(rows[0]) if rows else None

    def list_repos(self, repo_type: str | None = None) -> list[Repo]:
        """All repos of a type (every type when None), oldest first."""
        if repo_type is None:
            return [_repo_from_row(r) for r in self._query("SELECT * FROM repos ORDER BY id")]
        return [_repo_from_row(r) for r in self._query("SELECT * FROM repos WHERE type = ? ORDER BY id", (repo_type,))]

    def move_repo(self, repo: Repo, namespace: str, name: str) -> Repo:
        """Rename a repo to ``namespace/name``, history, refs and variables included (``Conflict`` if taken).

        Example: ``store.move_repo(repo, "alice", "promoter-lora-v2")``.
        """
        validate_repo_name(namespace, name)
        with self._transaction() as db:
            taken = self.get_repo(repo.type, namespace, name)
            if taken is not None and taken.id != repo.id:
                raise Conflict(f"You already created this {repo.type} repo: {namespace}/{name}")
            db.execute("UPDATE repos SET namespace = ?, name = ? WHERE id = ?", (namespace, name, repo.id))
        moved = self.get_repo(repo.type, namespace, name)
        assert moved is not None
        return moved

    def copy_repo(self, repo: Repo, namespace: str, name: str, private: bool) -> Repo:
        """A new repo ``namespace/name`` with the history, branches, tags, LFS objects and variables of ``repo``.

        Contents are shared through the content-addressed blobs; nothing is copied on disk.
        Example: ``store.copy_repo(space, "bob", "demo-copy", private=False)``.
        """
        validate_repo_name(namespace, name)
        with self._transaction() as db:
            if self.get_repo(repo.type, namespace, name) is not None:
                raise Conflict(f"You already created this {repo.type} repo: {namespace}/{name}")
            cur = db.execute(
                "INSERT INTO repos (type, namespace, name, private, sdk, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (repo.type, namespace, name, int(private), repo.sdk, now_iso()),
            )
            new_id = int(cur.lastrowid or 0)
            for table in ("commits", "files", "refs", "lfs_objects", "variables"):
                columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})") if row[1] != "repo_id"]
                listed = ", ".join(columns)
                db.execute(
                    f"INSERT INTO {table} (repo_id, {listed}) SELECT ?, {listed} FROM {table} WHERE repo_id = ?",
                    (new_id, repo.id),
                )
        copied = self.get_repo(repo.type, namespace, name)
        assert copied is not None
        return copied

    # ------------------------------------------------------------------------------------------------- variables
    def variables(self, repo: Repo) -> dict[str, dict[str, str | None]]:
        """A Space's variables: ``{key: {"value", "description", "updatedAt"}}``."""
        rows = self._query("SELECT * FROM variables WHERE repo_id = ? ORDER BY key", (repo.id,))
        return {r["key"]: {"value": r["value"], "description": r["description"], "updatedAt": r["updated_at"]}
                for r in rows}

    def set_variable(self, repo: Repo, key: str, value: str, description: str | None = None) -> None:
        """Add or replace one variable."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO variables VALUES (?, ?, ?, ?, ?)",
                       (repo.id, key, value, description, now_iso()))

    def delete_variable(self, repo: Repo, key: str) -> None:
        """Remove one variable (nothing happens if it is not set)."""
        with self._transaction() as db:
            db.execute("DELETE FROM variables WHERE repo_id = ? AND key = ?", (repo.id, key))

    def delete_repo(self, repo: Repo) -> list[str]:
        """Remove a repo with its commits, refs and the blobs no other repo references; returns those blobs' SHA-256.

        Example: ``removed = store.delete_repo(repo)``.
        """
        with self._lock:  # held until the files are gone: no other request can reference a doomed blob meanwhile
            with self._transaction() as db:
                used = [
                    r["sha256"]
                    for r in db.execute(
                        "SELECT sha256 FROM files WHERE repo_id = ? UNION SELECT sha256 FROM lfs_objects WHERE repo_id = ?",
                        (repo.id, repo.id),
                    )
                ]
                db.execute("DELETE FROM repos WHERE id = ?", (repo.id,))
                unreferenced = [
                    digest
                    for digest in used
                    if db.execute(
                        "SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = ?) OR "
                        "EXISTS (SELECT 1 FROM lfs_objects WHERE sha256 = ?)",
                        (digest, digest),
                    ).fetchone()[0]
                    == 0
                ]
            for digest in unreferenced:
                self.blobs.remove(digest)
        return unreferenced

    def set_private(self, repo: Repo, private: bool) -> None:
        """Change visibility."""
        with self._transaction() as db:
            db.execute("UPDATE repos SET private = ? WHERE id = ?", (int(private), repo.id))

    # ------------------------------------------------------------------------------------------------- refs
    def refs(self, repo: Repo) -> dict[str, dict[str, str]]:
        """``{"branch": {name: oid}, "tag": {name: oid}}``."""
        out: dict[str, dict[str, str]] = {"branch": {}, "tag": {}}
        for row in self._query("SELECT kind, name, commit_oid FROM refs WHERE repo_id = ? ORDER BY name", (repo.id,)):
            out[row["kind"]][row["name"]] = row["commit_oid"]
        return out

    def branch_head(self, repo: Repo, branch: str) -> str | None:
        """Commit oid a branch points to, or None."""
        rows = self._query(
            "SELECT commit_oid FROM refs WHERE repo_id = ? AND kind = 'branch' AND name = ?", (repo.id, branch)
        )
        return rows[0]["commit_oid"] if rows else None

    def resolve(self, repo: Repo, revision: str) -> str | None:
        """Commit oid for a branch, a tag, a full commit oid or an unambiguous oid prefix; None if unknown."""
        rows = self._query(
            "SELECT kind, commit_oid FROM refs WHERE repo_id = ? AND name = ? ORDER BY kind", (repo.id, revision)
        )
        if rows:
            return rows[0]["commit_oid"]  # 'branch' sorts before 'tag', as git prefers branches
        if SHORT_OID_RE.match(revision):
            found = self._query(
                "SELECT oid FROM commits WHERE repo_id = ? AND oid LIKE ? LIMIT 2", (repo.id, revision + "%")
            )
            if len(found) == 1 and (len(revision) >= 7 or len(revision) == 40):
                return found[0]["oid"]
        return None

    def create_ref(self, repo: Repo, kind: str, name: str, target: str) -> None:
        """Create a branch or tag pointing at a commit (``Conflict`` if the name is taken)."""
        validate_ref_name(name)
        with self._transaction() as db:
            exists = db.execute(
                "SELECT 1 FROM refs WHERE repo_id = ? AND kind = ? AND name = ?", (repo.id, kind, name)
            ).fetchone()
            if exists:
                raise Conflict(f"{'Branch' if kind == 'branch' else 'Tag'} '{name}' already exists.")
            db.execute("INSERT INTO refs VALUES (?, ?, ?, ?)", (repo.id, kind, name, target))

    def delete_ref(self, repo: Repo, kind: str, name: str) -> None:
        """Delete a branch (not main) or a tag (``RevisionNotFound`` if missing, ``Forbidden`` for main)."""
        if kind == "branch" and name == "main":
            raise Forbidden("The main branch cannot be deleted.")
        with self._transaction() as db:
            cur = db.execute("DELETE FROM refs WHERE repo_id = ? AND kind = ? AND name = ?", (repo.id, kind, name))
            if cur.rowcount == 0:
                raise RevisionNotFound(f"Invalid rev id: {name}")

    # ------------------------------------------------------------------------------------------------- commits
    def get_commit(self, repo: Repo, oid: str) -> Commit | None:
        """One commit, or None."""
        rows = self._query("SELECT * FROM commits WHERE repo_id = ? AND oid = ?", (repo.id, oid))
        return _commit_from_row(rows[0]) if rows else None

    def history(self, repo: Repo, oid: str) -> list[Commit]:
        """The commit and its ancestors, newest first."""
        out: list[Commit] = []
        current: str | None = oid
        while current:
            commit = self.get_commit(repo, current)
            if commit is None:
                break
            out.append(commit)
            current = commit.parent
        return out

    def files(self, repo: Repo, oid: str) -> dict[str, FileEntry]:
        """``path -> FileEntry`` for every file of a commit."""
        rows = self._query(
            "SELECT path, size, sha256, git_oid, lfs FROM files WHERE repo_id = ? AND commit_oid = ? ORDER BY path",
            (repo.id, oid),
        )
        return {r["path"]: _file_from_row(r) for r in rows}

    def file(self, repo: Repo, oid: str, path: str) -> FileEntry | None:
        """One file of a commit, or None."""
        rows = self._query(
            "SELECT path, size, sha256, git_oid, lfs FROM files WHERE repo_id = ? AND commit_oid = ? AND path = ?",
            (repo.id, oid, path),
        )
        return _file_from_row(rows[0]) if rows else None

    def lfs_patterns(self, repo: Repo, oid: str) -> list[str]:
        """LFS patterns of the ``.gitattributes`` in a commit (the defaults if it has none)."""
        entry = self.file(repo, oid, ".gitattributes")
        if entry is None or entry.size > 1024 * 1024:
            return gitattributes_lfs_patterns(DEFAULT_GITATTRIBUTES)
        with self.blobs.open(entry.sha256) as handle:
            return gitattributes_lfs_patterns(handle.read().decode("utf-8", errors="replace"))

    def has_lfs_object(self, repo: Repo, sha256: str) -> int | None:
        """Size of an LFS object this repo may reference (uploaded to it, or already in its history), else None."""
        rows = self._query("SELECT size FROM lfs_objects WHERE repo_id = ? AND sha256 = ?", (repo.id, sha256))
        if not rows:
            rows = self._query("SELECT size FROM files WHERE repo_id = ? AND sha256 = ? LIMIT 1", (repo.id, sha256))
        return int(rows[0]["size"]) if rows and self.blobs.has(sha256) else None

    def link_lfs_object(self, repo: Repo, sha256: str, size: int) -> None:
        """Record that an uploaded (and verified) LFS object belongs to this repo."""
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO lfs_objects VALUES (?, ?, ?)", (repo.id, sha256, size))

    def commit(
        self,
        repo: Repo,
        branch: str,
        ops: list[CommitOp],
        title: str,
        message: str,
        author: str,
        parent_commit: str | None = None,
    ) -> Commit:
        """Apply operations on top of a branch and move the branch, all in one transaction.

        Every ``add`` must reference content already in the blob store (LFS content also linked to the repo).
        Raises ``RevisionNotFound`` (unknown branch), ``EntryNotFound`` (deleting a missing file or folder),
        ``StaleParentCommit`` (``parent_commit`` is not the branch head), ``InvalidRequest`` (unknown or mis-sized
        LFS object, a path that clashes with a folder).
        """
        with self._transaction() as db:
            row = db.execute(
                "SELECT commit_oid FROM refs WHERE repo_id = ? AND kind = 'branch' AND name = ?", (repo.id, branch)
            ).fetchone()
            if row is None:
                raise RevisionNotFound(f"Invalid rev id: {branch} (no such branch)")
            head = row["commit_oid"]
            if parent_commit is not None and not head.startswith(parent_commit.lower()):
                raise StaleParentCommit(
                    f"A commit has happened since: parentCommit {parent_commit} is not the head of '{branch}' "
                    f"({head}). Fetch the latest revision and try again.",
                )
            files = self.files(repo, head)
            folded = {fold_path(p): p for p in files}
            for op in ops:
                if op.kind == "add":
                    if op.lfs:
                        known = self.has_lfs_object(repo, op.sha256)
                        if known is None or known != op.size:
                            raise InvalidRequest(
                                f"LFS object {op.sha256} for '{op.path}' was not uploaded to this repo "
                                "(or its size differs); upload it through the LFS batch API first.",
                            )
                        git_oid = git_blob_oid(lfs_pointer(op.sha256, op.size))
                    else:
                        git_oid = git_blob_oid(self._blob_bytes(op))
                    _check_clashes(op.path, files, folded)
                    files[op.path] = FileEntry(op.path, op.size, op.sha256, git_oid, op.lfs)
                    folded[fold_path(op.path)] = op.path
                elif op.kind == "delete":
                    if files.pop(op.path, None) is None:
                        raise EntryNotFound(f"A file with this name doesn't exist: {op.path}")
                    folded.pop(fold_path(op.path), None)
                elif op.kind == "delete_folder":
                    prefix = op.path.rstrip("/") + "/"
                    doomed = [p for p in files if p.startswith(prefix)]
                    if not doomed:
                        raise EntryNotFound(f"A folder with this name doesn't exist: {op.path}")
                    for p in doomed:
                        del files[p]
                        folded.pop(fold_path(p), None)
                else:  # pragma: no cover - the app only builds the three kinds above
                    raise InvalidRequest(f"Unknown commit operation {op.kind!r}.")
            tree = tree_oids({p: f.git_oid for p, f in files.items()})[""]
            created = now_iso()
            oid = commit_oid(tree, head, author, created, title, message)
            db.execute(
                "INSERT OR IGNORE INTO commits VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (repo.id, oid, head, tree, title, message, author, created),
            )
            db.executemany(
                "INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(repo.id, oid, f.path, f.size, f.sha256, f.git_oid, int(f.lfs)) for f in files.values()],
            )
            db.execute(
                "UPDATE refs SET commit_oid = ? WHERE repo_id = ? AND kind = 'branch' AND name = ?",
                (oid, repo.id, branch),
            )
        commit = self.get_commit(repo, oid)
        assert commit is not None
        return commit

    def _blob_bytes(self, op: CommitOp) -> bytes:
        """The stored content of a regular file being committed; ``Conflict`` if it vanished meanwhile."""
        try:
            with self.blobs.open(op.sha256) as handle:
                return handle.read()
        except FileNotFoundError as exc:
            raise Conflict(
                f"The content of '{op.path}' was removed (with a repo deleted at the same moment); retry the commit."
            ) from exc

    def check_integrity(self) -> list[str]:
        """Problems found (empty when consistent): refs to missing commits, files whose blob is missing."""
        problems = []
        for row in self._query(
            "SELECT r.repo_id, r.name, r.commit_oid FROM refs r LEFT JOIN commits c "
            "ON c.repo_id = r.repo_id AND c.oid = r.commit_oid WHERE c.oid IS NULL"
        ):
            problems.append(f"ref {row['name']} of repo {row['repo_id']} points to missing commit {row['commit_oid']}")
        for row in self._query("SELECT DISTINCT sha256 FROM files"):
            if not self.blobs.has(row["sha256"]):
                problems.append(f"blob {row['sha256']} is referenced but missing")
        return problems


def _check_clashes(path: str, files: dict[str, FileEntry], folded: dict[str, str]) -> None:
    """``InvalidRequest`` if adding ``path`` would make a file also a folder, or a second file whose name differs
    from an existing one only in letter case or Unicode normalisation (twins that clash on most file systems)."""
    prefix = path + "/"
    if any(p.startswith(prefix) for p in files) or any(path.startswith(p + "/") for p in files):
        raise InvalidRequest(f"'{path}' clashes with an existing file or folder.")
    twin = folded.get(fold_path(path))
    if twin is not None and twin != path:
        raise InvalidRequest(
            f"{ascii(path)} clashes with the existing file {ascii(twin)}: the names differ only in letter case or "
            "Unicode normalisation, so they would overwrite each other on many file systems. Rename one of them."
        )
    folded_prefix = fold_path(prefix)
    if any(f.startswith(folded_prefix) for f in folded) or any(fold_path(path).startswith(f + "/") for f in folded):
        raise InvalidRequest(
            f"{ascii(path)} clashes with an existing file or folder whose name differs only in letter case or "
            "Unicode normalisation."
        )


def _repo_from_row(row: sqlite3.Row) -> Repo:
    return Repo(
        id=row["id"],
        type=row["type"],
        namespace=row["namespace"],
        name=row["name"],
        private=bool(row["private"]),
        sdk=row["sdk"],
        created_at=row["created_at"],
    )


def _file_from_row(row: sqlite3.Row) -> FileEntry:
    return FileEntry(row["path"], row["size"], row["sha256"], row["git_oid"], bool(row["lfs"]))


def _commit_from_row(row: sqlite3.Row) -> Commit:
    return Commit(
        oid=row["oid"],
        parent=row["parent"],
        tree=row["tree"],
        title=row["title"],
        message=row["message"],
        author=row["author"],
        created_at=row["created_at"],
    )
