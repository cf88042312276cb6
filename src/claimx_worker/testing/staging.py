"""Staging a plugin configuration for the harness: a mapping, a file or a directory copied into
a temporary plugins directory, problems pointed back at the original file, and a plugin class
that is not installed served through an entry point of its own."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import attrs
from ruamel.yaml import YAML

from claimx_worker.config.problems import ConfigProblem, display_path
from claimx_worker.plugins.discovery import ENTRY_POINT_GROUP, InstalledPlugin, installed_plugins
from claimx_worker.plugins.instances import CONFIG_FILE, scan_instances

MAPPING_FILE = "<config mapping>"
"""The file name problems of a config given as a mapping are shown with."""

ConfigSource = Mapping[str, Any] | str | Path
"""An instance's ``config.yaml`` as a mapping, a file, an instance directory or a plugins
directory."""


def stage_config(
    config: ConfigSource, name: str | None, temp: Path, env: Mapping[str, str]
) -> tuple[Path, dict[str, str]]:
    """A plugins directory holding ``config`` (in ``temp`` unless ``config`` is a plugins
    directory), and the file names to show in problems."""
    if isinstance(config, Mapping):
        directory = temp / (name or str(config.get("plugin") or config.get("name") or "plugin"))
        directory.mkdir()
        body = dict(config)
        if name is not None and "name" not in body:
            body["name"] = name
        with (directory / CONFIG_FILE).open("w", encoding="utf-8") as stream:
            YAML(typ="safe", pure=True).dump(body, stream)
        return temp, {display_path(directory / CONFIG_FILE): MAPPING_FILE}
    path = Path(config)
    if path.is_file():
        return _copy_instance(path, temp, name)
    if (path / CONFIG_FILE).is_file():
        return _copy_instance(path / CONFIG_FILE, temp, name)
    if not path.is_dir():
        raise FileNotFoundError(f"no config.yaml, instance directory or plugins directory: {path}")
    if name is None:
        return path, {}
    specs = {spec.name: spec for spec in scan_instances(path, env=env).specs}
    if name not in specs:
        raise ValueError(f"no instance named {name!r} in {path} (instances: {sorted(specs)})")
    return _copy_instance(specs[name].directory / CONFIG_FILE, temp, None)


def _copy_instance(file: Path, temp: Path, name: str | None) -> tuple[Path, dict[str, str]]:
    directory = temp / (name or file.resolve().parent.name)
    directory.mkdir()
    (directory / CONFIG_FILE).write_bytes(file.read_bytes())
    return temp, {display_path(directory / CONFIG_FILE): display_path(file)}


def relocate(problem: ConfigProblem, origins: Mapping[str, str]) -> ConfigProblem:
    """A problem in a staged copy, pointed at the file it came from."""
    origin = origins.get(problem.file)
    if origin is None:
        return problem
    line = None if origin == MAPPING_FILE else problem.line
    return attrs.evolve(problem, file=origin, line=line)


class _ClassEntryPoint(EntryPoint):
    """An entry point whose target is a given class (one that is not installed)."""

    def __init__(self, name: str, target: type) -> None:
        super().__init__(name, f"{target.__module__}:{target.__qualname__}", ENTRY_POINT_GROUP)
        vars(self)["target"] = target

    def load(self) -> Any:
        """The class itself; nothing is imported."""
        return vars(self)["target"]


def with_class(
    plugin_class: type, plugins_dir: Path, env: Mapping[str, str]
) -> dict[str, InstalledPlugin]:
    """The installed plugins, with ``plugin_class`` behind the entry point the config names:
    the only one, or else the only one that is not installed."""
    installed = dict(installed_plugins())
    names = {spec.plugin for spec in scan_instances(plugins_dir, env=env).specs if spec.enabled}
    named = sorted(name for name in names if name is not None)
    candidates = named if len(named) == 1 else [n for n in named if n not in installed]
    if len(candidates) != 1:
        raise ValueError(
            "plugin_class needs a config naming one plugin entry point, or one that is not "
            f"installed (entry points named: {named})"
        )
    entry = _ClassEntryPoint(candidates[0], plugin_class)
    installed[entry.name] = InstalledPlugin(
        name=entry.name, value=entry.value, distribution=None, version=None, entry_point=entry
    )
    return installed
