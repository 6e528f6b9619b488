"""Safe defaults: no repo code runs unless asked, pickles only through weights_only=True, run folders hold only
safetensors/JSON/text, the local hub listens on loopback, private repos stay invisible without their owner's token,
and the Space never executes code shipped with a base model.

Every booby trap writes a marker file when executed; each kind of trap is also shown to fire when loaded the unsafe
way (the positive control), so a missing marker means hubtune refused it, not that the trap was broken.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from shared_runs import import_script

from hubtune.errors import HubError, HubtuneError, ModelError

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hubtune"


def _trap(marker: Path) -> str:
    """Module source that leaves `marker` behind as soon as it is imported."""
    return f"from pathlib import Path\nPath({str(marker)!r}).write_text('repo code was executed')\n"


class _Hostile:
    """Unpickling this opens (creates) a file: stands for any code a hostile checkpoint could run."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def remote_code_model(folder: Path, marker: Path, model_type: str = "genome-remote") -> Path:
    """A model folder of an unknown family whose config asks for its own Python code (auto_map), booby-trapped."""
    from hubtune.models import tiny_model_path

    shutil.copytree(tiny_model_path("tiny-nt"), folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = model_type
    config["architectures"] = ["GenomeForSequenceClassification"]
    config["auto_map"] = {
        "AutoConfig": "modeling_genome.GenomeConfig",
        "AutoModel": "modeling_genome.GenomeForSequenceClassification",
        "AutoModelForSequenceClassification": "modeling_genome.GenomeForSequenceClassification",
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_genome.py").write_text(
        _trap(marker)
        + "from transformers import EsmConfig, EsmForSequenceClassification\n\n\n"
        + f"class GenomeConfig(EsmConfig):\n    model_type = {model_type!r}\n\n\n"
        + "class GenomeForSequenceClassification(EsmForSequenceClassification):\n    config_class = GenomeConfig\n"
    )
    return folder


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HUBTUNE_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}




# ---------------------------------------------------------------------------------------------------------------------
# Remote code
# ---------------------------------------------------------------------------------------------------------------------


def test_the_remote_code_trap_fires_when_code_is_trusted(tmp_path: Path):
    """Positive control: transformers runs the folder's module when trust_remote_code=True."""
    from transformers import AutoConfig

    marker = tmp_path / "executed"
    folder = remote_code_model(tmp_path / "control", marker, model_type="genome-remote-control")
    AutoConfig.from_pretrained(str(folder), trust_remote_code=True)
    assert marker.exists()


def test_remote_code_of_an_unknown_family_never_runs_without_the_flag(tmp_path: Path):
    from hubtune.data import example_task_path
    from hubtune.models import load_base_model, load_tokenizer, resolve_model

    marker = tmp_path / "executed"
    folder = remote_code_model(tmp_path / "genome-model", marker)
    assert resolve_model(str(folder)).family.name == "auto"
    load_tokenizer(str(folder))
    with pytest.raises(ModelError):
        load_base_model(str(folder), 2)
    assert not marker.exists()

    done = subprocess.run(
        [sys.executable, "-m", "hubtune.cli", "train", "--model", str(folder), "--data", str(example_task_path()),
         "--max-steps", "2", "--max-rows", "32", "--no-baselines", "--output", str(tmp_path / "run")],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert not marker.exists()
    assert not (tmp_path / "run").exists()


def test_remote_code_refusal_tells_the_user_which_flag_allows_it(tmp_path: Path):
    """An unknown architecture whose config points at repo code is refused with hubtune's flag named, not
    transformers' message (which suggests the keyword argument and links to a broken URL for local folders)."""
    from hubtune.models import load_base_model

    folder = remote_code_model(tmp_path / "genome-model", tmp_path / "executed")
    with pytest.raises(ModelError) as caught:
        load_base_model(str(folder), 2)
    assert "--trust-remote-code" in str(caught.value)


def test_dnabert2_checkpoint_loads_natively_and_its_remote_code_never_runs(tmp_path: Path):
    """The published DNABERT-2 layout asks for bert_layers.py (auto_map); hubtune implements it and never imports it."""
    from hubtune.models import load_base_model, load_tokenizer
    from hubtune.models.tiny import build_tiny_dnabert2

    marker = tmp_path / "executed"
    folder = build_tiny_dnabert2(tmp_path / "dnabert2")
    assert "bert_layers" in json.dumps(json.loads((folder / "config.json").read_text())["auto_map"])
    for module in ("bert_layers.py", "configuration_bert.py", "flash_attn_triton.py", "bert_padding.py"):
        (folder / module).write_text(_trap(marker))
    model = load_base_model(str(folder), 2)
    assert type(model).__module__.startswith("hubtune.")
    load_tokenizer(str(folder))
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------------------------
# Pickles
# ---------------------------------------------------------------------------------------------------------------------


def test_torch_load_is_only_ever_called_with_weights_only_true():
    """Every torch.load in the package passes weights_only=True; no other unpickler is imported at all."""
    loads = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [alias.name for alias in node.names] + ([node.module] if isinstance(node, ast.ImportFrom)
                                                                 and node.module else [])
                for name in names:
                    assert name.split(".")[0] not in ("pickle", "dill", "joblib", "cloudpickle", "marshal", "shelve"), \
                        f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            keywords = {kw.arg: kw.value for kw in node.keywords}
            if isinstance(func, ast.Attribute) and func.attr == "load" and getattr(func.value, "id", None) == "torch":
                loads += 1
                flag = keywords.get("weights_only")
                assert isinstance(flag, ast.Constant) and flag.value is True, \
                    f"{path.relative_to(ROOT)}:{node.lineno} calls torch.load without weights_only=True"
            if isinstance(func, ast.Attribute) and func.attr == "load" and getattr(func.value, "id", None) == "np":
                flag = keywords.get("allow_pickle")
                assert not (isinstance(flag, ast.Constant) and flag.value), f"{path.relative_to(ROOT)}:{node.lineno}"
            flag = keywords.get("trust_remote_code")
            assert not (isinstance(flag, ast.Constant) and flag.value is True), \
                f"{path.relative_to(ROOT)}:{node.lineno} hard-codes trust_remote_code=True"
    assert loads >= 1  # the DNABERT-2 reader of pytorch_model.bin


def test_hostile_pickle_in_dnabert2_weights_is_refused_without_running(tmp_path: Path):
    import torch

    from hubtune.models import load_base_model
    from hubtune.models.tiny import build_tiny_dnabert2

    marker = tmp_path / "executed"
    folder = build_tiny_dnabert2(tmp_path / "dnabert2")
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    state["bert.pooler.dense.bias"] = _Hostile(marker)
    torch.save(state, folder / "pytorch_model.bin")

    with pytest.raises(ModelError) as caught:
        load_base_model(str(folder), 2)
    assert "pytorch_model.bin" in str(caught.value) and "weights_only=True" in str(caught.value)
    assert not marker.exists()
    # Positive control: the same file does run code when unpickled the unsafe way.
    torch.load(folder / "pytorch_model.bin", weights_only=False)
    assert marker.exists()


def test_hostile_pickle_in_a_transformers_loaded_checkpoint_is_a_model_error(tmp_path: Path):
    """NT v1 checkpoints load through transformers, which unpickles with weights_only=True: the payload never runs.
    The resulting pickle.UnpicklingError must reach the user as a ModelError (no traceback in the CLI)."""
    import torch
    from safetensors.torch import load_file

    from hubtune.models import load_base_model, tiny_model_path

    marker = tmp_path / "executed"
    folder = Path(shutil.copytree(tiny_model_path("tiny-nt"), tmp_path / "nt"))
    state: dict = dict(load_file(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    state["esm.embeddings.hostile"] = _Hostile(marker)
    torch.save(state, folder / "pytorch_model.bin")

    try:
        load_base_model(str(folder), 2)
    except Exception as exc:  # noqa: BLE001 - the type is what is checked below
        error = exc
    else:
        raise AssertionError("a checkpoint holding a pickled object was loaded")
    assert not marker.exists()
    assert isinstance(error, HubtuneError), f"{type(error).__name__} escaped instead of a ModelError"


# ---------------------------------------------------------------------------------------------------------------------
# What hubtune writes
# ---------------------------------------------------------------------------------------------------------------------


def _check_only_safe_formats(folder: Path) -> list[str]:
    from safetensors import safe_open

    seen = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        seen.append(rel)
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="np") as handle:
                assert list(handle.keys()), rel
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in (".txt", ".md", ".csv"):
            path.read_text(encoding="utf-8")
        else:
            raise AssertionError(f"{rel}: hubtune wrote a file that is neither safetensors, JSON nor text")
    assert not any(part in ("checkpoints",) for rel in seen for part in rel.split("/")), seen
    return seen


def test_run_folders_hold_only_safetensors_json_and_text(tiny_run: Path, tmp_path: Path):
    from hubtune.config import TrainConfig
    from hubtune.data import example_task_path
    from hubtune.train import finetune

    lora = _check_only_safe_formats(tiny_run)
    assert {"adapter_model.safetensors", "hubtune.json", "metrics.json"} <= set(lora)
    full = finetune(TrainConfig(model="tiny-nt", data=str(example_task_path()), method="full", max_steps=2,
                                eval_steps=1, max_rows=32, baselines=False, output=str(tmp_path / "full")))
    files = _check_only_safe_formats(full.path)
    assert "model.safetensors" in files
    assert not (tmp_path / "full.partial").exists()


# ---------------------------------------------------------------------------------------------------------------------
# Network exposure
# ---------------------------------------------------------------------------------------------------------------------


def _space_app():
    """space/app.py as a module (a script folder, not a package), imported once per process."""
    return import_script("hubtune_space_app", ROOT / "space" / "app.py")


def test_hub_server_and_space_bind_loopback_by_default(tmp_path: Path, monkeypatch):
    from hubtune.cli import build_parser
    from hubtune.hub_server import HubServer, serve

    server = HubServer(tmp_path / "hub").start()
    try:
        host, port = server.address
        assert host == "127.0.0.1"
        # Reachable on loopback; the listening socket is bound to no other interface.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        server.stop()
    assert inspect.signature(HubServer).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert build_parser().parse_args(["hub", "serve"]).host == "127.0.0.1"

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    app = _space_app()
    assert inspect.signature(app.launch).parameters["host"].default == "127.0.0.1"
    source = inspect.getsource(app.main)
    assert 'os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")' in source


# ---------------------------------------------------------------------------------------------------------------------
# Private repos
# ---------------------------------------------------------------------------------------------------------------------


PRIVATE = "bob/secret-promoter"


@pytest.fixture(scope="module")
def private_push(hub_server, tiny_run) -> str:
    """bob's private adapter; its tiny base is published with it, private too (as bob/tiny-nt)."""
    from hubtune.hub import push_to_hub

    push_to_hub(tiny_run, PRIVATE, private=True, token=hub_server.other_token)
    return PRIVATE


def test_private_repos_are_invisible_without_the_owners_token(private_push, hub_server):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    from hubtune.hub import list_adapters
    from hubtune.predict import load_classifier

    for token in (None, hub_server.token):  # anonymous, and another user (alice)
        api = HfApi(token=token)
        for repo in (PRIVATE, "bob/tiny-nt"):
            assert not api.repo_exists(repo, token=token)
            with pytest.raises(RepositoryNotFoundError):
                hf_hub_download(repo, "config.json" if repo.endswith("tiny-nt") else "hubtune.json", token=token)
            with pytest.raises(RepositoryNotFoundError):
                api.list_repo_files(repo, token=token)
        assert PRIVATE not in {m.id for m in api.list_models(author="bob", token=token)}
        assert PRIVATE not in {a.repo_id for a in list_adapters(token=token)}
        with pytest.raises(HubError, match="not found"):
            load_classifier(PRIVATE, token=token)
    owner = HfApi(token=hub_server.other_token)
    assert owner.repo_exists(PRIVATE) and owner.model_info(PRIVATE).private
    assert PRIVATE in {a.repo_id for a in list_adapters(token=hub_server.other_token)}


def test_the_owner_loads_a_private_adapter_of_a_private_base_with_an_explicit_token(private_push, hub_server):
    """The token given to load_classifier must also reach the base model's download: a private push publishes its
    tiny/local base as private too."""
    from hubtune.predict import load_classifier

    classifier = load_classifier(PRIVATE, token=hub_server.other_token, device="cpu")
    assert classifier.predict(["ACGT" * 30])[0].label in classifier.label_names


# ---------------------------------------------------------------------------------------------------------------------
# The Space
# ---------------------------------------------------------------------------------------------------------------------


def test_space_and_load_classifier_never_run_code_shipped_with_a_base_model(hub_server, tiny_run, tmp_path: Path):
    """An adapter whose base is a repo with its own Python code (unknown family): refused, the code never runs."""
    from huggingface_hub import HfApi

    from hubtune.predict import load_classifier
    from hubtune.serving import Limits, ModelCache, SpaceBackend

    marker = tmp_path / "executed"
    base = remote_code_model(tmp_path / "genome-base", marker, model_type="genome-remote-hub")
    api = HfApi(token=hub_server.token)
    api.create_repo("alice/genome-remote-base", exist_ok=True)
    api.upload_folder(folder_path=str(base), repo_id="alice/genome-remote-base")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    for name in ("adapter_model.safetensors", "metrics.json"):
        shutil.copy(tiny_run / name, adapter / name)
    info = json.loads((tiny_run / "hubtune.json").read_text())
    info.update(base_model="alice/genome-remote-base", base_model_revision=None, family="auto")
    (adapter / "hubtune.json").write_text(json.dumps(info))
    adapter_config = json.loads((tiny_run / "adapter_config.json").read_text())
    adapter_config.update(base_model_name_or_path="alice/genome-remote-base", revision=None)
    (adapter / "adapter_config.json").write_text(json.dumps(adapter_config))
    api.create_repo("alice/genome-remote-adapter", exist_ok=True)
    api.upload_folder(folder_path=str(adapter), repo_id="alice/genome-remote-adapter")

    backend = SpaceBackend(ModelCache(device="cpu"), Limits())
    with pytest.raises(ModelError):
        backend.classify(">s1\n" + "ACGT" * 30 + "\n", "alice/genome-remote-adapter")
    assert not marker.exists()
    with pytest.raises(ModelError):
        load_classifier("alice/genome-remote-adapter", device="cpu")
    assert not marker.exists()
