"""Plugin compatibility: a plugin distribution's ``claimx-worker`` requirement against this worker.

The plugin API version is the ``claimx-worker`` version. A plugin distribution declares the
versions it supports with an ordinary requirement in its metadata (``Requires-Dist``), for
example ``claimx-worker>=0.1,<0.2``. The host checks it before importing the plugin's code, so an
incompatible plugin is refused with a configuration error instead of failing at run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from claimx_worker.plugins.discovery import InstalledPlugin

WORKER_DISTRIBUTION = "claimx-worker"


def worker_requirement(requires: Iterable[str] | None) -> str | None:
    """The unconditional ``claimx-worker`` requirement among a distribution's ``Requires-Dist``.

    Requirements behind an extra (``extra == "test"``) or a marker that does not hold here are
    ignored. ``None`` when the distribution declares none.
    """
    for line in requires or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != WORKER_DISTRIBUTION:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        return str(requirement)
    return None


def admits(requirement: str | None, worker_version: str) -> bool:
    """Whether ``worker_version`` satisfies ``requirement`` (pre-releases of it included).

    No requirement, or an unversioned one, admits every version.
    """
    if requirement is None:
        return True
    try:
        return Requirement(requirement).specifier.contains(
            Version(worker_version), prereleases=True
        )
    except (InvalidRequirement, InvalidVersion):
        return False


def incompatibility(plugin: InstalledPlugin, *, instance: str, worker_version: str) -> str | None:
    """Why instance ``instance`` cannot use ``plugin`` with this worker; ``None`` if it can."""
    if plugin.supports(worker_version):
        return None
    return (
        f"instance '{instance}': plugin '{plugin.name}' ({plugin.distribution} "
        f"{plugin.version}) requires {plugin.requires_worker}, but {WORKER_DISTRIBUTION} "
        f"{worker_version} is installed; install a release of {plugin.distribution} that "
        f"supports {WORKER_DISTRIBUTION} {worker_version} (read: claimx-worker docs upgrading)"
    )
