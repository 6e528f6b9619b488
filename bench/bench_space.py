"""The Space's backend on CPU: batch classification, adapter switching vs loading from scratch, and latency under
concurrent clients.

Measures:
  * classify 100 x 300 bp with one LoRA adapter on an NT-v2-50m-size model with random weights (12 layers, hidden
    512, 16 heads, FFN 2048, the 4107-token 6-mer vocabulary): the fine-tuned answer alone (`Classifier`), and the
    full comparison (fine-tuned + the base model's probe) through `SpaceBackend.classify` on sequences it has not seen
    (new random sequences every repeat), interleaved with the same comparison computed the way the backend did before
    its one-pass inference (`Classifier.predict_windows` + `predict_base_proba`, per adapter); the same with two
    adapters of the base; a repeated request (sequences already seen); and the first request, which loads the base
    and the adapter;
  * adapter switch time (`ModelCache.use`, i.e. peft `set_adapter`, between two adapters of that base) vs loading
    base + tokenizer + adapter from scratch, and their ratio;
  * p50/p95 latency of /classify on the running Gradio app with 10 concurrent gradio_client clients, on the tiny
    NT stand-in (10 x 100 bp per request, the app's default concurrency limit of 2).

Adapters are built the way training builds them (hubtune's LoRA setup, random LoRA weights) in a temporary folder;
nothing is downloaded. Usage:  python bench/bench_space.py [--sequences 100 --length 300 --clients 10 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HUBTUNE_NO_PROGRESS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
ROOT = Path(__file__).resolve().parent.parent


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=100)
    parser.add_argument("--length", type=int, default=300, help="bp per sequence")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--intermediate", type=int, default=2048)
    parser.add_argument("--max-length", type=int, default=512, help="model window in tokens")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median reported)")
    parser.add_argument("--switches", type=int, default=50)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=5, help="requests per client")
    parser.add_argument("--client-sequences", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--parts", nargs="+", choices=("large", "concurrency"), default=["large", "concurrency"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def _random_dna(n: int, length: int, seed: int) -> list[tuple[str, str]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [(f"s{i + 1}", "".join(rng.choice(list("ACGT"), size=length))) for i in range(n)]


def make_adapter(base: str, folder: Path, *, seed: int, max_length: int, labels: list[str]) -> Path:
    """A LoRA run folder as training writes it (adapter, hubtune.json, metrics.json, base probe head), with random
    LoRA and head weights so that two seeds give two different classifiers."""
    import numpy as np
    import torch

    from hubtune.heads import LinearHead
    from hubtune.jsonio import write_json
    from hubtune.methods import LoraMethodConfig
    from hubtune.models import load_base_model, resolve_model
    from hubtune.run import BASE_PROBE_FILE, METRICS_FILE, RunInfo

    resolved = resolve_model(base)
    family = resolved.family
    torch.manual_seed(seed)
    model = load_base_model(base, len(labels), label_names=labels, resolved=resolved)
    method = LoraMethodConfig()
    peft_model = method.prepare(model, family)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02)  # fresh LoRA B is zero: make the adapter actually change the model
    folder.mkdir(parents=True, exist_ok=True)
    method.save(peft_model, folder, base_model=base, base_revision=None)
    rng = np.random.default_rng(seed)
    hidden = model.config.hidden_size
    LinearHead(rng.normal(0, 0.05, (len(labels), hidden)), np.zeros(len(labels))).save(folder / BASE_PROBE_FILE)
    window_bp = family.window_bp(max_length)
    RunInfo(label_names=labels, method=method.name, base_model=base, family=family.name, task="bench",
            max_length=max_length, window_bp=window_bp, stride_bp=max(1, window_bp // 2),
            method_config=method.to_dict()).write(folder)
    write_json(folder / METRICS_FILE, {})
    return folder


def _classify_before(backend: Any, records: list[tuple[str, str]], adapters: list[str]) -> list[Any]:
    """The comparison as the backend computed it before one-pass inference: per adapter, the classifier's windowed
    answer, then the base probe on embeddings of every window computed again with the adapter disabled."""
    import numpy as np

    seqs = [s for _, s in records]
    out = []
    for adapter in adapters:
        with backend.cache.use(adapter) as clf:
            probs = clf.predict_windows(seqs, batch_size=backend.batch_size)[0]
            base = clf.predict_base_proba(seqs, batch_size=backend.batch_size)
        out.append((np.asarray(probs), np.asarray(base)))
    return out


def _compare_paths(args: argparse.Namespace, backend: Any, adapters: list[str]) -> dict[str, float]:
    """Median time of the comparison before and now, interleaved, each repeat on new sequences (nothing memoised)."""
    import numpy as np

    old_times, new_times, diff = [], [], 0.0
    for repeat in range(args.repeats):
        records = _random_dna(args.sequences, args.length, seed=1000 + 7 * repeat + len(adapters))
        start = time.perf_counter()
        before = _classify_before(backend, records, adapters)
        old_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        now = backend.classify(records, adapters).predictions
        new_times.append(time.perf_counter() - start)
        for (probs, base), prediction in zip(before, now, strict=True):
            diff = max(diff, float(np.abs(probs - prediction.probs).max()),
                       float(np.abs(base - prediction.base_probs).max()))
    return {"old": statistics.median(old_times), "new": statistics.median(new_times), "max_diff": diff}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_large(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Classification time and adapter switch vs scratch load on the NT-v2-50m-size model."""
    from peft import PeftModel

    from hubtune.models import load_base_model, load_tokenizer
    from hubtune.models.tiny import build_tiny_ntv2
    from hubtune.serving import ModelCache, SpaceBackend

    base = build_tiny_ntv2(work / "ntv2-50m-size", seed=0, hidden_size=args.hidden, num_hidden_layers=args.layers,
                           num_attention_heads=args.heads, intermediate_size=args.intermediate)
    labels = ["background", "promoter"]
    adapter_a = make_adapter(str(base), work / "adapter-a", seed=1, max_length=args.max_length, labels=labels)
    adapter_b = make_adapter(str(base), work / "adapter-b", seed=2, max_length=args.max_length, labels=labels)
    records = _random_dna(args.sequences, args.length, seed=3)
    seqs = [s for _, s in records]

    cache = ModelCache(max_adapters=4, device="cpu", allow_local_paths=True)
    backend = SpaceBackend(cache)
    start = time.perf_counter()
    backend.classify(records, [str(adapter_a)])
    cold = time.perf_counter() - start
    with cache.use(str(adapter_a)) as clf:
        n_params = sum(p.numel() for p in clf.model.base_model.model.parameters())

    def adapter_only() -> None:
        with cache.use(str(adapter_a)) as clf:
            clf.predict_proba(seqs, batch_size=backend.batch_size)

    warm_adapter = _median_time(adapter_only, args.repeats)
    compare = _compare_paths(args, backend, [str(adapter_a)])
    compare_two = _compare_paths(args, backend, [str(adapter_a), str(adapter_b)])
    repeat = _median_time(lambda: backend.classify(records, [str(adapter_a)]), args.repeats)

    with cache.use(str(adapter_b)):  # both adapters attached to the one base
        pass
    switch_times = []
    for i in range(args.switches):
        target = str(adapter_a if i % 2 == 0 else adapter_b)
        start = time.perf_counter()
        with cache.use(target):
            pass
        switch_times.append(time.perf_counter() - start)
    switch = statistics.median(switch_times)
    assert cache.stats.base_loads == 1, cache.stats

    def from_scratch() -> None:
        model = load_base_model(str(base), len(labels), label_names=labels)
        load_tokenizer(str(base))
        PeftModel.from_pretrained(model, str(adapter_b)).eval()

    scratch = _median_time(from_scratch, args.repeats)
    return {
        "model_parameters": n_params,
        "sequences": args.sequences,
        "length_bp": args.length,
        "first_request_s": cold,
        "classify_adapter_s": warm_adapter,
        "classify_with_base_s": compare["new"],
        "classify_with_base_before_s": compare["old"],
        "max_probability_difference": compare["max_diff"],
        "two_adapters_s": compare_two["new"],
        "two_adapters_before_s": compare_two["old"],
        "repeat_request_s": repeat,
        "switch_ms": switch * 1e3,
        "switch_p95_ms": sorted(switch_times)[int(0.95 * (len(switch_times) - 1))] * 1e3,
        "scratch_load_s": scratch,
        "switch_speedup": scratch / switch,
    }


def bench_concurrency(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """p50/p95 latency of /classify with concurrent gradio_client clients on the tiny model."""
    import importlib.util

    from gradio_client import Client

    from hubtune.serving import ModelCache, SpaceBackend

    adapter = make_adapter("tiny-nt", work / "tiny-adapter", seed=1, max_length=18, labels=["background", "promoter"])
    spec = importlib.util.spec_from_file_location("hubtune_space_app", ROOT / "space" / "app.py")
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    sys.modules["hubtune_space_app"] = app
    spec.loader.exec_module(app)
    backend = SpaceBackend(ModelCache(device="cpu", allow_local_paths=True))
    demo = app.build_app(backend, adapters=[str(adapter)], listing=lambda: [])
    port = _free_port()
    app.launch(demo, host="127.0.0.1", port=port, block=False)
    url = f"http://127.0.0.1:{port}"
    text = "".join(f">{i}\n{s}\n" for i, s in _random_dna(args.client_sequences, 100, seed=4))
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    released: list[float] = []
    barrier = threading.Barrier(args.clients, action=lambda: released.append(time.perf_counter()))

    def client_loop() -> None:
        try:
            client = Client(url, verbose=False, analytics_enabled=False)
            client.predict(text, str(adapter), api_name="/classify")  # warm-up, not timed
        except Exception as exc:  # report, do not hide: a failed request is a benchmark result too
            with lock:
                errors.append(f"warm-up: {type(exc).__name__}: {exc}")
            barrier.abort()
            return
        try:
            barrier.wait(timeout=600)  # all clients start together
        except threading.BrokenBarrierError:
            return
        for _ in range(args.requests):
            start = time.perf_counter()
            try:
                client.predict(text, str(adapter), api_name="/classify")
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                latencies.append(time.perf_counter() - start)

    try:
        threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - released[0] if released else float("nan")  # from the common start
    finally:
        demo.close(verbose=False)
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")

    return {
        "clients": args.clients,
        "requests": len(latencies),
        "errors": errors,
        "sequences_per_request": args.client_sequences,
        "p50_s": pct(0.50),
        "p95_s": pct(0.95),
        "throughput_rps": len(latencies) / wall if latencies else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="hubtune-bench-space-") as tmp:
        os.environ["HF_HOME"] = str(Path(tmp) / "hf-home")  # nothing from a real cache, nothing downloaded
        work = Path(tmp)
        large = bench_large(args, work) if "large" in args.parts else None
        concurrent = bench_concurrency(args, work) if "concurrency" in args.parts else None
    results = {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "large": large,
               "concurrency": concurrent}
    print(f"\nSpace backend on CPU (torch threads: {results['torch_threads']}, CPUs: {results['cpu_count']})")
    if large:
        _print_large(large)
    if concurrent:
        _print_concurrency(concurrent)
        for error in concurrent["errors"][:5]:
            print(f"  error: {error}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if not (concurrent and concurrent["errors"]) else 1


def _print_large(large: dict[str, Any]) -> None:
    print(f"NT-v2-50m-size model, random weights ({large['model_parameters'] / 1e6:.1f} M parameters), "
          f"{large['sequences']} x {large['length_bp']} bp, one LoRA adapter:")
    print(f"  first request (loads base + adapter)      {large['first_request_s']:8.2f} s")
    print(f"  classify, fine-tuned only (warm)          {large['classify_adapter_s']:8.2f} s")
    print(f"  classify + base-model probe, new seqs     {large['classify_with_base_s']:8.2f} s "
          f"(before one-pass inference {large['classify_with_base_before_s']:.2f} s, "
          f"{large['classify_with_base_before_s'] / large['classify_with_base_s']:.2f}x)")
    print(f"  same, two adapters of the base            {large['two_adapters_s']:8.2f} s "
          f"(before {large['two_adapters_before_s']:.2f} s, "
          f"{large['two_adapters_before_s'] / large['two_adapters_s']:.2f}x)")
    print(f"  same sequences again (outputs kept)       {large['repeat_request_s']:8.2f} s")
    print(f"  largest probability difference, before vs now: {large['max_probability_difference']:.1e}")
    print(f"  adapter switch (set_adapter), median      {large['switch_ms']:8.3f} ms "
          f"(p95 {large['switch_p95_ms']:.3f} ms)")
    print(f"  load base + tokenizer + adapter, scratch  {large['scratch_load_s']:8.2f} s")
    print(f"  switch is {large['switch_speedup']:,.0f}x faster than loading from scratch")


def _print_concurrency(concurrent: dict[str, Any]) -> None:
    print(f"Tiny model, {concurrent['clients']} concurrent gradio_client clients, /classify with "
          f"{concurrent['sequences_per_request']} x 100 bp:")
    print(f"  p50 {concurrent['p50_s']:.2f} s, p95 {concurrent['p95_s']:.2f} s, {concurrent['throughput_rps']:.1f} "
          f"requests/s over {concurrent['requests']} requests, {len(concurrent['errors'])} errors")


if __name__ == "__main__":
    sys.exit(main())
