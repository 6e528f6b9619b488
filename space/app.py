"""hubtune Space: classify pasted or uploaded DNA with shared hubtune adapters, side by side with the pre-trained base.

Single-label models answer with a class and class probabilities, multi-label models with a label set and per-label
probabilities, regression models with predicted values per target; in-silico mutagenesis explains a chosen class,
label or target.

UI wiring only: the work is done by `hubtune.serving` (limits, input, model cache: one base per base id, adapters
switched with peft's `set_adapter`) and the drawing by `render.py` next to this file (escaped HTML, figures). Runs on
CPU anywhere and on GPU Spaces (CUDA + half precision, `@spaces.GPU` on ZeroGPU).

Run locally::

    python space/app.py                                   # adapters listed from HF_ENDPOINT (default huggingface.co)
    HUBTUNE_SPACE_ADAPTERS=user/promoter-lora python space/app.py --port 7860

Named API endpoints (gradio_client): /classify, /compare, /ism, /export_csv (and /run, /explain used by the page).
/ism takes an optional third argument, the class, label or target to explain.
"""

from __future__ import annotations

import argparse
import atexit
import html
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
try:
    import hubtune  # noqa: F401
except ImportError:  # running from a checkout or a Space that ships the package next to this file
    for _folder in (HERE, HERE.parent):
        if (_folder / "hubtune" / "__init__.py").is_file():
            sys.path.insert(0, str(_folder))
            break
if str(HERE) not in sys.path:  # render.py sits next to this file (also when the app is imported, not run)
    sys.path.insert(0, str(HERE))

try:  # must come before anything initialises CUDA: ZeroGPU patches torch on import
    import spaces

    GPU: Callable[..., Any] = spaces.GPU
except ImportError:
    spaces = None

    def GPU(fn: Callable[..., Any] | None = None, **_kwargs: Any) -> Any:  # noqa: N802 - mirrors spaces.GPU
        """No-op stand-in for `spaces.GPU` outside Hugging Face Spaces."""
        return fn if fn is not None else (lambda f: f)


os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from render import (  # noqa: E402
    adapter_choices,
    adapters_overview_html,
    column_widths,
    figure_ism,
    figure_outputs,
    figure_projection,
    figure_track,
    metrics_html,
    note_html,
    status_html,
    table_value,
    value_text,
)

from hubtune.errors import DataError, HubtuneError  # noqa: E402
from hubtune.serving import (  # noqa: E402
    AdapterMeta,
    Comparison,
    Limits,
    ModelCache,
    RepoPolicy,
    SpaceBackend,
    adapters_from_env,
    parse_adapter_list,
    public_message,
)

log = logging.getLogger("hubtune.space")

TITLE = "hubtune · classify DNA with shared genomic-LM adapters"
FILE_TYPES = [".fa", ".fasta", ".fna", ".gz", ".txt", ".csv", ".tsv"]
PLACEHOLDER = ">my_promoter\nTATAAAGGCGCGTACGTTAGC...\n>seq2\nACGTTGCA...\n\n(or one raw sequence per line)"
CSS = """
.hubtune-status { padding: 6px 10px; border-radius: 6px; margin: 2px 0; }
.hubtune-ok { background: #e8f5e9; color: #1b5e20; }
.hubtune-error { background: #fdecea; color: #8a1c1c; }
.hubtune-note { color: #6b7280; font-size: 0.9em; margin: 0; }
.hubtune-metrics table, .hubtune-adapters table { border-collapse: collapse; font-size: 0.9em; }
.hubtune-metrics td, .hubtune-metrics th, .hubtune-adapters td, .hubtune-adapters th {
  border: 1px solid #ddd; padding: 3px 8px; }
.hubtune-adapters .base-row td { background: #f3f4f6; font-weight: 600; }
"""
INTRO = """
# hubtune: classify DNA with shared adapters
Paste sequences (one per line, or FASTA with ids) or upload a file, pick one or more hubtune adapters, and see each
fine-tuned model's answer next to the **pre-trained base model's** (the probe head shipped with the adapter): a class
with its probabilities, a set of labels with per-label probabilities, or predicted values (activity, expression...).
Adapters of the same base share one model in memory, so switching between them is instant. *Explain* draws an
in-silico mutagenesis map of a chosen class, label or target and, for long sequences, the per-window score track.
"""


# ---------------------------------------------------------------------------------------------------------------------
# Adapter listing
# ---------------------------------------------------------------------------------------------------------------------


def default_listing(policy: RepoPolicy | None = None, token: str | None = None) -> list[Any]:
    """The hubtune adapters on the hub in HF_ENDPOINT (`hubtune.hub.list_adapters`): public ones only (no token is
    sent), unless the policy (HUBTUNE_SPACE_ALLOW_PRIVATE=1) lets the Space show the private repos its token (default:
    HF_TOKEN) can read."""
    from hubtune.hub import list_adapters

    policy = policy or RepoPolicy.from_env()
    found = list_adapters(token=token if policy.allow_private else False)
    return [info for info in found if policy.allow_private or not info.private]


def _list(listing: Callable[[], list[Any]]) -> tuple[list[Any], str | None]:
    try:
        return list(listing()), None
    except Exception as exc:  # noqa: BLE001 - the page must load even when the hub cannot be listed
        return [], f"Could not list adapters: {public_message(exc)} You can still type a repo id into the picker."


# ---------------------------------------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------------------------------------


_CSV_FOLDER: list[Path] = []
_CSV_LOCK = threading.Lock()


def csv_folder() -> Path:
    """This process's own folder for CSV downloads (made once with mode 0700, removed at exit); files older than an
    hour are removed. Only regular files are removed; a symbolic link is never followed."""
    with _CSV_LOCK:
        if not _CSV_FOLDER:
            made = Path(tempfile.mkdtemp(prefix="hubtune-space-csv-"))
            atexit.register(shutil.rmtree, made, ignore_errors=True)
            _CSV_FOLDER.append(made)
        folder = _CSV_FOLDER[0]
    cutoff = time.time() - 3600
    with os.scandir(folder) as entries:  # results are for download right away; keep the folder small
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
            except OSError:
                continue
    return folder


def write_csv(comparison: Comparison) -> str:
    """Write the comparison table to a fresh CSV file in the temp folder; returns its path."""
    handle = tempfile.NamedTemporaryFile(prefix="hubtune-predictions-", suffix=".csv", dir=csv_folder(),
                                         delete=False)
    handle.close()
    return str(comparison.to_csv(handle.name))


def _api_error(exc: BaseException) -> gr.Error:
    # Gradio renders error messages as HTML in the page; user text (ids, characters) must not become markup. Paths and
    # hub URLs are scrubbed; an unexpected exception becomes one generic sentence (logged with its traceback).
    return gr.Error(html.escape(public_message(exc), quote=False), print_exception=False)


def build_app(
    backend: SpaceBackend | None = None,
    *,
    adapters: Sequence[str] | None = None,
    listing: Callable[[], list[Any]] | None = None,
    preload: bool = True,
    concurrency_limit: int | None = None,
) -> gr.Blocks:
    """Build the Space's Blocks (queue configured, not launched).

    Args:
        backend: the model cache + limits; default: `SpaceBackend()` (limits from HUBTUNE_SPACE_MAX_* variables,
            cache size from HUBTUNE_SPACE_CACHED_ADAPTERS, default 4).
        adapters: adapters to preselect and preload; default: HUBTUNE_SPACE_ADAPTERS.
        listing: returns the adapters to offer (`default_listing`: public repos unless HUBTUNE_SPACE_ALLOW_PRIVATE=1).
        preload: load the preselected adapters now, so the first request does not wait for a download.
        concurrency_limit: model requests running at once (default HUBTUNE_SPACE_CONCURRENCY or 2); the rest queue.
    """
    if backend is None:
        cached = int(os.environ.get("HUBTUNE_SPACE_CACHED_ADAPTERS", "4"))
        backend = SpaceBackend(ModelCache(max_adapters=cached, max_bases=max(1, min(cached, 2))))
    preselected = parse_adapter_list(list(adapters) if adapters is not None else adapters_from_env())
    listing_fn = listing or (lambda: default_listing(backend.cache.downloads.policy, backend.cache.token))
    listed, list_problem = _list(listing_fn)
    problems = backend.cache.preload(preselected) if preload else []
    limit = concurrency_limit or int(os.environ.get("HUBTUNE_SPACE_CONCURRENCY", "2"))
    limits = backend.limits

    # -- inference (on ZeroGPU these get a GPU for their duration; models are loaded before, by backend.prepare) ----
    @GPU(duration=120)
    def gpu_classify(records: list[tuple[str, str]], ids: list[str], with_pca: bool):
        comparison = backend.classify(records, ids)
        projection = backend.project(records, ids[0], prediction=comparison.predictions[0]) if with_pca else None
        return comparison, projection

    @GPU(duration=120)
    def gpu_explain(record: tuple[str, str], adapter: str, target: str | None):
        track = backend.window_track(record, adapter)
        seq_id, seq = record
        if len(seq) > limits.max_ism_bp:
            return None, track, (f"{seq_id} is {len(seq):,} bp; in-silico mutagenesis is limited to "
                                 f"{limits.max_ism_bp:,} bp, so only the score track is shown.")
        try:
            return backend.ism(record, adapter, target=target), track, ""
        except DataError as exc:  # too many model windows for this adapter's window and stride
            return None, track, f"{public_message(exc)} Only the score track is shown."

    @GPU(duration=120)
    def gpu_ism(record: tuple[str, str], adapter: str, target: str | None):
        return backend.ism(record, adapter, target=target)

    # -- page handlers ---------------------------------------------------------------------------------------
    def validate(text: str | None, file: str | None) -> str:
        if not (text and text.strip()) and not file:
            return ""
        try:
            records = backend.parse(text, file)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a short message, never a traceback
            return status_html(public_message(exc), ok=False)
        total = sum(len(s) for _, s in records)
        longest = max(len(s) for _, s in records)
        return status_html(f"{len(records)} sequence(s), {total:,} bp in total (longest {longest:,} bp).", ok=True)

    def examples_for(chosen: list[str] | None):
        samples: list[list[str]] = []
        labels: list[str] = []
        notes = []
        for repo in parse_adapter_list(chosen)[: limits.max_adapters_per_request]:
            try:
                meta: AdapterMeta = backend.cache.meta(repo)
            except Exception as exc:  # noqa: BLE001
                notes.append(public_message(exc))
                continue
            if not meta.examples:
                notes.append(f"{repo} ships no example sequences.")
                continue
            if len(meta.examples) > 1:
                samples.append([meta.examples_fasta()])
                labels.append(f"all {len(meta.examples)} examples of {repo.split('/')[-1]}")
            for seq_id, seq in meta.examples:
                samples.append([f">{seq_id}\n{seq}\n"])
                labels.append(seq_id)
        note = " ".join(notes)
        return (gr.Dataset(samples=samples or [[""]], sample_labels=labels or [""], visible=bool(samples)),
                note_html(note))

    def targets_for(adapter: str | None):
        """The explain chooser: the adapter's classes, labels or targets (empty: the default one)."""
        hidden = gr.Dropdown(choices=[], value=None, label="Explain")
        if not adapter:
            return hidden
        try:
            meta: AdapterMeta = backend.cache.meta(adapter)
        except Exception:  # noqa: BLE001 - the explain button reports a bad adapter; the chooser just stays empty
            return hidden
        kind = meta.problem.output_kind
        default = {"class": "the predicted class", "label": "the most probable label",
                   "target": "the first target"}[kind]
        return gr.Dropdown(choices=list(meta.label_names), value=None, label=f"Explain {kind}",
                           info=f"default: {default}")

    def refresh():
        fresh, problem = _list(listing_fn)
        return gr.Dropdown(choices=adapter_choices(fresh, preselected)), adapters_overview_html(fresh, problem)

    def run(text: str | None, file: str | None, chosen: list[str] | None):
        cleared = ("", None, None, None, None, gr.Dropdown(choices=[], value=None), gr.skip(), [])
        try:
            start = time.perf_counter()
            records = backend.parse(text, file)  # limits first, then models, then inference
            comparison, projection = gpu_classify(records, backend.prepare(parse_adapter_list(chosen)), True)
            figures = (figure_outputs(comparison),
                       figure_projection(projection) if projection is not None else None)
        except Exception as exc:  # noqa: BLE001
            return (status_html(public_message(exc), ok=False), *cleared)
        seconds = time.perf_counter() - start
        log.info("classified %d sequences (%d bp) with %d adapter(s) in %.2f s", len(records),
                 sum(len(seq) for _, seq in records), len(comparison.predictions), seconds)
        verb = "Classified" if comparison.problem.is_classification else "Predicted values of"
        parts = [f"{verb} {len(records)} sequence(s) with {len(comparison.predictions)} adapter(s) in "
                 f"{seconds:.1f} s."]
        for pred in comparison.predictions:
            if pred.agree is not None:
                name = pred.repo_id.split("/")[-1]
                parts.append(f"{name} and its base agree on {sum(pred.agree)}/{len(pred.agree)}.")
        picks = [(f"{seq_id} ({len(seq):,} bp)", str(i)) for i, (seq_id, seq) in enumerate(records)]
        adapters_now = [p.repo_id for p in comparison.predictions]
        return (
            status_html(" ".join(parts), ok=True),
            metrics_html(comparison.metas),
            gr.Dataframe(value=table_value(comparison), column_widths=column_widths(comparison)),
            write_csv(comparison),
            *figures,
            gr.Dropdown(choices=picks, value="0"),
            gr.Dropdown(choices=adapters_now, value=adapters_now[0]),
            [list(r) for r in records],
        )

    def explain(records: list[list[str]] | None, pick: str | None, adapter: str | None, target: str | None = None):
        hidden = (gr.Plot(value=None, visible=False), gr.Plot(value=None, visible=False))
        if not records:
            return status_html("Classify some sequences first, then pick one to explain.", ok=False), *hidden
        try:
            index = int(pick) if pick is not None else 0
            seq_id, seq = records[index]
        except (ValueError, IndexError, TypeError):
            return status_html("Pick a sequence from the list.", ok=False), *hidden
        if not adapter:
            return status_html("Pick an adapter to explain with.", ok=False), *hidden
        try:
            start = time.perf_counter()
            ism, track, ism_note = gpu_explain((seq_id, seq), backend.prepare([adapter])[0], target or None)
            figures = (figure_ism(ism) if ism is not None else None,
                       figure_track(track) if len(track.starts) > 1 else None)
        except Exception as exc:  # noqa: BLE001
            return status_html(public_message(exc), ok=False), *hidden
        seconds = time.perf_counter() - start
        notes = []
        if ism is None:
            notes.append(ism_note)
        else:
            quantity = ism.quantity
            notes.append(f"In-silico mutagenesis of {seq_id}: {3 * len(seq):,} variants, Δ {quantity} per base; "
                         f"{quantity} = {value_text(ism.problem, float(ism.reference[ism.target]))}.")
        many = len(track.starts) > 1
        if not many:
            notes.append("The sequence fits one model window, so there is no per-window track.")
        notes.append(f"({seconds:.1f} s)")
        return (
            status_html(" ".join(notes), ok=True),
            gr.Plot(value=figures[0], visible=ism is not None),
            gr.Plot(value=figures[1], visible=many),
        )

    # -- API-only handlers (errors become gr.Error, which gradio_client raises as AppError) -----------------------
    def classify(sequences: str, adapter: str) -> dict:
        """Classify DNA (raw lines or FASTA) with one adapter; each sequence's label and probabilities (label set and
        per-label probabilities, or predicted values), the base model's answer and whether they agree."""
        try:
            records = backend.parse(sequences)
            comparison, _ = gpu_classify(records, backend.prepare(parse_adapter_list(adapter)[:1]), False)
        except Exception as exc:  # noqa: BLE001
            raise _api_error(exc) from None
        return comparison.to_dict()

    def compare(sequences: str, adapters: list[str]) -> dict:
        """Classify DNA with several adapters of the same task: one column set per adapter next to the base model."""
        try:
            records = backend.parse(sequences)
            comparison, _ = gpu_classify(records, backend.prepare(parse_adapter_list(adapters)), False)
        except Exception as exc:  # noqa: BLE001
            raise _api_error(exc) from None
        return comparison.to_dict()

    def ism(sequence: str, adapter: str, target: str = "") -> dict:
        """In-silico mutagenesis of one sequence: the change of P(target class), P(target label) or the target's
        predicted value for every position x base (A,C,G,T); target default: the predicted class, the most probable
        label or the first target."""
        try:
            record = backend.parse_one(sequence)
            backend.check_ism(*record)
            return gpu_ism(record, backend.prepare([adapter])[0], target or None).to_dict()
        except Exception as exc:  # noqa: BLE001
            raise _api_error(exc) from None

    def export_csv(sequences: str, adapters: str):
        """The comparison table as a CSV file (adapters: comma-separated repo ids)."""
        try:
            records = backend.parse(sequences)
            comparison, _ = gpu_classify(records, backend.prepare(parse_adapter_list(adapters)), False)
        except Exception as exc:  # noqa: BLE001
            raise _api_error(exc) from None
        return write_csv(comparison)

    # -- layout ----------------------------------------------------------------------------------------------------
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        if problems:
            gr.HTML(status_html("Some preselected adapters could not be loaded: " + " | ".join(problems), ok=False))
        with gr.Row():
            with gr.Column(scale=3):
                seq_text = gr.Textbox(label="DNA sequences", lines=8, max_lines=20, placeholder=PLACEHOLDER,
                                      elem_id="sequences")
                seq_file = gr.File(label="…or upload FASTA / .fa.gz / .txt / .csv", file_types=FILE_TYPES,
                                   type="filepath", elem_id="upload")
                validation = gr.HTML(elem_id="validation")
                examples = gr.Dataset(components=[seq_text], samples=[[""]], sample_labels=[""], visible=False,
                                      label="Examples from the adapter's metadata (click to paste)",
                                      elem_id="examples")
                examples_note = gr.HTML()
            with gr.Column(scale=2):
                picker = gr.Dropdown(
                    choices=adapter_choices(listed, preselected), value=preselected, multiselect=True,
                    allow_custom_value=True, label="Adapters",
                    info="Grouped by base model, with labels and test metric. Type any repo id (user/name) and "
                         "press Enter to add it; choose several adapters of one task to compare them.",
                    elem_id="adapters",
                )
                with gr.Row():
                    run_button = gr.Button("Classify", variant="primary", elem_id="classify")
                    refresh_button = gr.Button("Refresh adapter list", size="sm")
                with gr.Accordion("Adapters on this hub", open=False):
                    overview = gr.HTML(adapters_overview_html(listed, list_problem))
                gr.Markdown(
                    f"Limits per request: {limits.max_sequences:,} sequences, {limits.max_total_bp:,} bp in total, "
                    f"{limits.max_sequence_bp:,} bp per sequence, {limits.max_windows:,} model windows; mutagenesis "
                    f"up to {limits.max_ism_bp:,} bp."
                )
        status = gr.HTML(elem_id="status")
        metrics = gr.HTML(elem_id="metrics")
        table = gr.Dataframe(label="Results: fine-tuned vs pre-trained base", interactive=False, wrap=True,
                             elem_id="results", max_height=480, buttons=["copy", "fullscreen"], pinned_columns=1)
        csv_file = gr.File(label="Download the table (CSV)", interactive=False, elem_id="csv")
        with gr.Row():
            prob_plot = gr.Plot(label="Model outputs", format="png", show_label=False, elem_id="prob-plot")
            pca_plot = gr.Plot(label="Embeddings: base vs fine-tuned (PCA)", format="png", show_label=False,
                               elem_id="pca-plot")
        gr.Markdown("### Explain one sequence")
        with gr.Row():
            seq_pick = gr.Dropdown(label="Sequence", choices=[], interactive=True, elem_id="pick")
            explain_adapter = gr.Dropdown(label="Adapter", choices=preselected,
                                          value=preselected[0] if preselected else None, interactive=True,
                                          elem_id="explain-adapter")
            explain_target = gr.Dropdown(label="Explain", choices=[], value=None, interactive=True,
                                         elem_id="explain-target")
            explain_button = gr.Button("Explain", elem_id="explain")
        explain_status = gr.HTML(elem_id="explain-status")
        ism_plot = gr.Plot(label="In-silico mutagenesis (Δ output per position × base)", format="png",
                           show_label=False, visible=False, elem_id="ism-plot")
        track_plot = gr.Plot(label="Per-window score track", format="png", show_label=False, visible=False,
                             elem_id="track-plot")
        records_state = gr.State([])

        # Cheap page events: no queue, not part of the API.
        quiet = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
        seq_text.change(validate, [seq_text, seq_file], validation, trigger_mode="always_last", **quiet)
        seq_file.change(validate, [seq_text, seq_file], validation, **quiet)
        examples.click(lambda sample: sample[0] if sample else "", [examples], [seq_text], **quiet)
        picker.change(examples_for, [picker], [examples, examples_note], api_visibility="private")
        demo.load(examples_for, [picker], [examples, examples_note], api_visibility="private")
        refresh_button.click(refresh, None, [picker, overview], api_visibility="private")
        explain_adapter.change(targets_for, [explain_adapter], [explain_target], api_visibility="private")
        demo.load(targets_for, [explain_adapter], [explain_target], api_visibility="private")

        model = {"concurrency_limit": limit, "concurrency_id": "model"}
        run_button.click(
            run, [seq_text, seq_file, picker],
            [status, metrics, table, csv_file, prob_plot, pca_plot, seq_pick, explain_adapter, records_state],
            api_name="run", api_visibility="undocumented", **model,
        )
        explain_button.click(explain, [records_state, seq_pick, explain_adapter, explain_target],
                             [explain_status, ism_plot, track_plot], api_name="explain",
                             api_visibility="undocumented", **model)

        gr.api(classify, api_name="classify", **model)
        gr.api(compare, api_name="compare", **model)
        gr.api(ism, api_name="ism", **model)
        csv_sequences = gr.Textbox(visible=False)
        csv_adapters = gr.Textbox(visible=False)
        csv_out = gr.File(visible=False)
        csv_trigger = gr.Button(visible=False)
        csv_trigger.click(export_csv, [csv_sequences, csv_adapters], [csv_out], api_name="export_csv",
                          api_description=export_csv.__doc__, **model)

    demo.queue(default_concurrency_limit=limit, max_size=int(os.environ.get("HUBTUNE_SPACE_QUEUE_SIZE", "64")))
    UPLOAD_LIMITS[demo] = limits.max_input_bytes
    return demo


UPLOAD_LIMITS: weakref.WeakKeyDictionary[gr.Blocks, int] = weakref.WeakKeyDictionary()  # the app's input byte limit


def launch(demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> Any:
    """Serve the app (styles included); with `block=False` return once the server is up. Uploads larger than the
    app's input byte limit are refused by the server before they are stored."""
    max_bytes = UPLOAD_LIMITS.get(demo) or Limits.from_env().max_input_bytes
    return demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, css=CSS,
                       show_error=False, quiet=not block, ssr_mode=False, max_file_size=max_bytes)


def main(argv: list[str] | None = None) -> int:
    """Command line: `python space/app.py [--host H] [--port P] [--adapters a,b]`."""
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="interface to bind (0.0.0.0 in a container); default GRADIO_SERVER_NAME or 127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--adapters", default=None, help="comma-separated adapter repo ids to preselect and preload "
                        "(default: HUBTUNE_SPACE_ADAPTERS)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "huggingface_hub", "urllib3"):  # one line per HTTP request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    adapters = parse_adapter_list(args.adapters) if args.adapters is not None else None
    try:
        demo = build_app(adapters=adapters)
    except HubtuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    launch(demo, host=args.host, port=args.port, block=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
