"""Storage of the local Hub server: SQLite for metadata, a content-addressed folder for file contents.

Layout under the root folder::

    hub.sqlite          repos, commits, per-commit file lists, refs (branches/tags), LFS objects per repo
    blobs/ab/cd/<sha256> file contents, named by their SHA-256 (regular files and LFS objects alike)
    tmp/                 partial uploads; a file only moves into blobs/ once complete and verified

Consistency rule: a blob is written (atomic rename) before any row refers to it, and each commit (its row, its file
list and the branch move) is one SQLite transaction. A crash at any point leaves either the old or the new commit
visible, never a mix; at worst an unreferenced blob stays in ``blobs/``.

Object ids follow git where the client can see them: a regular file's oid is its git blob SHA-1, an LFS file's oid is
the git blob SHA-1 of its pointer file, folders get git tree SHA-1s and commits get a SHA-1 over a git-style commit
object, so they look and compare like the Hub's.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, BinaryIO

import yaml

# Files at least this large are stored as LFS (the Hub refuses regular files above 10 MiB).
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
# Upper bound for one stored file; a guard against filling the disk by mistake, not a Hub limit.
MAX_FILE_SIZE = 50 * 1024**3

REPO_TYPES = ("model", "dataset", "space")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
COMMIT_OID_RE = re.compile(r"^[0-9a-f]{40}$")
SHORT_OID_RE = re.compile(r"^[0-9a-f]{5,40}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
_REF_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
# First path segments that mean something else in URLs, so no user or organisation may be called that.
RESERVED_NAMESPACES = frozenset({"api", "models", "datasets", "spaces", "kernels", "buckets", "lfs-upload", "resolve"})

DEFAULT_GITATTRIBUTES = """\
*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.ftz filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.joblib filter=lfs diff=lfs merge=lfs -text
*.lfs.* filter=lfs diff=lfs merge=lfs -text
*.mlmodel filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.ot filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pb filter=lfs diff=lfs merge=lfs -text
*.pickle filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.rar filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
saved_model/**/* filter=lfs diff=lfs merge=lfs -text
*.tar.* filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.tflite filter=lfs diff=lfs merge=lfs -text
*.tgz filter=lfs diff=lfs merge=lfs -text
*.wasm filter=lfs diff=lfs merge=lfs -text
*.xz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.zst filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
"""

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
"""


class HubRequestError(Exception):
    """A request the server must refuse; carries the HTTP status and the Hub error code the client understands."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def repo_not_found(repo_id: str) -> HubRequestError:
    """The one answer for a missing repo and for a private repo the caller may not see (no existence leak)."""
    return HubRequestError(404, f"Repository not found: {repo_id}", code="RepoNotFound")


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


# --------------------------------------------------------------------------------------------------- helpers
def now_iso() -> str:
    """Current UTC time in the Hub's format (``2024-05-01T12:00:00.000Z``)."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def git_blob_oid(data: bytes) -> str:
    """SHA-1 of a git blob object, as ``git hash-object`` prints it."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-LFS pointer file git stores in place of an LFS file."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def tree_oids(files: dict[str, str]) -> dict[str, str]:
    """Git tree SHA-1 of every folder ('' is the root), given ``path -> git blob oid`` of all files."""
    children: dict[str, dict[str, tuple[bool, str]]] = {"": {}}
    for path in files:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            children.setdefault(folder, {})
            parent = "/".join(parts[: depth - 1])
            children.setdefault(parent, {})[parts[depth - 1]] = (True, "")
        children.setdefault("/".join(parts[:-1]), {})[parts[-1]] = (False, files[path])
    result: dict[str, str] = {}
    # Deepest folders first so each parent can use its children's oids.
    for folder in sorted(children, key=lambda f: -f.count("/") if f else 1):
        if folder == "":
            continue
        result[folder] = _tree_oid(folder, children, result)
    result[""] = _tree_oid("", children, result)
    return result


def _tree_oid(folder: str, children: dict[str, dict[str, tuple[bool, str]]], done: dict[str, str]) -> str:
    entries = []
    for name, (is_dir, oid) in children[folder].items():
        full = f"{folder}/{name}" if folder else name
        # git sorts tree entries as if folders had a trailing slash
        sort_key = name + "/" if is_dir else name
        mode = b"40000" if is_dir else b"100644"
        entries.append((sort_key, mode, name, done[full] if is_dir else oid))
    body = b"".join(mode + b" " + name.encode() + b"\0" + bytes.fromhex(oid) for _, mode, name, oid in sorted(entries))
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


def commit_oid(tree: str, parent: str | None, author: str, created_at: str, title: str, message: str) -> str:
    """SHA-1 of a git-style commit object."""
    seconds = int(datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp())
    ident = f"{author} <{author}@users.noreply.localhost> {seconds} +0000"
    text = f"tree {tree}\n" + (f"parent {parent}\n" if parent else "") + f"author {ident}\ncommitter {ident}\n\n"
    text += title + (f"\n\n{message}" if message else "") + "\n"
    data = text.encode()
    return hashlib.sha1(b"commit %d\0" % len(data) + data).hexdigest()


def validate_repo_name(namespace: str, name: str) -> None:
    """Raise a 400 unless ``namespace/name`` is a valid repo id."""
    for label, value in (("namespace", namespace), ("name", name)):
        if not isinstance(value, str) or not _NAME_RE.match(value) or "--" in value or ".." in value:
            raise HubRequestError(
                400,
                f"Invalid repo id '{namespace}/{name}': the {label} must be 1-96 letters, digits, '-', '_' or '.', "
                "start and end with a letter or digit, and contain neither '--' nor '..'.",
            )
        if value.endswith(".git"):
            raise HubRequestError(400, f"Invalid repo id '{namespace}/{name}': the {label} may not end with '.git'.")
    if namespace.lower() in RESERVED_NAMESPACES:
        raise HubRequestError(400, f"Invalid repo id '{namespace}/{name}': '{namespace}' is a reserved name.")


def validate_ref_name(name: str) -> None:
    """Raise a 400 unless ``name`` is a usable branch or tag name."""
    bad = (
        not _REF_NAME_RE.match(name)
        or ".." in name
        or "//" in name
        or name.endswith(("/", ".lock", "."))
        or COMMIT_OID_RE.match(name) is not None
    )
    if bad:
        raise HubRequestError(
            400,
            f"Invalid branch or tag name '{name}': use letters, digits, '.', '_', '-' and '/' (no '..', no '//', "
            "no trailing '/', not a 40-character hex string).",
        )


def validate_repo_path(path: Any) -> str:
    """Return ``path`` if it is a safe relative file path inside a repo; otherwise raise a 400.

    Refused: non-strings, empty paths, absolute paths, backslashes, empty / '.' / '..' segments, control
    characters and anything under ``.git/``.
    """
    if not isinstance(path, str) or not path:
        raise HubRequestError(400, f"Invalid file path {path!r} in commit: it must be a non-empty string.")
    reason = None
    if path.startswith("/"):
        reason = "absolute paths are not allowed"
    elif "\\" in path:
        reason = "backslashes are not allowed; use '/' between folders"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        reason = "control characters are not allowed"
    elif len(path.encode()) > 1024:
        reason = "it is longer than 1024 bytes"
    else:
        segments = path.split("/")
        if any(seg == "" for seg in segments):
            reason = "empty path segments ('//' or a trailing '/') are not allowed"
        elif any(seg in (".", "..") for seg in segments):
            reason = "'.' and '..' segments are not allowed"
        elif segments[0] == ".git":
            reason = "files under '.git/' cannot be written"
    if reason:
        raise HubRequestError(400, f"Invalid file path '{path}' in commit: {reason}.")
    return path


def gitattributes_lfs_patterns(text: str) -> list[str]:
    """Patterns marked ``filter=lfs`` in a ``.gitattributes`` file."""
    patterns = []
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) >= 2 and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return patterns


def matches_lfs_pattern(path: str, patterns: Iterable[str]) -> bool:
    """git-style match: a pattern without '/' matches the file name, one with '/' matches the whole path."""
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        if "/" in pattern.strip("/"):
            if fnmatch(path, pattern.lstrip("/")):
                return True
        elif fnmatch(name, pattern):
            return True
    return False


_FRONT_MATTER_RE = re.compile(r"\A\s*---[ \t]*\r?\n(.*?)(?:\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def parse_front_matter(text: str) -> dict[str, Any] | None:
    """The YAML metadata block at the top of a README, or None if there is none.

    Raises ``HubRequestError(400)`` when the block exists but is not a YAML mapping.
    """
    match = _FRONT_MATTER_RE.match(text)
    if match is None:
        return None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise HubRequestError(400, f"Invalid YAML in README.md metadata: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HubRequestError(400, "README.md metadata must be a YAML mapping (key: value pairs).")
    return data


def card_tags(card: dict[str, Any] | None, repo_type: str) -> list[str]:
    """The tag list the Hub derives from card metadata: tags, library, pipeline, license, datasets, base model."""
    if not card:
        return []
    tags: list[str] = []

    def add(value: Any, prefix: str = "") -> None:
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, (str, int, float)) and not isinstance(item, bool) and str(item).strip():
                tag = prefix + str(item).strip()
                if tag not in tags:
                    tags.append(tag)

    add(card.get("tags"))
    if repo_type == "model":
        add(card.get("library_name"))
        add(card.get("pipeline_tag"))
        base = card.get("base_model")
        add(base, "base_model:")
        if card.get("library_name") == "peft":
            add(base, "base_model:adapter:")
        add(card.get("datasets"), "dataset:")
    else:
        add(card.get("task_categories"), "task_categories:")
    add(card.get("language"))
    add(card.get("license"), "license:")
    return tags


# --------------------------------------------------------------------------------------------------- the store
class HubStore:
    """Thread-safe metadata + blob store rooted at one folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blob_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.root / "hub.sqlite", check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        # Partial uploads of a previous run can never complete: their credentials died with that server.
        for leftover in self.tmp_dir.iterdir():
            leftover.unlink(missing_ok=True)

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

    # ------------------------------------------------------------------------------------------------- blobs
    def blob_path(self, sha256: str) -> Path:
        """Where the content with this SHA-256 lives (the name is validated, so no path tricks are possible)."""
        if not SHA256_RE.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.blob_dir / sha256[:2] / sha256[2:4] / sha256

    def has_blob(self, sha256: str) -> bool:
        """True if the content is stored."""
        return self.blob_path(sha256).is_file()

    def put_blob(self, data: bytes) -> str:
        """Store bytes (idempotent) and return their SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.has_blob(digest):
            fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="blob-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self._publish(Path(tmp), digest)
        return digest

    def put_blob_stream(self, chunks: Iterable[bytes], expected_sha256: str, expected_size: int) -> None:
        """Store streamed content after checking its size and SHA-256; a mismatch stores nothing (400).

        ``chunks`` may raise (e.g. the client disconnected); the partial file is then removed.
        """
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        tmp_path = Path(tmp)
        try:
            hasher = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    size += len(chunk)
                    if size > expected_size:
                        raise HubRequestError(400, f"Upload is larger than the announced size {expected_size}.")
                    hasher.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            if size != expected_size:
                raise HubRequestError(400, f"Upload has {size} bytes but {expected_size} were announced.")
            if hasher.hexdigest() != expected_sha256:
                raise HubRequestError(400, "Upload content does not match its sha256 oid; nothing was stored.")
            self._publish(tmp_path, expected_sha256)
        finally:
            tmp_path.unlink(missing_ok=True)

    def _publish(self, tmp: Path, digest: str) -> None:
        target = self.blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)

    def open_blob(self, sha256: str) -> BinaryIO:
        """Open stored content for reading."""
        return open(self.blob_path(sha256), "rb")

    # ------------------------------------------------------------------------------------------------- repos
    def create_repo(self, repo_type: str, namespace: str, name: str, private: bool, sdk: str | None = None) -> Repo:
        """Create a repo with an initial commit holding ``.gitattributes`` on ``main`` (409 if it exists)."""
        validate_repo_name(namespace, name)
        created = now_iso()
        attributes = DEFAULT_GITATTRIBUTES.encode()
        digest = self.put_blob(attributes)
        blob_oid = git_blob_oid(attributes)
        tree = tree_oids({".gitattributes": blob_oid})[""]
        oid = commit_oid(tree, None, namespace, created, "initial commit", "")
        with self._transaction() as db:
            if self._find_repo(repo_type, namespace, name) is not None:
                raise HubRequestError(409, f"You already created this {repo_type} repo: {namespace}/{name}")
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

    def _find_repo(self, repo_type: str, namespace: str, name: str) -> Repo | None:
        rows = self._query(
            "SELECT * FROM repos WHERE type = ? AND namespace = ? AND name = ?", (repo_type, namespace, name)
        )
        return _repo_from_row(rows[0]) if rows else None

    def get_repo(self, repo_type: str, namespace: str, name: str) -> Repo | None:
        """The repo, or None (names compare case-insensitively, like on the Hub)."""
        return self._find_repo(repo_type, namespace, name)

    def list_repos(self, repo_type: str) -> list[Repo]:
        """All repos of a type, oldest first."""
        return [_repo_from_row(r) for r in self._query("SELECT * FROM repos WHERE type = ? ORDER BY id", (repo_type,))]

    def delete_repo(self, repo: Repo) -> None:
        """Remove a repo with its commits and refs (its blobs may be shared and stay)."""
        with self._transaction() as db:
            db.execute("DELETE FROM repos WHERE id = ?", (repo.id,))

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
        """Create a branch or tag pointing at a commit (409 if the name is taken)."""
        validate_ref_name(name)
        with self._transaction() as db:
            exists = db.execute(
                "SELECT 1 FROM refs WHERE repo_id = ? AND kind = ? AND name = ?", (repo.id, kind, name)
            ).fetchone()
            if exists:
                raise HubRequestError(409, f"{'Branch' if kind == 'branch' else 'Tag'} '{name}' already exists.")
            db.execute("INSERT INTO refs VALUES (?, ?, ?, ?)", (repo.id, kind, name, target))

    def delete_ref(self, repo: Repo, kind: str, name: str) -> None:
        """Delete a branch (not main) or a tag (404 if missing)."""
        if kind == "branch" and name == "main":
            raise HubRequestError(403, "The main branch cannot be deleted.")
        with self._transaction() as db:
            cur = db.execute("DELETE FROM refs WHERE repo_id = ? AND kind = ? AND name = ?", (repo.id, kind, name))
            if cur.rowcount == 0:
                raise HubRequestError(404, f"Invalid rev id: {name}", code="RevisionNotFound")

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
        return {r["path"]: FileEntry(r["path"], r["size"], r["sha256"], r["git_oid"], bool(r["lfs"])) for r in rows}

    def file(self, repo: Repo, oid: str, path: str) -> FileEntry | None:
        """One file of a commit, or None."""
        rows = self._query(
            "SELECT path, size, sha256, git_oid, lfs FROM files WHERE repo_id = ? AND commit_oid = ? AND path = ?",
            (repo.id, oid, path),
        )
        if not rows:
            return None
        r = rows[0]
        return FileEntry(r["path"], r["size"], r["sha256"], r["git_oid"], bool(r["lfs"]))

    def lfs_patterns(self, repo: Repo, oid: str) -> list[str]:
        """LFS patterns of the ``.gitattributes`` in a commit (the defaults if it has none)."""
        entry = self.file(repo, oid, ".gitattributes")
        if entry is None or entry.size > 1024 * 1024:
            return gitattributes_lfs_patterns(DEFAULT_GITATTRIBUTES)
        with self.open_blob(entry.sha256) as handle:
            return gitattributes_lfs_patterns(handle.read().decode("utf-8", errors="replace"))

    def has_lfs_object(self, repo: Repo, sha256: str) -> int | None:
        """Size of an LFS object this repo may reference (uploaded to it, or already in its history), else None."""
        rows = self._query("SELECT size FROM lfs_objects WHERE repo_id = ? AND sha256 = ?", (repo.id, sha256))
        if rows and self.has_blob(sha256):
            return int(rows[0]["size"])
        rows = self._query("SELECT size FROM files WHERE repo_id = ? AND sha256 = ? LIMIT 1", (repo.id, sha256))
        if rows and self.has_blob(sha256):
            return int(rows[0]["size"])
        return None

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
        Raises 404 (unknown branch / deleting a missing file), 412 (``parent_commit`` is not the branch head),
        400 (unknown or mis-sized LFS object).
        """
        with self._transaction() as db:
            row = db.execute(
                "SELECT commit_oid FROM refs WHERE repo_id = ? AND kind = 'branch' AND name = ?", (repo.id, branch)
            ).fetchone()
            if row is None:
                raise HubRequestError(404, f"Invalid rev id: {branch} (no such branch)", code="RevisionNotFound")
            head = row["commit_oid"]
            if parent_commit is not None and not head.startswith(parent_commit.lower()):
                raise HubRequestError(
                    412,
                    f"A commit has happened since: parentCommit {parent_commit} is not the head of '{branch}' "
                    f"({head}). Fetch the latest revision and try again.",
                )
            files = self.files(repo, head)
            for op in ops:
                if op.kind == "add":
                    if op.lfs:
                        known = self.has_lfs_object(repo, op.sha256)
                        if known is None or known != op.size:
                            raise HubRequestError(
                                400,
                                f"LFS object {op.sha256} for '{op.path}' was not uploaded to this repo "
                                "(or its size differs); upload it through the LFS batch API first.",
                            )
                        git_oid = git_blob_oid(lfs_pointer(op.sha256, op.size))
                    else:
                        with self.open_blob(op.sha256) as handle:
                            git_oid = git_blob_oid(handle.read())
                    # A path cannot be both a file and a folder.
                    prefix = op.path + "/"
                    if any(p.startswith(prefix) for p in files) or any(op.path.startswith(p + "/") for p in files):
                        raise HubRequestError(400, f"'{op.path}' clashes with an existing file or folder.")
                    files[op.path] = FileEntry(op.path, op.size, op.sha256, git_oid, op.lfs)
                elif op.kind == "delete":
                    if files.pop(op.path, None) is None:
                        raise HubRequestError(
                            404, f"A file with this name doesn't exist: {op.path}", code="EntryNotFound"
                        )
                elif op.kind == "delete_folder":
                    prefix = op.path.rstrip("/") + "/"
                    doomed = [p for p in files if p.startswith(prefix)]
                    if not doomed:
                        raise HubRequestError(
                            404, f"A folder with this name doesn't exist: {op.path}", code="EntryNotFound"
                        )
                    for p in doomed:
                        del files[p]
                else:  # pragma: no cover - the app only builds the three kinds above
                    raise HubRequestError(400, f"Unknown commit operation {op.kind!r}.")
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

    def check_integrity(self) -> list[str]:
        """Problems found (empty when consistent): refs to missing commits, files whose blob is missing."""
        problems = []
        for row in self._query(
            "SELECT r.repo_id, r.name, r.commit_oid FROM refs r LEFT JOIN commits c "
            "ON c.repo_id = r.repo_id AND c.oid = r.commit_oid WHERE c.oid IS NULL"
        ):
            problems.append(f"ref {row['name']} of repo {row['repo_id']} points to missing commit {row['commit_oid']}")
        for row in self._query("SELECT DISTINCT sha256 FROM files"):
            if not self.has_blob(row["sha256"]):
                problems.append(f"blob {row['sha256']} is referenced but missing")
        return problems


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
