"""The package's public names: each resolves, none is shadowed by a submodule, and importing hubtune changes nothing
global (no warnings filter, no matplotlib backend)."""

from __future__ import annotations

import subprocess
import sys

import hubtune


def test_every_public_name_resolves_and_is_listed():
    for name in hubtune.__all__:
        assert getattr(hubtune, name) is not None, name
    assert set(dir(hubtune)) == set(hubtune.__all__)


def test_compare_stays_the_function_after_its_module_is_imported():
    import hubtune.comparison  # noqa: F401 - importing the package must not replace the function

    assert callable(hubtune.compare) and hubtune.compare.__module__.startswith("hubtune.comparison")
    assert hubtune.compare is hubtune.comparison.compare


def test_one_verb_one_name():
    import hubtune.hub
    from hubtune.run import Run

    assert hubtune.push_to_hub is hubtune.hub.push_to_hub
    assert not hasattr(Run, "push_to_hub") and not hasattr(hubtune.hub, "push_run")


def test_importing_hubtune_installs_no_warnings_filter_and_keeps_matplotlib_alone():
    code = (
        "import warnings, sys; before = list(warnings.filters); import hubtune; "
        "assert warnings.filters == before; assert 'matplotlib' not in sys.modules; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_every_package_folder_is_installed():
    """pyproject lists packages by hand (cards/ maps to hubtune.cards): a new package missing there breaks installs."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "hubtune").rglob("__init__.py")}
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
