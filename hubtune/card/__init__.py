"""Model cards: the README.md of a pushed run, rendered from `HubtuneCardData` and the Jinja templates in `cards/`.

`build_card_data` fills a `HubtuneCardData` (a `huggingface_hub.ModelCardData`) from a run folder; the template
`cards/model_card.md.j2` renders the whole body from it: what the model predicts (classes, a label set with per-label
thresholds, or values in the targets' units, following the run's problem type), the comparison with the pre-trained
probe and the k-mer baseline in the problem's metrics (`hubtune.card.results`), how to load it
(`cards/snippet.py.j2`, one snippet for every method, family and problem type), the training data with its leakage
check, the hyperparameters, limitations, files, environment and citation. Bases that `push` publishes get their own
card (`cards/base_model_card.md.j2`).

Example:
    >>> from hubtune.card import write_card
    >>> write_card("runs/promoter-lora", repo_id="alice/promoter-lora")  # doctest: +SKIP
    PosixPath('runs/promoter-lora/README.md')
"""

from __future__ import annotations

import importlib.resources
import json
from functools import cache
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from ..errors import ConfigError
from ..jsonio import write_atomic
from ..models.registry import TINY_MODELS, ModelFamily
from ..pretrained_folder import PLOT_FILE as PRETRAINING_PLOT
from ..pretrained_folder import is_pretrained_folder, read_pretraining_record
from ..repo_ids import default_base_repo, public_source, repo_name_slug, validate_repo_id
from ..run import Run
from ..tables import fmt
from .content import (
    EXAMPLE_SEQUENCE,
    PIPELINE_TAG,
    CardOptions,
    HubtuneCardData,
    build_card_data,
    compare_section,
    load_card_run,
)
from .tokenizer import preview_tokenizer_differs, tokenizer_differs

TEMPLATE_PACKAGE = "hubtune.cards"
MODEL_CARD_TEMPLATE = "model_card.md.j2"
BASE_CARD_TEMPLATE = "base_model_card.md.j2"
# Namespace shown in a locally previewed card when no --repo is given.
PLACEHOLDER_NAMESPACE = "your-username"


# ---------------------------------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------------------------------


def _template_source(name: str) -> str | None:
    resource = importlib.resources.files(TEMPLATE_PACKAGE).joinpath(name)
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


def _md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["fmt"] = fmt
    env.filters["cell"] = _md_cell
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else str(n)
    return env


def _render(name: str, card_data: ModelCardData, context: dict[str, Any]) -> ModelCard:
    import jinja2

    try:
        template = _environment().get_template(name)
    except jinja2.TemplateNotFound:
        raise ConfigError(
            f"The card template {name} is missing from the hubtune installation (package {TEMPLATE_PACKAGE})."
        ) from None
    return ModelCard(template.render(card_data=card_data.to_yaml(), **context))


# ---------------------------------------------------------------------------------------------------------------------
# Run cards
# ---------------------------------------------------------------------------------------------------------------------


def render_run_card(run: Run | str | Path, repo_id: str, base_repo: str, compare_report: str | Path | None,
                    options: CardOptions) -> ModelCard:
    """Render a run's card when the caller knows the base revision and where the tokenizer lives (used by push).

    Example:
        >>> card = render_run_card(run, "alice/promoter-lora", "alice/tiny-nt", None,
        ...                        CardOptions(base_revision="3f2a9c1"))  # doctest: +SKIP
        >>> card.data.library_name  # doctest: +SKIP
        'peft'
    """
    data = build_card_data(run, repo_id, base_repo, options=options, compare_report=compare_report)
    return _render(MODEL_CARD_TEMPLATE, data, data.body())


def render_card(run_path: str | Path | Run, *, repo_id: str, base_repo: str | None = None,
                compare_report: str | Path | None = None) -> ModelCard:
    """Render the model card of a run as a `huggingface_hub.ModelCard`.

    Args:
        run_path: a run folder (or `Run`).
        repo_id: the repo the card will live at (used in the usage snippets and the model-index name).
        base_repo: the base model's repo id on the target hub; default: the run's base if it is a Hub id, else
            `<namespace of repo_id>/<tiny name or folder name>` (where `push` publishes it).
        compare_report: a `hubtune compare` report folder whose main table and plots are added to the card.

    Example:
        >>> card = render_card("runs/promoter-lora", repo_id="alice/promoter-lora")  # doctest: +SKIP
        >>> card.data.base_model  # doctest: +SKIP
        'alice/tiny-nt'
    """
    run = load_card_run(run_path)
    namespace = repo_id.split("/")[0] if "/" in repo_id else PLACEHOLDER_NAMESPACE
    base = base_repo or default_base_repo(run.base_model, namespace)
    revision = run.info.base_model_revision if base == run.base_model else None
    options = CardOptions(base_revision=revision, tokenizer_in_repo=preview_tokenizer_differs(run))
    return render_run_card(run, repo_id, base, compare_report, options)


def write_card(run_path: str | Path, output: str | Path | None = None, repo_id: str | None = None) -> Path:
    """Write a run's model card to `output` (default `RUN/README.md`) for preview; returns the file written.

    Without `repo_id` the snippets use `your-username/<run folder name>`; pass the repo you will push to.

    Raises:
        RunFolderError: the run folder is missing or incomplete.
        HubError: `repo_id` is not a valid repo id.

    Example:
        >>> write_card("runs/promoter-lora", repo_id="alice/promoter-lora")  # doctest: +SKIP
        PosixPath('runs/promoter-lora/README.md')
    """
    run = load_card_run(run_path)
    if repo_id is not None:
        repo_id = validate_repo_id(repo_id)
    repo = repo_id or f"{PLACEHOLDER_NAMESPACE}/{repo_name_slug(run.path.resolve().name)}"
    card = render_card(run, repo_id=repo)
    target = Path(output) if output is not None else run.path / "README.md"
    if target.is_dir():
        target = target / "README.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, str(card))
    return target


# ---------------------------------------------------------------------------------------------------------------------
# Base model card (for tiny or local bases that `push` publishes)
# ---------------------------------------------------------------------------------------------------------------------

_BASE_CONFIG_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "vocab_size", "max_position_embeddings")


def render_base_card(folder: Path, repo_id: str, *, origin: str, family: ModelFamily) -> ModelCard:
    """Card of a base model that hubtune publishes so adapters can point at it (a tiny stand-in or a local folder).

    Example:
        >>> card = render_base_card(tiny_model_path("tiny-nt"), "alice/tiny-nt", origin="tiny-nt",
        ...                         family=FAMILIES["nt"])  # doctest: +SKIP
        >>> "tiny-random" in card.data.tags  # doctest: +SKIP
        True
    """
    config = json.loads((folder / "config.json").read_text())
    architectures = config.get("architectures") or []
    arch = architectures[0] if architectures else ""
    pipeline = ("fill-mask" if arch.endswith("ForMaskedLM") else
                PIPELINE_TAG if arch.endswith("ForSequenceClassification") else "feature-extraction")
    is_tiny = origin in TINY_MODELS
    pretraining = _pretraining_context(folder)
    tiny_tag = ["tiny-pretrained" if pretraining else "tiny-random"] if is_tiny else []
    tags = ["genomics", "dna", "hubtune-base", family.name, *tiny_tag] + (["hubtune-pretrained"] if pretraining else [])
    card_data = ModelCardData(
        library_name="transformers",
        license=family.license if family.license != "other" else None,
        pipeline_tag=pipeline,
        tags=[t for t in dict.fromkeys(tags) if t != "auto"],
    )
    context = {
        "repo_id": repo_id,
        "origin": public_source(origin),
        "is_tiny": is_tiny,
        "family_name": family.display_name,
        "family_paper": family.paper,
        "family_citation": family.citation,
        "real_ids": list(family.hub_ids),
        "architecture": arch or config.get("model_type", "unknown"),
        "config_rows": [(key.replace("_", " "), str(config[key])) for key in _BASE_CONFIG_KEYS if key in config],
        "needs_native": family.needs_remote_code,
        "pretraining": pretraining,
    }
    return _render(BASE_CARD_TEMPLATE, card_data, context)


def _pretraining_context(folder: Path) -> dict[str, Any] | None:
    """What the base card says about a folder written by `hubtune pretrain` (None for any other folder)."""
    if not is_pretrained_folder(folder):
        return None
    record = read_pretraining_record(folder).record
    corpus = record.get("corpus") or {}
    evaluation = record.get("eval") or {}
    before, after = evaluation.get("before") or {}, evaluation.get("after") or {}
    return {
        "base_model": public_source(str(record.get("base_model") or "")),
        "method": record.get("method"),
        "corpus": public_source(str(corpus.get("source") or "")),
        "train_windows": corpus.get("train_windows"),
        "train_bp": corpus.get("train_bp"),
        "eval_windows": evaluation.get("windows"),
        "chunk_bp": corpus.get("chunk_bp"),
        "steps": record.get("steps"),
        "mlm_probability": record.get("mlm_probability"),
        "seed": record.get("seed"),
        "loss_before": before.get("loss"),
        "loss_after": after.get("loss"),
        "accuracy_before": before.get("accuracy"),
        "accuracy_after": after.get("accuracy"),
        "plot": PRETRAINING_PLOT if (folder / PRETRAINING_PLOT).is_file() else None,
    }


# The package's API: rendering and writing cards, and what `push` needs. Helpers (`task_tag`, `weights_layout`,
# `normalized_tokenizer_file`) are imported from `hubtune.card.content` and `hubtune.card.tokenizer`.
__all__ = [
    "EXAMPLE_SEQUENCE",
    "CardOptions",
    "HubtuneCardData",
    "build_card_data",
    "compare_section",
    "render_base_card",
    "render_card",
    "render_run_card",
    "tokenizer_differs",
    "write_card",
]
