"""uv.lock is in step with the project files, and docs/dependencies.md with the floors.

CI installs the locked versions (noxfile ``install_project``), so a requirement changed in a
``pyproject.toml`` without ``uv lock`` must fail here, with the difference named, rather than
test something other than what was declared. Pure file checks: no network, no uv.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_PYPROJECT = ROOT / "packaging" / "claimx-plugin-task-trigger" / "pyproject.toml"
DEPENDENCIES_DOC = ROOT / "docs" / "dependencies.md"
_ROW = re.compile(r"^\| `([A-Za-z0-9_.-]+)` \| `([^`]+)` \|", re.MULTILINE)

Normalised = tuple[str, str, str]  # name, specifier, marker


def _load(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def _normalised(name: str, specifier: str = "", marker: str | None = None) -> Normalised:
    return (
        canonicalize_name(name),
        str(SpecifierSet(specifier)),  # one order: uv keeps the written one, packaging sorts
        str(Marker(marker)) if marker else "",
    )


def declared(pyproject: dict[str, Any]) -> set[Normalised]:
    """A project's requirements, optional ones marked with their extra, as uv records them."""
    project = pyproject["project"]
    requirements = [(Requirement(text), "") for text in project.get("dependencies", [])]
    for extra, texts in project.get("optional-dependencies", {}).items():
        requirements += [(Requirement(text), extra) for text in texts]
    normalised = set()
    for requirement, extra in requirements:
        markers = [str(requirement.marker)] if requirement.marker else []
        if extra:
            markers.append(f"extra == '{extra}'")
        marker = " and ".join(markers) or None
        normalised.add(_normalised(requirement.name, str(requirement.specifier), marker))
    return normalised


def locked(lock: dict[str, Any], name: str) -> set[Normalised]:
    """The requirements uv.lock recorded for the workspace member ``name``."""
    (package,) = (p for p in lock["package"] if p["name"] == name)
    return {
        _normalised(entry["name"], entry.get("specifier", ""), entry.get("marker"))
        for entry in package["metadata"].get("requires-dist", [])
    }


def constraints(pyproject: dict[str, Any]) -> dict[str, str]:
    texts = pyproject["tool"]["uv"]["constraint-dependencies"]
    return {
        canonicalize_name(r.name): str(SpecifierSet(str(r.specifier)))
        for r in map(Requirement, texts)
    }


def test_the_lock_records_the_worker_requirements_as_declared() -> None:
    assert locked(_load(ROOT / "uv.lock"), "claimx-worker") == declared(
        _load(ROOT / "pyproject.toml")
    ), "uv.lock is out of step with pyproject.toml: run `uv lock`"


def test_the_lock_records_the_plugin_requirements_by_name() -> None:
    """The plugin's claimx-worker comes from the workspace, so uv records no specifier for it."""
    names = {name for name, _, _ in declared(_load(PLUGIN_PYPROJECT))}
    in_lock = {name for name, _, _ in locked(_load(ROOT / "uv.lock"), "claimx-plugin-task-trigger")}
    assert in_lock == names, "uv.lock is out of step with the plugin's pyproject.toml: `uv lock`"


def test_the_lock_records_the_constraints_and_python_as_declared() -> None:
    lock, pyproject = _load(ROOT / "uv.lock"), _load(ROOT / "pyproject.toml")
    in_lock = {
        canonicalize_name(entry["name"]): str(SpecifierSet(entry["specifier"]))
        for entry in lock["manifest"].get("constraints", [])
    }
    assert in_lock == constraints(pyproject), "uv.lock is out of step: run `uv lock`"
    assert lock["requires-python"] == pyproject["project"]["requires-python"]


def test_the_dependencies_document_names_every_floor() -> None:
    """Each direct requirement and constraint has a row with the floor pyproject.toml sets."""
    pyproject = _load(ROOT / "pyproject.toml")
    floors = {name: specifier for name, specifier, _ in declared(pyproject)}
    floors |= constraints(pyproject)
    rows = {
        canonicalize_name(name): str(SpecifierSet(spec))
        for name, spec in _ROW.findall(DEPENDENCIES_DOC.read_text())
    }
    assert rows == floors
