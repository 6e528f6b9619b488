"""hubtune's `hubtune train` command vs an imitation of the DNABERT-2 repository's `finetune/train.py`, side by side.

Both recipes train LoRA on the same random-weight DNABERT-2 checkpoint in the published layout (with the real BPE
tokenizer from ../shared/models/dnabert2-tokenizer), on the same GUE task, with the same steps, batch size, learning
rate, warm-up, weight decay, seed and LoRA rank / alpha / dropout, both through hubtune's native model class:

  reference        bench/reference_recipe.py: every split padded once to its longest, plain Trainer (random
                   batches), LoRA on Wqkv, evaluation on test at the end only (no in-loop evaluation, no checkpoints)
  hubtune          `hubtune train ... --lora-targets Wqkv`: the whole command (baselines and diagnostics included)
  hubtune-lean     the same with --no-baselines --no-diagnostics
  hubtune-default  --no-baselines --no-diagnostics with hubtune's default LoRA targets
  reference-bf16   the reference with the Trainer's --bf16 (CPU autocast: AMX / AVX512-BF16)
  hubtune-bf16     hubtune-lean with --precision bf16 (the same autocast; fp32 stays hubtune's CPU default)

Each run is its own subprocess: whole-command wall time is measured from its start to its exit, peak RSS is the
child's maximum resident set (`os.wait4`, the VmHWM of the process). Training throughput is the Trainer's own
`train_samples_per_second` on both sides (steps x batch / `train_runtime`; hubtune's includes its in-loop evaluation
and checkpoints, which are part of its training loop). Runs are interleaved (A B C D, D C B A, ...) and medians
reported, so machine load hits every recipe alike: read the ratios. hubtune runs get an empty cache folder each
(`HUBTUNE_CACHE`), i.e. first-run figures, unless --warm-cache.

Settings (--settings):
  small20   hidden 64, 2 layers, GUE prom_core_tata, max length 20 tokens, batch 32, 200 steps
  small128  hidden 64, 2 layers, GUE prom_300_tata, max length 128, batch 32, 100 steps
  117m      DNABERT-2-117M size (hidden 768, 12 layers, 12 heads, FFN 3072), prom_300_tata, max length 128, batch 8,
            15 steps

Prints a Markdown table (ratio > 1: hubtune faster / smaller), no assertion.

    python bench/bench_train.py --settings small20,small128,117m --repeats 3 --json bench-train.json
    python bench/bench_train.py --settings small20 --repeats 1 --steps 20      # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VARIANTS = ("reference", "hubtune", "hubtune-lean", "hubtune-default", "reference-bf16", "hubtune-bf16")
LORA = {"r": 8, "alpha": 16, "dropout": 0.05}
WARMUP_RATIO = 0.05  # hubtune's default; the reference gets the same number of warm-up steps
WEIGHT_DECAY = 0.01
SEED = 42


@dataclass(frozen=True)
class Setting:
    """One row group of the table: model size, task, token window, batch and steps."""

    name: str
    title: str
    task: str  # GUE folder under --gue
    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_length: int
    batch: int
    steps: int


SETTINGS = {
    "small20": Setting("small20", "small model (hidden 64, 2 layers), GUE prom_core_tata, max len 20, batch 32",
                       "prom/prom_core_tata", 64, 2, 1, 256, 20, 32, 200),
    "small128": Setting("small128", "small model, GUE prom_300_tata, max len 128, batch 32",
                        "prom/prom_300_tata", 64, 2, 1, 256, 128, 32, 100),
    "117m": Setting("117m", "DNABERT-2-117M size, prom_300_tata, max len 128, batch 8",
                    "prom/prom_300_tata", 768, 12, 12, 3072, 128, 8, 15),
}


def build_model(path: Path, setting: Setting, tokenizer_dir: Path) -> Path:
    """A random-weight DNABERT-2 checkpoint in the published layout with the real BPE tokenizer (built once).

    Example:
        >>> build_model(Path("models/small20"), SETTINGS["small20"], SHARED / "models" / "dnabert2-tokenizer")  # doctest: +SKIP
    """
    if (path / "config.json").exists():
        return path
    from hubtune.models.tiny import build_tiny_dnabert2

    tokenizer_vocab = len(json.loads((tokenizer_dir / "tokenizer.json").read_text())["model"]["vocab"])
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    build_tiny_dnabert2(partial, hidden_size=setting.hidden, num_hidden_layers=setting.layers,
                        num_attention_heads=setting.heads, intermediate_size=setting.intermediate,
                        vocab_size=tokenizer_vocab)
    model_vocab = json.loads((partial / "config.json").read_text())["vocab_size"]
    if model_vocab < tokenizer_vocab:
        raise SystemExit(f"the built model has {model_vocab} token embeddings, the tokenizer {tokenizer_vocab}")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(tokenizer_dir / name, partial / name)
    partial.rename(path)
    return path


def command(variant: str, setting: Setting, model: Path, data: Path, out: Path, lr: float, eval_batch: int,
            reference_eval_steps: int = 0) -> list[str]:
    """The command line of one run. `reference_eval_steps` > 0 gives the reference the published scripts' in-loop
    schedule (evaluate on dev and checkpoint every that many steps, keep the best by loss); 0: evaluation at the end.

    Example:
        >>> command("hubtune-lean", SETTINGS["small20"], Path("m"), Path("d"), Path("o"), 5e-4, 16)[1:4]
        ['-m', 'hubtune.cli', 'train']
    """
    steps, batch = setting.steps, setting.batch
    if variant.startswith("reference"):
        schedule = ["--eval_strategy", "no", "--save_strategy", "no"]
        if variant == "reference-bf16":
            schedule += ["--bf16", "True", "--use_cpu", "True"]
        if reference_eval_steps:
            schedule = ["--eval_strategy", "steps", "--save_strategy", "steps", "--eval_steps",
                        str(reference_eval_steps), "--save_steps", str(reference_eval_steps),
                        "--load_best_model_at_end", "True", "--save_total_limit", "3"]
        return [sys.executable, str(ROOT / "bench" / "reference_recipe.py"), "--model_name_or_path", str(model),
                "--data_path", str(data), "--use_lora", "--lora_target_modules", "Wqkv",
                "--lora_r", str(LORA["r"]), "--lora_alpha", str(LORA["alpha"]), "--lora_dropout", str(LORA["dropout"]),
                "--model_max_length", str(setting.max_length), "--per_device_train_batch_size", str(batch),
                "--per_device_eval_batch_size", str(eval_batch), "--max_steps", str(steps),
                "--learning_rate", str(lr), "--warmup_steps", str(int(WARMUP_RATIO * steps)),
                "--weight_decay", str(WEIGHT_DECAY), "--seed", str(SEED), "--logging_steps", "100000",
                "--report_to", "none", "--disable_tqdm", "True", "--output_dir", str(out), *schedule]
    cmd = [sys.executable, "-m", "hubtune.cli", "train", "--model", str(model), "--data", str(data),
           "--method", "lora", "--max-steps", str(steps), "--batch-size", str(batch),
           "--max-length", str(setting.max_length), "--lr", str(lr), "--seed", str(SEED),
           "--lora-r", str(LORA["r"]), "--lora-alpha", str(LORA["alpha"]), "--lora-dropout", str(LORA["dropout"]),
           "--patience", "0", "--output", str(out)]  # no early stopping: both sides train every step
    if variant in ("hubtune", "hubtune-lean", "hubtune-bf16"):
        cmd += ["--lora-targets", "Wqkv"]
    if variant in ("hubtune-lean", "hubtune-default", "hubtune-bf16"):
        cmd += ["--no-baselines", "--no-diagnostics"]
    if variant == "hubtune-bf16":
        cmd += ["--precision", "bf16"]
    return cmd


def run_child(cmd: list[str], env: dict[str, str], log_dir: Path) -> tuple[float, float, int, str]:
    """Run one command; returns (wall seconds, peak RSS in MB, exit code, its stdout). stderr goes to a log file."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "stdout.txt", "w") as out, open(log_dir / "stderr.txt", "w") as err:
        start = time.perf_counter()
        process = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): leave no run behind
            process.kill()
            process.wait()
            raise
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, process.returncode, (log_dir / "stdout.txt").read_text()


def parse_reference(stdout: str) -> dict[str, Any]:
    """The reference recipe's summary line."""
    summary = json.loads(stdout.strip().splitlines()[-1])
    return {"train_samples_per_second": summary["train_samples_per_second"], "train_runtime": summary["train_runtime"],
            "test_mcc": summary.get("test_mcc"), "padded_width": summary["padded_width"]["train"]}


def parse_hubtune(run_folder: Path) -> dict[str, Any]:
    """Throughput, training time, in-loop evaluation time and test MCC from a hubtune run folder."""
    log = json.loads((run_folder / "training_log.json").read_text())
    history = next(iter(log.values()))
    final = next(entry for entry in reversed(history) if "train_runtime" in entry)
    metrics = json.loads((run_folder / "metrics.json").read_text())
    in_loop_eval = sum(entry.get("eval_runtime", 0.0) for entry in history)
    samples = final["train_samples_per_second"] * final["train_runtime"]
    return {"train_samples_per_second": final["train_samples_per_second"], "train_runtime": final["train_runtime"],
            "in_loop_eval_s": in_loop_eval,
            "train_samples_per_second_without_eval": samples / max(1e-9, final["train_runtime"] - in_loop_eval),
            "evaluations": sum(1 for entry in history if "eval_runtime" in entry),
            "test_mcc": metrics["finetuned"]["test"]["mcc"],
            "train_seconds": json.loads((run_folder / "hubtune.json").read_text()).get("train_seconds")}


def run_once(variant: str, setting: Setting, model: Path, data: Path, work: Path, index: int,
             args: argparse.Namespace) -> dict[str, Any]:
    """One run of one recipe, in its own subprocess; raises SystemExit with its log tail if it fails."""
    out = work / "runs" / f"{setting.name}-{variant}-{index}"
    leftovers = (out, out.with_name(out.name + ".partial"))  # a run folder and hubtune's staging folder
    for folder in leftovers:
        shutil.rmtree(folder, ignore_errors=True)
    env = {**os.environ, "HUBTUNE_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if not variant.startswith("reference"):
        cache = work / "cache" / (setting.name if args.warm_cache else out.name)
        env["HUBTUNE_CACHE"] = str(cache)
    if args.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    cmd = command(variant, setting, model, data, out, args.lr, args.reference_eval_batch or setting.batch,
                  args.reference_eval_steps)
    wall, rss, code, stdout = run_child(cmd, env, work / "logs" / out.name)
    if code != 0:
        tail = (work / "logs" / out.name / "stderr.txt").read_text()[-3000:]
        raise SystemExit(f"{variant} failed (exit {code}): {' '.join(cmd)}\n{tail}")
    result = parse_reference(stdout) if variant.startswith("reference") else parse_hubtune(out)
    result.update(variant=variant, setting=setting.name, wall_s=wall, peak_rss_mb=rss)
    for folder in leftovers:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per variant, the median of every numeric figure over its runs."""
    table: dict[str, dict[str, float]] = {}
    for variant in {r["variant"] for r in runs}:
        mine = [r for r in runs if r["variant"] == variant]
        keys = [k for k, v in mine[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
        table[variant] = {k: statistics.median(r[k] for r in mine if r.get(k) is not None) for k in keys
                          if any(r.get(k) is not None for r in mine)}
        table[variant]["runs"] = len(mine)
    return table


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    if kind == "s":
        return f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"
    if kind == "mb":
        return f"{value:,.0f} MB"
    return f"{value:.3f}"


def table_rows(setting: Setting, med: dict[str, dict[str, float]]) -> list[str]:
    """The Markdown rows of one setting (ratio > 1: hubtune faster / smaller)."""
    ref, hub, lean, default, ref_bf16, hub_bf16 = (med.get(v, {}) for v in VARIANTS)
    train_hub = lean or hub  # training throughput: the Wqkv run without baselines / diagnostics where there is one

    def row(label: str, left: float | None, right: float | None, kind: str, higher_is_better: bool,
            right_label: str = "") -> str:
        ratio = "—"
        if left and right:
            ratio = f"{(right / left) if higher_is_better else (left / right):.2f}×"
        return f"| {label} | {_fmt(left, kind)} | {right_label}{_fmt(right, kind)} | {ratio} |"

    steps = f"{setting.steps} steps"
    rows = [
        row(f"{setting.title}, {steps} — training samples/s", ref.get("train_samples_per_second"),
            train_hub.get("train_samples_per_second"), "rate", True),
        row("same — training samples/s without hubtune's in-loop dev evaluation", ref.get("train_samples_per_second"),
            train_hub.get("train_samples_per_second_without_eval"), "rate", True),
        row("same — training time", ref.get("train_runtime"), train_hub.get("train_runtime"), "s", False),
    ]
    if hub:
        rows.append(row("same — whole command wall time", ref.get("wall_s"), hub.get("wall_s"), "s", False))
    if lean:
        rows.append(row("same — whole command wall time, hubtune with `--no-baselines --no-diagnostics`",
                        ref.get("wall_s"), lean.get("wall_s"), "s", False))
    if hub.get("wall_s") and lean.get("wall_s"):
        extra = max(0.0, hub["wall_s"] - lean["wall_s"])
        rows.append(f"| same — baselines and diagnostics: their time and share of hubtune's whole command | — | "
                    f"{_fmt(extra, 's')} | {extra / hub['wall_s']:.0%} |")
    for name, values in (("", hub), (", `--no-baselines --no-diagnostics`", lean)):
        if values:
            rows.append(row(f"same — peak RSS{name}", ref.get("peak_rss_mb"), values.get("peak_rss_mb"), "mb", False))
    rows.append(f"| same — test MCC (random weights) | {_fmt(ref.get('test_mcc'), 'mcc')} | "
                f"{_fmt(train_hub.get('test_mcc'), 'mcc')} | — |")
    if hub_bf16:
        rows.append(row("same — training samples/s, hubtune `--precision bf16` vs the reference (fp32)",
                        ref.get("train_samples_per_second"), hub_bf16.get("train_samples_per_second"), "rate", True))
        rows.append(row("same — the same without hubtune's in-loop dev evaluation", ref.get("train_samples_per_second"),
                        hub_bf16.get("train_samples_per_second_without_eval"), "rate", True))
        rows.append(row("same — whole command wall time, hubtune `--precision bf16 --no-baselines --no-diagnostics`",
                        ref.get("wall_s"), hub_bf16.get("wall_s"), "s", False))
        rows.append(f"| same — test MCC, hubtune bf16 (random weights) | {_fmt(ref.get('test_mcc'), 'mcc')} | "
                    f"{_fmt(hub_bf16.get('test_mcc'), 'mcc')} | — |")
    if hub_bf16 and ref_bf16:
        rows.append(row("same — training samples/s, both bf16 (reference `--bf16`), hubtune without its dev evaluation",
                        ref_bf16.get("train_samples_per_second"), hub_bf16.get("train_samples_per_second_without_eval"),
                        "rate", True))
        rows.append(row("same — whole command wall time, both bf16", ref_bf16.get("wall_s"), hub_bf16.get("wall_s"),
                        "s", False))
    if default and train_hub:
        d, w = default.get("train_samples_per_second"), train_hub.get("train_samples_per_second")
        ratio = f"{d / w:.2f}×" if d and w else "—"
        rows.append(f"| same — hubtune's default LoRA targets vs Wqkv only: training samples/s | — | "
                    f"{_fmt(d, 'rate')} vs {_fmt(w, 'rate')} | {ratio} |")
    return rows


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", default="small20,small128,117m", help=f"comma-separated of {', '.join(SETTINGS)}")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each recipe per setting (medians reported)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated of {', '.join(VARIANTS)}")
    parser.add_argument("--steps", type=int, default=0, help="override every setting's steps (quick checks)")
    parser.add_argument("--lr", type=float, default=5e-4, help="learning rate of both recipes (hubtune's LoRA default)")
    parser.add_argument("--reference-eval-batch", type=int, default=0,
                        help="the reference's per_device_eval_batch_size (default: the training batch size)")
    parser.add_argument("--reference-eval-steps", type=int, default=0,
                        help="give the reference in-loop dev evaluation + checkpoints every N steps, as the published "
                             "scripts do with 200 (default 0: evaluation on test at the end only)")
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for every run (0: leave as is)")
    parser.add_argument("--warm-cache", action="store_true",
                        help="share hubtune's cache folder between the runs of a setting (repeat-run figures)")
    parser.add_argument("--gue", type=Path, default=SHARED / "data" / "GUE", help="the GUE benchmark folder")
    parser.add_argument("--tokenizer", type=Path, default=SHARED / "models" / "dnabert2-tokenizer")
    parser.add_argument("--work", type=Path, help="keep models, logs and runs here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write every run and the medians here")
    args = parser.parse_args(argv)
    unknown = [s for s in args.settings.split(",") if s not in SETTINGS]
    unknown += [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown setting or variant: {', '.join(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that a running child is stopped too
    settings = [SETTINGS[s] for s in args.settings.split(",")]
    if args.steps:
        settings = [Setting(**{**asdict(s), "steps": args.steps}) for s in settings]
    variants = [v for v in VARIANTS if v in args.variants.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="hubtune-bench-train-"))
    sys.path.insert(0, str(ROOT))
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
                              "cpus": os.cpu_count(), "threads": args.threads or None, "settings": {}}
    lines = ["| setting | reference | hubtune | ratio |", "|---|--:|--:|--:|"]
    try:
        for setting in settings:
            data = args.gue / setting.task
            if not (data / "train.csv").exists():
                raise SystemExit(f"{data}/train.csv not found: pass --gue (the GUE benchmark folder)")
            model = build_model(work / "models" / setting.name, setting, args.tokenizer)
            runs: list[dict[str, Any]] = []
            for index in range(args.repeats):
                for variant in variants if index % 2 == 0 else variants[::-1]:
                    result = run_once(variant, setting, model, data, work, index, args)
                    runs.append(result)
                    print(f"[{setting.name} {index + 1}/{args.repeats}] {variant:16s} "
                          f"{result['train_samples_per_second']:9.1f} samples/s  train {result['train_runtime']:7.2f} s"
                          f"  wall {result['wall_s']:7.1f} s  peak RSS {result['peak_rss_mb']:6.0f} MB  "
                          f"test MCC {result['test_mcc']:.3f}", file=sys.stderr, flush=True)
            med = medians(runs)
            report["settings"][setting.name] = {"setting": asdict(setting), "runs": runs, "medians": med}
            lines += table_rows(setting, med)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(f"\nLoRA, interleaved runs, medians of {args.repeats}; {report['cpus']} CPUs "
          f"({report['machine']}), {report['date']}. Ratio > 1: hubtune faster / smaller.\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
