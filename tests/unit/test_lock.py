"""requirements/lock.txt pins every dependency the pyproject files declare, each within
its declared range: a dependency added or moved without `scripts/lock` fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OWN = {"recconsole", "recconsole-devtools"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> list[Requirement]:
    """The dependencies and every extra of pyproject.toml, and devtools/pyproject.toml's."""
    main = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    devtools = tomllib.loads((ROOT / "devtools" / "pyproject.toml").read_text())["project"]
    lines = [*main["dependencies"], *devtools["dependencies"]]
    for extra in main.get("optional-dependencies", {}).values():
        lines += extra
    return [r for r in map(Requirement, lines) if canonical(r.name) not in OWN]


def pins() -> dict[str, list[str]]:
    """Name -> the versions pinned for it on this system and Python (markers applied)."""
    found: dict[str, list[str]] = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if not line or line.startswith((" ", "#", "-")):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            [spec] = requirement.specifier
            found.setdefault(canonical(requirement.name), []).append(spec.version)
    return found


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    locked = pins()
    wrong = {}
    for requirement in declared():
        versions = locked.get(canonical(requirement.name), [])
        if len(versions) != 1 or versions[0] not in requirement.specifier:
            wrong[str(requirement)] = versions
    assert not wrong, f"run scripts/lock: declared vs pinned {wrong}"
