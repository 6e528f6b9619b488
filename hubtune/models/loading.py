"""`load_base_model` and `load_tokenizer`: the one way hubtune, its model cards and its users get a family's model."""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import ModelError
from ..repo_ids import looks_like_repo_id_or_name
from .registry import ModelFamily, family_from_config, family_from_name, read_local_config
from .tiny import TINY_MODELS, tiny_model_path

Task = Literal["classification", "mlm", "base"]


@dataclass
class ResolvedModel:
    """Where a model comes from and which family it belongs to."""

    name: str  # what the user passed: a Hub id, a folder or a tiny name
    source: str  # what from_pretrained receives: a Hub id or a local folder
    family: ModelFamily
    revision: str | None  # the commit the Hub resolved, when known
    config: dict[str, Any]
    is_tiny: bool = False

    @property
    def is_local(self) -> bool:
        """True when `source` is a folder on this machine (no Hub revision applies)."""
        return Path(self.source).is_dir()


def resolve_model(
    name_or_path: str | Path, *, revision: str | None = None, token: str | None = None
) -> ResolvedModel:
    """Find the checkpoint `name_or_path` (tiny name, local folder or Hub id) and its family, without running its code.

    Example:
        >>> resolve_model("tiny-nt").family.name  # doctest: +SKIP
        'nt'
    """
    name = str(name_or_path)
    if name in TINY_MODELS:
        path = tiny_model_path(name)
        config = read_local_config(path)
        return ResolvedModel(name, str(path), family_from_name(name), None, config, is_tiny=True)  # type: ignore[arg-type]
    path = Path(name).expanduser()
    if path.is_dir():
        config = read_local_config(path)
        return ResolvedModel(name, str(path), family_from_config(config, name), revision, config)
    if not looks_like_repo_id_or_name(name):
        raise ModelError(
            f"Model {name!r} is neither a built-in tiny model ({', '.join(sorted(TINY_MODELS))}), an existing folder, "
            "nor a Hub repo id like 'InstaDeepAI/nucleotide-transformer-v2-50m-multi-species'."
        )
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        config_file = Path(hf_hub_download(name, "config.json", revision=revision, token=token))
    except RepositoryNotFoundError:
        raise ModelError(
            f"Model {name!r} was not found on the Hub (or it is private: log in with `hf auth login`)."
        ) from None
    except LocalEntryNotFoundError:
        # A subclass of EntryNotFoundError: the Hub could not be reached (or HF_HUB_OFFLINE=1) and nothing is cached.
        raise ModelError(
            f"Could not reach the Hub to download the config of {name!r}, and it is not in the local cache. Check the "
            "network, HF_ENDPOINT and HF_HUB_OFFLINE, or pass a local folder."
        ) from None
    except EntryNotFoundError:
        raise ModelError(f"The Hub repo {name!r} has no config.json: it is not a transformers model.") from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelError(
            f"Could not download the config of {name!r} from the Hub ({type(exc).__name__}: {exc}). Check the network, "
            "HF_ENDPOINT, or pass a local folder."
        ) from None
    config = json.loads(config_file.read_text())
    resolved_revision = config_file.parent.name if len(config_file.parent.name) == 40 else revision
    family = family_from_name(name) or family_from_config(config, name)
    return ResolvedModel(name, name, family, resolved_revision, config)


@contextlib.contextmanager
def _quiet_transformers():
    """Silence the expected 'newly initialized classifier' warning when a head is added to a pre-trained backbone."""
    logger = logging.getLogger("transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _needs_repo_code(config: dict[str, Any]) -> bool:
    """A config whose model type transformers does not know and that points at code in its repo (`auto_map`)."""
    if not config.get("auto_map"):
        return False
    from transformers import CONFIG_MAPPING

    return config.get("model_type") not in CONFIG_MAPPING


def load_base_model(
    name_or_path: str | Path,
    num_labels: int = 2,
    *,
    label_names: list[str] | None = None,
    task: Task = "classification",
    revision: str | None = None,
    trust_remote_code: bool = False,
    resolved: ResolvedModel | None = None,
    token: str | None = None,
    problem_type: str | None = None,
    **kwargs: Any,
):
    """Load a genomic language model with a fresh classification head (or its MLM head / bare encoder).

    Args:
        name_or_path: a Hub id (e.g. ``"zhihan1996/DNABERT-2-117M"``), a local ``save_pretrained`` folder, or a built-in
            tiny name (``"tiny-nt"``).
        num_labels: number of classes of the head.
        label_names: optional class names, stored as ``id2label`` in the model config.
        task: ``"classification"`` (default), ``"mlm"`` (masked-LM head) or ``"base"`` (encoder only).
        revision: a Hub branch, tag or commit.
        trust_remote_code: run the repo's own Python code. Never needed for families hubtune implements natively.
        token: Hub token for a private repo; default: HF_TOKEN or the saved login.
        problem_type: transformers' ``config.problem_type`` of the head (``single_label_classification``,
            ``multi_label_classification`` or ``regression``), which selects its loss; default single-label.

    Returns:
        A ``transformers.PreTrainedModel``.

    Example:
        >>> model = load_base_model("zhihan1996/DNABERT-2-117M", num_labels=2)  # doctest: +SKIP
        >>> type(model).__name__  # doctest: +SKIP
        'Dnabert2ForSequenceClassification'
    """
    resolved = resolved or resolve_model(name_or_path, revision=revision, token=token)
    family = resolved.family
    label_kwargs: dict[str, Any] = {}
    if task == "classification":
        problem_type = problem_type or "single_label_classification"
        least = 1 if problem_type != "single_label_classification" else 2
        if num_labels < least:
            raise ModelError(f"num_labels must be at least {least} for {problem_type}, got {num_labels}.")
        names = label_names or [str(i) for i in range(num_labels)]
        label_kwargs = {
            "num_labels": num_labels,
            "id2label": dict(enumerate(names)),
            "label2id": {n: i for i, n in enumerate(names)},
            "problem_type": problem_type,
        }
    native = family.load_native()
    with _quiet_transformers():
        if native is not None and not trust_remote_code:
            model = native(
                resolved.source, task=task, num_labels=num_labels, revision=resolved.revision, token=token, **kwargs
            )
            if label_kwargs:
                model.config.id2label = label_kwargs["id2label"]
                model.config.label2id = label_kwargs["label2id"]
                model.config.problem_type = label_kwargs["problem_type"]
            return model
        if (family.needs_remote_code or _needs_repo_code(resolved.config)) and not trust_remote_code:
            raise ModelError(
                f"{resolved.name} ({family.display_name}) needs the repo's own Python code and this installation has "
                "no native implementation for it. Pass --trust-remote-code (Python: trust_remote_code) if you trust that repo."
            )
        from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

        auto_class = {
            "classification": AutoModelForSequenceClassification,
            "mlm": AutoModelForMaskedLM,
            "base": AutoModel,
        }[task]
        try:
            return auto_class.from_pretrained(
                resolved.source,
                revision=None if resolved.is_local else resolved.revision,
                trust_remote_code=trust_remote_code,
                token=token,
                **label_kwargs,
                **kwargs,
            )
        except Exception as exc:  # corrupt files, refused pickles, shape mismatches: all a model the user pointed at
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"Could not load {resolved.name} as a {task} model: {first_line[:300]}. hubtune reads pickled weights "
                "only with torch.load(weights_only=True) and never runs code from a model repo."
            ) from None


def load_tokenizer(
    name_or_path: str | Path,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    resolved: ResolvedModel | None = None,
    token: str | None = None,
):
    """Load the tokenizer of a genomic LM (Hub id, local folder or tiny name). Input DNA must be uppercase.

    Example:
        >>> load_tokenizer("tiny-nt").tokenize("ACGTACGTA")  # doctest: +SKIP
        ['ACGTAC', 'G', 'T', 'A']
    """
    from transformers import AutoTokenizer

    resolved = resolved or resolve_model(name_or_path, revision=revision, token=token)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            resolved.source,
            revision=None if resolved.is_local else resolved.revision,
            trust_remote_code=trust_remote_code,
            token=token,
            **resolved.family.tokenizer_kwargs,
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"Could not load the tokenizer of {resolved.name}: {exc}") from None
    if tokenizer.pad_token is None:
        raise ModelError(f"The tokenizer of {resolved.name} has no padding token; batches cannot be padded.")
    return tokenizer
