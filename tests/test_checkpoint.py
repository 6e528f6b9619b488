"""The checkpoint reader: weights are read as data only (safetensors, or a pickle through weights_only=True), no
Python file shipped with a checkpoint is ever imported or downloaded, sharded checkpoints load, and what cannot be
read fails with a ModelError that names the problem."""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from hubtune.errors import ModelError
from hubtune.models.checkpoint import read_checkpoint
from hubtune.models.dnabert2 import Dnabert2ForSequenceClassification, load_dnabert2
from hubtune.models.ntv2 import load_ntv2


def test_hostile_pickle_weights_are_refused(tiny_dnabert2, tmp_path):
    folder = tmp_path / "hostile"
    shutil.copytree(tiny_dnabert2, folder)
    marker = tmp_path / "pickle-ran"
    torch.save({"weights": _PickleBomb(str(marker))}, folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match="weights_only"):
        load_dnabert2(folder)
    assert not marker.exists()


class _PickleBomb:
    """Unpickling this would create a file: torch.load(weights_only=True) must refuse it."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


# --------------------------------------------------------------------------------------------------------------------
# Remote code is never executed
# --------------------------------------------------------------------------------------------------------------------

BOOBY_TRAP = """import pathlib
pathlib.Path(__file__).with_name("REMOTE_CODE_RAN").write_text("{name}")
raise RuntimeError("remote code from {name} was executed")
"""


def _booby_trap(folder: Path, names: list[str]) -> None:
    for name in names:
        (folder / name).write_text(BOOBY_TRAP.format(name=name))


def test_loading_never_executes_code_shipped_with_the_checkpoint(tiny_dnabert2, tiny_ntv2, tmp_path):
    from transformers import AutoTokenizer

    dnabert2 = tmp_path / "dnabert2"
    shutil.copytree(tiny_dnabert2, dnabert2)
    _booby_trap(dnabert2, ["bert_layers.py", "configuration_bert.py", "bert_padding.py", "flash_attn_triton.py"])
    ntv2 = tmp_path / "ntv2"
    shutil.copytree(tiny_ntv2, ntv2)
    _booby_trap(ntv2, ["modeling_esm.py", "esm_config.py"])
    for task in ("classification", "mlm", "base"):
        assert load_dnabert2(dnabert2, task=task).load_report.ok
        assert load_ntv2(ntv2, task=task).load_report.ok
    assert Dnabert2ForSequenceClassification.from_pretrained(dnabert2) is not None
    AutoTokenizer.from_pretrained(dnabert2)
    AutoTokenizer.from_pretrained(ntv2)
    assert not (dnabert2 / "REMOTE_CODE_RAN").exists() and not (ntv2 / "REMOTE_CODE_RAN").exists()
    assert not {"bert_layers", "configuration_bert", "modeling_esm", "esm_config"} & set(sys.modules)


def test_loading_from_a_hub_repo_downloads_no_code(hub_server, tiny_dnabert2, tiny_ntv2, tmp_path):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    for folder, loader, traps in (
        (tiny_dnabert2, load_dnabert2, ["bert_layers.py", "configuration_bert.py"]),
        (tiny_ntv2, load_ntv2, ["modeling_esm.py", "esm_config.py"]),
    ):
        staged = tmp_path / folder.name
        shutil.copytree(folder, staged)
        _booby_trap(staged, traps)
        repo_id = f"alice/native-{uuid.uuid4().hex[:8]}"
        api.create_repo(repo_id)
        api.upload_folder(repo_id=repo_id, folder_path=staged)
        cache = tmp_path / f"cache-{folder.name}"
        model = loader(repo_id, cache_dir=cache, token=hub_server.token)
        assert model.load_report.ok and model.load_report.source == repo_id
        downloaded = {p.name for p in cache.rglob("*") if p.is_file() or p.is_symlink()}
        assert not {name for name in downloaded if name.endswith(".py")}
        assert "config.json" in downloaded
    with pytest.raises(ModelError, match="not found"):
        load_dnabert2(f"alice/missing-{uuid.uuid4().hex[:8]}", cache_dir=tmp_path / "none", token=hub_server.token)



# --------------------------------------------------------------------------------------------------------------------
# Weight files: preference, shards, unreadable config
# --------------------------------------------------------------------------------------------------------------------


def test_safetensors_are_preferred_over_a_pickled_bin(tiny_dnabert2, tmp_path):
    folder = tmp_path / "both"
    shutil.copytree(tiny_dnabert2, folder)
    pickled = torch.load(folder / "pytorch_model.bin", weights_only=True)
    marked = {name: tensor.clone() + 1.0 for name, tensor in pickled.items()}
    save_file(marked, str(folder / "model.safetensors"))
    _, state, weights_file = read_checkpoint(folder)
    assert weights_file.endswith("model.safetensors")
    assert state.keys() == pickled.keys() and all(torch.equal(state[k], marked[k]) for k in state)


def test_a_sharded_checkpoint_loads_like_the_single_file(tiny_ntv2, tmp_path):
    folder = tmp_path / "sharded"
    folder.mkdir()
    shutil.copy(tiny_ntv2 / "config.json", folder / "config.json")
    _, whole, _ = read_checkpoint(tiny_ntv2)
    names = sorted(whole)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in shards.items():
        save_file({k: whole[k].contiguous() for k in keys}, str(folder / shard))
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))

    _, state, weights_file = read_checkpoint(folder)
    assert weights_file.endswith("model.safetensors.index.json")
    assert state.keys() == whole.keys() and all(torch.equal(state[k], whole[k]) for k in whole)
    model, reference = load_ntv2(folder, task="mlm"), load_ntv2(tiny_ntv2, task="mlm")
    assert model.load_report.ok
    assert all(torch.equal(model.state_dict()[k], v) for k, v in reference.state_dict().items())

    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ModelError, match="model-00002-of-00002.safetensors listed in .* is missing"):
        read_checkpoint(folder)


def test_an_unreadable_config_or_missing_folder_is_a_model_error(tiny_ntv2, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(tiny_ntv2, folder)
    (folder / "config.json").write_text("{ not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        read_checkpoint(folder)
    (folder / "config.json").write_text("[1, 2]")
    with pytest.raises(ModelError, match="JSON object"):
        read_checkpoint(folder)
    (folder / "config.json").unlink()
    with pytest.raises(ModelError, match="no config.json"):
        read_checkpoint(folder)
