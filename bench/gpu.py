"""One prepared benchmark for a CUDA machine: bf16 training throughput, peak memory and MFU of the native DNABERT-2
and NT v2 models, padded vs padding-free, and the Space's batch latency on CUDA. Nothing is downloaded: every model
is built with random weights from its published configuration.

Training (`--sizes`, `--methods`, `--lengths`): for each model size and method (``full``: every weight trains;
``lora``: hubtune's default LoRA targets + the head), the same batches of random tokens (lengths drawn per --lengths,
padded to each batch's longest) are trained ``padded`` (`set_padding_free(model, False)`: every padded position
computed) and ``padding-free`` (the default: padding dropped before the dense layers and the MLP). Mixed precision:
bf16 autocast over fp32 weights, fused AdamW, as the Trainer's ``bf16=True``. Per configuration: --warmup untimed
steps, then --steps timed steps (CUDA-synchronised); peak memory is `torch.cuda.max_memory_allocated` over those
steps. MFU = flops_per_token x real tokens / time / peak, with flops_per_token = 6 x N for full fine-tuning and
4 x N for LoRA (no weight gradients for the frozen base), N = parameters outside the embedding tables, and the peak
989e12 (H200/H100 SXM dense bf16; --peak-flops to change). Only real tokens count, so padding costs MFU.

Space (`--space-sequences`): on an NT-v2-50m-size model with one random LoRA adapter, the Space backend's
``classify`` (fine-tuned answer + the base model's probe) of 100 x 300 bp on CUDA: the first request (loads base and
adapter), the warm median on new sequences each time, the first request's sequences again (what the backend keeps
between requests may answer them), and the adapter's probabilities on CUDA vs on CPU for a few sequences.

Sizes: dnabert2-117m (hidden 768, 12 layers, 12 heads, FFN 3072, vocab 4096), ntv2-100m (hidden 512, 22 layers,
16 heads, FFN 2048, vocab 4107). The whole script stops starting new configurations after --budget-s seconds.
Prints a JSON object and Markdown tables. Without CUDA it exits with status 2, unless --dry-run (CPU, tiny sizes,
a few steps: checks that every part runs).

    python bench/gpu.py --json gpu.json --markdown gpu.md
    python bench/gpu.py --dry-run                       # on any machine
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HUBTUNE_NO_PROGRESS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SIZES: dict[str, dict[str, Any]] = {
    "dnabert2-117m": {"family": "dnabert2", "hidden": 768, "layers": 12, "heads": 12, "intermediate": 3072},
    "ntv2-100m": {"family": "ntv2", "hidden": 512, "layers": 22, "heads": 16, "intermediate": 2048},
}
TINY = {"hidden": 64, "layers": 2, "heads": 4, "intermediate": 128}
VOCAB = {"dnabert2": 4096, "ntv2": 4107}
PAD_ID = {"dnabert2": 3, "ntv2": 1}
H200_BF16_DENSE = 989e12


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=sorted(SIZES))
    parser.add_argument("--methods", nargs="+", choices=("full", "lora"), default=["full", "lora"])
    parser.add_argument("--lengths", nargs="+", default=["uniform:128:512", "uniform:40:128"],
                        help="token counts per batch row: uniform:LOW:HIGH (each batch padded to its longest)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per configuration")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--space-sequences", type=int, default=100, help="0 skips the Space part")
    parser.add_argument("--space-length", type=int, default=300, help="bp per sequence")
    parser.add_argument("--space-repeats", type=int, default=3)
    parser.add_argument("--peak-flops", type=float, default=H200_BF16_DENSE, help="the GPU's dense bf16 peak")
    parser.add_argument("--budget-s", type=float, default=420, help="start no new configuration after this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the JSON here")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown tables here")
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, tiny models, 2 steps, 4 Space sequences: checks that every part runs")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.steps, args.warmup, args.batch = min(args.steps, 2), min(args.warmup, 1), min(args.batch, 4)
        args.lengths = ["uniform:8:32"]
        args.space_sequences, args.space_length, args.space_repeats = min(args.space_sequences, 4), 60, 1
    return args


def parse_lengths(spec: str, batch: int, generator: Any) -> list[int]:
    """Token counts of one batch from ``uniform:LOW:HIGH``.

    Example:
        >>> import torch
        >>> len(parse_lengths("uniform:4:9", 3, torch.Generator().manual_seed(0)))
        3
    """
    import torch

    kind, *numbers = spec.split(":")
    if kind != "uniform" or len(numbers) != 2 or int(numbers[0]) < 3 or int(numbers[0]) > int(numbers[1]):
        raise SystemExit(f"--lengths {spec!r}: use uniform:LOW:HIGH with 3 <= LOW <= HIGH")
    return torch.randint(int(numbers[0]), int(numbers[1]) + 1, (batch,), generator=generator).tolist()


def make_batches(spec: str, family: str, batch: int, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` batches of random token ids, each padded to its longest row, with labels and lengths.

    Example:
        >>> make_batches("uniform:4:9", "ntv2", 2, 1, 0)[0]["input_ids"].shape[0]
        2
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        lengths = parse_lengths(spec, batch, generator)
        ids = torch.full((batch, max(lengths)), PAD_ID[family], dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, length in enumerate(lengths):
            ids[row, :length] = torch.randint(5, VOCAB[family] - 2, (length,), generator=generator)
            mask[row, :length] = 1
        batches.append({"input_ids": ids, "attention_mask": mask,
                        "labels": torch.randint(0, 2, (batch,), generator=generator), "lengths": lengths})
    return batches


def build_model(size: dict[str, Any], method: str, seed: int) -> tuple[Any, int, int, list[str]]:
    """A random-weight classification model of `size` prepared for `method`; returns the model, its parameter count,
    the count outside embedding tables (N of the MFU formula) and the trained module names (LoRA targets)."""
    import torch

    from hubtune.methods import LoraMethodConfig
    from hubtune.models import get_family
    from hubtune.models.dnabert2 import Dnabert2Config, Dnabert2ForSequenceClassification
    from hubtune.models.ntv2 import NTv2Config, NTv2ForSequenceClassification

    family = size["family"]
    common = {"hidden_size": size["hidden"], "num_hidden_layers": size["layers"],
              "num_attention_heads": size["heads"], "intermediate_size": size["intermediate"], "num_labels": 2,
              "vocab_size": VOCAB[family], "pad_token_id": PAD_ID[family]}
    torch.manual_seed(seed)
    if family == "dnabert2":
        model = Dnabert2ForSequenceClassification(Dnabert2Config(**common))
    else:
        model = NTv2ForSequenceClassification(NTv2Config(**common))
    total = sum(p.numel() for p in model.parameters())
    non_embedding = sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)
    targets: list[str] = []
    if method == "lora":
        lora = LoraMethodConfig(dropout=0.0)
        model = lora.prepare(model, get_family(family))
        targets = list(lora.resolved_targets)
    return model, total, non_embedding, targets


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def train_config(model: Any, batches: list[dict[str, Any]], *, padding_free: bool, device: str, steps: int,
                 warmup: int) -> dict[str, Any]:
    """Train `steps` timed steps (after `warmup`) on `batches` in bf16 autocast; returns time, tokens and peak memory.

    Example:
        >>> train_config(model, batches, padding_free=True, device="cuda", steps=20, warmup=3)  # doctest: +SKIP
    """
    import torch

    from hubtune.models.unpad import set_padding_free

    if not set_padding_free(model, padding_free):
        raise SystemExit("the native model has no padding_free switch (hubtune.models.unpad.set_padding_free)")
    model.train()
    model.zero_grad(set_to_none=True)
    gc.collect()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.01, fused=cuda)
    on_device = [{k: (v.to(device) if torch.is_tensor(v) else v) for k, v in b.items()} for b in batches]

    def step(batch: dict[str, Any]) -> None:
        with torch.autocast(device_type="cuda" if cuda else "cpu", dtype=torch.bfloat16):
            loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         labels=batch["labels"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for i in range(warmup):
        step(on_device[i % len(on_device)])
    _sync(device)
    real = computed = rows = 0
    start = time.perf_counter()
    for i in range(steps):
        batch = on_device[i % len(on_device)]
        step(batch)
        real += sum(batch["lengths"])
        computed += batch["input_ids"].numel()
        rows += batch["input_ids"].shape[0]
    _sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    optimizer.state.clear()
    model.zero_grad(set_to_none=True)
    return {"seconds": seconds, "real_tokens": real, "padded_tokens": computed, "samples": rows, "peak_gib": peak}


def bench_training(args: argparse.Namespace, device: str, deadline: float) -> tuple[list[dict[str, Any]], list[str]]:
    """Every (size, method, lengths, mode) configuration until the deadline; returns the rows and what was skipped."""
    import torch

    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for size_name in args.sizes:
        size = {**SIZES[size_name], **(TINY if args.dry_run else {})}
        for method in args.methods:
            if time.perf_counter() > deadline:
                skipped.append(f"{size_name} {method}")
                continue
            model, total, non_embedding, targets = build_model(size, method, args.seed)
            model.to(device)
            flops_per_token = (6 if method == "full" else 4) * non_embedding
            for spec in args.lengths:
                batches = make_batches(spec, size["family"], args.batch, min(8, max(1, args.steps)), args.seed)
                for mode in ("padded", "padding-free"):
                    label = f"{size_name} {method} {spec} {mode}"
                    if time.perf_counter() > deadline:
                        skipped.append(label)
                        continue
                    result = train_config(model, batches, padding_free=mode == "padding-free", device=device,
                                          steps=args.steps, warmup=args.warmup)
                    seconds = result["seconds"]
                    row = {"size": size_name + (" (tiny: dry run)" if args.dry_run else ""), "method": method, "lengths": spec, "mode": mode,
                           "batch": args.batch, "parameters": total, "non_embedding_parameters": non_embedding,
                           "lora_targets": targets, **result,
                           "samples_per_s": result["samples"] / seconds,
                           "real_tokens_per_s": result["real_tokens"] / seconds,
                           "padding_share": 1 - result["real_tokens"] / result["padded_tokens"],
                           "mfu": flops_per_token * result["real_tokens"] / seconds / args.peak_flops}
                    rows.append(row)
                    print(f"  {label}: {row['samples_per_s']:,.0f} samples/s, {row['real_tokens_per_s']:,.0f} tokens/s,"
                          f" MFU {row['mfu']:.1%}, peak {row['peak_gib'] or 0:.2f} GiB", file=sys.stderr, flush=True)
            del model
            gc.collect()
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
    return rows, skipped


def bench_space(args: argparse.Namespace, device: str, work: Path) -> dict[str, Any]:
    """The Space backend's classify (adapter + base probe) of N x L bp on `device`, and CUDA vs CPU probabilities."""
    import numpy as np
    from bench_space import make_adapter

    from hubtune.models.tiny import build_tiny_ntv2
    from hubtune.serving import ModelCache, SpaceBackend

    size = TINY if args.dry_run else {"hidden": 512, "layers": 12, "heads": 16, "intermediate": 2048}
    base = build_tiny_ntv2(work / "ntv2-50m-size", seed=0, hidden_size=size["hidden"],
                           num_hidden_layers=size["layers"], num_attention_heads=size["heads"],
                           intermediate_size=size["intermediate"])
    adapter = make_adapter(str(base), work / "adapter", seed=1, max_length=512, labels=["background", "promoter"])
    def fresh(seed: int) -> list[tuple[str, str]]:  # new sequences each time: nothing answered from a memo
        rng = np.random.default_rng(seed)
        return [(f"s{i + 1}", "".join(rng.choice(list("ACGT"), size=args.space_length)))
                for i in range(args.space_sequences)]

    def timed(records: list[tuple[str, str]]) -> float:
        start = time.perf_counter()
        backend.classify(records, [str(adapter)])
        _sync(device)
        return time.perf_counter() - start

    backend = SpaceBackend(ModelCache(device=device, allow_local_paths=True))
    records = fresh(3)
    first = timed(records)
    warm = [timed(fresh(10 + i)) for i in range(args.space_repeats)]
    repeated = timed(records)
    few = [s for _, s in records[:4]]
    with backend.cache.use(str(adapter)) as clf:
        on_device = np.asarray(clf.predict_proba(few))
    with ModelCache(device="cpu", allow_local_paths=True).use(str(adapter)) as clf:
        on_cpu = np.asarray(clf.predict_proba(few))
    return {"device": device, "model": "tiny NT v2 (dry run)" if args.dry_run else "NT-v2-50m size", "sequences": len(records), "length_bp": args.space_length,
            "first_request_s": first, "classify_with_base_s": statistics.median(warm), "runs": warm,
            "same_request_again_s": repeated,
            "batch_size": backend.batch_size, "max_abs_prob_diff_vs_cpu": float(np.abs(on_device - on_cpu).max())}


def markdown(report: dict[str, Any]) -> str:
    """The training rows and the Space figures as Markdown tables."""
    lines = [f"GPU: {report['gpu']} · torch {report['torch']} · {report['date']} · bf16 autocast, fused AdamW, batch "
             f"{report['batch']}, {report['steps']} timed steps · MFU vs {report['peak_flops'] / 1e12:.0f} TFLOP/s",
             "", "| model | method | tokens/row | mode | samples/s | real tokens/s | MFU | peak memory | "
             "padding-free speed-up |", "|---|---|---|---|--:|--:|--:|--:|--:|"]
    rows = report["training"]
    for row in rows:
        speedup = ""
        if row["mode"] == "padding-free":
            padded = next((r for r in rows if r["mode"] == "padded" and all(
                r[k] == row[k] for k in ("size", "method", "lengths"))), None)
            speedup = f"{padded['seconds'] / row['seconds']:.2f}×" if padded else ""
        peak = f"{row['peak_gib']:.2f} GiB" if row["peak_gib"] is not None else "—"
        spec = row["lengths"].split(":", 1)[1].replace(":", "–")
        lines.append(f"| {row['size']} | {row['method']} | {spec} ({row['padding_share']:.0%} padding) | {row['mode']} "
                     f"| {row['samples_per_s']:,.0f} | {row['real_tokens_per_s']:,.0f} | {row['mfu']:.1%} | {peak} "
                     f"| {speedup} |")
    space = report.get("space")
    if space:
        lines += ["", f"| Space on {space['device']}, {space['model']}, {space['sequences']} × "
                  f"{space['length_bp']} bp, adapter + base probe | s |", "|---|--:|",
                  f"| first request (loads base + adapter) | {space['first_request_s']:.2f} |",
                  f"| warm, new sequences, median of {len(space['runs'])} | {space['classify_with_base_s']:.3f} |",
                  f"| the first request's sequences again | {space['same_request_again_s']:.3f} |",
                  f"| max abs. probability difference vs CPU (4 sequences) | {space['max_abs_prob_diff_vs_cpu']:.1e} |"]
    if report["skipped"]:
        lines += ["", "Skipped (time budget): " + "; ".join(report["skipped"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("bench/gpu.py needs a CUDA GPU (torch.cuda.is_available() is False); use --dry-run to check the script "
              "on CPU.", file=sys.stderr)
        return 2
    device = "cpu" if args.dry_run else "cuda"
    started = time.perf_counter()
    deadline = started + args.budget_s
    torch.backends.cuda.matmul.allow_tf32 = True
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else f"none (dry run on {platform.machine()} CPU)",
        "dry_run": args.dry_run, "batch": args.batch, "steps": args.steps, "peak_flops": args.peak_flops,
    }
    print("training ...", file=sys.stderr, flush=True)
    report["training"], report["skipped"] = bench_training(args, device, deadline)
    if args.space_sequences:
        if time.perf_counter() > deadline:
            report["skipped"].append("space")
        else:
            print("space ...", file=sys.stderr, flush=True)
            with tempfile.TemporaryDirectory(prefix="hubtune-gpu-") as tmp:
                report["space"] = bench_space(args, device, Path(tmp))
    report["total_s"] = time.perf_counter() - started
    text = markdown(report)
    print(json.dumps(report, indent=2))
    print()
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
