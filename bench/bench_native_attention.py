"""Native DNABERT-2 attention on CPU: SDPA vs the eager softmax(QK^T/sqrt(d) + bias)V path of the same model.

Measures, for a DNABERT-2-size model with random weights (768 hidden, 12 layers, 12 heads by default):
  * forward (inference, no grad) time and peak memory on one padded batch (8 x 128 tokens by default);
  * one LoRA training step (forward + backward + AdamW step) time and peak memory.

Times: both paths run in one process, alternating step by step, so a change in machine load hits both alike;
the median of --iters alternations after --warmup is reported. Memory: each path runs once per phase in its own
fresh process (forward first, then the LoRA step, since the peak resident memory ru_maxrss only rises), so one
path's peak cannot leak into the other's; "peak memory" is that peak minus the resident memory right after the
model was built, i.e. what the phase itself needed.

Usage:  python bench/bench_native_attention.py [--batch 8 --seq 128 --iters 3 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PHASES = ("forward", "lora_step")
IMPLEMENTATIONS = ("eager", "sdpa")


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--intermediate", type=int, default=3072)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128, help="tokens per sequence (the longest row)")
    parser.add_argument("--no-padding", action="store_true", help="all rows full length (no padding mask)")
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "PHASE"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _import_native():
    try:
        from hubtune.models.dnabert2 import Dnabert2Config, Dnabert2ForSequenceClassification
    except ImportError:  # run from a checkout without installing hubtune
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from hubtune.models.dnabert2 import Dnabert2Config, Dnabert2ForSequenceClassification
    return Dnabert2Config, Dnabert2ForSequenceClassification


def _batch(args: argparse.Namespace):
    import torch

    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(5, args.vocab, (args.batch, args.seq), generator=generator)
    ids[:, 0] = 1
    mask = torch.ones_like(ids)
    if not args.no_padding:
        # A realistic fine-tuning batch: some rows shorter than the longest one (padded with [PAD]=3).
        for row in range(1, args.batch, 2):
            length = max(2, args.seq - (row * args.seq) // (2 * args.batch))
            ids[row, length:] = 3
            mask[row, length:] = 0
    labels = torch.randint(0, 2, (args.batch,), generator=generator)
    return ids, mask, labels


def _make_step(args: argparse.Namespace, impl: str, phase: str, batch):
    """Build the model for `impl` (same seed, so the same weights for every path) and return one step of `phase`."""
    import torch

    config_class, model_class = _import_native()
    torch.manual_seed(0)
    config = config_class(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=args.intermediate,
        hidden_dropout_prob=0.0,
        attn_implementation=impl,
    )
    model = model_class(config)
    ids, mask, labels = batch
    if phase == "forward":
        model.eval()

        def forward() -> None:
            with torch.no_grad():
                model(input_ids=ids, attention_mask=mask)

        return forward

    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        lora_dropout=0.0,
        target_modules=["Wqkv", "dense", "gated_layers", "wo"],
        modules_to_save=["classifier"],
    )
    peft_model = get_peft_model(model, lora)
    peft_model.train()
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-4)

    def lora_step() -> None:
        loss = peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return lora_step


def _worker(args: argparse.Namespace, mode: str, phase: str) -> dict[str, Any]:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    batch = _batch(args)
    result: dict[str, Any] = {"threads": torch.get_num_threads(), "tokens": int(batch[1].sum())}
    if mode == "time":
        steps = {impl: _make_step(args, impl, phase, batch) for impl in IMPLEMENTATIONS}
        times: dict[str, list[float]] = {impl: [] for impl in IMPLEMENTATIONS}
        for index in range(args.warmup + args.iters):
            for impl in IMPLEMENTATIONS if index % 2 == 0 else IMPLEMENTATIONS[::-1]:
                start = time.perf_counter()
                steps[impl]()
                if index >= args.warmup:
                    times[impl].append(time.perf_counter() - start)
        result["seconds"] = {impl: statistics.median(values) for impl, values in times.items()}
    else:
        # Phases in order of growing memory (ru_maxrss only rises): the forward peak is read before the LoRA step.
        result["peak_mb"] = {}
        for current in [p for p in PHASES if p in args.phases]:
            step = _make_step(args, mode, current, batch)
            baseline = _rss_mb()
            step()
            result["peak_mb"][current] = max(0.0, _peak_rss_mb() - baseline)
            del step
    return result


def _run_worker(argv: list[str], impl: str, phase: str) -> dict[str, Any]:
    print(f"[bench] running {impl} {phase} ...", file=sys.stderr, flush=True)
    command = [sys.executable, str(Path(__file__).resolve()), *argv, "--worker", impl, phase]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"worker {impl}/{phase} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Run every (attention path, phase) in its own process and print a comparison table."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args, *args.worker)))
        return
    started = time.perf_counter()
    timing = {phase: _run_worker(argv, "time", phase) for phase in args.phases}
    memory = {impl: _run_worker(argv, impl, "all")["peak_mb"] for impl in IMPLEMENTATIONS}
    first = next(iter(timing.values()))
    print(
        f"DNABERT-2 native, random weights: hidden {args.hidden}, {args.layers} layers, {args.heads} heads, "
        f"intermediate {args.intermediate}; batch {args.batch} x {args.seq} tokens "
        f"({first['tokens']} real, {'no padding' if args.no_padding else 'padded rows'}); CPU, "
        f"{first['threads']} torch threads; median of {args.iters} after {args.warmup} warm-up; LoRA r={args.lora_r}"
    )
    header = f"{'measurement':<28}{'eager':>12}{'sdpa':>12}{'sdpa/eager':>12}"
    print(header)
    print("-" * len(header))
    for phase in args.phases:
        rows = (
            ("time (s)", timing[phase]["seconds"]["eager"], timing[phase]["seconds"]["sdpa"]),
            ("peak memory (MB)", memory["eager"][phase], memory["sdpa"][phase]),
        )
        for label, eager, sdpa in rows:
            ratio = sdpa / eager if eager else float("nan")
            print(f"{phase + ' ' + label:<28}{eager:>12.3f}{sdpa:>12.3f}{ratio:>12.2f}")
    print(f"total benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
