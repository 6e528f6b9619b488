"""LoRA fine-tuning throughput and peak memory: hubtune's recipe vs the reference recipe, same model and data.

Reference recipe (how the DNABERT-2 repository's train.py behaves): plain Trainer, each split tokenized once and padded
to its longest sequence (capped at the max length), eager attention, random (not length-grouped) batches.
hubtune's recipe: tokenized once, padded per batch (dynamic padding), length-grouped batches, SDPA attention.

Each recipe runs in its own subprocess so peak RSS is measured separately. Prints a table with ratios; no assertion.

    python bench/bench_train.py --data ../shared/data/GUE/EMP/H3 --steps 60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HUBTUNE_NO_PROGRESS", "1")


def build_model(path: Path, hidden: int, layers: int, family: str = "nt") -> None:
    """A checkpoint of a chosen size with random weights (speed does not depend on the weights).

    family "nt": the NT v1 layout (6-mer tokens: every sequence of one length has one token count).
    family "dnabert2": the DNABERT-2 layout with the real BPE tokenizer (token counts vary from sequence to sequence,
    which is where padding every sequence to the split's longest costs most).
    """
    if family == "dnabert2":
        import shutil

        from hubtune.models.tiny import build_tiny_dnabert2

        tokenizer_dir = Path(__file__).resolve().parents[1] / ".." / "shared" / "models" / "dnabert2-tokenizer"
        build_tiny_dnabert2(path, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64),
                            intermediate_size=4 * hidden, vocab_size=4096)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(tokenizer_dir / name, path / name)
        return
    import torch
    from transformers import EsmConfig, EsmForMaskedLM

    from hubtune.models.tiny import nt_vocabulary, write_nt_tokenizer

    config = EsmConfig(vocab_size=len(nt_vocabulary()), hidden_size=hidden, num_hidden_layers=layers,
                       num_attention_heads=max(1, hidden // 64), intermediate_size=4 * hidden,
                       max_position_embeddings=1002, position_embedding_type="absolute", token_dropout=True,
                       pad_token_id=1, mask_token_id=2, emb_layer_norm_before=False, tie_word_embeddings=False)
    torch.manual_seed(0)
    EsmForMaskedLM(config).save_pretrained(str(path))
    write_nt_tokenizer(path)


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (psutil; the peak where the platform reports it)."""
    import psutil

    memory = psutil.Process().memory_info()
    peak_bytes = getattr(memory, "peak_wset", None)  # Windows
    return peak_bytes / 2**20 if peak_bytes else (_linux_peak_kib() / 1024 or memory.rss / 2**20)


def _linux_peak_kib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def run_recipe(recipe: str, model_dir: str, data: str, steps: int, batch_size: int, method: str) -> dict:
    import numpy as np
    import torch
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, set_seed

    from hubtune import data as data_module
    from hubtune.evaluate import predict_logits
    from hubtune.methods import make_method
    from hubtune.metrics import compute_metrics, softmax
    from hubtune.models import load_base_model, load_tokenizer, resolve_model
    from hubtune.train import tokenize_split

    task = data_module.load_task(data)
    train_split = task.splits["train"]
    test = task.splits["test"]
    resolved = resolve_model(model_dir)
    tokenizer = load_tokenizer(model_dir, resolved=resolved)
    max_length = resolved.family.default_max_length(max(len(s) for s in train_split.sequences))
    set_seed(0)
    attn = "sdpa" if recipe == "hubtune" else "eager"
    model = load_base_model(model_dir, len(task.label_names), resolved=resolved, attn_implementation=attn)
    model = make_method(method).prepare(model, resolved.family)
    common = dict(output_dir=tempfile.mkdtemp(), max_steps=steps, per_device_train_batch_size=batch_size,
                  learning_rate=5e-4, report_to="none", save_strategy="no", eval_strategy="no", logging_steps=10_000,
                  disable_tqdm=True, seed=0, use_cpu=not torch.cuda.is_available(), remove_unused_columns=False)
    if recipe == "hubtune":
        dataset = tokenize_split(tokenizer, train_split.sequences, train_split.labels, max_length)
        args = TrainingArguments(train_sampling_strategy="group_by_length", **common)
        collator = DataCollatorWithPadding(tokenizer)
    else:
        enc = tokenizer(train_split.sequences, padding="longest", truncation=True, max_length=max_length)
        dataset = [{"input_ids": i, "attention_mask": m, "labels": y}
                   for i, m, y in zip(enc["input_ids"], enc["attention_mask"], train_split.labels, strict=True)]
        args = TrainingArguments(**common)
        collator = DataCollatorWithPadding(tokenizer)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    probs = softmax(predict_logits(trainer.model, tokenizer, test.sequences, max_length=max_length))
    mcc = compute_metrics(test.labels, probs)["mcc"]
    lengths = [len(x) for x in tokenizer(train_split.sequences, truncation=True, max_length=max_length)["input_ids"]]
    return {
        "recipe": recipe,
        "sequences_per_s": steps * batch_size / seconds,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "test_mcc": mcc,
        "max_length": max_length,
        "mean_tokens": float(np.mean(lengths)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "GUE" / "EMP" / "H3"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="lora")
    parser.add_argument("--family", default="nt", choices=["nt", "dnabert2"],
                        help="model layout; dnabert2 uses the real BPE tokenizer from ../shared/models")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_recipe(args.child, args.model_dir, args.data, args.steps, args.batch_size, args.method)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(args.data)
        if not (data_dir / "train.csv").exists():
            # GUE's EMP/H3 copy ships dev + test only: train on dev, evaluate on test.
            import shutil

            data_dir = Path(tmp) / "task"
            data_dir.mkdir()
            shutil.copy(Path(args.data) / "dev.csv", data_dir / "train.csv")
            shutil.copy(Path(args.data) / "test.csv", data_dir / "dev.csv")
            shutil.copy(Path(args.data) / "test.csv", data_dir / "test.csv")
        args.data = str(data_dir)
        model_dir = Path(tmp) / "model"
        build_model(model_dir, args.hidden, args.layers, args.family)
        results = {}
        for recipe, method in (("reference", "lora"), ("hubtune", "lora"), ("hubtune-full", "full")):
            child = "hubtune" if recipe.startswith("hubtune") else "reference"
            out = subprocess.run([sys.executable, __file__, "--child", child, "--model-dir", str(model_dir), "--data",
                                  args.data, "--steps", str(args.steps), "--batch-size", str(args.batch_size),
                                  "--method", method], capture_output=True, text=True, check=True)
            results[recipe] = json.loads(out.stdout.strip().splitlines()[-1])
    ref, ours, full = results["reference"], results["hubtune"], results["hubtune-full"]
    print(f"model: {args.family} layout, hidden {args.hidden}, {args.layers} layers (random weights); data {args.data}; "
          f"{args.steps} steps x batch {args.batch_size}; max length {ours['max_length']} tokens, mean "
          f"{ours['mean_tokens']:.1f}")
    print(f"{'recipe':28s} {'seq/s':>8s} {'peak RSS MB':>12s} {'test MCC':>9s}")
    for name, r in (("reference (pad-to-longest, eager)", ref), ("hubtune LoRA", ours), ("hubtune full fine-tuning", full)):
        print(f"{name:28s} {r['sequences_per_s']:8.1f} {r['peak_rss_mb']:12.0f} {r['test_mcc']:9.3f}")
    print(f"throughput ratio hubtune/reference: {ours['sequences_per_s'] / ref['sequences_per_s']:.2f}x")
    print(f"peak memory LoRA/full: {ours['peak_rss_mb'] / full['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
