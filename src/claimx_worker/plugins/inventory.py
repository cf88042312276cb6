"""What ``claimx-worker plugins list`` shows: installed entry points and every configured
instance, the invalid ones marked with their first problem."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from claimx_worker._version import __version__
from claimx_worker.config.problems import ConfigProblem, display_path
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.discovery import ENTRY_POINT_GROUP, InstalledPlugin, installed_plugins
from claimx_worker.plugins.instances import CONFIG_FILE, InstanceSpec
from claimx_worker.plugins.loading import PluginCheck, PluginInstance, check_plugins
from claimx_worker.plugins.settings import InstanceMode

_INSTALLED_HEADER = ["NAME", "DISTRIBUTION", "ENTRY POINT", "REQUIRES"]
_INSTANCES_HEADER = ["#", "NAME", "PRIORITY", "STATUS", "DIRECTORY", "HOOKS OR FIRST PROBLEM"]


@frozen(kw_only=True)
class Inventory:
    """Installed plugins and every instance configured in a plugins directory, valid or not."""

    installed: tuple[InstalledPlugin, ...]
    plugins_dir: Path | None
    check: PluginCheck

    @property
    def problems(self) -> tuple[ConfigProblem, ...]:
        """Every configuration problem found (redacted); none when all is well."""
        return self.check.problems

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description: installed plugins, then instances in run order."""
        return {
            "installed": [
                {
                    "name": plugin.name,
                    "value": plugin.value,
                    "distribution": plugin.distribution,
                    "version": plugin.version,
                    "requires_worker": plugin.requires_worker,
                    "compatible": plugin.supports(__version__),
                }
                for plugin in self.installed
            ],
            "plugins_dir": None if self.plugins_dir is None else display_path(self.plugins_dir),
            "instances": [_entry_json(entry) for entry in self._entries()],
            "without_config": [display_path(path) for path in self.check.plugins.without_config],
        }

    def render(self) -> str:
        """The human-readable listing, with column headers."""
        lines = [f"Installed plugins (entry point group {ENTRY_POINT_GROUP}):"]
        installed = [
            [
                plugin.name,
                f"{plugin.distribution} {plugin.version}",
                plugin.value,
                _requirement_cell(plugin),
            ]
            for plugin in self.installed
        ]
        lines += _columns([_INSTALLED_HEADER, *installed]) if installed else ["  (none)"]
        if self.plugins_dir is None:
            lines += ["", "Plugins are disabled (plugins_dir is empty)."]
            return "\n".join(lines)
        lines += ["", f"Instances in {display_path(self.plugins_dir)} (run order):"]
        rows = [_entry_row(entry) for entry in self._entries()]
        lines += _columns([_INSTANCES_HEADER, *rows]) if rows else ["  (none)"]
        if self.check.plugins.without_config:
            skipped = ", ".join(display_path(p) for p in self.check.plugins.without_config)
            lines += ["", f"Directories without config.yaml (skipped): {skipped}"]
        return "\n".join(lines)

    def _entries(self) -> list[_Entry]:
        """Enabled instances in run order, then disabled ones, then files that made no
        instance."""
        loaded = {instance.spec.file: instance for instance in self.check.plugins.instances}
        entries = [
            _Entry(
                position=str(position),
                spec=spec,
                loaded=loaded.get(spec.file),
                problems=self.check.problems_of(spec),
            )
            for position, spec in enumerate(self.check.enabled, start=1)
        ]
        entries += [
            _Entry(position="-", spec=spec, loaded=None, problems=self.check.problems_of(spec))
            for spec in self.check.plugins.disabled
        ]
        unattributed: dict[str, list[ConfigProblem]] = {}
        for problem in self.check.unattributed_problems():
            unattributed.setdefault(problem.file, []).append(problem)
        entries += [
            _Entry(position="-", spec=None, loaded=None, problems=tuple(problems), file=file)
            for file, problems in unattributed.items()
        ]
        return entries


@frozen(kw_only=True)
class _Entry:
    """One listed instance: its spec (``None`` when its file made none), the loaded instance
    when valid and enabled, and its problems."""

    position: str
    spec: InstanceSpec | None
    loaded: PluginInstance | None
    problems: tuple[ConfigProblem, ...]
    file: str = ""

    @property
    def directory(self) -> str:
        if self.spec is not None:
            return display_path(self.spec.directory)
        path = Path(self.file)
        return str(path.parent if path.name == CONFIG_FILE else path)

    @property
    def status(self) -> str:
        """``INVALID``, ``disabled``, ``enabled``, or ``shadow`` (enabled in shadow mode)."""
        if self.problems:
            return "INVALID"
        if self.spec is None or not self.spec.enabled:
            return "disabled"
        return "shadow" if self.spec.mode is InstanceMode.SHADOW else "enabled"


def _entry_row(entry: _Entry) -> list[str]:
    spec = entry.spec
    row = [
        entry.position,
        Path(entry.directory).name if spec is None else spec.name,
        "-" if spec is None else str(spec.priority),
        entry.status,
        entry.directory,
    ]
    if entry.problems:
        return [*row, str(entry.problems[0])]
    if entry.loaded is not None:
        return [*row, ", ".join(entry.loaded.hooks) or "(none)"]
    return row


def _entry_json(entry: _Entry) -> dict[str, Any]:
    spec = entry.spec
    return {
        "name": Path(entry.directory).name if spec is None else spec.name,
        "enabled": None if spec is None else spec.enabled,
        "mode": None if spec is None else spec.mode.value,
        "priority": None if spec is None else spec.priority,
        "timeout_ms": None if spec is None else spec.timeout_ms,
        "source_dir": entry.directory,
        "plugin": None if spec is None else spec.plugin,
        "module": None if spec is None else spec.module,
        "class": None if spec is None else spec.class_name,
        "origin": None if entry.loaded is None else entry.loaded.origin,
        "hooks": None if entry.loaded is None else list(entry.loaded.hooks),
        "problems": [str(problem) for problem in entry.problems],
    }


def take_inventory(
    plugins_dir: Path | None, *, env: Mapping[str, str], redactor: Redactor | None = None
) -> Inventory:
    """Discover installed plugins and check every instance; calls no ``on_load``.

    The instances' secrets are added to ``redactor`` before any plugin code is imported (see
    :func:`~claimx_worker.plugins.loading.check_plugins`). Problems are collected in
    :attr:`Inventory.problems`, redacted, never raised.
    """
    installed = installed_plugins()
    check = check_plugins(plugins_dir, env=env, installed=installed, redactor=redactor)
    return Inventory(installed=tuple(installed.values()), plugins_dir=plugins_dir, check=check)


def _requirement_cell(plugin: InstalledPlugin) -> str:
    """The plugin's ``claimx-worker`` requirement, flagged when it excludes this worker."""
    if plugin.supports(__version__):
        return plugin.requires_worker or ""
    return f"{plugin.requires_worker} (INCOMPATIBLE with claimx-worker {__version__})"


def _columns(rows: list[list[str]]) -> list[str]:
    """Rows as left-aligned columns, indented by two spaces."""
    widths = [
        max(len(row[i]) for row in rows if i < len(row))
        for i in range(max(map(len, rows), default=0))
    ]
    return [
        "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]
