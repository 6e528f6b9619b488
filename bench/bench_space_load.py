"""The Space under load: many concurrent gradio_client clients against the running app, on the tiny NT stand-in.

Measures, on CPU:
  * /classify with N concurrent clients x M requests each (default 20 x 25, 4 x 100 bp per request, the app's default
    concurrency limit of 2 model requests at a time, the rest queued): p50/p95/max latency, throughput, errors;
  * how fast oversize requests (too many sequences, too many bases in total, one sequence over the per-sequence
    limit) are refused, and that they never reach the model cache;
  * resident memory across adapter load/evict cycles in a cache that keeps 2 adapters.

Adapters are tiny-nt LoRA run folders with random LoRA weights, built offline in a temporary folder (see
bench_space.make_adapter); nothing is downloaded. `tests/test_space_load.py` drives the same functions.

Usage:  python bench/bench_space_load.py [--clients 20 --requests 25 --sequences 4 --cycles 10 --json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HUBTUNE_NO_PROGRESS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LABELS = ["background", "promoter"]


# ---------------------------------------------------------------------------------------------------------------------
# Building blocks (shared with tests/test_space_load.py)
# ---------------------------------------------------------------------------------------------------------------------


def make_adapters(folder: Path, count: int) -> list[Path]:
    """`count` tiny-nt LoRA run folders with different random LoRA weights (seeds 1..count)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    from bench_space import make_adapter  # the same construction as the Space benchmark

    return [make_adapter("tiny-nt", folder / f"adapter-{i}", seed=i, max_length=18, labels=LABELS)
            for i in range(1, count + 1)]


def load_app_module():
    """Import space/app.py (a script folder, not a package) once per process."""
    name = "hubtune_space_app"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "space" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CountingCache:
    """Counts the Space's model work: every `ModelCache.use` / `meta` call on the wrapped cache."""

    def __init__(self, cache: Any):
        self.uses = 0
        self.metas = 0
        self._lock = threading.Lock()
        use, meta = cache.use, cache.meta

        @contextlib.contextmanager
        def counted_use(adapter: str) -> Iterator[Any]:
            with self._lock:
                self.uses += 1
            with use(adapter) as classifier:
                yield classifier

        def counted_meta(adapter: str) -> Any:
            with self._lock:
                self.metas += 1
            return meta(adapter)

        cache.use, cache.meta = counted_use, counted_meta  # instance attributes shadow the methods


@contextlib.contextmanager
def running_space(adapters: list[str], *, concurrency_limit: int | None = None) -> Iterator[tuple[str, Any, Any]]:
    """Serve the Space on a free 127.0.0.1 port with `adapters` preloaded; yields (url, backend, counter)."""
    from hubtune.serving import ModelCache, SpaceBackend

    app = load_app_module()
    backend = SpaceBackend(ModelCache(device="cpu", allow_local_paths=True))
    counter = CountingCache(backend.cache)
    demo = app.build_app(backend, adapters=adapters, listing=lambda: [], concurrency_limit=concurrency_limit)
    port = free_port()
    app.launch(demo, host="127.0.0.1", port=port, block=False)
    try:
        yield f"http://127.0.0.1:{port}", backend, counter
    finally:
        demo.close(verbose=False)


def random_fasta(n: int, length: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(f">s{i + 1}\n{''.join(rng.choices('ACGT', k=length))}\n" for i in range(n))


@dataclass
class LoadResult:
    """Outcome of `drive_load`: latencies of successful requests, errors, wall time from the common start."""

    clients: int
    requests_per_client: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)
    wall_s: float = float("nan")

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall_s if self.latencies else float("nan")

    def summary(self) -> dict[str, Any]:
        return {"clients": self.clients, "requests_per_client": self.requests_per_client,
                "ok": len(self.latencies), "errors": len(self.errors), "p50_s": self.percentile(0.5),
                "p95_s": self.percentile(0.95), "max_s": max(self.latencies, default=float("nan")),
                "throughput_rps": self.throughput, "wall_s": self.wall_s}


def drive_load(url: str, adapter: str, text: str, *, clients: int, requests: int,
               keep_answers: bool = False) -> LoadResult:
    """`clients` threads, each with its own gradio_client.Client, send `requests` /classify calls back to back after a
    common start; every exception is recorded as an error."""
    from gradio_client import Client

    result = LoadResult(clients, requests)
    lock = threading.Lock()
    started: list[float] = []
    barrier = threading.Barrier(clients, action=lambda: started.append(time.perf_counter()))

    def client_loop() -> None:
        try:
            client = Client(url, verbose=False, analytics_enabled=False)
        except Exception as exc:  # a client that cannot connect is a failed request too
            with lock:
                result.errors.append(f"connect: {type(exc).__name__}: {exc}")
            barrier.abort()
            return
        try:
            barrier.wait(timeout=300)
        except threading.BrokenBarrierError:
            return
        for _ in range(requests):
            start = time.perf_counter()
            try:
                answer = client.predict(text, adapter, api_name="/classify")
            except Exception as exc:
                with lock:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - start
            with lock:
                result.latencies.append(elapsed)
                if keep_answers:
                    result.answers.append(answer)

    threads = [threading.Thread(target=client_loop, name=f"load-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if started:
        result.wall_s = time.perf_counter() - started[0]
    return result


OVERSIZE = {
    "201 sequences": lambda: random_fasta(201, 20, seed=11),
    "225,000 bp in total": lambda: random_fasta(5, 45_000, seed=12),
    "60,000 bp long": lambda: random_fasta(1, 60_000, seed=13),
}


def oversize_requests(url: str, adapter: str) -> dict[str, dict[str, Any]]:
    """Send each oversize request once; returns, per kind, the error message and how long the refusal took."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(url, verbose=False, analytics_enabled=False)
    out: dict[str, dict[str, Any]] = {}
    for expected, make in OVERSIZE.items():
        text = make()
        start = time.perf_counter()
        try:
            client.predict(text, adapter, api_name="/classify")
        except AppError as exc:
            out[expected] = {"message": str(exc), "seconds": time.perf_counter() - start, "refused": True}
        else:
            out[expected] = {"message": "", "seconds": time.perf_counter() - start, "refused": False}
    return out


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; psutil elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss


@dataclass
class CycleResult:
    """Memory and cache state across adapter load/evict cycles."""

    loads: int
    evictions: int
    rss_after_warmup: int
    rss_after: int
    peft_adapters_attached: int
    parameters_after_warmup: int
    parameters_after: int
    leaked_classifiers: int

    @property
    def growth_mb(self) -> float:
        return (self.rss_after - self.rss_after_warmup) / 2**20


def load_evict_cycles(adapters: list[Path], *, keep: int, warmup_cycles: int, cycles: int,
                      on_cycle: Callable[[int], None] | None = None) -> CycleResult:
    """Use every adapter in turn through a cache that keeps `keep` adapters (so each use past the first `keep` loads
    one adapter and evicts another); measure RSS after `warmup_cycles` and after `cycles` more."""
    import weakref

    from hubtune.serving import ModelCache, SpaceBackend

    cache = ModelCache(max_adapters=keep, max_bases=1, device="cpu", allow_local_paths=True)
    backend = SpaceBackend(cache)
    records = [("s1", "ACGT" * 25)]
    ids = [str(a) for a in adapters]
    dead: list[weakref.ref] = []

    def one_cycle() -> None:
        for adapter in ids:
            with cache.use(adapter) as classifier:
                dead.append(weakref.ref(classifier))
            backend.classify(records, [adapter])

    def attached() -> tuple[int, int]:
        with cache.use(ids[-1]) as classifier:
            model = classifier.model
            return len(model.peft_config), sum(p.numel() for p in model.parameters())

    for _ in range(warmup_cycles):
        one_cycle()
    gc.collect()
    _, params_warm = attached()
    rss_warm = rss_bytes()
    for i in range(cycles):
        one_cycle()
        if on_cycle:
            on_cycle(i)
    gc.collect()
    n_adapters, params = attached()
    # Classifiers of adapters that were evicted must be garbage: only the `keep` cached ones may stay alive.
    alive = {id(obj) for ref in dead if (obj := ref()) is not None}
    return CycleResult(
        loads=cache.stats.adapter_loads, evictions=cache.stats.adapter_evictions, rss_after_warmup=rss_warm,
        rss_after=rss_bytes(), peft_adapters_attached=n_adapters, parameters_after_warmup=params_warm,
        parameters_after=params, leaked_classifiers=max(0, len(alive) - keep),
    )


# ---------------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="requests per client")
    parser.add_argument("--sequences", type=int, default=4, help="sequences per request")
    parser.add_argument("--length", type=int, default=100, help="bp per sequence")
    parser.add_argument("--concurrency", type=int, default=None, help="model requests at once (app default: 2)")
    parser.add_argument("--adapters", type=int, default=6, help="adapters for the load/evict cycles")
    parser.add_argument("--cycles", type=int, default=10, help="load/evict cycles after 2 warm-up cycles")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="hubtune-bench-space-load-") as tmp:
        os.environ["HF_HOME"] = str(Path(tmp) / "hf-home")  # nothing from a real cache, nothing downloaded
        adapters = make_adapters(Path(tmp), max(args.adapters, 1))
        text = random_fasta(args.sequences, args.length, seed=5)
        with running_space([str(adapters[0])], concurrency_limit=args.concurrency) as (url, _backend, counter):
            load = drive_load(url, str(adapters[0]), text, clients=args.clients, requests=args.requests)
            uses = counter.uses
            refused = oversize_requests(url, str(adapters[0]))
            oversize_model_calls = counter.uses - uses
        cycles = load_evict_cycles(adapters, keep=2, warmup_cycles=2, cycles=args.cycles)
    summary = load.summary()
    print(f"\nSpace under load on CPU (torch threads: {torch.get_num_threads()}, CPUs: {os.cpu_count()})")
    print(f"/classify, {args.clients} clients x {args.requests} requests, {args.sequences} x {args.length} bp each:")
    print(f"  p50 {summary['p50_s'] * 1e3:.0f} ms, p95 {summary['p95_s'] * 1e3:.0f} ms, max {summary['max_s']:.2f} s; "
          f"{summary['throughput_rps']:.1f} requests/s; {summary['ok']} ok, {summary['errors']} errors "
          f"in {summary['wall_s']:.1f} s")
    for error in load.errors[:5]:
        print(f"  error: {error}")
    print("oversize requests (refused before any model work):")
    for kind, outcome in refused.items():
        state = "refused" if outcome["refused"] else "NOT REFUSED"
        print(f"  {kind:22s} {state} in {outcome['seconds'] * 1e3:.0f} ms")
    print(f"  model cache calls made for them: {oversize_model_calls}")
    print(f"adapter load/evict cycles ({args.adapters} adapters, cache of 2): {cycles.loads} loads, "
          f"{cycles.evictions} evictions, RSS {cycles.rss_after_warmup / 2**20:.0f} -> {cycles.rss_after / 2**20:.0f} MB "
          f"({cycles.growth_mb:+.1f} MB), {cycles.peft_adapters_attached} adapters attached, "
          f"{cycles.leaked_classifiers} leaked")
    if args.json:
        args.json.write_text(json.dumps({"load": summary, "errors": load.errors, "oversize": refused,
                                         "oversize_model_calls": oversize_model_calls,
                                         "cycles": {**asdict(cycles), "growth_mb": cycles.growth_mb}}, indent=2))
    ok = not load.errors and all(o["refused"] for o in refused.values()) and not oversize_model_calls
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
