"""hubtune as a reproducible wheel, built from the package this process runs, so a Space can install exactly it.

Two sources, the first that applies:

- the project source next to the package (a checkout or an editable install): ``pyproject.toml`` says which packages
  and package data go in (the card templates under ``hubtune.cards`` included) and gives the metadata;
- an installed (non-editable) distribution: the files its ``RECORD`` lists, and its own ``METADATA``.

The archive is reproducible: entries sorted, fixed permissions, every timestamp ``SOURCE_DATE_EPOCH`` (default
1980-01-01, the earliest a zip can hold), so the same sources give the same bytes and re-deploying unchanged code
uploads nothing.

Example:
    >>> wheel = build_wheel(Path("dist"))  # doctest: +SKIP
    >>> wheel.name  # doctest: +SKIP
    'hubtune-0.1.0-py3-none-any.whl'
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import importlib.metadata
import os
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

DIST_NAME = "hubtune"
_ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z
_SKIPPED_PARTS = {"__pycache__"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class WheelSource:
    """What goes into the wheel: archive path -> file on disk, plus the dist-info texts."""

    version: str
    files: dict[str, Path]
    metadata: str
    entry_points: str


def _package_root() -> Path:
    import hubtune

    return Path(hubtune.__file__).resolve().parent


def _project_source(root: Path) -> WheelSource | None:
    """The wheel contents from ``pyproject.toml`` next to the package, or None when there is no such project."""
    pyproject = root.parent / "pyproject.toml"
    if not pyproject.is_file():
        return None
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data.get("project") or {}
    if project.get("name") != DIST_NAME:
        return None
    setuptools = (data.get("tool") or {}).get("setuptools") or {}
    package_dirs: dict[str, str] = setuptools.get("package-dir") or {}
    package_data: dict[str, list[str]] = setuptools.get("package-data") or {}
    packages: list[str] = setuptools.get("packages") or []
    if not packages:
        raise ConfigError(f"{pyproject} lists no packages under [tool.setuptools]; cannot tell what the wheel holds.")
    files: dict[str, Path] = {}
    for package in packages:
        folder = root.parent / package_dirs.get(package, package.replace(".", "/"))
        patterns = ["*.py", *package_data.get(package, []), *package_data.get("*", [])]
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_file() and any(fnmatch.fnmatch(path.name, p) for p in patterns):
                files[f"{package.replace('.', '/')}/{path.name}"] = path
    return WheelSource(str(project["version"]), files, _metadata_from_project(project), _entry_points(project))


def _metadata_from_project(project: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if project.get("description"):
        lines.append(f"Summary: {project['description']}")
    if isinstance(project.get("license"), str):
        lines.append(f"License: {project['license']}")
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {req}" for req in project.get("dependencies") or []]
    for extra, reqs in sorted((project.get("optional-dependencies") or {}).items()):
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {req}; extra == "{extra}"' for req in reqs]
    return "\n".join(lines) + "\n"


def _entry_points(project: dict) -> str:
    scripts = project.get("scripts") or {}
    if not scripts:
        return ""
    return "[console_scripts]\n" + "".join(f"{name} = {target}\n" for name, target in sorted(scripts.items()))


def _installed_source(root: Path) -> WheelSource:
    """The wheel contents from the installed distribution's RECORD and METADATA."""
    try:
        dist = importlib.metadata.distribution(DIST_NAME)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            "hubtune is neither installed nor run from its project folder, so no wheel can be built for the Space. "
            "Install it (pip install hubtune) or run from a checkout."
        ) from None
    files: dict[str, Path] = {}
    for item in dist.files or []:
        parts = Path(str(item)).parts
        if not parts or parts[0] != DIST_NAME or _SKIPPED_PARTS & set(parts) or str(item).endswith(_SKIPPED_SUFFIXES):
            continue
        files[str(item)] = Path(str(dist.locate_file(item)))
    if not files:
        raise ConfigError(
            f"The installed hubtune at {root} lists no package files (an editable install without its project "
            "folder?). Reinstall it, or run from the checkout."
        )
    return WheelSource(dist.version, files, dist.read_text("METADATA") or "", dist.read_text("entry_points.txt") or "")


def wheel_source() -> WheelSource:
    """What the wheel of the running hubtune holds (project source first, else the installed files).

    Example:
        >>> "hubtune/cards/model_card.j2" in wheel_source().files  # doctest: +SKIP
        True
    """
    root = _package_root()
    return _project_source(root) or _installed_source(root)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _zip_time() -> tuple[int, int, int, int, int, int]:
    epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH", _ZIP_EPOCH)), _ZIP_EPOCH)
    return time.gmtime(epoch)[:6]


def build_wheel(folder: str | Path, source: WheelSource | None = None) -> Path:
    """Write ``hubtune-<version>-py3-none-any.whl`` into ``folder`` and return its path (same sources: same bytes).

    Example:
        >>> build_wheel("dist").name  # doctest: +SKIP
        'hubtune-0.1.0-py3-none-any.whl'
    """
    source = source or wheel_source()
    dist_info = f"{DIST_NAME}-{source.version}.dist-info"
    entries: list[tuple[str, bytes]] = [(name, source.files[name].read_bytes()) for name in sorted(source.files)]
    entries.append((f"{dist_info}/METADATA", source.metadata.encode("utf-8")))
    wheel_text = "Wheel-Version: 1.0\nGenerator: hubtune\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries.append((f"{dist_info}/WHEEL", wheel_text.encode()))
    if source.entry_points:
        entries.append((f"{dist_info}/entry_points.txt", source.entry_points.encode()))
    entries.append((f"{dist_info}/top_level.txt", f"{DIST_NAME}\n".encode()))
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    entries.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{DIST_NAME}-{source.version}-py3-none-any.whl"
    partial = target.with_suffix(".partial")
    stamp = _zip_time()
    with zipfile.ZipFile(partial, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    os.replace(partial, target)
    return target


__all__ = ["WheelSource", "build_wheel", "wheel_source"]
