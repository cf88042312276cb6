"""A plugin's hook implementations, found by pluggy and checked against the hook contract.

pluggy finds them: the plugin object is registered on a manager without hook specs, so its
``@hookimpl`` methods become :class:`pluggy.HookImpl` objects (``specname`` applied) and nothing
is verified or called there. Each one is then checked against the contract's
:class:`pluggy.HookCaller` ``spec``, from pluggy's own data (``HookImpl.argnames``,
``HookImpl.opts``, ``HookSpec.argnames``), and every problem is reported, not the first:

- a hook the contract does not declare (a misspelling);
- an argument the hook does not pass;
- two methods implementing one hook;
- a ``@hookimpl`` option the stage runner does not honour. The runner calls each instance's
  function itself, in ``priority`` order, to isolate, time and count every call per instance
  (see :mod:`claimx_worker.plugins.runner`), so pluggy's call-order and wrapper options would be
  silently ignored: they are refused instead.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import pluggy
from attrs import frozen

from claimx_worker.hookspecs import HOOK_NAMES, PROJECT_NAME, ClaimXHookSpecs

_ORDER = "instances run in the order of their 'priority' in config.yaml (lower first, ties by name)"
_WRAP = (
    "the worker calls each instance's hook on its own (isolated, timed and counted per "
    "instance), so no hook wraps another; use a plain hook, and 'priority' in config.yaml for "
    "the order"
)
UNHONOURED_OPTIONS: Mapping[str, str] = {
    "tryfirst": _ORDER,
    "trylast": _ORDER,
    "wrapper": _WRAP,
    "hookwrapper": _WRAP,
    "optionalhook": "every hook implementation is checked against the hook contract",
}
"""The ``@hookimpl`` options the worker refuses, each with the reason given to the author."""


@frozen
class HookFunction:
    """One instance's implementation of one hook: the function to call, and the names of the
    hook's arguments it declares, in its own order."""

    function: Callable[..., Any]
    argnames: tuple[str, ...]


@frozen
class PluginHooks:
    """What :meth:`HookContract.check` found: the implementations by hook name, and why they
    break the contract (an empty tuple when they do not)."""

    functions: Mapping[str, HookFunction]
    problems: tuple[str, ...]


class HookContract:
    """The hooks of :class:`~claimx_worker.hookspecs.ClaimXHookSpecs` as pluggy parses them."""

    def __init__(self) -> None:
        specs = pluggy.PluginManager(PROJECT_NAME)
        specs.add_hookspecs(ClaimXHookSpecs)
        self._argnames: dict[str, tuple[str, ...]] = {}
        for name in HOOK_NAMES:
            spec = getattr(specs.hook, name).spec
            assert spec is not None
            self._argnames[name] = tuple(spec.argnames)

    def check(self, plugin: object) -> PluginHooks:
        """The hook implementations of ``plugin``, and every way they break the contract."""
        found = pluggy.PluginManager(PROJECT_NAME)
        found.register(plugin)
        impls: dict[str, list[pluggy.HookImpl]] = defaultdict(list)
        for caller in found.get_hookcallers(plugin) or ():
            impls[caller.name].extend(caller.get_hookimpls())
        problems: list[str] = []
        for hook, hook_impls in sorted(impls.items()):
            problems.extend(self._problems(hook, hook_impls))
        functions = {
            hook: HookFunction(impl.function, tuple(impl.argnames))
            for hook, (impl, *_) in sorted(impls.items())
        }
        return PluginHooks(functions=functions, problems=tuple(problems))

    def _problems(self, hook: str, impls: list[pluggy.HookImpl]) -> list[str]:
        takes = self._argnames.get(hook)
        if takes is None:
            close = difflib.get_close_matches(hook, HOOK_NAMES, n=1)
            hint = (
                f", did you mean '{close[0]}'?" if close else f" (hooks: {', '.join(HOOK_NAMES)})"
            )
            return [f"implements unknown hook '{hook}'{hint}"]
        broken = "does not match the hook contract: "
        if len(impls) > 1:
            methods = ", ".join(sorted(impl.function.__name__ for impl in impls))
            return [f"{broken}{hook} is implemented by {len(impls)} methods ({methods}); keep one"]
        (impl,) = impls
        problems: list[str] = []
        unknown = [name for name in impl.argnames if name not in takes]
        if unknown:
            names = ", ".join(f"'{name}'" for name in unknown)
            problems.append(
                f"{broken}{hook} declares argument{'s' if len(unknown) > 1 else ''} {names}, "
                f"which the hook does not pass ({hook} takes: {', '.join(takes)})"
            )
        opts: Mapping[str, object] = impl.opts
        problems.extend(
            f"{broken}{hook} is marked @hookimpl({option}=True), which the worker does not "
            f"honour: {reason}"
            for option, reason in UNHONOURED_OPTIONS.items()
            if opts.get(option)
        )
        return problems
