"""Read a transformers checkpoint as data and copy its weights into a model, without running code from it.

`read_checkpoint` fetches config.json and the weights of a local folder or Hub repo (safetensors preferred; a
pickled ``pytorch_model.bin`` only through ``torch.load(weights_only=True)``). `load_weights_into` places the
tensors by name and returns a `LoadReport`. `config_kwargs` and `published_config_dict` translate a published
config.json (another ``model_type``, an ``auto_map`` to remote code) into the fields of a native config class.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedConfig, PreTrainedModel

from ..errors import ModelError

__all__ = [
    "WEIGHT_FILES",
    "LoadReport",
    "config_kwargs",
    "load_weights_into",
    "published_config_dict",
    "read_checkpoint",
    "read_weights",
]

# Weight files in order of preference: safetensors first (no pickle), then the pickled .bin.
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


@dataclass
class LoadReport:
    """What loading a checkpoint did. `ok` is True when no backbone weight was missing and no tensor went unused.

    - missing_keys: model parameters the checkpoint lacks that are not a freshly added head (should be empty).
    - unexpected_keys: checkpoint tensors the model has no place for (should be empty).
    - newly_initialized: head parameters the checkpoint does not carry (e.g. `classifier.*` on an MLM checkpoint).
    - unused_keys: checkpoint tensors knowingly dropped (another task's head, e.g. `cls.predictions.*`).
    - tied_keys: parameters filled by weight tying rather than from the file.

    Example:
        >>> model = load_dnabert2("zhihan1996/DNABERT-2-117M")  # doctest: +SKIP
        >>> model.load_report.ok, model.load_report.newly_initialized[:1]  # doctest: +SKIP
        (True, ['bert.pooler.dense.bias'])
    """

    source: str
    weights_file: str
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    newly_initialized: list[str] = field(default_factory=list)
    unused_keys: list[str] = field(default_factory=list)
    tied_keys: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every backbone weight came from the checkpoint and every checkpoint tensor was placed."""
        return not self.missing_keys and not self.unexpected_keys


def _hub_download(repo_id: str, filename: str, revision: str | None, hub_kwargs: dict[str, Any]) -> Path | None:
    """Download one file of a Hub repo; None when the repo has no such file."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, **hub_kwargs))
    except LocalEntryNotFoundError:
        # A subclass of EntryNotFoundError raised when the Hub cannot be reached (or HF_HUB_OFFLINE=1).
        raise ModelError(
            f"Could not reach the Hub to download {filename} of {repo_id!r}, and it is not in the local cache. Check "
            "the network, HF_ENDPOINT and HF_HUB_OFFLINE, or pass a local folder."
        ) from None
    except EntryNotFoundError:
        return None
    except RepositoryNotFoundError:
        raise ModelError(
            f"Model {repo_id!r} was not found on the Hub (or it is private or gated: log in with `hf auth login`)."
        ) from None
    except RevisionNotFoundError:
        raise ModelError(
            f"The Hub repo {repo_id!r} has no revision {revision!r}; pass an existing branch, tag or commit."
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelError(
            f"Could not download {filename} of {repo_id!r} from the Hub ({type(exc).__name__}: {exc}). Check the "
            "network and HF_ENDPOINT, or pass a local folder."
        ) from None


def read_checkpoint(
    name_or_path: str | Path, *, revision: str | None = None, **hub_kwargs: Any
) -> tuple[dict[str, Any], dict[str, torch.Tensor], str]:
    """Read config.json and all weights of a local folder or Hub repo, without importing any code from it.

    Returns (raw config dict, state dict on CPU, the weights file used). Safetensors are preferred (see
    `WEIGHT_FILES`); a pickled `pytorch_model.bin` is read with ``torch.load(weights_only=True)``, which refuses
    anything but tensors. Sharded checkpoints (``*.index.json``) are read shard by shard. ``hub_kwargs`` go to
    ``huggingface_hub.hf_hub_download`` (token, cache_dir, local_files_only, ...).

    Example:
        >>> config, state, weights_file = read_checkpoint("zhihan1996/DNABERT-2-117M")  # doctest: +SKIP
        >>> config["auto_map"]["AutoModel"], weights_file.endswith("pytorch_model.bin")  # doctest: +SKIP
        ('bert_layers.BertModel', True)
    """
    folder = Path(name_or_path).expanduser()
    is_local = folder.is_dir()

    def fetch(filename: str) -> Path | None:
        if is_local:
            path = folder / filename
            return path if path.is_file() else None
        return _hub_download(str(name_or_path), filename, revision, hub_kwargs)

    config_file = fetch("config.json")
    if config_file is None:
        raise ModelError(f"{name_or_path} has no config.json: it is not a transformers checkpoint folder or repo.")
    try:
        raw_config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{config_file} is not valid JSON ({exc}); re-download or fix the file.") from None
    if not isinstance(raw_config, dict):
        raise ModelError(f"{config_file} must hold a JSON object of model settings.")

    for filename in WEIGHT_FILES:
        weights_file = fetch(filename)
        if weights_file is None:
            continue
        if filename.endswith(".index.json"):
            try:
                weight_map = json.loads(weights_file.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
                raise ModelError(f"{weights_file} is not a valid shard index ({exc}).") from None
            state: dict[str, torch.Tensor] = {}
            for shard in sorted(set(weight_map.values())):
                shard_file = fetch(shard)
                if shard_file is None:
                    raise ModelError(f"{name_or_path}: shard {shard} listed in {filename} is missing.")
                state.update(read_weights(shard_file))
            return raw_config, state, str(weights_file)
        return raw_config, read_weights(weights_file), str(weights_file)
    raise ModelError(f"{name_or_path} has no weights: expected one of {', '.join(WEIGHT_FILES)} next to config.json.")


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """One weights file as a flat name -> tensor dict: safetensors, or a pickle opened with ``weights_only=True``.

    Anything else (a pickle holding objects, a corrupt file, a nested dict) raises ModelError; there is no fallback
    to unrestricted unpickling.

    Example:
        >>> state = read_weights(Path("tiny-dnabert2/pytorch_model.bin"))  # doctest: +SKIP
        >>> state["bert.embeddings.word_embeddings.weight"].shape  # doctest: +SKIP
        torch.Size([512, 64])
    """
    try:
        if path.name.endswith(".safetensors"):
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or hostile file: report it, never fall back to unsafe loading
        # torch's own text is long, coloured and suggests weights_only=False: keep only its first line.
        first_line = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelError(
            f"Refusing the weights in {path}: they are not a plain tensor checkpoint ({type(exc).__name__}: "
            f"{first_line[:200]}). Only safetensors, or a .bin that torch.load opens with weights_only=True, are "
            "accepted; hubtune never unpickles arbitrary objects."
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path} does not hold a flat name -> tensor state dict.")
    return state


def load_weights_into(
    model: PreTrainedModel,
    state: dict[str, torch.Tensor],
    *,
    source: str,
    weights_file: str,
    head_prefixes: Iterable[str],
    ignorable_prefixes: Iterable[str],
    strict: bool = True,
) -> LoadReport:
    """Copy `state` into `model` by name and report what happened.

    `head_prefixes`: parameters the checkpoint may lack (a task head added on top of a pre-trained backbone).
    `ignorable_prefixes`: checkpoint tensors that may be dropped (another task's head). Keys are matched with or
    without the model's `base_model_prefix`, so a bare-encoder checkpoint fits a head model and vice versa.
    Shape mismatches always raise ModelError; with `strict`, so do missing backbone weights and unused tensors.

    Example:
        >>> config, state, weights_file = read_checkpoint(folder)  # doctest: +SKIP
        >>> report = load_weights_into(model, state, source=str(folder), weights_file=weights_file,
        ...                            head_prefixes=("classifier.",), ignorable_prefixes=("lm_head.",))  # doctest: +SKIP
        >>> report.ok  # doctest: +SKIP
        True
    """
    prefix = model.base_model_prefix
    own = model.state_dict()
    has_prefix = any(k.startswith(prefix + ".") for k in own)
    remapped: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        name = key
        if has_prefix and name not in own and f"{prefix}.{name}" in own:
            name = f"{prefix}.{name}"
        elif not has_prefix and name.startswith(prefix + "."):
            name = name[len(prefix) + 1 :]
        remapped[name] = tensor

    tied_targets = set(getattr(model, "all_tied_weights_keys", {}) or {})
    head_prefixes = tuple(head_prefixes)
    ignorable_prefixes = tuple(ignorable_prefixes)
    report = LoadReport(source=source, weights_file=weights_file)
    to_load: dict[str, torch.Tensor] = {}
    mismatched: list[str] = []
    for name, tensor in remapped.items():
        if name in tied_targets and name in own:
            continue  # filled by tying below (torch .bin files store tied tensors under both names)
        if name in own:
            if tuple(own[name].shape) != tuple(tensor.shape):
                mismatched.append(f"{name}: checkpoint {tuple(tensor.shape)} vs model {tuple(own[name].shape)}")
            else:
                to_load[name] = tensor
        elif name.startswith(ignorable_prefixes):
            report.unused_keys.append(name)
        else:
            report.unexpected_keys.append(name)
    for name in own:
        if name in to_load:
            continue
        if name in tied_targets:
            report.tied_keys.append(name)
        elif name.startswith(head_prefixes):
            report.newly_initialized.append(name)
        else:
            report.missing_keys.append(name)
    if mismatched:
        raise ModelError(
            f"{source}: {len(mismatched)} weight(s) in {weights_file} do not fit the model built from its config "
            f"({'; '.join(mismatched[:3])}). For a classification head this means num_labels differs from the "
            "checkpoint's; otherwise config.json does not describe these weights."
        )
    if strict and not report.ok:
        raise ModelError(
            f"{source}: the weights in {weights_file} do not match the {type(model).__name__} layout: "
            f"{len(report.missing_keys)} missing (e.g. {report.missing_keys[:3]}), {len(report.unexpected_keys)} "
            f"unexpected (e.g. {report.unexpected_keys[:3]}). Check that this is the right model family, or pass "
            "strict=False to load what fits and inspect model.load_report."
        )
    targets = dict(model.named_parameters(remove_duplicate=False)) | dict(model.named_buffers(remove_duplicate=False))
    with torch.no_grad():
        for name, tensor in to_load.items():
            targets[name].copy_(tensor.to(dtype=targets[name].dtype))
    if tied_targets:
        model.tie_weights()
    for values in (report.missing_keys, report.unexpected_keys, report.newly_initialized, report.unused_keys):
        values.sort()
    return report


def config_kwargs(config_class: type[PreTrainedConfig], raw: dict[str, Any]) -> dict[str, Any]:
    """The fields of a raw config.json that `config_class` declares (auto_map, architectures, model_type etc. are
    dropped; id2label, label2id and problem_type are kept when set).

    Example:
        >>> config = Dnabert2Config(**config_kwargs(Dnabert2Config, raw_config))  # doctest: +SKIP
    """
    names = {f.name for f in dataclasses.fields(config_class)}
    names -= {"transformers_version", "architectures", "dtype", "output_hidden_states", "return_dict"}
    kwargs = {k: v for k, v in raw.items() if k in names}
    for key in ("id2label", "label2id", "problem_type"):
        if raw.get(key) is not None:
            kwargs[key] = raw[key]
    return kwargs


def published_config_dict(config_class: type[PreTrainedConfig], loaded: tuple[dict, dict]) -> tuple[dict, dict]:
    """Translate a published config.json (another model_type, auto_map to remote code) into `config_class` fields,
    so `from_pretrained` on a published folder neither warns about the model type nor keeps the auto_map.

    Example (inside a config class):
        >>> @classmethod
        ... def get_config_dict(cls, path, **kwargs):  # doctest: +SKIP
        ...     return published_config_dict(cls, super().get_config_dict(path, **kwargs))
    """
    config_dict, kwargs = loaded
    if config_dict.get("model_type") != config_class.model_type:
        config_dict = {**config_kwargs(config_class, config_dict), "model_type": config_class.model_type}
    return config_dict, kwargs
