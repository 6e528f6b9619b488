"""The `hubtune` command line. Parsing, progress and error reporting only; the work happens in the library.

Every user mistake surfaces as a `HubtuneError`: printed as one paragraph without a traceback, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

from .errors import ConfigError, HubtuneError


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _str_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sequence-column", default="sequence", help="column holding the DNA (CSV/TSV/Parquet)")
    p.add_argument("--label-column", default="label", help="column holding the label (CSV/TSV/Parquet)")
    p.add_argument("--labels-file", help="CSV id,label for a FASTA file whose headers carry no label")
    p.add_argument("--max-rows", type=int, help="use at most this many rows per split (quick experiments)")


def _add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="tiny-nt", help="Hub id, local folder or tiny name (tiny-nt, tiny-dnabert2, tiny-ntv2)")
    p.add_argument("--data", required=True, help="GUE-style folder, CSV/TSV/Parquet/FASTA file, or a dataset id")
    p.add_argument("--method", default="lora", help="lora | full | freeze | probe")
    p.add_argument("--output", help="run folder to write (default runs/<task>-<method>)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=float, default=3.0)
    length.add_argument("--max-steps", type=int)
    p.add_argument("--lr", type=float, help="learning rate (default: lora 5e-4, full 5e-5, freeze 1e-4)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps")
    p.add_argument("--max-length", type=int, help="max tokens per sequence (default: from the longest sequence)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=42)
    seeds.add_argument("--seeds", type=_int_list, help="several seeds, e.g. 1,2,3: reports mean ± sd")
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=int, default=16)
    p.add_argument("--lora-dropout", type=float, default=0.05)
    p.add_argument("--lora-targets", type=_str_list, help="comma-separated module names (default: the family's)")
    p.add_argument("--freeze-layers", type=int, help="freeze method: embeddings + this many lowest layers")
    p.add_argument("--eval-steps", type=int, help="evaluate on dev every N steps (default: ~10 times per run)")
    p.add_argument("--patience", type=int, default=5, help="early-stopping patience in evaluations (0 disables)")
    p.add_argument("--class-weights", action="store_true", help="weight the loss by inverse class frequency")
    p.add_argument("--dedup", action="store_true", help="remove sequences leaked from train out of dev/test")
    p.add_argument("--trust-remote-code", action="store_true", help="run Python code from the model repo (off by default)")
    p.add_argument("--revision", help="model revision (branch, tag or commit) on the Hub")
    p.add_argument("--precision", default="auto", help="auto | fp32 | bf16 | fp16 (mixed precision on GPUs)")
    p.add_argument("--no-baselines", action="store_true", help="skip the pre-trained probe and k-mer baselines")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--deepspeed", help="DeepSpeed config JSON, passed to the Trainer untouched")
    p.add_argument("--fsdp", help="FSDP options, passed to the Trainer untouched")
    _add_data_options(p)


def _train_config(args: argparse.Namespace):
    from .train import TrainConfig

    extra: dict[str, Any] = {}
    if args.deepspeed:
        extra["deepspeed"] = args.deepspeed
    if args.fsdp:
        extra["fsdp"] = args.fsdp
    return TrainConfig(
        model=args.model, data=args.data, method=args.method, output=args.output, epochs=args.epochs,
        max_steps=args.max_steps, lr=args.lr, batch_size=args.batch_size, grad_accum=args.grad_accum,
        max_length=args.max_length, seed=args.seed, seeds=args.seeds, lora_r=args.lora_r,
        lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout, lora_targets=args.lora_targets,
        freeze_layers=args.freeze_layers, eval_steps=args.eval_steps, patience=args.patience or None,
        class_weights=args.class_weights, dedup=args.dedup, trust_remote_code=args.trust_remote_code,
        revision=args.revision, precision=args.precision, baselines=not args.no_baselines,
        overwrite=args.overwrite, resume=args.resume, sequence_column=args.sequence_column,
        label_column=args.label_column, labels_file=args.labels_file, max_rows=args.max_rows, extra=extra,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from .train import finetune

    run = finetune(_train_config(args))
    if run is None:  # a non-main process under accelerate launch
        return 0
    print(f"\n{run.summary()}\n")
    if not args.no_diagnostics:
        from .diagnostics import diagnose_run, format_verdicts

        print("pitfall diagnostics:")
        print(format_verdicts(diagnose_run(run.path, forgetting=not args.no_forgetting)))
        print()
    print(f"run folder: {run.path}")
    if getattr(args, "push_to", None):
        from .hub import push_run

        url = push_run(run.path, args.push_to, private=args.private)
        print(f"pushed: {url}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from . import data

    task = data.load_task(args.data, sequence_column=args.sequence_column, label_column=args.label_column,
                          labels_file=args.labels_file, max_rows=args.max_rows)
    stats = data.describe(task)
    report = data.leakage_report(task)
    if args.json:
        print(json.dumps({"stats": stats, "leakage": report.to_dict(), "warnings": task.warnings}, indent=2))
        return 0
    print(f"task {task.name} ({task.source}); splits {task.split_origin}")
    print(f"labels: {', '.join(f'{i}={n}' for i, n in enumerate(task.label_names))}")
    for split, s in stats["splits"].items():
        counts = ", ".join(f"{k}: {v}" for k, v in s["class_counts"].items())
        lengths = s["length"]
        print(f"  {split:5s} {s['n']:>7d} sequences; length {lengths['min']}-{lengths['max']} (median "
              f"{lengths['median']}); classes {counts}")
    for warning in task.warnings:
        print(f"warning: {warning}")
    print("leakage:")
    for line in report.summary_lines():
        print(f"  {line}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .train import evaluate_run

    results = evaluate_run(args.run, args.data, max_rows=args.max_rows)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for split, m in results.items():
        auroc = "-" if m["auroc"] is None else f"{m['auroc']:.3f}"
        print(f"{split:5s} n={m['n']:<6d} MCC {m['mcc']:.3f}  F1 {m['f1_macro']:.3f}  acc {m['accuracy']:.3f}  AUROC {auroc}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import csv

    from .data import read_sequences

    records = read_sequences(args.input)
    # A repo id is "name" or "user/name"; anything else that is not on disk is a mistyped run folder.
    looks_like_path = args.run.startswith((".", "/", "~")) or args.run.count("/") > 1
    if looks_like_path and not Path(args.run).exists():
        from .errors import RunFolderError

        raise RunFolderError(f"Run folder {args.run} does not exist. Pass a finished run folder or a Hub repo id (user/name).")
    if Path(args.run).is_dir():
        from .run import Run

        classifier = Run(args.run).classifier()
    else:
        from .hub import load_classifier

        classifier = load_classifier(args.run, revision=args.revision)
    predictions = classifier.predict(records, batch_size=args.batch_size)
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(["id", "label", *[f"p_{name}" for name in classifier.label_names], "windows"])
        for p in predictions:
            writer.writerow([p.id, p.label, *[f"{p.probabilities[n]:.6f}" for n in classifier.label_names], p.windows])
    finally:
        if args.output:
            out.close()
    if args.output:
        print(f"wrote {len(predictions)} predictions to {args.output}", file=sys.stderr)
    return 0


def cmd_probe_layers(args: argparse.Namespace) -> int:
    from .train import probe_layers

    result = probe_layers(args.model, args.data, output=args.output, max_length=args.max_length,
                          max_rows=args.max_rows, trust_remote_code=args.trust_remote_code, seed=args.seed)
    print("layer  dev MCC  test MCC")
    for row in result["layers"]:
        print(f"{row['layer']:>5d}  {row['dev_mcc']:7.3f}  {row['test_mcc']:8.3f}")
    print(f"plot: {result['plot']}\ntable: {result['csv']}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(output=Path(args.output), max_steps=args.max_steps, model=args.model, use_hub=not args.no_hub,
                    serve_space=args.space)


def cmd_push(args: argparse.Namespace) -> int:
    from .hub import push_run

    url = push_run(args.run, args.repo, private=args.private, revision=args.revision, base_repo=args.base_repo,
                   token=args.token, compare_report=args.compare_report)
    print(url)
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from .card import write_card

    path = write_card(args.run, output=args.output, repo_id=args.repo)
    print(path)
    return 0


def cmd_hub_serve(args: argparse.Namespace) -> int:
    from .hub_server import serve

    tokens = {}
    for item in args.token or []:
        token, _, user = item.partition(":")
        if not token or not user:
            raise ConfigError(f"--token must look like TOKEN:USERNAME, got {item.split(':')[0][:4]}... without a user.")
        tokens[token] = user
    if not tokens and os.environ.get("HF_TOKEN"):
        tokens[os.environ["HF_TOKEN"]] = os.environ.get("HUBTUNE_HUB_USER", "demo")
    serve(Path(args.root), host=args.host, port=args.port, tokens=tokens)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import CompareConfig, compare

    config = CompareConfig(
        models=args.models, data=args.data, methods=args.methods, seeds=args.seeds or [42], output=args.output,
        max_steps=args.max_steps, epochs=args.epochs, batch_size=args.batch_size, max_rows=args.max_rows,
        lr=args.lr, split_seed=args.split_seed, patience=args.patience or None, eval_steps=args.eval_steps,
        layer_probe=not args.no_layer_probe, diagnostics=not args.no_diagnostics,
        forgetting_sequences=args.forgetting_sequences, overwrite=args.overwrite,
        trust_remote_code=args.trust_remote_code,
    )
    report = compare(config)
    print(f"report: {report}")
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hubtune",
        description="Fine-tune genomic language models on labelled DNA, compare them with baselines, share them on the Hub.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="fine-tune a model on a labelled DNA task and write a run folder")
    _add_train_options(p)
    p.add_argument("--no-diagnostics", action="store_true", help="skip the pitfall diagnostics after training")
    p.add_argument("--no-forgetting", action="store_true",
                   help="skip the catastrophic-forgetting check (it loads the base model's masked-LM head)")
    p.add_argument("--push-to", help="after training, push the run to this Hub repo (user/name)")
    p.add_argument("--private", action="store_true", help="with --push-to: create a private repo")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("data", help="split sizes, length and class statistics, and the leakage report (no training)")
    p.add_argument("data")
    p.add_argument("--json", action="store_true")
    _add_data_options(p)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("evaluate", help="score a finished run on a labelled dataset")
    p.add_argument("run")
    p.add_argument("--data", required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--max-rows", type=int)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="classify sequences (FASTA/CSV/TXT) with a run folder or a Hub adapter")
    p.add_argument("run", help="run folder or Hub repo id")
    p.add_argument("--input", required=True, help=".fa/.fasta(.gz), .txt (one per line) or .csv with a sequence column")
    p.add_argument("--output", help="CSV to write (default: stdout)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--revision")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("probe-layers", help="probe every layer of a pre-trained model; plot MCC per layer")
    p.add_argument("--model", default="tiny-nt")
    p.add_argument("--data", required=True)
    p.add_argument("--output", default="runs/probe-layers")
    p.add_argument("--max-length", type=int)
    p.add_argument("--max-rows", type=int)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--trust-remote-code", action="store_true")
    p.set_defaults(func=cmd_probe_layers)

    p = sub.add_parser("demo", help="the whole loop offline: tiny model, bundled task, LoRA, baselines, local hub")
    p.add_argument("--output", default="runs/demo")
    p.add_argument("--model", default="tiny-nt")
    p.add_argument("--max-steps", type=int, default=300)
    p.add_argument("--no-hub", action="store_true", help="skip the local hub push/reload part")
    p.add_argument("--space", action="store_true", help="afterwards, serve the Space against the demo's local hub")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("push", help="publish a run folder on the Hub with a generated model card")
    p.add_argument("run")
    p.add_argument("--repo", required=True, help="user/name")
    p.add_argument("--private", action="store_true")
    p.add_argument("--revision", help="branch to push to")
    p.add_argument("--base-repo", help="where the base model lives on that hub (for local/tiny bases)")
    p.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login)")
    p.add_argument("--compare-report", help="a `hubtune compare` report folder to attach to the card")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("card", help="write the model card of a run locally for preview")
    p.add_argument("run")
    p.add_argument("--output", help="file to write (default RUN/README.md)")
    p.add_argument("--repo", help="repo id the card will live at (for the usage snippet)")
    p.set_defaults(func=cmd_card)

    p = sub.add_parser("hub", help="the local Hub-compatible server")
    hub_sub = p.add_subparsers(dest="hub_command", required=True, metavar="HUB_COMMAND")
    s = hub_sub.add_parser("serve", help="serve a Hub-compatible API for offline use (binds 127.0.0.1)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--root", default=os.path.expanduser("~/.cache/hubtune/hub"))
    s.add_argument("--token", action="append", help="TOKEN:USERNAME allowed to write (repeatable)")
    s.set_defaults(func=cmd_hub_serve)

    p = sub.add_parser("compare", help="methods x models x tasks grid with pitfall diagnostics and a report")
    p.add_argument("--models", type=_str_list, required=True)
    p.add_argument("--data", type=_str_list, required=True)
    p.add_argument("--methods", type=_str_list, default=["lora", "full", "freeze", "probe"])
    p.add_argument("--seeds", type=_int_list)
    p.add_argument("--output", default="runs/compare")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float)
    p.add_argument("--max-rows", type=int, help="use at most this many rows per split")
    p.add_argument("--split-seed", type=int, default=42, help="seed of the train/dev/test split when one is drawn")
    p.add_argument("--patience", type=int, default=5, help="early-stopping patience in evaluations (0 disables)")
    p.add_argument("--eval-steps", type=int)
    p.add_argument("--no-layer-probe", action="store_true", help="skip probing every layer")
    p.add_argument("--no-diagnostics", action="store_true", help="skip the pitfall diagnostics")
    p.add_argument("--forgetting-sequences", type=int, default=256,
                   help="held-out sequences used for the masked-LM forgetting check")
    p.add_argument("--overwrite", action="store_true", help="re-run cells whose settings changed")
    p.add_argument("--trust-remote-code", action="store_true")
    p.set_defaults(func=cmd_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .progress import progress_enabled

    if not progress_enabled():
        # transformers and huggingface_hub read this when first imported: no bars in logs and CI output.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        return int(args.func(args) or 0)
    except HubtuneError as exc:
        message = textwrap.fill(str(exc), width=100, break_long_words=False, break_on_hyphens=False)
        print(f"hubtune: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hubtune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
