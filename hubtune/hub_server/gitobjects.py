"""Git object ids and git-LFS conventions, computed the way git and the Hub compute them.

A regular file's oid is its git blob SHA-1, an LFS file is stored in git as a pointer file, folders get git tree
SHA-1s and commits a SHA-1 over a git-style commit object, so the ids the client sees look and compare like the Hub's.

Example::

    from hubtune.hub_server.gitobjects import git_blob_oid, tree_oids

    oid = git_blob_oid(b"hello\n")  # ce013625030ba8dba906f756967f9e9ca394464a, as `git hash-object` prints
    root = tree_oids({"a.txt": oid})[""]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from fnmatch import fnmatch

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

