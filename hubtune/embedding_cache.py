"""A disk cache of what a frozen pre-trained model computes on a task's data, so baselines and diagnostics are
computed once per model and data.

The pre-trained probe (a baseline of every run, and the features of the probe method) needs the base model's
embeddings of every split; the forgetting check needs the pre-trained model's masked-LM losses (`cached_value`).
They depend only on the model's weights, the sequences, the token budget and what is computed (the pooling, or the
loss and its masking), so `hubtune compare` (several methods and seeds on one task) and repeated runs reuse them. The
key is a hash of: the model id, the resolved Hub revision or, for local folders, the size and modification time of
every weight file; `max_length`; what is computed; the sequences themselves; and the hubtune, torch and transformers
versions.

The cache lives in ``embeddings/`` of hubtune's cache folder (``$HUBTUNE_CACHE``, else ``$HF_HOME/hubtune``; see
`hubtune.paths`); set ``HUBTUNE_EMBEDDING_CACHE=off`` to disable it. Entries are safetensors files written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .paths import hubtune_cache_dir

POOLING = "mean-last"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def cache_root() -> Path | None:
    """The embeddings cache folder, or None when switched off (``HUBTUNE_EMBEDDING_CACHE=off``).

    Example:
        >>> cache_root()  # doctest: +SKIP
        PosixPath('/home/me/.cache/huggingface/hubtune/embeddings')
    """
    if os.environ.get("HUBTUNE_EMBEDDING_CACHE", "").lower() in ("off", "0", "false", "no"):
        return None
    return hubtune_cache_dir() / "embeddings"


def weights_fingerprint(source: str | Path, revision: str | None) -> str:
    """What identifies a model's weights: the Hub revision, or the size and mtime of a local folder's weight files.

    Example:
        >>> weights_fingerprint("user/model", "0123abcd")
        'rev:0123abcd'
    """
    folder = Path(str(source)).expanduser()
    if folder.is_dir():
        stats = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()
                       if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
        return "local:" + json.dumps(stats)
    return f"rev:{revision}" if revision else "rev:unknown"


def cache_key(model: str, fingerprint: str, max_length: int, sequences: Sequence[str], *,
              computed: str = POOLING) -> str | None:
    """The entry name for what the model computes on `sequences` (`computed`: the embeddings' pooling by default,
    or another named quantity); None when the weights cannot be identified (a Hub id without revision).

    Example:
        >>> len(cache_key("m", "rev:1", 64, ["ACGT"]))
        64
    """
    if fingerprint == "rev:unknown":
        return None
    import torch
    import transformers

    from . import __version__

    digest = hashlib.sha256()
    header = {"model": model, "weights": fingerprint, "max_length": max_length, "pooling": computed,
              "hubtune": __version__, "torch": torch.__version__, "transformers": transformers.__version__}
    digest.update(json.dumps(header, sort_keys=True).encode())
    digest.update(sequences_digest(sequences).encode())
    return digest.hexdigest()


def sequences_digest(sequences: Sequence[str]) -> str:
    """SHA-256 of sequences in order: what identifies a task's data in the cache keys, and the rows of a run's
    recorded test outputs (`hubtune.run.Run.test_outputs`).

    Example:
        >>> sequences_digest(["ACGT"]) == sequences_digest(["ACG", "T"])
        False
    """
    digest = hashlib.sha256()
    for seq in sequences:
        digest.update(seq.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()


def cached_embeddings(key: str | None, compute: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
    """The embeddings stored under `key`, or `compute()`'s result (then stored). Returns (embeddings, was_cached).

    A damaged entry is recomputed and replaced; an unwritable cache folder only means no caching.

    Example:
        >>> emb, hit = cached_embeddings(None, lambda: np.zeros((2, 3), dtype=np.float32)); hit
        False
    """
    root = cache_root()
    if key is None or root is None:
        return compute(), False
    path = root / f"{key}.safetensors"
    if path.is_file():
        try:
            from safetensors.numpy import load_file

            return load_file(str(path))["embeddings"], True
        except Exception:  # a truncated or foreign file: recompute below
            pass
    embeddings = compute()
    _store(path, embeddings)
    return embeddings, False


def cached_value(key: str | None, compute: Callable[[], float]) -> tuple[float, bool]:
    """One number stored under `key` (kept in float64), or `compute()`'s result (then stored). Returns (value,
    was_cached).

    Example:
        >>> cached_value(None, lambda: 7.25)
        (7.25, False)
    """
    values, hit = cached_embeddings(key, lambda: np.array([compute()], dtype=np.float64))
    return float(values[0]), hit


def _store(path: Path, embeddings: np.ndarray) -> None:
    from safetensors.numpy import save_file

    dtype = np.float64 if embeddings.dtype == np.float64 else np.float32  # embeddings float32; cached values exact
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".safetensors")
        os.close(fd)
        save_file({"embeddings": np.ascontiguousarray(embeddings, dtype=dtype)}, tmp)
        os.replace(tmp, path)
    except OSError:
        return


def base_embeddings(resolved: Any, load_base: Callable[[], Any], tokenizer: Any,
                    splits: dict[str, Sequence[str]], *, max_length: int, batch_size: int,
                    progress: bool = False) -> tuple[dict[str, np.ndarray], int]:
    """Mean-pooled last-layer embeddings of the frozen base for each split, from the cache where possible.

    The base is loaded (`load_base()`) only when some split is not cached. Returns the embeddings per split and the
    number of splits served from the cache.

    Example:
        >>> emb, hits = base_embeddings(resolved, load_base, tok, {"train": seqs}, max_length=64, batch_size=32)  # doctest: +SKIP
    """
    from .evaluate import extract_embeddings

    fingerprint = weights_fingerprint(resolved.source, resolved.revision)
    model: Any = None
    out: dict[str, np.ndarray] = {}
    hits = 0
    for split, sequences in splits.items():
        def compute(sequences: Sequence[str] = sequences) -> np.ndarray:
            nonlocal model
            if model is None:
                model = load_base()
            return extract_embeddings(model, tokenizer, list(sequences), max_length=max_length,
                                      batch_size=batch_size, progress=progress)

        out[split], hit = cached_embeddings(cache_key(resolved.name, fingerprint, max_length, sequences), compute)
        hits += hit
    return out, hits


__all__ = ["base_embeddings", "cache_key", "cache_root", "cached_embeddings", "cached_value", "sequences_digest",
           "weights_fingerprint"]
