"""Every third-party module the runtime package imports comes from a declared dependency,
not from one that another package happens to bring in."""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import sys
from importlib.metadata import distributions, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import recconsole

pytestmark = pytest.mark.unit

PACKAGE = Path(recconsole.__file__).parent


def imported_modules() -> dict[str, set[str]]:
    """Third-party modules named by absolute imports in the package, with their importers."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # "from livekit import api": the names may be modules of a namespace.
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top != "recconsole":
                    found.setdefault(name, set()).add(str(path.relative_to(PACKAGE)))
    return found


def owners_of_files() -> dict[Path, str]:
    """Installed file -> the distribution that installed it."""
    owners: dict[Path, str] = {}
    for dist in distributions():
        for file in dist.files or []:
            owners[Path(str(dist.locate_file(file))).resolve()] = normalized(dist.metadata["Name"])
    return owners


def module_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of ``name``, or of its parent when ``name`` is a class or function."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # the parent is a module, not a package
        spec = None
    if spec is None and "." in name:
        return importlib.util.find_spec(name.rpartition(".")[0])
    return spec


def normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_every_imported_module_comes_from_a_declared_dependency() -> None:
    declared = {normalized(Requirement(line).name) for line in requires("recconsole") or []
                if "extra ==" not in line}
    owners = owners_of_files()
    undeclared: dict[str, set[str]] = {}
    for module, importers in sorted(imported_modules().items()):
        # Namespaces (livekit, azure, google) are shared, so the module's own file decides.
        spec = module_spec(module)
        assert spec is not None, f"{module} (imported by {importers}) not found"
        assert spec.origin, f"{module} (imported by {importers}) has no file"
        owner = owners.get(Path(spec.origin).resolve(), "?")
        if owner not in declared:
            undeclared.setdefault(owner, set()).update(importers)
    assert not undeclared, f"distributions imported but not declared (by whom): {undeclared}"
