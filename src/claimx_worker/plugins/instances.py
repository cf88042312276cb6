"""Plugin instances as configured in ``plugins/config/<dir>/config.yaml`` (the instance keys).

Each file makes one instance with the keys ``name`` (default: the directory name), ``plugin``
(an entry-point name; default: ``name``) or ``module`` + ``class`` (an importable class, no
packaging), ``enabled`` (default true), ``priority`` (default 100; lower runs first; ties by
name), ``timeout_ms`` (this instance's time budget per hook call; default: the host's),
``conditions`` (an ``all:`` / ``any:`` group: the instance's ``on_enrichment_complete`` is
called only for events that match; see :mod:`claimx_worker.conditions`), ``quarantine_policy``
(``skip`` or ``hold``: events while it is quarantined), ``mode`` (``live``, or ``shadow``: actions
recorded, not run) and ``config`` (the plugin's own settings, structured later into the plugin's
config class).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen
from ruamel.yaml.comments import CommentedMap

from claimx_worker.conditions.config import Condition, require_group
from claimx_worker.config.converter import CONFIG_KEY
from claimx_worker.config.problems import ConfigError, ConfigProblem, display_path
from claimx_worker.config.structuring import structure_node
from claimx_worker.config.yaml_files import load_yaml
from claimx_worker.http.connections import CONNECTIONS_DIR
from claimx_worker.plugins.settings import InstanceMode, QuarantinePolicy

CONFIG_FILE = "config.yaml"
CONFIG_SECTION = "config"
_OUTSIDE = "links outside the plugins directory: refused (copy the file in, or link within it)"
_EMPTY = "the file is empty: an instance needs at least 'plugin' (or 'module' and 'class')"
_VALID_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@attrs.frozen(kw_only=True)
class _InstanceKeys:
    """The instance keys of a ``config.yaml`` (everything but ``config``)."""

    name: str | None = None
    plugin: str | None = None
    module: str | None = None
    class_: str | None = attrs.field(default=None, metadata={CONFIG_KEY: "class"})
    enabled: bool = True
    priority: int = 100
    timeout_ms: float | None = None
    conditions: Condition | None = attrs.field(default=None, validator=require_group)
    quarantine_policy: QuarantinePolicy = QuarantinePolicy.SKIP
    mode: InstanceMode = InstanceMode.LIVE


@frozen(kw_only=True)
class InstanceSpec:
    """One configured plugin instance, before its plugin is imported."""

    name: str
    plugin: str | None
    module: str | None
    class_name: str | None
    enabled: bool
    priority: int
    timeout_ms: float | None
    conditions: Condition | None = field(eq=False, repr=False)
    """Events the instance's ``on_enrichment_complete`` is called for (``None``: every one)."""
    quarantine_policy: QuarantinePolicy = field(default=QuarantinePolicy.SKIP)
    mode: InstanceMode = field(default=InstanceMode.LIVE)
    directory: Path
    file: str
    name_line: int | None
    source_line: int | None
    config_line: int | None
    config: Any = field(eq=False, repr=False)
    """The ruamel node of the ``config`` section (``None`` when absent)."""

    @property
    def source_key(self) -> str:
        """The key that says where the plugin class comes from: ``plugin`` or ``module``."""
        return "plugin" if self.plugin is not None else "module"

    def problem(self, message: str, *, key: str = "", line: int | None = None) -> ConfigProblem:
        """A problem about this instance, at ``line`` or the line of its source key."""
        return ConfigProblem(self.file, line or self.source_line, key, message)


@frozen(kw_only=True)
class InstanceScan:
    """What a plugins directory holds: instance specs (unique names), directories without a
    ``config.yaml``, and every problem found in the instance keys."""

    specs: tuple[InstanceSpec, ...]
    """Consistent specs only: a file with a problem in its instance keys is left out."""
    without_config: tuple[Path, ...]
    problems: tuple[ConfigProblem, ...]


def scan_instances(plugins_dir: Path, *, env: Mapping[str, str]) -> InstanceScan:
    """Read every instance below ``plugins_dir``: a directory holding a ``config.yaml`` is one
    (and is not searched further); any other directory is searched, so instances may be grouped
    (``<group>/<instance>/config.yaml``). Hidden and ``_`` directories are skipped, and so is
    ``connections/`` (the connection files); another directory without ``config.yaml`` or
    subdirectories is listed in ``without_config``.

    A directory or file that is a link leading outside ``plugins_dir`` is a problem, unread."""
    scanner = _Scanner(plugins_dir.resolve(), env)
    scanner.search(plugins_dir)
    unique = _unique_names(scanner.specs, scanner.problems)
    return InstanceScan(
        specs=tuple(unique),
        without_config=tuple(scanner.without_config),
        problems=tuple(scanner.problems),
    )


class _Scanner:
    """One scan of a plugins directory; each directory (after links) is searched once."""

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self._root = root
        self._env = env
        self._searched: set[Path] = {root}
        self.specs: list[InstanceSpec] = []
        self.without_config: list[Path] = []
        self.problems: list[ConfigProblem] = []

    def search(self, directory: Path) -> None:
        for child in sorted(directory.iterdir()):
            if not child.is_dir() or child.name.startswith((".", "_")):
                continue
            if (
                child.name == CONNECTIONS_DIR
                and directory.resolve() == self._root
                and not (child / CONFIG_FILE).is_file()
            ):
                if any(entry.is_dir() for entry in child.iterdir()):
                    self.search(child)  # instances grouped under connections/ stay instances
                continue
            resolved = child.resolve()
            if not resolved.is_relative_to(self._root):
                self.problems.append(ConfigProblem(display_path(child), None, "", _OUTSIDE))
            elif (child / CONFIG_FILE).is_file():
                self._read(child / CONFIG_FILE)
            elif resolved not in self._searched:
                self._searched.add(resolved)
                if any(entry.is_dir() for entry in child.iterdir()):
                    self.search(child)
                else:
                    self.without_config.append(child)

    def _read(self, path: Path) -> None:
        if not path.resolve().is_relative_to(self._root):
            self.problems.append(ConfigProblem(display_path(path), None, "", _OUTSIDE))
            return
        try:
            spec, spec_problems = _read_spec(path, env=self._env)
        except ConfigError as error:  # unreadable, or not YAML
            self.problems.extend(error.problems)
            return
        self.problems.extend(spec_problems)
        if spec is not None:
            self.specs.append(spec)


def _read_spec(
    path: Path, *, env: Mapping[str, str]
) -> tuple[InstanceSpec | None, list[ConfigProblem]]:
    """One file's spec and problems. A spec with problems in some keys is still returned (with
    defaults for those keys) so that its plugin config gets checked as well; it is ``None`` only
    when the plugin class cannot be determined."""
    file = display_path(path)
    node = load_yaml(path)
    if node is None:  # no document, or only comments
        return None, [ConfigProblem(file, 1, "", _EMPTY)]
    problems: list[ConfigProblem] = []
    try:
        keys = _structure_keys(node, file, env, exclude=())
    except ConfigError as error:
        problems = list(error.problems)
        bad_keys = {problem.key.split(".")[0] for problem in problems}
        if "" in bad_keys:  # the file as a whole is wrong (not a mapping)
            return None, problems
        try:
            keys = _structure_keys(node, file, env, exclude=bad_keys)
        except ConfigError:
            return None, problems
    name = keys.name if keys.name is not None else path.parent.name
    plugin = keys.plugin if keys.module is None else None
    spec = InstanceSpec(
        name=name,
        plugin=name if plugin is None and keys.module is None else plugin,
        module=keys.module,
        class_name=keys.class_,
        enabled=keys.enabled,
        priority=keys.priority,
        timeout_ms=keys.timeout_ms,
        conditions=keys.conditions,
        quarantine_policy=keys.quarantine_policy,
        mode=keys.mode,
        directory=path.parent,
        file=file,
        name_line=_line(node, "name"),
        source_line=_line(node, "module") or _line(node, "plugin") or _line(node, "name"),
        config_line=_line(node, CONFIG_SECTION),
        config=node.get(CONFIG_SECTION) if isinstance(node, Mapping) else None,
    )
    problems += _check(spec, keys, node)
    unclear = (keys.module is not None and keys.plugin is not None) or (
        (keys.module is None) != (keys.class_ is None)
    )
    return (None if unclear else spec), problems


def _structure_keys(
    node: Any, file: str, env: Mapping[str, str], *, exclude: set[str] | tuple[()]
) -> _InstanceKeys:
    return structure_node(
        node, _InstanceKeys, file=file, key_prefix="", env=env, exclude={CONFIG_SECTION, *exclude}
    ).value


def _check(spec: InstanceSpec, keys: _InstanceKeys, node: Any) -> list[ConfigProblem]:
    found: list[ConfigProblem] = []
    if not _VALID_NAME.fullmatch(spec.name):
        found.append(
            spec.problem(
                f"invalid instance name {spec.name!r}: use letters, digits, '_', '.' and '-'",
                key="name",
                line=spec.name_line,
            )
        )
    if keys.module is not None and keys.plugin is not None:
        found.append(
            spec.problem("set either 'plugin' or 'module' and 'class', not both", key="module")
        )
    if keys.module is not None and keys.class_ is None:
        found.append(spec.problem("'module' needs 'class' (the class name)", key="module"))
    if keys.class_ is not None and keys.module is None:
        found.append(spec.problem("'class' needs 'module'", key="class", line=_line(node, "class")))
    if keys.timeout_ms is not None and keys.timeout_ms <= 0:
        found.append(
            spec.problem(
                f"must be a positive number of milliseconds, got {keys.timeout_ms:g}",
                key="timeout_ms",
                line=_line(node, "timeout_ms"),
            )
        )
    return found


def _unique_names(specs: list[InstanceSpec], problems: list[ConfigProblem]) -> list[InstanceSpec]:
    first: dict[str, InstanceSpec] = {}
    for spec in specs:
        if spec.name in first:
            other = first[spec.name]
            where = other.file if other.name_line is None else f"{other.file}:{other.name_line}"
            problems.append(
                spec.problem(
                    f"duplicate instance name '{spec.name}' (also used by {where})",
                    key="name",
                    line=spec.name_line,
                )
            )
        else:
            first[spec.name] = spec
    return list(first.values())


def _line(node: Any, key: Hashable) -> int | None:
    """The 1-based line of ``key`` in a ruamel mapping, if present."""
    if not isinstance(node, CommentedMap) or key not in node:
        return None
    return int(node.lc.key(key)[0]) + 1
