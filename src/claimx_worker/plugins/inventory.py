"""What ``claimx-worker plugins list`` shows: installed entry points and configured instances."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from claimx_worker._version import __version__
from claimx_worker.config.problems import display_path
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.discovery import ENTRY_POINT_GROUP, InstalledPlugin, installed_plugins
from claimx_worker.plugins.instances import InstanceSpec
from claimx_worker.plugins.loading import PluginSet, load_plugins


@frozen(kw_only=True)
class Inventory:
    """Installed plugins and the instances configured in a plugins directory (loaded, valid)."""

    installed: tuple[InstalledPlugin, ...]
    plugins_dir: Path | None
    plugins: PluginSet

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description: installed plugins, then instances in run order."""
        instances = [
            _spec_json(instance.spec, origin=instance.origin, hooks=list(instance.hooks))
            for instance in self.plugins.instances
        ]
        instances += [_spec_json(spec, origin=None, hooks=None) for spec in self.plugins.disabled]
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
            "instances": instances,
            "without_config": [display_path(path) for path in self.plugins.without_config],
        }

    def render(self) -> str:
        """The human-readable listing."""
        lines = [f"Installed plugins (entry point group {ENTRY_POINT_GROUP}):"]
        lines += _columns(
            [
                [
                    plugin.name,
                    f"{plugin.distribution} {plugin.version}",
                    plugin.value,
                    _requirement_cell(plugin),
                ]
                for plugin in self.installed
            ]
        ) or ["  (none)"]
        if self.plugins_dir is None:
            lines += ["", "Plugins are disabled (plugins_dir is empty)."]
            return "\n".join(lines)
        lines += ["", f"Instances in {display_path(self.plugins_dir)} (run order):"]
        rows = [
            [
                str(position),
                instance.name,
                f"priority {instance.spec.priority}",
                "enabled",
                display_path(instance.spec.directory),
                f"hooks: {', '.join(instance.hooks) or '(none)'}",
            ]
            for position, instance in enumerate(self.plugins.instances, start=1)
        ]
        rows += [
            ["-", spec.name, f"priority {spec.priority}", "disabled", display_path(spec.directory)]
            for spec in self.plugins.disabled
        ]
        lines += _columns(rows) or ["  (none)"]
        if self.plugins.without_config:
            skipped = ", ".join(display_path(path) for path in self.plugins.without_config)
            lines += ["", f"Directories without config.yaml (skipped): {skipped}"]
        return "\n".join(lines)


def take_inventory(
    plugins_dir: Path | None, *, env: Mapping[str, str], redactor: Redactor | None = None
) -> Inventory:
    """Discover installed plugins and load (validate) the instances; calls no ``on_load``.

    The instances' secrets are added to ``redactor`` before any plugin code is imported (see
    :func:`~claimx_worker.plugins.loading.load_plugins`). Raises
    :class:`~claimx_worker.config.problems.ConfigError` with every problem found, redacted.
    """
    installed = installed_plugins()
    plugins = load_plugins(plugins_dir, env=env, installed=installed, redactor=redactor)
    return Inventory(installed=tuple(installed.values()), plugins_dir=plugins_dir, plugins=plugins)


def _spec_json(
    spec: InstanceSpec, *, origin: str | None, hooks: list[str] | None
) -> dict[str, Any]:
    return {
        "name": spec.name,
        "enabled": spec.enabled,
        "priority": spec.priority,
        "timeout_ms": spec.timeout_ms,
        "source_dir": display_path(spec.directory),
        "plugin": spec.plugin,
        "module": spec.module,
        "class": spec.class_name,
        "origin": origin,
        "hooks": hooks,
    }


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
