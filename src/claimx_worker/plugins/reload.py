"""What a reload changes: the new instances compared with the loaded ones.

An instance is *kept* (its plugin object, its loaded state, no hook called) when its instance
keys and its validated config are equal to the loaded one's; it is *changed* when the name is the
same but anything else differs (``on_unload`` of the old object, ``on_load`` of the new one);
*added* and *removed* are what they say. A plugin's code is imported once per process: a new
version of a plugin distribution needs a restart.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from attrs import frozen

from claimx_worker.plugins.loading import PluginInstance


class Change(enum.StrEnum):
    """Why an instance is loaded or unloaded by a reload."""

    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


@frozen
class ReloadPlan:
    """The instances of the new configuration in run order (kept ones are the loaded objects),
    and the instances to load and to unload, each with why."""

    instances: tuple[PluginInstance, ...]
    load: tuple[tuple[PluginInstance, Change], ...]
    unload: tuple[tuple[PluginInstance, Change], ...]

    @property
    def summary(self) -> dict[str, int]:
        """How many instances were kept, added, changed and removed."""
        counts = {"kept": len(self.instances) - len(self.load)}
        for change in Change:
            changes = self.unload if change is Change.REMOVED else self.load
            counts[change.value] = sum(1 for _, why in changes if why is change)
        return counts


def plan_reload(loaded: Sequence[PluginInstance], new: Sequence[PluginInstance]) -> ReloadPlan:
    """Compare the ``loaded`` instances with the ``new`` ones (see the module docstring)."""
    previous = {instance.name: instance for instance in loaded}
    instances: list[PluginInstance] = []
    load: list[tuple[PluginInstance, Change]] = []
    for instance in new:
        old = previous.get(instance.name)
        if old is not None and same_instance(old, instance):
            instances.append(old)
            continue
        instances.append(instance)
        load.append((instance, Change.ADDED if old is None else Change.CHANGED))
    kept = {id(instance) for instance in instances}
    names = {instance.name for instance in new}
    unload = [
        (old, Change.CHANGED if old.name in names else Change.REMOVED)
        for old in loaded
        if id(old) not in kept
    ]
    return ReloadPlan(tuple(instances), tuple(load), tuple(unload))


def same_instance(old: PluginInstance, new: PluginInstance) -> bool:
    """True when ``new`` configures ``old`` exactly as loaded (lines and comments aside)."""
    keys = (
        "name",
        "plugin",
        "module",
        "class_name",
        "priority",
        "timeout_ms",
        "conditions",
        "quarantine_policy",
        "mode",
    )
    if any(getattr(old.spec, key) != getattr(new.spec, key) for key in keys):
        return False
    if type(old.plugin) is not type(new.plugin):
        return False
    try:
        return bool(old.config == new.config)
    except Exception:  # a config class whose equality raises: treat it as changed
        return False
