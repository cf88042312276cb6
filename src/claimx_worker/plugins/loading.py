"""Loading configured instances: import the plugin class, validate its config, check its hooks.

Everything is checked before any ``on_load``, and every problem is collected: unknown entry
points (with the installed ones listed), plugin distributions whose ``claimx-worker`` requirement
excludes this worker (refused before their code is imported), import errors, config problems
(file, line, key path), constructors that raise, and hook implementations that break the
contract (:mod:`claimx_worker.plugins.hookimpls`: unknown hooks, arguments, refused options).

The secrets of every enabled instance's config are registered with the redactor before any
plugin code is imported: what that code logs while it is imported or constructed, and every
problem reported, is redacted.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen
from loguru import logger

from claimx_worker._version import __version__
from claimx_worker.config.problems import ConfigError, ConfigProblem, display_path
from claimx_worker.config.structuring import structure_node
from claimx_worker.config.variables import expand_variables
from claimx_worker.http.connections import Connection, load_connections
from claimx_worker.observability.redaction import Redactor, count_of_secrets
from claimx_worker.plugins.compatibility import incompatibility
from claimx_worker.plugins.discovery import InstalledPlugin, installed_plugins
from claimx_worker.plugins.hookimpls import HookContract, HookFunction
from claimx_worker.plugins.instances import CONFIG_SECTION, InstanceSpec, scan_instances
from claimx_worker.plugins.references import unknown_connections


@frozen(kw_only=True)
class PluginInstance:
    """A loaded instance: its spec, plugin object, validated config and hook implementations."""

    spec: InstanceSpec
    plugin: object = field(eq=False)
    config: Any = field(repr=False)
    origin: str
    implementations: Mapping[str, HookFunction] = field(repr=False)
    """The functions the host calls, by hook name."""

    @property
    def name(self) -> str:
        """The instance name."""
        return self.spec.name

    @property
    def hooks(self) -> tuple[str, ...]:
        """The names of the hooks the instance implements, sorted."""
        return tuple(sorted(self.implementations))


@frozen(kw_only=True)
class PluginSet:
    """Every configured instance, loaded and checked, in run order."""

    instances: tuple[PluginInstance, ...] = ()
    """Enabled instances in run order: priority, then name."""
    disabled: tuple[InstanceSpec, ...] = ()
    without_config: tuple[Path, ...] = ()
    secrets: frozenset[str] = field(default=frozenset(), repr=count_of_secrets)
    """The secret values of the enabled instances' configs and of the connections."""
    connections: Mapping[str, Connection] = field(factory=dict, repr=False)
    """The named connections (``<plugins_dir>/connections/<name>.yaml``) by name."""


@frozen(kw_only=True)
class PluginCheck:
    """Every configured instance checked: the valid ones loaded, every problem collected."""

    plugins: PluginSet
    """The valid enabled instances (loaded), the disabled ones and directories without config."""
    enabled: tuple[InstanceSpec, ...] = ()
    """Every enabled instance in run order, valid or not."""
    problems: tuple[ConfigProblem, ...] = ()
    """Every problem found, redacted, in file and line order."""

    def problems_of(self, spec: InstanceSpec) -> tuple[ConfigProblem, ...]:
        """The problems in ``spec``'s file."""
        return tuple(problem for problem in self.problems if problem.file == spec.file)

    def unattributed_problems(self) -> tuple[ConfigProblem, ...]:
        """The problems in no instance's file (e.g. a file that is not YAML)."""
        files = {spec.file for spec in (*self.enabled, *self.plugins.disabled)}
        return tuple(problem for problem in self.problems if problem.file not in files)


def load_plugins(
    plugins_dir: Path | None,
    *,
    env: Mapping[str, str],
    installed: Mapping[str, InstalledPlugin] | None = None,
    redactor: Redactor | None = None,
) -> PluginSet:
    """Load every instance configured below ``plugins_dir`` (``None``: plugins disabled).

    As :func:`check_plugins`, but raises :class:`ConfigError` with every problem found,
    redacted, if there is any.
    """
    check = check_plugins(plugins_dir, env=env, installed=installed, redactor=redactor)
    if check.problems:
        raise ConfigError(check.problems)
    return check.plugins


def check_plugins(
    plugins_dir: Path | None,
    *,
    env: Mapping[str, str],
    installed: Mapping[str, InstalledPlugin] | None = None,
    redactor: Redactor | None = None,
) -> PluginCheck:
    """Load every valid instance configured below ``plugins_dir`` and collect every problem.

    A missing directory is a warning and loads nothing. The configs' secrets are added to
    ``redactor`` (the one the log sink uses; by default a new one) before any plugin code is
    imported. Calls no hook: ``on_load`` is the host's job at start.
    """
    if plugins_dir is None:
        return PluginCheck(plugins=PluginSet())
    if not plugins_dir.exists():
        logger.bind(plugins_dir=display_path(plugins_dir)).warning("Plugins directory not found")
        return PluginCheck(plugins=PluginSet())
    if not plugins_dir.is_dir():
        problem = ConfigProblem(
            display_path(plugins_dir), None, "", "plugins_dir is not a directory"
        )
        return PluginCheck(plugins=PluginSet(), problems=(problem,))
    scan = scan_instances(plugins_dir, env=env)
    for directory in scan.without_config:
        logger.bind(directory=display_path(directory)).warning(
            "Plugin directory has no config.yaml; skipped"
        )
    catalog = load_connections(plugins_dir, env=env)
    problems = [*scan.problems, *catalog.problems]
    enabled = sorted(
        (spec for spec in scan.specs if spec.enabled), key=lambda s: (s.priority, s.name)
    )
    secrets = catalog.secrets.union(
        *(expand_variables(spec.config, env=env).secrets for spec in enabled)
    )
    redactor = Redactor() if redactor is None else redactor
    redactor.add(*secrets)
    if installed is None and any(spec.plugin is not None for spec in enabled):
        installed = installed_plugins()
    loader = _InstanceLoader(installed or {}, env, problems, catalog.names())
    loaded = [instance for spec in enabled if (instance := loader.load(spec)) is not None]
    invalid = {problem.file for problem in problems}
    plugins = PluginSet(
        instances=tuple(instance for instance in loaded if instance.spec.file not in invalid),
        disabled=tuple(spec for spec in scan.specs if not spec.enabled),
        without_config=scan.without_config,
        secrets=secrets,
        connections=catalog.connections,
    )
    return PluginCheck(
        plugins=plugins,
        enabled=tuple(enabled),
        problems=ConfigError(problems).redacted(redactor.redact).problems,
    )


class _InstanceLoader:
    """Loads one instance at a time, adding problems to a shared list."""

    def __init__(
        self,
        installed: Mapping[str, InstalledPlugin],
        env: Mapping[str, str],
        problems: list[ConfigProblem],
        connections: list[str],
    ) -> None:
        self._connections = connections
        self._contract = HookContract()
        self._installed = installed
        self._env = env
        self._problems = problems

    def load(self, spec: InstanceSpec) -> PluginInstance | None:
        try:
            cls, origin = self._resolve(spec)
        except _Problem as problem:
            self._problems.append(spec.problem(str(problem), key=spec.source_key))
            return None
        config = self._configure(spec, cls)
        try:
            plugin = cls()
        except Exception as exc:
            message = f"creating {_qualname(cls)}() raised {type(exc).__name__}: {exc}"
            self._problems.append(spec.problem(message, key=spec.source_key))
            return None
        hooks = self._contract.check(plugin)
        for reason in hooks.problems:
            self._problems.append(spec.problem(f"{_qualname(cls)} {reason}", key=spec.source_key))
        if hooks.problems:
            return None
        return PluginInstance(
            spec=spec, plugin=plugin, config=config, origin=origin, implementations=hooks.functions
        )

    def _resolve(self, spec: InstanceSpec) -> tuple[type, str]:
        """The plugin class of ``spec`` and a description of where it came from."""
        if spec.plugin is not None:
            entry = self._installed.get(spec.plugin)
            if entry is None:
                raise _Problem(_unknown_plugin(spec.plugin, list(self._installed)))
            refused = incompatibility(entry, instance=spec.name, worker_version=__version__)
            if refused is not None:
                raise _Problem(refused)
            try:
                target = entry.load()
            except Exception as exc:
                raise _Problem(
                    f"cannot load plugin '{entry.name}' ({entry.value}): "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            origin = entry.label
        else:
            module_name, class_name = str(spec.module), str(spec.class_name)
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                raise _Problem(
                    f"cannot import module '{module_name}': {type(exc).__name__}: {exc}"
                ) from None
            target = getattr(module, class_name, None)
            if target is None:
                raise _Problem(f"module '{module_name}' has no attribute '{class_name}'")
            origin = f"{module_name}:{class_name}"
        if not isinstance(target, type):
            raise _Problem(f"{origin} is not a class (got {type(target).__name__})")
        config_class = getattr(target, "config_class", None)
        if config_class is not None and not attrs.has(config_class):
            raise _Problem(f"{_qualname(target)}.config_class is not an attrs class")
        return target, origin

    def _configure(self, spec: InstanceSpec, cls: type) -> Any:
        config_class = getattr(cls, "config_class", None)
        if config_class is None:
            if spec.config:
                self._problems.append(
                    spec.problem(
                        f"{_qualname(cls)} takes no config; remove the 'config' section",
                        key=CONFIG_SECTION,
                        line=spec.config_line,
                    )
                )
            return None
        try:
            loaded = structure_node(
                spec.config,
                config_class,
                file=spec.file,
                key_prefix=CONFIG_SECTION,
                env=self._env,
                line=spec.config_line,
            )
        except ConfigError as error:
            self._problems.extend(error.problems)
            return None
        self._problems.extend(unknown_connections(spec, loaded.value, self._connections))
        return loaded.value


class _Problem(Exception):
    """An instance cannot be loaded; the message says why."""


def _unknown_plugin(name: str, installed: list[str]) -> str:
    close = difflib.get_close_matches(name, installed, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    listed = ", ".join(installed) if installed else "none"
    return f"unknown plugin '{name}': {hint}installed plugins: {listed}"


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
