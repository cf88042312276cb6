"""What the current configuration lets a re-sent action use, per plugin instance: the scopes that
``dlq replay`` and the worker's parked-action redelivery check an action record against (see
:class:`~claimx_worker.actions.dead_letter.ReplayScope`)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from claimx_worker.actions.dead_letter import ReplayScope
from claimx_worker.actions.replay import Scopes
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.webhook import endpoint_of_text
from claimx_worker.config.variables import expand_variables, referenced_variables
from claimx_worker.http.connections import Connection
from claimx_worker.plugins.instances import scan_instances


def replay_scopes(
    plugins_dir: Path,
    environ: Mapping[str, str],
    actions: ActionSettings,
    *,
    connections: Mapping[str, Connection],
    destinations: Iterable[str] = (),
    topics: Iterable[str] = (),
) -> Scopes:
    """Each configured instance's :class:`ReplayScope` under ``plugins_dir`` (a directory that
    does not exist configures none), widened by the allow-lists. An instance's connections are
    those of ``connections`` its config names under a key ``connection`` (at any depth)."""
    allowed_endpoints = {endpoint_of_text(destination) for destination in destinations}
    by_instance: dict[str, ReplayScope] = {}
    specs = scan_instances(plugins_dir, env=environ).specs if plugins_dir.is_dir() else ()
    for spec in specs:
        data = expand_variables(spec.config, env=environ).data
        keyed = set(_strings(data))
        strings = {text for _, text in keyed}
        named = {text for key, text in keyed if key == "connection"}
        by_instance[spec.name] = ReplayScope(
            variables=referenced_variables(spec.config),
            destinations=frozenset({*map(endpoint_of_text, strings), *allowed_endpoints} - {""}),
            topics=frozenset({*strings, *topics}),
            settings=actions,
            connections={name: connections[name] for name in named & connections.keys()},
        )
    return Scopes(by_instance=by_instance, environ=environ)


def _strings(data: Any, key: Hashable = None) -> Iterator[tuple[Hashable, str]]:
    """Every string in ``data`` with the key it is the value of (``None`` in a list)."""
    if isinstance(data, str):
        yield key, data
    elif isinstance(data, Mapping):
        for name, value in data.items():
            yield from _strings(value, name)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)
