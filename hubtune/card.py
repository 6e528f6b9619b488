"""Model cards: the README.md that explains a pushed run, generated from the Jinja templates in `cards/`.

The YAML header is a `huggingface_hub.ModelCardData` (library, base model, license, tags, datasets, model-index with
test MCC / F1 / accuracy, and a `hubtune:` block with labels, task and family so `list_adapters` needs no download).
The body says what the model predicts, on which data (with the leakage report), how it was trained, how it compares
with the pre-trained probe and the k-mer baseline, how to load it, and what to cite. Cards never contain local paths
or tokens: a data source that is a local file is shown by its file name.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, RunFolderError
from .models.registry import FAMILIES, TINY_MODELS, ModelFamily, get_family
from .run import LEAKAGE_FILE, METRICS_FILE, Run

TEMPLATE_PACKAGE = "hubtune.cards"
MODEL_CARD_TEMPLATE = "model_card.md.j2"
BASE_CARD_TEMPLATE = "base_model_card.md.j2"
# Namespace shown in a locally previewed card when no --repo is given.
PLACEHOLDER_NAMESPACE = "your-username"
# Files a `save_pretrained` tokenizer may consist of.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
)
# Suffixes that mark a data source as a file rather than a dataset id.
_DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".fa", ".fasta", ".fna", ".fas", ".gz", ".json", ".jsonl",
                  ".arrow", ".zip", ".bz2", ".xz")
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_METHOD_NAMES = {
    "lora": "LoRA adapter",
    "full": "fully fine-tuned model",
    "freeze": "partially fine-tuned model (lower layers frozen)",
    "probe": "linear probe on frozen embeddings",
}
# A DNA string used in the usage snippets (any A/C/G/T/N string works).
EXAMPLE_SEQUENCE = "TATAAAAGGCGCGCCGCTATAAAGGCCGGTACGTTAGCATGCATGCGCGCTATATAAGCCGAATTCGGCTAGCTAGGCTTAACG"


# ---------------------------------------------------------------------------------------------------------------------
# Names and sources
# ---------------------------------------------------------------------------------------------------------------------


def is_local_path(text: str) -> bool:
    """True when `text` names (or plainly looks like) a file or folder rather than a Hub id."""
    if not text:
        return False
    if text.startswith(("/", "./", "../", "~", ".\\")) or "\\" in text or re.match(r"^[A-Za-z]:", text):
        return True
    if text.lower().endswith(_DATA_SUFFIXES):
        return True
    try:
        return Path(text).expanduser().exists()
    except OSError:
        return False


def looks_like_hub_id(text: str) -> bool:
    """True for `namespace/name` strings that are not local paths or built-in tiny model names."""
    return (
        bool(text)
        and text not in TINY_MODELS
        and bool(_REPO_ID_RE.match(text))
        and ".." not in text
        and "--" not in text
        and not is_local_path(text)
    )


def public_source(text: str | None) -> str:
    """What a card or a pushed hubtune.json may say about a data source or model: an id, or a bare file name."""
    if not text:
        return ""
    text = str(text)
    if text in TINY_MODELS or looks_like_hub_id(text):
        return text
    if is_local_path(text) or "/" in text or "\\" in text:
        return Path(text.rstrip("/\\")).name or text.strip("/\\")
    return text


def repo_name_slug(text: str) -> str:
    """A valid Hub repo name made from a folder or model name."""
    slug = re.sub(r"[^\w.-]+", "-", text).strip("-.")
    slug = re.sub(r"-{2,}", "-", slug).replace("..", ".")
    return (slug or "model")[:96]


def default_base_repo(base_model: str, namespace: str) -> str:
    """Where the base lives on the hub: its own id, or `<namespace>/<tiny name | folder name>` once published."""
    if looks_like_hub_id(base_model):
        return base_model
    return f"{namespace}/{repo_name_slug(Path(base_model.rstrip('/')).name if base_model not in TINY_MODELS else base_model)}"


def dataset_id(run: Run) -> str | None:
    """The Hub dataset id the run was trained on, or None for local files."""
    source = str(run.info.get("data_source") or "")
    return source if looks_like_hub_id(source) else None


# ---------------------------------------------------------------------------------------------------------------------
# Small formatting helpers
# ---------------------------------------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _mean_sd(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5 if n > 1 else 0.0
    return mean, sd


def _md_table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _tidy(text: str) -> str:
    """Collapse the blank lines that template control blocks leave behind (never inside code blocks)."""
    out: list[str] = []
    in_code = False
    blank = 0
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and not line.strip():
            blank += 1
            if blank > 1:
                continue
        else:
            blank = 0
        out.append(line.rstrip() if not in_code else line)
    return "\n".join(out).strip() + "\n"


def _template(name: str):
    resource = importlib.resources.files(TEMPLATE_PACKAGE).joinpath(name)
    if not resource.is_file():
        raise ConfigError(f"The card template {name} is missing from the hubtune installation (package hubtune.cards).")
    return resource


def _render_template(name: str, card_data, context: dict[str, Any]):
    from huggingface_hub import ModelCard

    with importlib.resources.as_file(_template(name)) as path:
        card = ModelCard.from_template(card_data, template_path=str(path), **context)
    card.text = "\n" + _tidy(card.text)
    return card


def _load_run(run: Run | str | Path) -> Run:
    run = run if isinstance(run, Run) else Run(run)
    for name in (METRICS_FILE, LEAKAGE_FILE):
        if not (run.path / name).is_file():
            raise RunFolderError(
                f"{run.path} is incomplete: {name} is missing, so its model card cannot be written. Re-run training "
                "(or copy the whole run folder)."
            )
    return run


def _family(run: Run) -> ModelFamily:
    name = run.info.get("family") or "auto"
    return FAMILIES.get(name) or get_family("auto")


# ---------------------------------------------------------------------------------------------------------------------
# Card data (YAML)
# ---------------------------------------------------------------------------------------------------------------------


def _task_tag(task: str) -> str:
    return repo_name_slug(task.lower()).replace("_", "-").replace(".", "-")


def build_card_data(run: Run | str | Path, repo_id: str, base_repo: str):
    """The YAML header of a run's card as a `huggingface_hub.ModelCardData`.

    Args:
        run: a `Run` or a run folder.
        repo_id: the repo the card will live at (its name becomes the model-index name).
        base_repo: the base model's repo id on the hub the adapter goes to.
    """
    from huggingface_hub import EvalResult, ModelCardData

    run = _load_run(run)
    info, family = run.info, _family(run)
    method = run.method
    task = str(info.get("task") or "dna-classification")
    test = (run.metrics.get("finetuned") or {}).get("test") or {}
    dataset = dataset_id(run)
    dataset_type = dataset or _task_tag(task)
    eval_results = []
    for metric_type, key, pretty in (("matthews_correlation", "mcc", "Test MCC"), ("f1", "f1_macro", "Test macro F1"),
                                     ("accuracy", "accuracy", "Test accuracy")):
        value = test.get(key)
        if value is None:
            continue
        eval_results.append(EvalResult(
            task_type="text-classification",
            task_name="DNA sequence classification",
            dataset_type=dataset_type,
            dataset_name=task,
            dataset_split="test",
            metric_type=metric_type,
            metric_name=pretty,
            metric_value=round(float(value), 4),
            metric_config="macro" if key == "f1_macro" else None,
        ))
    tags = ["genomics", "dna", "hubtune", family.name, method, _task_tag(task)]
    if family.name == "auto":
        tags.remove("auto")
    library = {"lora": "peft", "full": "transformers", "freeze": "transformers"}.get(method)
    labels = run.label_names
    hubtune_block = {
        "task": task,
        "labels": labels,
        "family": family.name,
        "method": method,
        "base_model": base_repo,
        "max_length": int(info["max_length"]),
        "window_bp": int(info["window_bp"]),
        "stride_bp": int(info["stride_bp"]),
        "test_mcc": None if test.get("mcc") is None else round(float(test["mcc"]), 4),
        "n_seeds": len(info.get("seeds") or [1]),
    }
    return ModelCardData(
        base_model=base_repo,
        datasets=[dataset] if dataset else None,
        eval_results=eval_results or None,
        model_name=repo_id.split("/")[-1],
        library_name=library,
        license=family.license if family.license != "other" else None,
        pipeline_tag="text-classification",
        tags=list(dict.fromkeys(tags)),
        hubtune=hubtune_block,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Card body
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class CardOptions:
    """What only the pushing side knows; defaults suit a local preview."""

    base_revision: str | None = None
    tokenizer_in_repo: bool = False


def _comparison(run: Run) -> tuple[str, str]:
    metrics = run.metrics
    per_seed = metrics.get("per_seed") or []
    n_seeds = len(per_seed)
    rows = []
    names = {"finetuned": "fine-tuned (this model)", "probe": "pre-trained probe (frozen base + logistic regression)",
             "kmer": "k-mer baseline (2-4-mer counts + logistic regression)"}
    for key, label in names.items():
        block = metrics.get(key)
        if not block:
            continue
        test, dev = block.get("test") or {}, block.get("dev") or {}
        if key == "finetuned" and n_seeds > 1:
            cells = []
            for metric in ("mcc", "f1_macro", "accuracy", "auroc"):
                values = [s["test"][metric] for s in per_seed if s.get("test", {}).get(metric) is not None]
                if len(values) > 1:
                    mean, sd = _mean_sd(values)
                    cells.append(f"{mean:.3f} ± {sd:.3f}")
                else:
                    cells.append(_fmt(test.get(metric)))
            dev_values = [s["dev"]["mcc"] for s in per_seed if s.get("dev", {}).get("mcc") is not None]
            dev_cell = f"{_mean_sd(dev_values)[0]:.3f} ± {_mean_sd(dev_values)[1]:.3f}" if len(dev_values) > 1 \
                else _fmt(dev.get("mcc"))
            rows.append([label, *cells, dev_cell])
        else:
            rows.append([label, _fmt(test.get("mcc")), _fmt(test.get("f1_macro")), _fmt(test.get("accuracy")),
                         _fmt(test.get("auroc")), _fmt(dev.get("mcc"))])
    table = _md_table(["model", "test MCC", "test macro F1", "test accuracy", "test AUROC", "dev MCC"], rows,
                      ["---", "--:", "--:", "--:", "--:", "--:"])
    notes = []
    if n_seeds > 1:
        best = run.info.get("best_seed")
        notes.append(f"Fine-tuned values are mean ± sample standard deviation over {n_seeds} training seeds "
                     f"({', '.join(str(s['seed']) for s in per_seed)}); the weights in this repo are from seed {best}, "
                     "chosen on dev MCC.")
    ft = (metrics.get("finetuned") or {}).get("test", {}).get("mcc")
    for key, label in (("probe", "the pre-trained probe"), ("kmer", "the k-mer baseline")):
        other = (metrics.get(key) or {}).get("test", {}).get("mcc")
        if ft is not None and other is not None and other >= ft:
            notes.append(f"On this test set {label} scores at least as well as the fine-tuned model "
                         f"(MCC {other:.3f} vs {ft:.3f}): check whether fine-tuning is worth it for this task.")
    return table, " ".join(notes)


def _label_table(run: Run) -> str:
    test = (run.metrics.get("finetuned") or {}).get("test") or {}
    per_class = {row["label"]: row for row in test.get("per_class") or []}
    rows = []
    for i, name in enumerate(run.label_names):
        row = per_class.get(name, {})
        rows.append([str(i), f"`{name}`", str(row.get("support", "–")), _fmt(row.get("precision")),
                     _fmt(row.get("recall")), _fmt(row.get("f1"))])
    return _md_table(["id", "label", "test sequences", "test precision", "test recall", "test F1"], rows,
                     ["--:", "---", "--:", "--:", "--:", "--:"])


def _leakage(run: Run) -> tuple[str, list[str], bool]:
    from .data import LeakageReport

    data = run.leakage
    try:
        report = LeakageReport(
            task=data.get("task", ""),
            split_sizes=data.get("split_sizes", {}),
            distinct=data.get("distinct_sequences", {}),
            pairs=data.get("pairs", {}),
            within=data.get("within_split", {}),
        )
        lines = report.summary_lines()
        has_leak = report.has_leak
    except (KeyError, TypeError, AttributeError):
        lines, has_leak = ["the leakage report of this run could not be read"], False
    rows = []
    for key, pair in (data.get("pairs") or {}).items():
        rows.append([key, str(pair.get("exact", 0)), str(pair.get("reverse_complement", 0)),
                     str(pair.get("label_conflicts", 0))])
    table = _md_table(["splits", "shared sequences (exact)", "shared as reverse complement", "with a different label"],
                      rows, ["---", "--:", "--:", "--:"]) if rows else ""
    return table, lines, has_leak


def _hyperparameters(run: Run, family: ModelFamily) -> str:
    info = run.info
    training = info.get("training") or {}
    mc = info.get("method_config") or {}
    rows: list[list[str]] = [["method", f"{run.method} ({_METHOD_NAMES.get(run.method, run.method)})"]]
    if run.method == "lora":
        targets = mc.get("targets") or mc.get("resolved_targets") or list(family.lora_targets)
        rows += [["LoRA rank r", str(mc.get("r", training.get("lora_r")))],
                 ["LoRA alpha", str(mc.get("alpha", training.get("lora_alpha")))],
                 ["LoRA dropout", str(mc.get("dropout", training.get("lora_dropout")))],
                 ["LoRA target modules", ", ".join(f"`{t}`" for t in targets) or "–"],
                 ["trained in full", "the classification head (`classifier`)"]]
    elif run.method == "freeze":
        rows.append(["frozen", f"embeddings + the lowest {mc.get('layers', training.get('freeze_layers'))} layers"])
    elif run.method == "probe":
        rows.append(["probe", "logistic regression on mean-pooled last-layer embeddings (C chosen on dev MCC)"])
    trainable, total = info.get("trainable_parameters"), info.get("total_parameters")
    if trainable and total:
        rows.append(["trainable parameters", f"{trainable:,} of {total:,} ({100 * trainable / total:.2f}%)"])
    if run.method != "probe":
        length = f"{training['max_steps']} steps" if training.get("max_steps") else f"{training.get('epochs')} epochs"
        rows += [["learning rate", f"{training.get('learning_rate', training.get('lr'))}"],
                 ["batch size", f"{training.get('batch_size')} × {training.get('grad_accum', 1)} gradient accumulation"],
                 ["training length", f"{length} (early stopping on dev MCC, patience {training.get('patience')})"],
                 ["weight decay / warmup", f"{training.get('weight_decay')} / {training.get('warmup_ratio')} of steps"],
                 ["class-weighted loss", "yes" if training.get("class_weights") else "no"],
                 ["precision", str(training.get("precision", "auto"))]]
    seeds = info.get("seeds") or []
    rows += [["max length", f"{info['max_length']} tokens (≈ {info['window_bp']} bp)"],
             ["long sequences", f"sliding windows of {info['window_bp']} bp, stride {info['stride_bp']} bp, "
                                f"class probabilities averaged over windows"],
             ["pooling (probes)", str(info.get("pooling", "mean"))],
             ["seeds", ", ".join(map(str, seeds)) + (f" (shipped: {info.get('best_seed')})" if len(seeds) > 1 else "")],
             ["deduplicated dev/test", "yes" if info.get("dedup") else "no"]]
    if info.get("train_seconds") is not None:
        rows.append(["training time", f"{float(info['train_seconds']):.0f} s"])
    return _md_table(["setting", "value"], rows)


def _usage(run: Run, family: ModelFamily, repo_id: str, base_repo: str, options: CardOptions) -> dict[str, str]:
    labels = run.label_names
    max_length = int(run.info["max_length"])
    revision = f', revision="{options.base_revision}"' if options.base_revision else ""
    method = run.method
    tokenizer_repo = repo_id if (options.tokenizer_in_repo or method in ("full", "freeze")) else base_repo
    tokenizer_revision = "" if tokenizer_repo == repo_id else revision
    plain = ""
    plain_intro = ""
    if method == "lora" and not family.needs_remote_code:
        plain_intro = ("With plain `transformers` and `peft` (the base model is loaded with a fresh head; the adapter "
                       "replaces it with the trained one):")
        plain = f"""import torch
from peft import PeftModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer

labels = {labels!r}
base = AutoModelForSequenceClassification.from_pretrained(
    "{base_repo}"{revision}, num_labels={len(labels)},
    id2label=dict(enumerate(labels)), label2id={{name: i for i, name in enumerate(labels)}},
)
model = PeftModel.from_pretrained(base, "{repo_id}").eval()
tokenizer = AutoTokenizer.from_pretrained("{tokenizer_repo}"{tokenizer_revision})

sequences = ["{EXAMPLE_SEQUENCE}"]
batch = tokenizer(sequences, truncation=True, max_length={max_length}, padding=True, return_tensors="pt")
with torch.no_grad():
    probs = model(**batch).logits.softmax(-1)
print([labels[i] for i in probs.argmax(-1).tolist()], probs.tolist())"""
    elif method == "lora":
        plain_intro = (f"With `peft`. The {family.display_name} repo's own modelling code does not run on "
                       "transformers 5, so the base comes from `hubtune.load_base_model` (same weights, same module "
                       "names); the `PeftModel.from_pretrained` line is the usual one:")
        plain = f"""import torch
from peft import PeftModel

import hubtune

labels = {labels!r}
base = hubtune.load_base_model("{base_repo}", num_labels={len(labels)}, label_names=labels{revision})
model = PeftModel.from_pretrained(base, "{repo_id}").eval()
tokenizer = hubtune.load_tokenizer("{tokenizer_repo}"{tokenizer_revision})

sequences = ["{EXAMPLE_SEQUENCE}"]
batch = tokenizer(sequences, truncation=True, max_length={max_length}, padding=True, return_tensors="pt")
with torch.no_grad():
    probs = model(**batch).logits.softmax(-1)
print([labels[i] for i in probs.argmax(-1).tolist()], probs.tolist())"""
    elif method in ("full", "freeze") and not family.needs_remote_code:
        plain_intro = "With plain `transformers` (the whole fine-tuned model is in this repo):"
        plain = f"""import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

model = AutoModelForSequenceClassification.from_pretrained("{repo_id}").eval()
tokenizer = AutoTokenizer.from_pretrained("{repo_id}")

sequences = ["{EXAMPLE_SEQUENCE}"]
batch = tokenizer(sequences, truncation=True, max_length={max_length}, padding=True, return_tensors="pt")
with torch.no_grad():
    probs = model(**batch).logits.softmax(-1)
print([model.config.id2label[i] for i in probs.argmax(-1).tolist()], probs.tolist())"""
    elif method in ("full", "freeze"):
        plain_intro = (f"The whole fine-tuned model is in this repo. The {family.display_name} repo's own modelling "
                       "code does not run on transformers 5, so load it with hubtune's native implementation:")
        plain = f"""import torch

import hubtune

labels = {labels!r}
model = hubtune.load_base_model("{repo_id}", num_labels={len(labels)}, label_names=labels).eval()
tokenizer = hubtune.load_tokenizer("{repo_id}")

sequences = ["{EXAMPLE_SEQUENCE}"]
batch = tokenizer(sequences, truncation=True, max_length={max_length}, padding=True, return_tensors="pt")
with torch.no_grad():
    probs = model(**batch).logits.softmax(-1)
print([labels[i] for i in probs.argmax(-1).tolist()], probs.tolist())"""
    hubtune_code = f"""import hubtune

classifier = hubtune.load_classifier("{repo_id}")
for prediction in classifier.predict(["{EXAMPLE_SEQUENCE}"]):
    print(prediction.label, prediction.probabilities)"""
    return {"plain": plain, "plain_intro": plain_intro, "hubtune": hubtune_code,
            "cli": f"hubtune predict {repo_id} --input sequences.fa --output predictions.csv"}


def compare_section(compare_report: str | Path | None) -> dict[str, Any] | None:
    if compare_report is None:
        return None
    folder = Path(compare_report)
    report = folder / "report.md"
    if not report.is_file():
        raise ConfigError(
            f"--compare-report {folder.name}: no report.md in that folder. Pass the output folder of `hubtune compare`."
        )
    lines = report.read_text(encoding="utf-8").splitlines()
    table: list[str] = []
    for line in lines:
        if line.lstrip().startswith("|"):
            table.append(line.strip())
        elif table:
            break
    table = [_scrub_paths(line) for line in table]
    plots = [f"compare/{p.name}" for p in sorted(folder.glob("*.png"))]
    return {"table": "\n".join(table), "plots": plots}


def _scrub_paths(text: str) -> str:
    # Absolute paths in a report would reveal the machine's folders; keep their last component only.
    return re.sub(r"(?<![\w.])(?:~|/)[^\s|)`'\"]*/([^\s|)`'\"/]+)", r"\1", text)


def _title(run: Run, family: ModelFamily) -> str:
    task = run.info.get("task") or "DNA"
    what = {"lora": "LoRA adapter", "full": "fine-tuned", "freeze": "partially fine-tuned", "probe": "linear probe"}
    return f"{task}: {family.display_name} {what.get(run.method, run.method)} for DNA sequence classification"


def _context(run: Run, repo_id: str, base_repo: str, compare_report: str | Path | None,
             options: CardOptions) -> dict[str, Any]:
    info, family = run.info, _family(run)
    metrics = run.metrics
    labels = run.label_names
    test = (metrics.get("finetuned") or {}).get("test") or {}
    comparison, comparison_notes = _comparison(run)
    leak_table, leak_lines, has_leak = _leakage(run)
    origin = str(info.get("base_model") or "")
    data_source = str(info.get("data_source") or "")
    dataset = dataset_id(run)
    split_sizes = info.get("split_sizes") or {}
    warnings: list[str] = []
    if origin in TINY_MODELS:
        warnings.append(
            f"The base model `{base_repo}` is hubtune's tiny random-weight stand-in for {family.display_name} (same "
            "layout, a few layers, untrained). It exists for offline demos and tests: this model's predictions are "
            "not biologically meaningful."
        )
    if has_leak:
        warnings.append(
            "Some dev/test sequences also occur in the training data (see the leakage check below): the test "
            "scores are optimistic."
        )
    n_seeds = len(info.get("seeds") or [1])
    headline = f"test MCC {_fmt(test.get('mcc'))}"
    if n_seeds > 1:
        summary = (metrics.get("summary") or {}).get("finetuned") or {}
        if summary.get("test_mcc_mean") is not None:
            headline = (f"test MCC {summary['test_mcc_mean']:.3f} ± {summary.get('test_mcc_sd', 0.0):.3f} over "
                        f"{n_seeds} seeds")
    method_phrase = {
        "lora": f"a LoRA adapter (rank {(info.get('method_config') or {}).get('r', '?')}) on",
        "full": "a full fine-tune of",
        "freeze": "a partial fine-tune (lower layers frozen) of",
        "probe": "a logistic-regression probe on frozen mean-pooled embeddings of",
    }.get(run.method, f"a {run.method} fine-tune of")
    label_list = ", ".join(f"`{name}`" for name in labels)
    intro = (
        f"Classifies DNA sequences into {len(labels)} classes ({label_list}) for the task **{info.get('task')}**. "
        f"It is {method_phrase} [`{base_repo}`]({_model_link(base_repo)}) ({family.display_name}), trained with "
        f"hubtune: {headline} on the held-out test split."
    )
    versions = info.get("versions") or {}
    env_table = _md_table(["package", "version"], [[k, str(v)] for k, v in versions.items()]) if versions else ""
    data_rows = [["source", f"[`{dataset}`](/datasets/{dataset})" if dataset
                  else f"`{public_source(data_source)}` (local files; only the name is shown)"],
                 ["task", str(info.get("task"))],
                 ["splits", str(info.get("split_origin") or "given")]]
    data_rows += [[f"{split} sequences", f"{n:,}"] for split, n in split_sizes.items()]
    limitations = [
        f"Trained on {split_sizes.get('train', 'the')} sequences of one task; accuracy on other species, assays, "
        "cell types or sequence lengths is unknown until measured.",
        f"Inputs are read as DNA (A/C/G/T, N for unknown; other IUPAC codes are rejected). Sequences longer than "
        f"{info['window_bp']} bp are split into sliding windows of {info['window_bp']} bp (stride {info['stride_bp']} "
        "bp) and their class probabilities are averaged, which can dilute a short signal in a long sequence.",
        "Probabilities are softmax outputs, not calibrated confidences.",
        "A prediction is a hypothesis for experiments, not a clinical or diagnostic result.",
    ]
    if family.license.startswith("cc-by-nc"):
        limitations.append(f"The base model is released under {family.license} (non-commercial, share-alike): check "
                           "its terms before any commercial use of this derivative.")
    compare = compare_section(compare_report)
    return {
        "title": _title(run, family),
        "intro": intro,
        "warnings": warnings,
        "repo_id": repo_id,
        "base_repo": base_repo,
        "base_link": _model_link(base_repo),
        "family_name": family.display_name,
        "family_paper": family.paper,
        "family_citation": family.citation,
        "license_name": family.license if family.license != "other" else "",
        "labels": labels,
        "label_table": _label_table(run),
        "comparison_table": comparison,
        "comparison_notes": comparison_notes,
        "data_table": _md_table(["", ""], data_rows),
        "leakage_table": leak_table,
        "leakage_lines": leak_lines,
        "hyperparameters": _hyperparameters(run, family),
        "usage": _usage(run, family, repo_id, base_repo, options),
        "method": run.method,
        "limitations": limitations,
        "environment_table": env_table,
        "created": info.get("created", ""),
        "compare": compare,
        "files": _file_list(run),
    }


def _model_link(repo_id: str) -> str:
    # Relative links resolve on whichever hub serves the card (huggingface.co or a local hub).
    return f"/{repo_id}"


def _file_list(run: Run) -> list[list[str]]:
    rows = [["`hubtune.json`", "labels, task, max length, windowing, base model and revision, training config, "
                               "library versions"],
            ["`metrics.json`", "fine-tuned, pre-trained-probe and k-mer scores on dev and test (per class, confusion "
                               "matrices, per seed)"],
            ["`leakage.json`", "overlap between splits (exact and reverse complement) and duplicates"]]
    if run.method == "lora":
        rows.insert(0, ["`adapter_model.safetensors`, `adapter_config.json`",
                        "LoRA weights and the trained classification head (peft format)"])
    elif run.method in ("full", "freeze"):
        rows.insert(0, ["`model.safetensors`, `config.json`", "the whole fine-tuned model"])
    else:
        rows.insert(0, ["`probe_head.safetensors`", "the probe: `weight` [classes, hidden] and `bias` [classes] applied "
                                                    "to mean-pooled last-layer embeddings of the base"])
    if (run.path / "base_probe_head.safetensors").is_file():
        rows.append(["`base_probe_head.safetensors`", "the pre-trained probe used for the base-model comparison"])
    return rows


# ---------------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------------


def render_run_card(run: Run, repo_id: str, base_repo: str, compare_report: str | Path | None, options: CardOptions):
    """Render a card when the caller already knows the base revision and where the tokenizer lives (used by push)."""
    card_data = build_card_data(run, repo_id, base_repo)
    context = _context(run, repo_id, base_repo, compare_report, options)
    return _render_template(MODEL_CARD_TEMPLATE, card_data, context)


def render_card(run_path: str | Path | Run, *, repo_id: str, base_repo: str | None = None,
                compare_report: str | Path | None = None):
    """Render the model card of a run as a `huggingface_hub.ModelCard`.

    Args:
        run_path: a run folder (or `Run`).
        repo_id: the repo the card will live at (used in the usage snippets and the model-index name).
        base_repo: the base model's repo id on the target hub; default: the run's base if it is a Hub id, else
            `<namespace of repo_id>/<tiny name or folder name>` (where `push` publishes it).
        compare_report: a `hubtune compare` report folder whose main table and plots are added to the card.
    """
    run = _load_run(run_path)
    namespace = repo_id.split("/")[0] if "/" in repo_id else PLACEHOLDER_NAMESPACE
    base = base_repo or default_base_repo(run.base_model, namespace)
    revision = run.info.get("base_model_revision") if base == run.base_model else None
    return render_run_card(run, repo_id, base, compare_report, CardOptions(base_revision=revision,
                                                                   tokenizer_in_repo=_tokenizer_differs_locally(run)))


def _tokenizer_differs_locally(run: Run) -> bool:
    """For a preview: compare the run's tokenizer with a tiny or local base (a Hub base is assumed to match)."""
    origin = run.base_model
    folder: Path | None = None
    if origin in TINY_MODELS:
        from .models import tiny_model_path

        folder = tiny_model_path(origin)
    elif is_local_path(origin) and Path(origin).expanduser().is_dir():
        folder = Path(origin).expanduser()
    if folder is None:
        return False
    return tokenizer_differs(run.path, {name: (folder / name) for name in TOKENIZER_FILES if (folder / name).is_file()})


def normalized_tokenizer_file(name: str, data: bytes) -> Any:
    """Comparable content of a tokenizer file: JSON minus the keys `save_pretrained` adds about where it ran."""
    if name.endswith(".json"):
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return data
        if isinstance(obj, dict):
            for key in ("is_local", "local_files_only", "name_or_path", "_commit_hash", "tokenizer_file"):
                obj.pop(key, None)
        return obj
    return data


def tokenizer_differs(run_dir: Path, base_files: dict[str, Path | bytes | None]) -> bool:
    """True when any tokenizer file of the run is absent from the base or differs from it in content."""
    ours = [name for name in TOKENIZER_FILES if (run_dir / name).is_file()]
    if not ours:
        return False
    for name in ours:
        theirs = base_files.get(name)
        if theirs is None:
            return True
        their_bytes = theirs if isinstance(theirs, bytes) else Path(theirs).read_bytes()
        if normalized_tokenizer_file(name, (run_dir / name).read_bytes()) != normalized_tokenizer_file(name, their_bytes):
            return True
    return False


def write_card(run_path: str | Path, output: str | Path | None = None, repo_id: str | None = None) -> Path:
    """Write a run's model card to `output` (default `RUN/README.md`) for preview; returns the file written.

    Without `repo_id` the snippets use `your-username/<run folder name>`; pass the repo you will push to.
    """
    run = _load_run(run_path)
    if repo_id is not None:
        from .hub import validate_repo_id

        repo_id = validate_repo_id(repo_id)
    repo = repo_id or f"{PLACEHOLDER_NAMESPACE}/{repo_name_slug(run.path.resolve().name)}"
    card = render_card(run, repo_id=repo)
    target = Path(output) if output is not None else run.path / "README.md"
    if target.is_dir():
        target = target / "README.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(str(card), encoding="utf-8")
    os.replace(tmp, target)
    return target


# ---------------------------------------------------------------------------------------------------------------------
# Base model card (for tiny or local bases that `push` publishes)
# ---------------------------------------------------------------------------------------------------------------------


def render_base_card(folder: Path, repo_id: str, *, origin: str, family: ModelFamily):
    """Card of a base model that hubtune publishes so adapters can point at it (a tiny stand-in or a local folder)."""
    from huggingface_hub import ModelCardData

    config = json.loads((folder / "config.json").read_text())
    architectures = config.get("architectures") or []
    arch = architectures[0] if architectures else ""
    pipeline = ("fill-mask" if arch.endswith("ForMaskedLM") else
                "text-classification" if arch.endswith("ForSequenceClassification") else "feature-extraction")
    is_tiny = origin in TINY_MODELS
    tags = ["genomics", "dna", "hubtune-base", family.name]
    if is_tiny:
        tags.append("tiny-random")
    card_data = ModelCardData(
        library_name="transformers",
        license=family.license if family.license != "other" else None,
        pipeline_tag=pipeline,
        tags=[t for t in dict.fromkeys(tags) if t != "auto"],
    )
    sizes = [[key.replace("_", " "), str(config[key])] for key in
             ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
              "vocab_size", "max_position_embeddings") if key in config]
    context = {
        "repo_id": repo_id,
        "origin": public_source(origin),
        "is_tiny": is_tiny,
        "family_name": family.display_name,
        "family_paper": family.paper,
        "family_citation": family.citation,
        "real_ids": list(family.hub_ids),
        "architecture": arch or config.get("model_type", "unknown"),
        "config_table": _md_table(["setting", "value"], sizes) if sizes else "",
        "needs_native": family.needs_remote_code,
    }
    return _render_template(BASE_CARD_TEMPLATE, card_data, context)


__all__ = [
    "EXAMPLE_SEQUENCE",
    "TOKENIZER_FILES",
    "build_card_data",
    "default_base_repo",
    "render_base_card",
    "render_card",
    "tokenizer_differs",
    "write_card",
]
