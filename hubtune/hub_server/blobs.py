"""Content-addressed file contents of the local Hub server.

Layout under the root folder::

    blobs/ab/cd/<sha256>  file contents, named by their SHA-256 (regular files and LFS objects alike)
    tmp/                  partial uploads; a file only moves into blobs/ once complete and verified

A blob is written to ``tmp/``, synced, then renamed into place, so ``blobs/`` never holds partial content.

Example::

    from hubtune.hub_server.blobs import BlobStore

    blobs = BlobStore(Path("hub-data"))
    digest = blobs.put(b"hello")
    with blobs.open(digest) as handle:
        assert handle.read() == b"hello"
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidRequest, PayloadTooLarge
from .validation import SHA256_RE


class BlobStore:
    """File contents by SHA-256 under ``root/blobs``, with partial uploads in ``root/tmp``."""

    def __init__(self, root: Path) -> None:
        self.blob_dir = Path(root) / "blobs"
        self.tmp_dir = Path(root) / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        # Partial uploads of a previous run can never complete: their upload links died with that server.
        for leftover in self.tmp_dir.iterdir():
            leftover.unlink(missing_ok=True)

    def path(self, sha256: str) -> Path:
        """Where the content with this SHA-256 lives (the name is validated, so no path tricks are possible)."""
        if not SHA256_RE.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.blob_dir / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        """True if the content is stored."""
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store bytes (idempotent) and return their SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="blob-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self.publish(Path(tmp), digest)
        return digest

    def upload(self, expected_sha256: str, expected_size: int) -> BlobUpload:
        """Start a streamed upload of content announced by its SHA-256 and size (see :class:`BlobUpload`)."""
        return BlobUpload(self, expected_sha256, expected_size)

    def publish(self, tmp: Path, digest: str) -> None:
        """Move a complete, verified temporary file into place under its SHA-256 (atomic rename)."""
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)

    def remove(self, sha256: str) -> None:
        """Delete stored content (nothing happens if it is not there); its two-level folder stays, as a concurrent
        ``publish`` may be about to use it."""
        self.path(sha256).unlink(missing_ok=True)

    def open(self, sha256: str) -> BinaryIO:
        """Open stored content for reading."""
        return open(self.path(sha256), "rb")


class BlobUpload:
    """Content streamed into the blob store, kept only once its size and SHA-256 match what was announced.

    Use as a context manager: ``write()`` the chunks, then ``finish()``. Leaving the block without finishing (a
    mismatch, a client that went away) removes the partial file from ``tmp/``.

    Example::

        with blobs.upload(sha256, size) as upload:
            for chunk in chunks:
                upload.write(chunk)
            upload.finish()  # raises InvalidRequest on a size or SHA-256 mismatch; nothing is stored then
    """

    def __init__(self, blobs: BlobStore, expected_sha256: str, expected_size: int) -> None:
        self.blobs = blobs
        self.expected_sha256 = expected_sha256
        self.expected_size = expected_size
        self.size = 0
        self._hasher = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=blobs.tmp_dir, prefix="upload-")
        self._tmp = Path(tmp)
        self._handle = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        """Append a chunk; refuses content beyond the announced size."""
        self.size += len(chunk)
        if self.size > self.expected_size:
            raise PayloadTooLarge(f"Upload is larger than the announced size {self.expected_size}.")
        self._hasher.update(chunk)
        self._handle.write(chunk)

    def finish(self) -> None:
        """Check size and SHA-256, then publish the content (durably) under its SHA-256."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        if self.size != self.expected_size:
            raise InvalidRequest(f"Upload has {self.size} bytes but {self.expected_size} were announced.")
        if self._hasher.hexdigest() != self.expected_sha256:
            raise InvalidRequest("Upload content does not match its sha256 oid; nothing was stored.")
        self.blobs.publish(self._tmp, self.expected_sha256)

    def __enter__(self) -> BlobUpload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()
        self._tmp.unlink(missing_ok=True)
