"""Padding-free vs padded execution of the native families on CPU (random weights, nothing downloaded).

Two sections:
  * ``attention``: the attention kernel alone on one batch's packed q/k/v (tokens, heads, head_dim), forward and
    forward+backward, every way of running it padding-free: re-padded to (batch, span) for one SDPA call with an
    additive float bias (ALiBi + key mask, what the models use), the same with a boolean key mask, one SDPA call over
    all packed tokens with a block-diagonal document mask, a Python loop of per-sequence SDPA calls, and nested
    (jagged) tensors (no bias term: valid for rotary families only).
  * ``model``: the whole classification model, padded (`set_padding_free(model, False)`: every padded position
    computed) vs padding-free (the default), forward (no grad) and forward+backward of a LoRA model (frozen base,
    LoRA on --lora-targets plus the classifier trainable; no optimizer step), per batch.

Sizes: ``dnabert2-117m`` (hidden 768, 12 layers, 12 heads, intermediate 3072), ``dnabert2-small`` (hidden 64,
2 layers, 4 heads, intermediate 128), ``ntv2-small`` (the same for NT v2) and ``ntv2-50m`` (hidden 512, 12 layers,
16 heads, intermediate 2048). Lengths per batch: ``uniform:LOW:HIGH`` (token counts drawn uniformly, GUE-like) or
``equal:N`` (no padding: both paths take the no-gather fast path). Every configuration is measured --repeats times,
padded and padding-free interleaved (A B B A ...), after one warm-up; medians are reported, so machine load hits both
paths alike. Read the ratios, not the absolute times, on a shared machine.

Usage:  python bench/bench_unpad.py [--sections attention model] [--sizes dnabert2-117m dnabert2-small]
        [--lengths uniform:40:128 equal:128] [--batch 32] [--threads 2] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIZES: dict[str, dict[str, Any]] = {
    "dnabert2-117m": {"family": "dnabert2", "hidden": 768, "layers": 12, "heads": 12, "intermediate": 3072},
    "dnabert2-small": {"family": "dnabert2", "hidden": 64, "layers": 2, "heads": 4, "intermediate": 128},
    "ntv2-small": {"family": "ntv2", "hidden": 64, "layers": 2, "heads": 4, "intermediate": 128},
    "ntv2-50m": {"family": "ntv2", "hidden": 512, "layers": 12, "heads": 16, "intermediate": 2048},
}
LORA_TARGETS = {"dnabert2": "Wqkv", "ntv2": "query,key,value"}
PAD_IDS = {"dnabert2": 3, "ntv2": 1}


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", choices=("attention", "model"), default=["attention", "model"])
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["dnabert2-small", "dnabert2-117m"])
    parser.add_argument("--lengths", nargs="+", default=["uniform:40:128", "equal:128"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path (after one warm-up)")
    parser.add_argument("--phases", nargs="+", choices=("forward", "train"), default=["forward", "train"])
    parser.add_argument("--lora-targets", default="", help="comma-separated; default Wqkv / query,key,value")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def _lengths(spec: str, batch: int, seed: int) -> list[int]:
    import torch

    kind, *numbers = spec.split(":")
    generator = torch.Generator().manual_seed(seed)
    if kind == "uniform" and len(numbers) == 2:
        low, high = int(numbers[0]), int(numbers[1])
        return torch.randint(low, high + 1, (batch,), generator=generator).tolist()
    if kind == "equal" and len(numbers) == 1:
        return [int(numbers[0])] * batch
    raise SystemExit(f"--lengths {spec!r}: use uniform:LOW:HIGH or equal:N")


def _median_times(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, tuple[float, float]]:
    """One warm-up of each, then `repeats` rounds alternating the order (A B, B A, ...). Returns, per step, the median
    wall seconds and the median process CPU seconds (all threads; less sensitive to other processes' load)."""
    names = list(steps)
    for name in names:
        steps[name]()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for round_index in range(repeats):
        for name in names if round_index % 2 == 0 else names[::-1]:
            wall, cpu = time.perf_counter(), time.process_time()
            steps[name]()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in times.items()
    }


# --------------------------------------------------------------------------------------------------------------------
# Attention kernels
# --------------------------------------------------------------------------------------------------------------------


def _attention_kernels(lengths: list[int], heads: int, head_dim: int, seed: int) -> dict[str, Callable[..., Any]]:
    """Each kernel maps packed q, k, v (tokens, heads, head_dim) to the packed context, with ALiBi where it can."""
    import torch
    import torch.nn.functional as F

    from hubtune.models.alibi import alibi_bias

    batch, span = len(lengths), max(lengths)
    counts = torch.tensor(lengths)
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)]).tolist()
    real = torch.arange(span)[None] < counts[:, None]
    indices = real.flatten().nonzero().squeeze(1)
    alibi = alibi_bias(heads, span)
    float_bias = alibi + (~real)[:, None, None, :].float() * torch.finfo(torch.float32).min
    bool_mask = real[:, None, None, :]

    def repad(x: torch.Tensor) -> torch.Tensor:
        grid = x.new_zeros(batch * span, heads, head_dim).index_put((indices,), x)
        return grid.view(batch, span, heads, head_dim).transpose(1, 2)

    def unpad(context: torch.Tensor) -> torch.Tensor:
        return context.transpose(1, 2).reshape(batch * span, heads, head_dim).index_select(0, indices)

    def repad_float(q, k, v):
        return unpad(F.scaled_dot_product_attention(repad(q), repad(k), repad(v), attn_mask=float_bias))

    def repad_bool(q, k, v):  # key mask only: the rotary families' case
        return unpad(F.scaled_dot_product_attention(repad(q), repad(k), repad(v), attn_mask=bool_mask))

    segment = torch.repeat_interleave(torch.arange(batch), counts)
    position = torch.cat([torch.arange(n) for n in lengths])
    document = segment[:, None] == segment[None, :]
    slopes = -alibi[0, :, 0, 1]  # alibi(0, 1) = -slope
    block_bias = -slopes[:, None, None] * (position[:, None] - position[None, :]).abs().float()
    block_bias = block_bias.masked_fill(~document, torch.finfo(torch.float32).min)[None]

    def block_diagonal(q, k, v):
        q, k, v = (x.transpose(0, 1)[None] for x in (q, k, v))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=block_bias)[0].transpose(0, 1)

    def per_sequence(q, k, v):
        pieces = []
        for start, end in zip(offsets[:-1], offsets[1:], strict=True):
            sq, sk, sv = (x[start:end].transpose(0, 1) for x in (q, k, v))
            bias = alibi[0, :, : end - start, : end - start]
            pieces.append(F.scaled_dot_product_attention(sq, sk, sv, attn_mask=bias).transpose(0, 1))
        return torch.cat(pieces)

    jagged_offsets = torch.tensor(offsets)

    def nested(q, k, v):  # no bias term: rotary families only
        q, k, v = (torch.nested.nested_tensor_from_jagged(x, jagged_offsets).transpose(1, 2) for x in (q, k, v))
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).values()

    return {
        "re-padded SDPA, ALiBi+mask bias": repad_float,
        "re-padded SDPA, bool key mask": repad_bool,
        "block-diagonal mask, packed": block_diagonal,
        "per-sequence SDPA loop": per_sequence,
        "nested jagged SDPA (no bias)": nested,
    }


def bench_attention(args: argparse.Namespace, size: dict[str, Any], spec: str) -> list[dict[str, Any]]:
    import warnings

    import torch

    lengths = _lengths(spec, args.batch, args.seed)
    heads, head_dim = size["heads"], size["hidden"] // size["heads"]
    generator = torch.Generator().manual_seed(args.seed)
    q, k, v = (torch.randn(sum(lengths), heads, head_dim, generator=generator, requires_grad=True) for _ in range(3))
    kernels = _attention_kernels(lengths, heads, head_dim, args.seed)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nested tensors are a prototype API
        for phase in args.phases:
            steps = {}
            for name, kernel in kernels.items():
                if phase == "forward":
                    steps[name] = lambda kernel=kernel: _no_grad(lambda: kernel(q, k, v))
                else:
                    steps[name] = lambda kernel=kernel: kernel(q, k, v).square().sum().backward()
            for name, (wall, cpu) in _median_times(steps, args.repeats).items():
                rows.append({"kernel": name, "phase": phase, "seconds": wall, "cpu_seconds": cpu})
    return rows


def _no_grad(step: Callable[[], Any]) -> None:
    import torch

    with torch.no_grad():
        step()


# --------------------------------------------------------------------------------------------------------------------
# Whole models
# --------------------------------------------------------------------------------------------------------------------


def _model(size: dict[str, Any], seed: int):
    import torch

    from hubtune.models.dnabert2 import Dnabert2Config, Dnabert2ForSequenceClassification
    from hubtune.models.ntv2 import NTv2Config, NTv2ForSequenceClassification

    common = {
        "hidden_size": size["hidden"],
        "num_hidden_layers": size["layers"],
        "num_attention_heads": size["heads"],
        "intermediate_size": size["intermediate"],
        "num_labels": 2,
    }
    torch.manual_seed(seed)
    if size["family"] == "dnabert2":
        return Dnabert2ForSequenceClassification(Dnabert2Config(vocab_size=4096, hidden_dropout_prob=0.0, **common))
    return NTv2ForSequenceClassification(NTv2Config(vocab_size=4107, **common))


def _batch(vocab: int, lengths: list[int], pad_id: int, seed: int):
    import torch

    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.full((len(lengths), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(5, vocab, (length,), generator=generator)
        mask[row, :length] = 1
    labels = torch.randint(0, 2, (len(lengths),), generator=generator)
    return ids, mask, labels


def bench_model(args: argparse.Namespace, size: dict[str, Any], spec: str) -> list[dict[str, Any]]:
    import torch
    from peft import LoraConfig, TaskType, get_peft_model

    from hubtune.models.unpad import set_padding_free

    family = size["family"]
    lengths = _lengths(spec, args.batch, args.seed)
    model = _model(size, args.seed)
    ids, mask, labels = _batch(model.config.vocab_size, lengths, PAD_IDS[family], args.seed)
    targets = (args.lora_targets or LORA_TARGETS[family]).split(",")
    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.0, target_modules=targets)
    peft_model = get_peft_model(model, lora)

    def run(padding_free: bool, phase: str) -> Callable[[], None]:
        def step() -> None:
            set_padding_free(peft_model, padding_free)
            if phase == "forward":
                peft_model.eval()
                with torch.no_grad():
                    peft_model(input_ids=ids, attention_mask=mask)
            else:
                peft_model.train()
                peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
                peft_model.zero_grad(set_to_none=True)

        return step

    rows = []
    for phase in args.phases:
        times = _median_times({"padded": run(False, phase), "padding-free": run(True, phase)}, args.repeats)
        (padded, padded_cpu), (free, free_cpu) = times["padded"], times["padding-free"]
        rows.append({
            "phase": phase, "padded": padded, "padding-free": free, "speedup": padded / free,
            "padded_cpu": padded_cpu, "padding-free_cpu": free_cpu, "cpu_speedup": padded_cpu / free_cpu,
        })  # fmt: skip
    return rows


# --------------------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen sections and print one table per section."""
    args = _parse_args(argv)
    try:
        import hubtune  # noqa: F401
    except ImportError:  # run from a checkout without installing hubtune
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import torch

    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {"threads": torch.get_num_threads(), "batch": args.batch, "attention": [], "model": []}
    print(
        f"CPU, {results['threads']} torch threads, batch {args.batch}, median of {args.repeats} (interleaved); "
        "cpu = process CPU time over all threads"
    )
    for size_name in args.sizes:
        size = SIZES[size_name]
        for spec in args.lengths:
            lengths = _lengths(spec, args.batch, args.seed)
            label = f"{size_name} {spec} ({sum(lengths)} real of {len(lengths) * max(lengths)} tokens)"
            if "attention" in args.sections:
                for row in bench_attention(args, size, spec):
                    results["attention"].append({"size": size_name, "lengths": spec, **row})
                    print(
                        f"[attention] {label:<52} {row['phase']:<8} {row['kernel']:<34} "
                        f"{row['seconds'] * 1e3:9.1f} ms wall {row['cpu_seconds'] * 1e3:9.1f} ms cpu"
                    )
            if "model" in args.sections:
                for row in bench_model(args, size, spec):
                    results["model"].append({"size": size_name, "lengths": spec, **row})
                    print(
                        f"[model]     {label:<52} {row['phase']:<8} wall: padded {row['padded'] * 1e3:8.1f} ms, "
                        f"padding-free {row['padding-free'] * 1e3:8.1f} ms, x{row['speedup']:.2f}   cpu: padded "
                        f"{row['padded_cpu'] * 1e3:8.1f} ms, padding-free {row['padding-free_cpu'] * 1e3:8.1f} ms, "
                        f"x{row['cpu_speedup']:.2f}"
                    )
            sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
