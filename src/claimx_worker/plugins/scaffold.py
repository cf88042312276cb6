"""``claimx-worker plugins new``: a new plugin distribution from the templates beside this module.

The templates live in ``claimx_worker/plugins/templates/`` (package data, shipped in the wheel).
Their contents are :class:`string.Template` text (``${package}``; ``$$`` is a literal ``$``). In
their paths, a ``__package__`` or ``__name__`` directory becomes the package or plugin name,
``.tmpl`` is dropped and ``gitignore`` becomes ``.gitignore``.
"""

from __future__ import annotations

import json
import re
import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from attrs import frozen
from packaging.version import Version

from claimx_worker._version import __version__
from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.plugins.compatibility import WORKER_DISTRIBUTION

DISTRIBUTION_PREFIX = "claimx-plugin-"
TEMPLATES = "templates"
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
MAX_NAME_LENGTH = 32
"""Longer names would push generated lines past 100 characters."""


class ScaffoldError(ClaimXWorkerError):
    """The plugin cannot be generated (bad name, existing directory); the message says why."""


@frozen(kw_only=True)
class PluginNames:
    """Every name derived from the plugin name (``my_plugin``)."""

    name: str
    """Entry-point name in ``claimx.plugins`` and the example instance's name: ``my_plugin``."""
    distribution: str
    """``claimx-plugin-my-plugin``."""
    package: str
    """``claimx_plugin_my_plugin``."""
    class_name: str
    """``MyPluginPlugin``."""
    config_class: str
    """``MyPluginConfig``."""

    @classmethod
    def from_name(cls, raw: str) -> PluginNames:
        """Names from ``raw``: up to 32 letters, digits, ``_`` or ``-``, starting with a letter.

        Case and dashes are normalised (``My-Plugin`` is ``my_plugin``) and a leading
        ``claimx-plugin-`` is dropped.
        """
        name = raw.strip().lower().replace("-", "_").removeprefix("claimx_plugin_")
        if not _NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
            raise ScaffoldError(
                f"invalid plugin name {raw!r}: use up to {MAX_NAME_LENGTH} lowercase letters, "
                "digits and '_' (or '-'), starting with a letter, e.g. 'photo_alerts'"
            )
        camel = "".join(part.capitalize() for part in name.split("_"))
        return cls(
            name=name,
            distribution=DISTRIBUTION_PREFIX + name.replace("_", "-"),
            package=f"claimx_plugin_{name}",
            class_name=f"{camel}Plugin",
            config_class=f"{camel}Config",
        )


@frozen(kw_only=True)
class NewPlugin:
    """A generated plugin project: its names, directory and files (relative to it)."""

    requested: str
    """The name as given (``names.name`` is its normalised form)."""
    names: PluginNames
    project: Path
    files: tuple[Path, ...]

    def render(self, python: str = sys.executable) -> str:
        """What ``plugins new`` prints: the name used, the files, then the next steps.

        The steps install into the environment of ``python`` (the one running claimx-worker),
        where the project's ``claimx-worker`` requirement is already met: they work when
        claimx-worker is on no package index.
        """
        names = self.names
        lines = []
        if self.requested.strip() != names.name:
            lines.append(
                f"Plugin name {self.requested!r} became {names.name!r} (entry points are "
                "lowercase letters, digits and '_')."
            )
        lines += [
            f"Created {self.project}/: distribution {names.distribution}, package "
            f"{names.package}, class {names.class_name}, entry point {names.name}.",
            *(f"  {path}" for path in self.files),
            "",
            "Next, in the environment claimx-worker is installed in (no package index needed "
            "for it):",
            f"  cd {self.project}",
            f"  {python} -m pip install -e '.[test]'",
            f"  uv pip install --python {python} -e '.[test]'    # the same, with uv",
            f"  {python} -m pytest",
            "  claimx-worker plugins list --plugins-dir config",
            "In a virtual environment of its own, point pip at the directory holding the "
            "claimx-worker wheel:",
            "  pip install --find-links DIR -e '.[test]'    (README.md, \"Develop and test\")",
        ]
        return "\n".join(lines)


def compatible_range(worker_version: str) -> str:
    """The ``claimx-worker`` requirement of a plugin written against ``worker_version``.

    Before 1.0 a minor release may break plugins (``>=0.1,<0.2``); from 1.0 only a major one
    does (``>=1.4,<2``). See ``docs/upgrading.md``. A pre-release of ``X.Y.0`` is its own lower
    bound (``>=2.0.0rc1,<3``): ``>=2.0`` would exclude it.
    """
    version = Version(worker_version)
    major, minor = version.major, version.minor
    lower = f"{major}.{minor}" if Version(f"{major}.{minor}") <= version else str(version)
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"{WORKER_DISTRIBUTION}>={lower},<{upper}"


def new_plugin(
    raw_name: str,
    directory: Path,
    *,
    description: str | None = None,
    worker_version: str = __version__,
) -> NewPlugin:
    """Write a new plugin project to ``directory/<distribution>``; never overwrites.

    Raises :class:`ScaffoldError` for an invalid name or description, or an existing project
    directory.
    """
    names = PluginNames.from_name(raw_name)
    summary = description or f"A claimx-worker plugin: {names.name.replace('_', ' ')}."
    if "\n" in summary or "\r" in summary:
        raise ScaffoldError("the description must be a single line")
    values = {
        "name": names.name,
        "distribution": names.distribution,
        "package": names.package,
        "class_name": names.class_name,
        "config_class": names.config_class,
        "env_prefix": names.name.upper(),
        "description": summary,
        "description_toml": json.dumps(summary),
        "worker_requirement": compatible_range(worker_version),
        "worker_version": worker_version,
    }
    project = directory / names.distribution
    try:
        project.mkdir(parents=True)
    except FileExistsError:
        raise ScaffoldError(f"{project} already exists; nothing was written") from None
    written: list[Path] = []
    path_names = {"__package__": names.package, "__name__": names.name}
    for relative, template in _templates(files("claimx_worker.plugins") / TEMPLATES, Path()):
        target = Path(*(path_names.get(part, part) for part in relative.parts))
        (project / target).parent.mkdir(parents=True, exist_ok=True)
        (project / target).write_text(Template(template.read_text()).substitute(values))
        written.append(target)
    return NewPlugin(requested=raw_name, names=names, project=project, files=tuple(sorted(written)))


def _templates(root: Traversable, prefix: Path) -> list[tuple[Path, Traversable]]:
    """Every template file below ``root`` with its output path (before substitution)."""
    found: list[tuple[Path, Traversable]] = []
    for item in root.iterdir():
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            found += _templates(item, prefix / item.name)
            continue
        name = item.name.removesuffix(".tmpl")
        found.append((prefix / ("." + name if name == "gitignore" else name), item))
    return found
