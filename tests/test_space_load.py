"""The Space under load: 20 concurrent gradio_client clients x 25 /classify requests against the running app with the
tiny model, oversize requests refused before any model work, and memory bounded while adapters are loaded and evicted.

Drives the functions of bench/bench_space_load.py (which prints the same figures as a benchmark).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_runs import import_script, one_torch_thread

ROOT = Path(__file__).resolve().parent.parent
CLIENTS, REQUESTS = 20, 25
# Growth allowed in resident memory over 8 load/evict cycles (48 adapter loads and as many evictions) after 2 warm-up
# cycles. Adapter weights left behind are caught exactly by the parameter count and the peft adapter count; this bound
# catches what lives outside the model: measured on tiny-nt, one leaked base model instance costs ~0.5 MB and one
# leaked tokenizer ~1.9 MB, so a leak of either per load would add 25-90 MB, while allocator noise stays within a few
# MB (measured growth: under 1 MB).
RSS_GROWTH_BOUND_MB = 12


def _bench():
    return import_script("bench_space_load", ROOT / "bench" / "bench_space_load.py")


@pytest.fixture(scope="module")
def bench():
    return _bench()


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models on a shared 2-core runner are fastest single-threaded (server worker threads share this)."""
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def adapters(bench, tmp_path_factory) -> list[Path]:
    return bench.make_adapters(tmp_path_factory.mktemp("load-adapters"), 6)


def test_twenty_clients_get_every_answer_and_oversize_requests_never_reach_the_model(bench, adapters, one_thread):
    adapter = str(adapters[0])
    text = bench.random_fasta(4, 100, seed=5)
    with bench.running_space([adapter]) as (url, backend, counter):
        expected = backend.classify(backend.parse(text), [adapter]).to_dict()
        load = bench.drive_load(url, adapter, text, clients=CLIENTS, requests=REQUESTS, keep_answers=True)
        uses, metas = counter.uses, counter.metas
        refused = bench.oversize_requests(url, adapter)
        assert (counter.uses, counter.metas) == (uses, metas), "an oversize request reached the model cache"
    summary = load.summary()
    print(f"\n{CLIENTS} clients x {REQUESTS} requests: p50 {summary['p50_s']:.2f} s, p95 {summary['p95_s']:.2f} s, "
          f"{summary['throughput_rps']:.1f} requests/s, {summary['errors']} errors in {summary['wall_s']:.1f} s")
    assert load.errors == [], load.errors[:5]
    assert len(load.latencies) == CLIENTS * REQUESTS
    # Concurrent requests never see another request's state: every answer equals the one computed alone.
    for answer in load.answers:
        assert answer["label_names"] == expected["label_names"]
        for got, want in zip(answer["sequences"], expected["sequences"], strict=True):
            assert got["id"] == want["id"]
            for name, entry in want["adapters"].items():
                assert got["adapters"][name]["label"] == entry["label"]
                for cls, p in entry["probabilities"].items():
                    assert got["adapters"][name]["probabilities"][cls] == pytest.approx(p, abs=1e-6)
    for fragment, outcome in refused.items():
        assert outcome["refused"], f"the {fragment} request was not refused"
        assert fragment in outcome["message"], outcome["message"]


def test_memory_stays_bounded_as_adapters_are_loaded_and_evicted(bench, adapters, one_thread):
    result = bench.load_evict_cycles(adapters, keep=2, warmup_cycles=2, cycles=8)
    print(f"\n{result.loads} loads, {result.evictions} evictions, RSS growth {result.growth_mb:+.1f} MB")
    uses = len(adapters) * 10
    assert result.loads == uses  # round-robin over 6 adapters with room for 2: every use is a load ...
    assert result.evictions == uses - 2  # ... and all but the last two were evicted
    assert result.peft_adapters_attached == 2
    assert result.parameters_after == result.parameters_after_warmup
    assert result.leaked_classifiers == 0
    assert result.growth_mb < RSS_GROWTH_BOUND_MB
