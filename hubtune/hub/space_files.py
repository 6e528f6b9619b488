"""The files of a deployed hubtune Space, rendered for one hardware and SDK choice: the README's YAML, the
``requirements.txt`` that installs on that hardware, and the Dockerfile of a Docker Space.

- CPU hardware: the CPU build of torch (``+cpu`` from the PyTorch CPU index, no CUDA packages);
- GPU hardware: torch's default (CUDA) build; ZeroGPU also gets the ``spaces`` package;
- every direct dependency of hubtune (and of its ``space`` extra) pinned at the version installed here, so the Space
  runs what was tested; hubtune itself comes from the wheel committed to the repo.

Example:
    >>> choice = SpaceChoice(hardware="cpu-basic", sdk="gradio")
    >>> choice.torch_index
    'https://download.pytorch.org/whl/cpu'
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

HARDWARE = ("cpu-basic", "t4-small", "a10g-small", "zero-a10g")
SDKS = ("gradio", "docker")
APP_PORT = 7860
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
DEFAULT_TITLE = "hubtune DNA classifier"
SHORT_DESCRIPTION = "Classify DNA with hubtune adapters vs their base models"
SPACE_TAGS = ["hubtune", "genomics", "dna", "peft", "lora"]
_FRONT_MATTER_RE = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.DOTALL)


@dataclass(frozen=True)
class SpaceChoice:
    """Hardware and SDK of a Space, checked.

    Example:
        >>> SpaceChoice(hardware="zero-a10g", sdk="docker")
        Traceback (most recent call last):
        ...
        hubtune.errors.ConfigError: ZeroGPU (zero-a10g) runs Gradio Spaces only: use --sdk gradio, or pick t4-small / a10g-small for a Docker Space.
    """

    hardware: str = "cpu-basic"
    sdk: str = "gradio"

    def __post_init__(self) -> None:
        if self.hardware not in HARDWARE:
            raise ConfigError(f"--hardware {self.hardware!r} is not supported; use one of {', '.join(HARDWARE)}.")
        if self.sdk not in SDKS:
            raise ConfigError(f"--sdk {self.sdk!r} is not supported; use one of {', '.join(SDKS)}.")
        if self.hardware == "zero-a10g" and self.sdk != "gradio":
            raise ConfigError(
                "ZeroGPU (zero-a10g) runs Gradio Spaces only: use --sdk gradio, or pick t4-small / a10g-small for a "
                "Docker Space."
            )

    @property
    def cpu(self) -> bool:
        """True for CPU hardware (the CPU build of torch)."""
        return self.hardware == "cpu-basic"

    @property
    def torch_index(self) -> str | None:
        """The extra package index torch comes from (CPU only)."""
        return CPU_TORCH_INDEX if self.cpu else None


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def gradio_version() -> str:
    """The installed gradio version, which the Space's ``sdk_version`` pins."""
    version = installed_version("gradio")
    if version is None:
        raise ConfigError("gradio is not installed, so the Space's sdk_version is unknown: pip install 'hubtune[space]'.")
    return version


def _base_version(version: str) -> str:
    return version.split("+", 1)[0]


def pinned_requirements(metadata: str, extras: tuple[str, ...] = ("space",)) -> list[str]:
    """``name==version`` for each direct dependency in a wheel's METADATA (plus ``extras``) installed here.

    Example:
        >>> pinned_requirements("Requires-Dist: numpy\\nRequires-Dist: x; extra == 'test'\\n")  # doctest: +SKIP
        ['numpy==2.3.1']
    """
    from packaging.requirements import InvalidRequirement, Requirement

    pins: dict[str, str] = {}
    for line in metadata.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        try:
            req = Requirement(line.split(":", 1)[1].strip())
        except InvalidRequirement:
            continue
        environments = [{"extra": ""}] + [{"extra": extra} for extra in extras]
        if req.marker is not None and not any(req.marker.evaluate(env) for env in environments):
            continue
        version = installed_version(req.name)
        key = req.name.lower().replace("_", "-")
        pins[key] = f"{req.name}=={_base_version(version)}" if version else str(req)
    return [pins[key] for key in sorted(pins)]


def render_requirements(choice: SpaceChoice, metadata: str, hubtune_line: str) -> str:
    """``requirements.txt`` for the choice: torch for the hardware, pinned dependencies, then hubtune.

    Example: ``render_requirements(SpaceChoice(), wheel.metadata, "./wheels/hubtune-0.1.0-py3-none-any.whl")``.
    """
    torch = installed_version("torch")
    if torch is None:
        raise ConfigError("torch is not installed here, so the Space's torch version cannot be pinned.")
    lines = [
        f"# Written by `hubtune space deploy` for {choice.hardware} ({choice.sdk} SDK).",
    ]
    if choice.cpu:
        lines += ["# The CPU build of torch: no CUDA packages on CPU hardware.", f"--extra-index-url {CPU_TORCH_INDEX}",
                  f"torch=={_base_version(torch)}+cpu"]
    else:
        lines += ["# torch's default (CUDA) build for the GPU.", f"torch=={_base_version(torch)}"]
    pins = [p for p in pinned_requirements(metadata) if not p.lower().startswith("torch")]
    if not any(p.lower().startswith("gradio==") for p in pins):
        pins.append(f"gradio=={gradio_version()}")
    if choice.hardware == "zero-a10g":
        spaces = installed_version("spaces")
        pins.append(f"spaces=={spaces}" if spaces else "spaces")
    lines += sorted(pins, key=str.lower)
    lines += ["# hubtune itself: the wheel committed to this repo.", hubtune_line]
    return "\n".join(lines) + "\n"


def readme_body(space_dir: Path) -> str:
    """The Space README's text (``space/README.md`` without its YAML block)."""
    path = space_dir / "README.md"
    text = path.read_text(encoding="utf-8") if path.is_file() else "# hubtune Space\n"
    return _FRONT_MATTER_RE.sub("", text, count=1).lstrip("\n")


def render_readme(choice: SpaceChoice, *, title: str, models: list[str], body: str) -> str:
    """README.md with the Space's YAML configuration for the choice.

    Example: ``render_readme(SpaceChoice(), title="Promoters", models=["alice/a", "alice/tiny-nt"], body="# Hi\\n")``.
    """
    config: dict[str, Any] = {
        "title": title,
        "emoji": "🧬",
        "colorFrom": "green",
        "colorTo": "blue",
        "sdk": choice.sdk,
    }
    if choice.sdk == "gradio":
        config["sdk_version"] = gradio_version()
        config["python_version"] = f"{sys.version_info.major}.{sys.version_info.minor}"
        config["app_file"] = "app.py"
    else:
        config["app_port"] = APP_PORT
    config.update({
        "suggested_hardware": choice.hardware,
        "pinned": False,
        "license": "apache-2.0",
        "short_description": SHORT_DESCRIPTION,
        "tags": SPACE_TAGS,
    })
    if models:
        config["models"] = models
    front = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front}---\n\n{body}"


def render_dockerfile(choice: SpaceChoice) -> str:
    """The Dockerfile of a Docker Space: installs requirements.txt (hubtune from ./wheels), serves app.py on
    :data:`APP_PORT` as user 1000."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"""# Written by `hubtune space deploy` for {choice.hardware}.
FROM python:{python}-slim
RUN useradd --create-home --uid 1000 user
USER user
ENV HOME=/home/user \\
    PATH=/home/user/.local/bin:$PATH \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    GRADIO_ANALYTICS_ENABLED=False \\
    GRADIO_SERVER_NAME=0.0.0.0 \\
    GRADIO_SERVER_PORT={APP_PORT} \\
    HUBTUNE_NO_PROGRESS=1
WORKDIR /home/user/app
COPY --chown=user requirements.txt ./
COPY --chown=user wheels ./wheels
RUN pip install --user -r requirements.txt
COPY --chown=user . .
EXPOSE {APP_PORT}
CMD ["python", "app.py"]
"""


__all__ = ["APP_PORT", "HARDWARE", "SDKS", "SpaceChoice", "pinned_requirements", "readme_body", "render_dockerfile",
           "render_readme", "render_requirements"]
