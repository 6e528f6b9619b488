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

from .cli_options import HelpParser, add_dataclass_options, add_method_options, config_from_args, method_from_args
from .errors import ConfigError, HubtuneError

DATA_OPTIONS = ("sequence_column", "label_column", "label_columns", "problem_type", "labels_file", "max_rows",
                "data_seed", "label_names")


def require_model(args: argparse.Namespace) -> None:
    """Raise ConfigError (listing the model families and the tiny stand-ins) when `--model` was not given.

    Example:
        >>> require_model(build_parser().parse_args(["train", "--data", "d"]))  # doctest: +SKIP
        Traceback (most recent call last):
        hubtune.errors.ConfigError: No model given: pass --model ...
    """
    if not getattr(args, "model", None):
        from .config import no_model_message

        raise ConfigError(no_model_message())


def train_config_from_args(args: argparse.Namespace):
    """The `TrainConfig` of parsed `hubtune train` options (the chosen method configured from its own options)."""
    from .config import TrainConfig

    return config_from_args(args, TrainConfig, method=method_from_args(args, args.method))


# ---------------------------------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    require_model(args)  # before the heavy imports
    from .tables import comparison_table
    from .train import finetune

    run = finetune(train_config_from_args(args))
    if run is None:  # a non-main process under accelerate launch
        return 0
    print(f"\n{comparison_table(run.metrics).text()}\n")
    if not args.no_diagnostics:
        from .diagnostics import diagnose_run, format_verdicts

        print("pitfall diagnostics:")
        print(format_verdicts(diagnose_run(run.path, forgetting=not args.no_forgetting)))
        print()
    print(f"run folder: {run.path}")
    if getattr(args, "push_to", None):
        from .hub import push_to_hub

        url = push_to_hub(run.path, args.push_to, private=args.private)
        print(f"pushed: {url}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from . import data
    from .config import task_options
    from .data.balance import imbalance_warnings
    from .problems import get_problem

    task = data.load_task(args.data, **task_options(args))
    stats = data.describe(task)
    report = data.leakage_report(task)
    warnings = [*task.warnings, *imbalance_warnings(task)]
    if args.json:
        print(json.dumps({"stats": stats, "leakage": report.to_dict(), "warnings": warnings}, indent=2))
        return 0
    print(f"task {task.name} ({task.source}); splits {task.split_origin}")
    kind = get_problem(task.problem_type)
    print(f"{kind.description}; {kind.output_kind}s: {', '.join(f'{i}={n}' for i, n in enumerate(task.label_names))}")
    for split, s in stats["splits"].items():
        lengths = s["length"]
        print(f"  {split:5s} {s['n']:>7d} sequences; length {lengths['min']}-{lengths['max']} (median "
              f"{lengths['median']}); {_label_counts(s)}")
    for warning in warnings:
        print(f"warning: {warning}")
    print("leakage:")
    for line in report.summary_lines():
        print(f"  {line}")
    return 0


def _label_counts(split_stats: dict[str, Any]) -> str:
    """One split's label summary as text: class counts, rows per label, or target mean ± sd."""
    if "target_stats" in split_stats:
        return "targets " + ", ".join(f"{k}: {v['mean']:.3g} ± {v['sd']:.3g}" if v else f"{k}: -"
                                      for k, v in split_stats["target_stats"].items())
    if "label_counts" in split_stats:
        return "rows per label " + ", ".join(f"{k}: {v}" for k, v in split_stats["label_counts"].items())
    return "classes " + ", ".join(f"{k}: {v}" for k, v in split_stats["class_counts"].items())


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .predict import evaluate_run

    results = evaluate_run(args.run, args.data, max_rows=args.max_rows)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for split, m in results.items():
        print(f"{split:5s} n={m['n']:<6d} " + "  ".join(f"{label} {_num(m.get(key))}" for key, label in _EVAL_COLUMNS
                                                         if key in m))
    return 0


# What `hubtune evaluate` prints per split, for whichever problem type the metrics are of.
_EVAL_COLUMNS = (("mcc", "MCC"), ("f1_macro", "F1"), ("accuracy", "acc"), ("auroc", "AUROC"),
                 ("auprc_macro", "macro AUPRC"), ("auroc_macro", "macro AUROC"), ("f1_micro", "micro F1"),
                 ("spearman", "Spearman"), ("pearson", "Pearson"), ("r2", "R²"), ("mse", "MSE"))


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def cmd_predict(args: argparse.Namespace) -> int:
    import csv

    from .data import read_sequences
    from .predict import load_classifier

    records = read_sequences(args.input)
    classifier = load_classifier(args.run, revision=args.revision)
    predictions = classifier.predict(records, batch_size=args.batch_size)
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(out)
        names = classifier.label_names
        if not classifier.problem.is_classification:  # regression: one value per target
            writer.writerow(["id", *names, "windows"])
            for p in predictions:
                writer.writerow([p.id, *[f"{p.values[n]:.6g}" for n in names], p.windows])  # type: ignore[index]
        else:
            first = "labels" if classifier.problem.name == "multi_label" else "label"
            writer.writerow(["id", first, *[f"p_{name}" for name in names], "windows"])
            for p in predictions:
                writer.writerow([p.id, p.label, *[f"{p.probabilities[n]:.6f}" for n in names], p.windows])
    finally:
        if args.output:
            out.close()
    if args.output:
        print(f"wrote {len(predictions)} predictions to {args.output}", file=sys.stderr)
    return 0


def cmd_probe_layers(args: argparse.Namespace) -> int:
    require_model(args)
    from .layer_probe import layer_probe_text, probe_layers

    result = probe_layers(args.model, args.data, output=args.output, max_length=args.max_length,
                          max_rows=args.max_rows, trust_remote_code=args.trust_remote_code, seed=args.seed,
                          label_columns=args.label_columns, problem_type=args.problem_type,
                          label_column=args.label_column, sequence_column=args.sequence_column)
    print(layer_probe_text(result))
    print(f"plot: {result['plot']}\ntable: {result['csv']}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(output=Path(args.output), max_steps=args.max_steps, model=args.model, use_hub=not args.no_hub,
                    serve_space=args.space)


def cmd_push(args: argparse.Namespace) -> int:
    from .hub import push_to_hub

    url = push_to_hub(args.run, args.repo, private=args.private, revision=args.revision, base_repo=args.base_repo,
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
    from .hub_server.tokens import (
        command_line_warning,
        parse_token_spec,
        read_token_file,
        token_file_warning,
        tokens_from_env,
    )

    if args.max_body_mb <= 0:
        raise ConfigError(f"--max-body-mb must be a positive number of megabytes, got {args.max_body_mb}.")
    tokens: dict[str, str] = {}
    if args.token_file:
        tokens.update(read_token_file(Path(args.token_file)))
        warning = token_file_warning(Path(args.token_file))
        if warning:
            print(warning, file=sys.stderr)
    if args.token:
        print(command_line_warning(), file=sys.stderr)
        tokens.update(parse_token_spec(item, f"--token #{i}") for i, item in enumerate(args.token, start=1))
    if not tokens:
        tokens = tokens_from_env()
    max_body = int(args.max_body_mb * 1024 * 1024)
    serve(Path(args.root), host=args.host, port=args.port, tokens=tokens, max_body_bytes=max_body)
    return 0


def cmd_space_deploy(args: argparse.Namespace) -> int:
    from .hub import deploy_space

    done = deploy_space(args.repo, adapters=args.adapters, hardware=args.hardware, sdk=args.sdk,
                        private=args.private, title=args.title, token=args.token, space_dir=args.space_dir)
    state = "deployed" if done.changed else "already up to date (no commit)"
    print(f"Space {done.repo_id} {state}: {done.url}")
    if done.variables_changed:
        print(f"preselected adapters: {', '.join(done.adapters)}")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from .pretraining import PretrainConfig, pretrain, read_pretraining_record

    output = pretrain(config_from_args(args, PretrainConfig))
    if output is None:  # a non-main process under accelerate launch
        return 0
    record = read_pretraining_record(output).record
    before, after = record["eval"]["before"], record["eval"]["after"]
    print(f"held-out masked-LM loss {before['loss']:.4f} -> {after['loss']:.4f} nats/token, accuracy "
          f"{before['accuracy']:.3f} -> {after['accuracy']:.3f} ({record['steps']} steps, "
          f"{record['eval']['windows']} held-out windows)")
    print(f"pre-trained model: {output} (fine-tune it with: hubtune train --model {output} --data ...)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .comparison import CompareConfig, compare

    report = compare(config_from_args(args, CompareConfig))
    print(f"report: {report}")
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The `hubtune` argument parser; training and comparison options come from their config dataclasses."""
    from .demo import DEMO_MODEL, DEMO_STEPS
    from .evaluate import INFERENCE_BATCH_SIZE

    parser = HelpParser(  # every sub-parser is a HelpParser too: each --help shows the defaults
        prog="hubtune",
        description="Fine-tune genomic language models on labelled DNA, compare them with baselines, share them on the Hub.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from .config import TrainConfig

    p = sub.add_parser("train", help="fine-tune a model on a labelled DNA task and write a run folder")
    add_dataclass_options(p, TrainConfig, required=["data"])
    add_method_options(p)
    p.add_argument("--no-diagnostics", action="store_true", help="skip the pitfall diagnostics after training")
    p.add_argument("--no-forgetting", action="store_true",
                   help="skip the catastrophic-forgetting check (it loads the base model's masked-LM head)")
    p.add_argument("--push-to", help="after training, push the run to this Hub repo (user/name)")
    p.add_argument("--private", action="store_true", help="with --push-to: create a private repo")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("data", help="split sizes, length and class statistics, and the leakage report (no training)")
    p.add_argument("data")
    p.add_argument("--json", action="store_true", help="print the statistics and leakage report as JSON")
    add_dataclass_options(p, TrainConfig, only=DATA_OPTIONS)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("evaluate", help="score a finished run on a labelled dataset")
    p.add_argument("run", help="run folder or Hub repo id")
    p.add_argument("--data", required=True, help="labelled data: a GUE-style folder, a CSV/TSV/Parquet/FASTA file or "
                   "a dataset id")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_dataclass_options(p, TrainConfig, only=["max_rows"])
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="classify sequences (FASTA/CSV/TXT) with a run folder or a Hub adapter")
    p.add_argument("run", help="run folder or Hub repo id")
    p.add_argument("--input", required=True, help=".fa/.fasta(.gz), .txt (one per line) or .csv with a sequence column")
    p.add_argument("--output", help="CSV to write (default: stdout)")
    p.add_argument("--batch-size", type=int, default=INFERENCE_BATCH_SIZE, help="sequences per forward pass")
    p.add_argument("--revision", help="revision (branch, tag or commit) of a Hub repo")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("probe-layers", help="probe every layer of a pre-trained model; plot the task's metric per layer")
    add_dataclass_options(p, TrainConfig, only=["model", "data", "max_length", "max_rows", "seed", "label_columns",
                                                "problem_type", "label_column", "sequence_column",
                                                "trust_remote_code"], required=["data"])
    p.add_argument("--output", default="runs/probe-layers", help="folder for layer_probe.{csv,png,json}")
    p.set_defaults(func=cmd_probe_layers)

    p = sub.add_parser("demo", help="the whole loop offline: tiny model, bundled task, LoRA, baselines, local hub")
    p.add_argument("--output", default="runs/demo",
                   help="folder for run/, hub/ and model_card.md: new, empty, or an earlier demo's (which is replaced)")
    p.add_argument("--model", default=DEMO_MODEL, help="base model: a tiny stand-in, or any model `train` accepts")
    p.add_argument("--max-steps", type=int, default=DEMO_STEPS, help="LoRA steps")
    p.add_argument("--no-hub", action="store_true", help="skip the local hub push/reload part")
    p.add_argument("--space", action="store_true", help="afterwards, serve the Space against the demo's local hub")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("push", help="publish a run folder on the Hub with a generated model card")
    p.add_argument("run")
    p.add_argument("--repo", required=True, help="user/name")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--revision", help="branch to push to (default: main)")
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
    s.add_argument(
        "--token",
        action="append",
        help="TOKEN:USERNAME allowed to write (repeatable); visible in ps, prefer --token-file or HF_TOKEN",
    )
    s.add_argument(
        "--token-file",
        metavar="FILE",
        help="file of TOKEN:USERNAME lines ('#' comments); without it or --token, HF_TOKEN is the token of "
        "HUBTUNE_HUB_USER (default user 'demo')",
    )
    s.add_argument(
        "--max-body-mb",
        type=float,
        default=51200,
        help="largest request body (a commit or one LFS file) in MiB; larger ones get 413",
    )
    s.set_defaults(func=cmd_hub_serve)

    from .pretraining.config import PretrainConfig

    p = sub.add_parser("pretrain", help="continue masked-LM pre-training on unlabelled DNA (FASTA, text, tables) and "
                       "write a base model that train, push and from_pretrained load")
    add_dataclass_options(p, PretrainConfig, required=["model", "data", "output"])
    p.set_defaults(func=cmd_pretrain)

    from .comparison import CompareConfig

    p = sub.add_parser("compare", help="methods x models x tasks grid with pitfall diagnostics and a report")
    add_dataclass_options(p, CompareConfig, required=["models", "data"])
    p.set_defaults(func=cmd_compare)

    from .cli_options import str_list
    from .hub.space_files import HARDWARE, SDKS

    p = sub.add_parser("space", help="the Gradio Space")
    space_sub = p.add_subparsers(dest="space_command", required=True, metavar="SPACE_COMMAND")
    s = space_sub.add_parser("deploy", help="publish the Space (app, README, requirements, hubtune as a wheel) "
                             "to a Space repo in one commit")
    s.add_argument("--repo", required=True, help="user/name of the Space")
    s.add_argument("--adapters", type=str_list, help="hubtune adapters to preselect, comma separated (one task)")
    s.add_argument("--hardware", choices=HARDWARE, default="cpu-basic",
                   help="suggested hardware; decides the torch build in requirements.txt")
    s.add_argument("--sdk", choices=SDKS, default="gradio", help="docker adds a Dockerfile and app_port")
    s.add_argument("--private", action="store_true", help="create the Space as private (Docker SDK)")
    s.add_argument("--title", help="title of the Space (default: hubtune DNA classifier)")
    s.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login)")
    s.add_argument("--space-dir", help="folder with app.py and render.py (default: the project's space/)")
    s.set_defaults(func=cmd_space_deploy)
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
