"""The public API of ``claimx_worker``: what ``__init__`` exports, and what importing it costs."""

from __future__ import annotations

import ast
from importlib.metadata import version
from pathlib import Path

import claimx_worker
from claimx_worker import _version

PACKAGE = Path(claimx_worker.__file__).parent


def test_the_version_lives_in_its_own_module() -> None:
    assert claimx_worker.__version__ == _version.__version__ == version("claimx-worker")


def test_no_internal_module_imports_a_public_name_from_the_package() -> None:
    """``__init__`` imports the modules behind the public names, so a module that imports a
    public name back from ``claimx_worker`` would close an import cycle: it imports it from the
    module that defines it instead."""
    offenders: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "claimx_worker":
                public = sorted({alias.name for alias in node.names} & set(claimx_worker.__all__))
                if public and path != PACKAGE / "__init__.py":
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {public}")
    assert offenders == []
