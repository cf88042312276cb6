"""Where the worker's settings come from, each source beating the one before: the defaults, a
settings file, the environment, command-line options.

- **File**: YAML, ``${VAR}`` / ``${VAR:-default}`` expanded in its values (see
  :mod:`claimx_worker.config`); problems are ``file:line: key: message``.
- **Environment**: ``CLAIMX_WORKER_<KEY PATH>`` for every setting (:func:`env_name`), and the
  short names of :data:`SHORT_NAMES` (the long name wins when both are set). A value is taken
  literally; a list or mapping setting takes a YAML flow value (``[1s, 2s]``, ``{key: value}``).
  An empty variable counts as unset. Problems are ``env NAME: key: message``.
- **Options**: ``--set KEY=VALUE`` (and ``--plugins-dir``), values read like the environment's;
  problems are ``option --set: key: message``.

A variable or option replaces the value of its key as a whole (a mapping is not merged).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, get_origin

from attrs import frozen
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from claimx_worker.config.keys import config_keys, nearest_key
from claimx_worker.config.problems import ConfigError, ConfigProblem, display_path
from claimx_worker.config.structuring import structure_node
from claimx_worker.config.yaml_files import load_yaml
from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.settings.schema import ENV_PREFIX, ENV_SEPARATOR, Setting, env_name, setting_keys
from claimx_worker.settings.worker import SHORT_NAMES, WorkerSettings

ENV_SOURCE = "env "
SET_OPTION = "option --set"
DEFAULT_SOURCE = "default"
_NO_FILE = "(defaults)"
_COLLECTIONS: dict[Any, str] = {tuple: "list", list: "list", dict: "mapping", Mapping: "mapping"}
_COLLECTION_EXAMPLES = {"list": "[a, b]", "mapping": "{key: value}"}


@frozen
class Override:
    """A value from outside the file: an environment variable or a command-line option."""

    key: str
    """The dotted key path of the setting."""
    value: str
    source: str
    """``env NAME``, ``option --set`` or ``option --plugins-dir``."""

    def name_of(self, key: str) -> str:
        """How the user writes ``key`` in this override's source."""
        return env_name(key) if self.source.startswith(ENV_SOURCE) else key


@frozen
class LoadedSettings:
    """The effective settings, the secret values found on the way (for the log redactor), and
    where each setting's value came from (``default``, ``file:line``, ``env NAME``, ``option
    ...``), by dotted key."""

    value: WorkerSettings
    secrets: frozenset[str]
    sources: Mapping[str, str]


def set_overrides(assignments: Iterable[str]) -> tuple[Override, ...]:
    """``--set KEY=VALUE`` options as overrides; raises ``ValueError`` for one without ``=``."""
    overrides = []
    for assignment in assignments:
        key, equals, value = assignment.partition("=")
        if not equals:
            raise ValueError(f"--set expects KEY=VALUE, got {assignment!r}")
        overrides.append(Override(key.strip(), value, SET_OPTION))
    return tuple(overrides)


def environment_overrides(env: Mapping[str, str]) -> tuple[Override, ...]:
    """The settings the environment sets: short names first, then ``CLAIMX_WORKER_*`` (which
    win); empty variables are left out."""
    short = [
        Override(key, env[name], ENV_SOURCE + name)
        for name, key in SHORT_NAMES.items()
        if env.get(name)
    ]
    long = [
        Override(_key_of(name), value, ENV_SOURCE + name)
        for name, value in sorted(env.items())
        if name.startswith(ENV_PREFIX) and value
    ]
    return (*short, *long)


def load_worker_config(
    path: Path | None, env: Mapping[str, str], *, options: Sequence[Override] = ()
) -> LoadedSettings:
    """The worker settings from the defaults, the file at ``path`` (``None``: no file), the
    environment ``env`` and ``options``, each beating the one before.

    Raises :class:`~claimx_worker.config.problems.ConfigError` with every problem of every
    source, each named by its source (``file:line``, ``env NAME``, ``option --set``).
    """
    root = load_yaml(path) if path is not None else None
    file = display_path(path) if path is not None else _NO_FILE
    if root is None:
        root = CommentedMap()
    settings = {setting.key: setting for setting in setting_keys()}
    effective: dict[str, Override] = {}
    problems: list[ConfigProblem] = []
    for override in (*environment_overrides(env), *options):
        try:
            value = _read(override, settings)
        except _Refused as refused:
            problems.append(ConfigProblem(override.source, None, override.key, str(refused)))
            continue
        if isinstance(root, CommentedMap):
            _insert(root, override.key.split("."), _literal(value))
        effective[override.key] = override
    try:
        loaded = structure_node(root, WorkerSettings, file=file, key_prefix="", env=env)
    except ConfigError as error:
        raise ConfigError(
            [*problems, *(_attributed(problem, effective) for problem in error.problems)]
        ) from None
    if problems:
        raise ConfigError(problems)
    sources = {
        key: effective[key].source if key in effective else _file_source(root, key, file)
        for key in settings
    }
    return LoadedSettings(loaded.value, loaded.secrets, sources)


def load_settings(path: Path | None, env: Mapping[str, str]) -> WorkerSettings:
    """The worker settings from the defaults, ``path`` and ``env``; see
    :func:`load_worker_config`."""
    return load_worker_config(path, env).value


def _key_of(variable: str) -> str:
    """The setting key a ``CLAIMX_WORKER_*`` variable names (the reverse of ``env_name``)."""
    return ".".join(variable[len(ENV_PREFIX) :].lower().split(ENV_SEPARATOR))


class _Refused(ClaimXWorkerError):
    """An override that names no setting or whose value cannot be read."""


def _read(override: Override, settings: Mapping[str, Setting]) -> object:
    """The override's value for its setting: the text, or the YAML list or mapping."""
    setting = settings.get(override.key)
    if setting is None:
        raise _Refused(_not_a_setting(override, settings))
    kind = _collection(setting)
    if kind is None:
        return override.value
    try:
        return YAML(typ="safe").load(override.value)
    except YAMLError:
        example = _COLLECTION_EXAMPLES[kind]
        raise _Refused(f"expected a YAML {kind}, e.g. '{example}': invalid YAML") from None


def _not_a_setting(override: Override, settings: Mapping[str, Setting]) -> str:
    """Why ``override.key`` is not a setting, and what to write instead."""
    key = override.key
    known = {".".join(found.path) for found in config_keys(WorkerSettings)}
    if key in known:
        first = next(setting for setting in settings if setting.startswith(f"{key}."))
        return f"a section, not a setting: set one of its keys, e.g. {override.name_of(first)}"
    holder = next((s for s in settings.values() if key.startswith(f"{s.key}.")), None)
    if holder is not None:
        kind = _collection(holder) or "value"
        return (
            f"{holder.key} is one setting: set {override.name_of(holder.key)} to a YAML {kind}, "
            f"e.g. '{_COLLECTION_EXAMPLES.get(kind, '')}'"
        )
    parent, _, name = key.rpartition(".")
    siblings = [k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == parent]
    near = nearest_key(name, siblings, tuple(parent.split(".")) if parent else (), WorkerSettings)
    if near is None:
        return "unknown setting (claimx-worker config init - lists them)"
    suggested = ".".join(str(part) for part in near)
    if override.source.startswith(ENV_SOURCE):
        return f"unknown setting, did you mean {env_name(suggested)} ({suggested})?"
    return f"unknown setting, did you mean '{suggested}'?"


def _collection(setting: Setting) -> str | None:
    """``list`` or ``mapping`` for a setting holding one, else ``None``."""
    return _COLLECTIONS.get(get_origin(setting.type) or setting.type)


def _literal(value: object) -> object:
    """``value`` with every ``${`` escaped, so that it is not expanded as a variable."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, list):
        return [_literal(item) for item in value]
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    return value


def _insert(root: CommentedMap, path: Sequence[str], value: object) -> None:
    """Set ``path`` to ``value`` below ``root``, creating missing sections; a section the file
    gives as something else than a mapping is left alone (the file's problem is reported)."""
    node = root
    for name in path[:-1]:
        if name not in node:
            node[name] = CommentedMap()
        node = node[name]
        if not isinstance(node, CommentedMap):
            return
    node[path[-1]] = value


def _attributed(problem: ConfigProblem, effective: Mapping[str, Override]) -> ConfigProblem:
    """A structuring problem named by the source of its value: an override of its key (or of a
    key above it) names it; one of a section whose keys are overridden names both."""
    for key, override in effective.items():
        if problem.key == key or problem.key.startswith((f"{key}.", f"{key}[")):
            return ConfigProblem(override.source, None, problem.key, problem.message)
    below = [o.source for key, o in effective.items() if key.startswith(f"{problem.key}.")]
    if not below:
        return problem
    line = "" if problem.line is None else f":{problem.line}"
    where = [] if problem.file == _NO_FILE else [f"{problem.file}{line}"]
    return ConfigProblem(", ".join([*where, *below]), None, problem.key, problem.message)


def _file_source(root: Any, key: str, file: str) -> str:
    """``file:line`` of ``key`` when the file sets it, else ``default``."""
    node = root
    line: int | None = None
    for name in key.split("."):
        if not isinstance(node, CommentedMap) or name not in node:
            return DEFAULT_SOURCE
        line = _key_line(node, name)
        node = node[name]
    return f"{file}:{line}" if line is not None else file


def _key_line(node: CommentedMap, key: Hashable) -> int | None:
    position = (node.lc.data or {}).get(key)  # None for a key an override inserted
    return int(position[0]) + 1 if position is not None else None
