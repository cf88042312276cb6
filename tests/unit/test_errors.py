"""The exception tree: every exception claimx-worker raises on purpose has one root, and the
tree drawn in ``errors.py``'s docstring is the real one."""

from __future__ import annotations

import importlib
import pkgutil
import re

import claimx_worker
from claimx_worker import errors
from claimx_worker.errors import ClaimXWorkerError


def _exception_classes() -> dict[str, type[BaseException]]:
    """Every public exception class defined in a claimx_worker module."""
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(claimx_worker.__path__, "claimx_worker."):
        if module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[name] = value
    return found


def test_every_exception_has_the_one_root() -> None:
    classes = _exception_classes()
    assert len(classes) >= 20
    strays = sorted(name for name, cls in classes.items() if not issubclass(cls, ClaimXWorkerError))
    assert strays == []


def test_the_docstring_draws_the_real_tree() -> None:
    """Each drawn line ``├── Name`` sits under its real parent in the tree."""
    classes = _exception_classes() | {"ClaimXWorkerError": ClaimXWorkerError}
    drawn: dict[str, int] = {}
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"\s*((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+Error)\b", line)
        if match is None:
            continue
        depth = len(match.group(1)) // 4 + (0 if line.strip().startswith("ClaimX") else 1)
        name = match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
        drawn[name] = depth
    assert set(drawn) == set(classes), set(classes) ^ set(drawn)
    for name, parent in parents.items():
        assert classes[parent] in classes[name].__bases__, (name, parent)


def test_builtin_bases_are_kept_for_callers_that_catch_them() -> None:
    from claimx_worker.actions.secrets import MissingSecretError
    from claimx_worker.config.problems import ConfigValueError

    assert issubclass(ConfigValueError, ValueError)
    assert issubclass(errors.InvalidEventError, ValueError)
    assert issubclass(MissingSecretError, LookupError)
