"""Installed plugins: entry points in group ``claimx.plugins`` (name -> plugin class).

Discovery reads distribution metadata only (names, versions and each distribution's
``claimx-worker`` requirement); a plugin module is imported by :meth:`load`, which the host calls
only for an enabled instance whose plugin supports this worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

from attrs import field, frozen
from loguru import logger

from claimx_worker.plugins.compatibility import admits, worker_requirement

ENTRY_POINT_GROUP = "claimx.plugins"


@frozen(kw_only=True)
class InstalledPlugin:
    """One entry point: its name, target (``module:Class``), distribution and what that
    distribution requires of ``claimx-worker``."""

    name: str
    value: str
    distribution: str | None
    version: str | None
    entry_point: EntryPoint = field(eq=False, repr=False)
    requires_worker: str | None = None
    """The distribution's ``claimx-worker`` requirement (``None``: it declares none)."""

    def supports(self, worker_version: str) -> bool:
        """Whether the distribution's requirement admits ``worker_version``."""
        return admits(self.requires_worker, worker_version)

    def load(self) -> object:
        """Import the plugin's module and return the entry point's target."""
        return self.entry_point.load()

    @property
    def label(self) -> str:
        """``name`` with its distribution and version, for reports."""
        if self.distribution is None:
            return f"entry point '{self.name}' ({self.value})"
        return f"entry point '{self.name}' ({self.distribution} {self.version})"


def installed_plugins() -> Mapping[str, InstalledPlugin]:
    """Every entry point of the group, by name; a name installed twice keeps the first."""
    found: dict[str, InstalledPlugin] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        plugin = InstalledPlugin(
            name=entry_point.name,
            value=entry_point.value,
            distribution=dist.name if dist is not None else None,
            version=dist.version if dist is not None else None,
            entry_point=entry_point,
            requires_worker=worker_requirement(dist.requires) if dist is not None else None,
        )
        if plugin.name in found:
            logger.bind(entry_point=plugin.name, ignored=plugin.distribution).warning(
                "Plugin entry point installed twice; the first one is used"
            )
            continue
        found[plugin.name] = plugin
    return dict(sorted(found.items()))
