"""Checks that every connection an instance's config names is defined."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import Any

from claimx_worker.config.problems import ConfigProblem
from claimx_worker.config.references import connection_references
from claimx_worker.config.structuring import locate
from claimx_worker.http.connections import CONNECTIONS_DIR
from claimx_worker.plugins.instances import CONFIG_SECTION, InstanceSpec


def unknown_connections(
    spec: InstanceSpec, config: Any, defined: Collection[str]
) -> list[ConfigProblem]:
    """A problem, at its line, for each connection ``config`` names that is not ``defined``."""
    problems: list[ConfigProblem] = []
    for path, name in connection_references(config):
        if name in defined:
            continue
        key, line, _ = locate(spec.config, path, prefix=CONFIG_SECTION, line=spec.config_line)
        close = difflib.get_close_matches(name, list(defined), n=1)
        hint = f", did you mean '{close[0]}'?" if close else ""
        listed = ", ".join(sorted(defined)) or "none"
        problems.append(
            ConfigProblem(
                spec.file,
                line,
                key,
                f"unknown connection '{name}'{hint} (defined: {listed}; a connection is a file "
                f"{CONNECTIONS_DIR}/<name>.yaml in the plugins directory)",
            )
        )
    return problems
