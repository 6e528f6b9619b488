"""`hubtune space deploy` / `deploy_space` against the local hub: the Space repo's files, its YAML and requirements
for each hardware and SDK, no commit for identical content, clear refusals, and (slow) a fresh environment built from
the deployed repo alone that starts app.py and answers /classify."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import yaml
from huggingface_hub import HfApi, snapshot_download

from hubtune.cli import main
from hubtune.errors import ConfigError, HubError
from hubtune.hub import SPACE_ADAPTERS_VARIABLE, deploy_space, push_to_hub
from hubtune.hub.space_wheel import build_wheel


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def adapter(hub_server, tiny_run) -> str:
    """The session's tiny LoRA run pushed as alice/<space-lora-…> (its base published as alice/tiny-nt)."""
    repo_id = f"alice/{_name('space-lora')}"
    push_to_hub(tiny_run, repo_id, token=hub_server.token)
    return repo_id


@pytest.fixture(scope="module")
def other_task(hub_server, adapter, tmp_path_factory) -> str:
    """A hubtune model whose hubtune.json predicts other classes than `adapter`."""
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    info = json.loads(Path(api.hf_hub_download(adapter, "hubtune.json")).read_text())
    info["label_names"] = ["enhancer", "silencer", "other"]
    repo_id = api.create_repo(f"alice/{_name('other-task')}").repo_id
    api.upload_file(path_or_fileobj=json.dumps(info).encode(), path_in_repo="hubtune.json", repo_id=repo_id)
    return repo_id


def _front_matter(text: str) -> dict:
    return yaml.safe_load(text.split("---\n")[1])


def _read(api: HfApi, repo_id: str, path: str) -> str:
    return Path(api.hf_hub_download(repo_id, path, repo_type="space")).read_text()


def _installed(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def test_cpu_gradio_space_holds_app_wheel_yaml_and_cpu_requirements(hub_server, adapter):
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    repo_id = f"alice/{_name('demo')}"
    done = deploy_space(repo_id, adapters=adapter, token=hub_server.token, title="Promoter demo")
    assert done.changed and done.variables_changed
    files = set(api.list_repo_files(repo_id, repo_type="space"))
    wheel_path = f"wheels/hubtune-{_installed('hubtune')}-py3-none-any.whl"
    assert files == {".gitattributes", "app.py", "render.py", "README.md", "requirements.txt", wheel_path}
    assert _read(api, repo_id, "app.py") == (Path(__file__).parents[1] / "space" / "app.py").read_text()

    card = _front_matter(_read(api, repo_id, "README.md"))
    assert card["sdk"] == "gradio" and card["sdk_version"] == _installed("gradio")
    assert card["app_file"] == "app.py" and card["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert card["suggested_hardware"] == "cpu-basic" and card["title"] == "Promoter demo"
    assert card["models"] == [adapter, "alice/tiny-nt"]
    assert "hubtune" in card["tags"] and len(card["short_description"]) <= 60
    assert api.space_info(repo_id).models == [adapter, "alice/tiny-nt"]

    requirements = _read(api, repo_id, "requirements.txt").splitlines()
    torch_base = _installed("torch").split("+")[0]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements
    assert f"torch=={torch_base}+cpu" in requirements
    assert f"gradio=={_installed('gradio')}" in requirements
    assert not any(line.startswith("nvidia") for line in requirements)
    hubtune_line = requirements[-1]
    wheel = Path(api.hf_hub_download(repo_id, wheel_path, repo_type="space"))
    assert hubtune_line == (f"hubtune @ {hub_server.url}/spaces/{repo_id}/resolve/main/{wheel_path}"
                            f"#sha256={hashlib.sha256(wheel.read_bytes()).hexdigest()}")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hubtune/cards/model_card.md.j2" in names and "hubtune/serving/backend.py" in names
    assert not any("__pycache__" in n for n in names)
    assert api.get_space_variables(repo_id)[SPACE_ADAPTERS_VARIABLE].value == adapter

    commits = len(api.list_repo_commits(repo_id, repo_type="space"))
    again = deploy_space(repo_id, adapters=[adapter], token=hub_server.token, title="Promoter demo")
    assert not again.changed and not again.variables_changed and again.commit_url is None
    assert len(api.list_repo_commits(repo_id, repo_type="space")) == commits


def test_docker_gpu_and_zerogpu_spaces(hub_server, adapter):
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    repo_id = f"alice/{_name('docker')}"
    deploy_space(repo_id, adapters=adapter, hardware="t4-small", sdk="docker", private=True, token=hub_server.token)
    assert api.space_info(repo_id).private
    card = _front_matter(_read(api, repo_id, "README.md"))
    assert card["sdk"] == "docker" and card["app_port"] == 7860 and card["suggested_hardware"] == "t4-small"
    assert "app_file" not in card and "sdk_version" not in card
    dockerfile = _read(api, repo_id, "Dockerfile")
    assert "EXPOSE 7860" in dockerfile and "COPY --chown=user wheels ./wheels" in dockerfile
    requirements = _read(api, repo_id, "requirements.txt").splitlines()
    assert f"torch=={_installed('torch').split('+')[0]}" in requirements  # the default (CUDA) build
    assert not any("download.pytorch.org" in line for line in requirements)
    assert requirements[-1] == f"./wheels/hubtune-{_installed('hubtune')}-py3-none-any.whl"

    with pytest.raises(ConfigError, match="private Gradio Space"):
        deploy_space(repo_id, hardware="zero-a10g", private=True, token=hub_server.token)
    zero = f"alice/{_name('zero')}"
    deploy_space(zero, adapters=adapter, hardware="zero-a10g", token=hub_server.token)
    requirements = _read(api, zero, "requirements.txt").splitlines()
    assert any(line.split("==")[0] == "spaces" for line in requirements)
    assert _front_matter(_read(api, zero, "README.md"))["suggested_hardware"] == "zero-a10g"
    with pytest.raises(ConfigError, match="ZeroGPU"):
        deploy_space(zero, hardware="zero-a10g", sdk="docker", token=hub_server.token)


def test_switching_sdk_removes_the_dockerfile(hub_server, adapter):
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    repo_id = f"alice/{_name('switch')}"
    deploy_space(repo_id, sdk="docker", token=hub_server.token)
    assert "Dockerfile" in api.list_repo_files(repo_id, repo_type="space")
    assert deploy_space(repo_id, sdk="gradio", token=hub_server.token).changed
    assert "Dockerfile" not in api.list_repo_files(repo_id, repo_type="space")


def test_refuses_missing_mixed_private_adapters_and_foreign_spaces(hub_server, adapter, other_task):
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    repo_id = f"alice/{_name('refused')}"
    with pytest.raises(HubError, match="alice/no-such-adapter"):
        deploy_space(repo_id, adapters=[adapter, "alice/no-such-adapter"], token=hub_server.token)
    with pytest.raises(ConfigError, match="same labels"):
        deploy_space(repo_id, adapters=[adapter, other_task], token=hub_server.token)
    private = api.create_repo(f"alice/{_name('private')}", private=True).repo_id
    with pytest.raises(HubError, match="private"):
        deploy_space(repo_id, adapters=private, token=hub_server.token)
    assert not api.repo_exists(repo_id, repo_type="space")  # nothing was created by a refused deploy

    foreign = api.create_repo(f"alice/{_name('mine')}", repo_type="space", space_sdk="gradio").repo_id
    api.upload_file(path_or_fileobj=b"print('my own app')\n", path_in_repo="app.py", repo_id=foreign,
                    repo_type="space")
    with pytest.raises(HubError, match="did not deploy"):
        deploy_space(foreign, token=hub_server.token)
    assert _read(api, foreign, "app.py") == "print('my own app')\n"


def test_cli_space_deploy(hub_server, adapter, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", hub_server.token)
    repo_id = f"alice/{_name('cli')}"
    assert main(["space", "deploy", "--repo", repo_id, "--adapters", adapter]) == 0
    assert f"Space {repo_id} deployed" in capsys.readouterr().out
    assert main(["space", "deploy", "--repo", repo_id, "--adapters", adapter]) == 0
    assert "already up to date (no commit)" in capsys.readouterr().out
    assert main(["space", "deploy", "--repo", repo_id, "--adapters", "alice/missing-adapter"]) == 2
    assert "alice/missing-adapter" in capsys.readouterr().err


def test_wheel_is_reproducible(tmp_path, monkeypatch):
    first = build_wheel(tmp_path / "a").read_bytes()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "315532800")
    assert build_wheel(tmp_path / "b").read_bytes() == first
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert build_wheel(tmp_path / "c").read_bytes() != first  # the timestamp is the only difference


def test_space_setting_is_the_variable_the_space_reads():
    from hubtune.serving import adapters_from_env

    assert adapters_from_env({SPACE_ADAPTERS_VARIABLE: "alice/a,alice/b"}) == ["alice/a", "alice/b"]


# ------------------------------------------------------------------------------------------------- end to end
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_deployed_space_runs_from_its_own_files_in_a_fresh_environment(hub_server, adapter, tmp_path):
    """Deploy, download the Space repo, build a venv from its requirements.txt alone, start app.py from that folder
    against the local hub and classify through gradio_client with the preselected adapter."""
    api = HfApi(endpoint=hub_server.url, token=hub_server.token)
    repo_id = f"alice/{_name('fresh')}"
    started = time.monotonic()
    deploy_space(repo_id, adapters=adapter, token=hub_server.token)
    deployed = time.monotonic()
    folder = Path(snapshot_download(repo_id, repo_type="space", local_dir=tmp_path / "space"))
    variables = {k: v.value for k, v in api.get_space_variables(repo_id).items()}

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # An unreachable index fails fast; no bytecode compilation (the app compiles what it imports).
    pip_env = {**os.environ, "PIP_RETRIES": "0", "PIP_TIMEOUT": "15", "PIP_NO_COMPILE": "1"}
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", "requirements.txt"], cwd=folder,
                             env=pip_env, capture_output=True, text=True, timeout=1500)
    assert install.returncode == 0, install.stderr[-3000:]
    built = time.monotonic()
    probe = subprocess.run(
        [str(python), "-c", "import hubtune, sys; print(hubtune.__file__)"], cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )
    assert str(venv) in probe.stdout, probe.stderr  # hubtune comes from the Space's wheel, not the checkout

    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "VIRTUAL_ENV"))},
        **variables,  # the Space's settings reach the app as environment variables
        "HF_ENDPOINT": hub_server.url, "HF_HUB_DISABLE_XET": "1", "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False", "HF_HOME": str(tmp_path / "hf-home"), "OMP_NUM_THREADS": "1",
    }
    env.pop("HF_TOKEN", None)
    log = (tmp_path / "app.log").open("w")
    app = subprocess.Popen([str(python), "app.py"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        from gradio_client import Client

        deadline = time.monotonic() + 300
        client = None
        while client is None:
            assert app.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "app.log").read_text()[-3000:]
            try:
                client = Client(f"http://127.0.0.1:{port}", verbose=False)
            except Exception:
                time.sleep(1)
        result = client.predict("ACGTTGCA" * 12, adapter, api_name="/classify")
        answered = time.monotonic()
    finally:
        app.terminate()
        app.wait(timeout=30)
        log.close()
    answer = result["sequences"][0]["adapters"][adapter]
    assert answer["label"] in result["label_names"] and "base_label" in answer
    assert abs(sum(answer["probabilities"].values()) - 1) < 1e-4
    print(f"\ndeploy {deployed - started:.1f} s, fresh env {built - deployed:.1f} s, "
          f"first answer {answered - built:.1f} s")

    rebuilt = subprocess.run(
        [str(python), "-c", "from hubtune.hub.space_wheel import wheel_source; import json; "
         "print(json.dumps(sorted(wheel_source().files)))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    deployed_wheel = next((folder / "wheels").glob("hubtune-*.whl"))
    packaged = sorted(n for n in zipfile.ZipFile(deployed_wheel).namelist() if not n.startswith("hubtune-"))
    assert json.loads(rebuilt.stdout) == packaged  # an installed (non-editable) hubtune rebuilds the same files
