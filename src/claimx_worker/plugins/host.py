"""The plugin host the worker wires in: load and validate, start, run the stages, stop.

::

    host = PluginHost.load(plugins_dir, env=os.environ, registry=registry)  # ConfigError
    await host.start()                 # on_load + published_topics, priority order; ConfigError
    host.published_topics                                # the topics the instances publish to
    received = await host.run_event_received(event)      # received.filtered: drop the event
    result = await host.run_enrichment_complete(event, rows, metadata)
    failed = await host.run_event_failed(event, EventFailure(...))
    await host.stop()                                    # on_unload, reverse order, isolated
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from pathlib import Path
from time import perf_counter
from typing import Any

from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.config.problems import ConfigError
from claimx_worker.model.context import EventFailure, HandlerMetadata, Stage
from claimx_worker.model.event import ClaimXEvent
from claimx_worker.model.rows import EntityRows
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.discovery import InstalledPlugin
from claimx_worker.plugins.loading import PluginInstance, PluginSet, load_plugins
from claimx_worker.plugins.metrics import ErrorKind, PluginMetrics
from claimx_worker.plugins.runner import DEFAULT_BUDGET_MS, StageResult, StageRunner

EMPTY_ROWS = EntityRows()
NO_METADATA = HandlerMetadata()


class PluginHost:
    """Configured plugin instances, their lifecycle and the stage runner."""

    def __init__(
        self,
        plugins: PluginSet,
        *,
        registry: CollectorRegistry,
        budget_ms: float = DEFAULT_BUDGET_MS,
    ) -> None:
        self._plugins = plugins
        self._metrics = PluginMetrics(registry)
        self._runner = StageRunner(plugins, self._metrics, budget_ms=budget_ms)
        self._redactor = Redactor(plugins.secrets)
        self._loaded: list[PluginInstance] = []
        self._topics: frozenset[str] = frozenset()
        self._running = False

    @classmethod
    def load(
        cls,
        plugins_dir: Path | None,
        *,
        env: Mapping[str, str],
        registry: CollectorRegistry,
        budget_ms: float = DEFAULT_BUDGET_MS,
        installed: Mapping[str, InstalledPlugin] | None = None,
    ) -> PluginHost:
        """Load and validate every instance below ``plugins_dir`` (``None``: no plugins).

        ``budget_ms`` is the default time budget of one hook call (an instance's ``timeout_ms``
        overrides it). Raises :class:`~claimx_worker.config.problems.ConfigError` with every
        problem.
        """
        plugins = load_plugins(plugins_dir, env=env, installed=installed)
        return cls(plugins, registry=registry, budget_ms=budget_ms)

    @property
    def instances(self) -> tuple[PluginInstance, ...]:
        """The enabled instances in run order."""
        return self._plugins.instances

    @property
    def secrets(self) -> frozenset[str]:
        """Secret strings found in the instances' configs (register them with the redactor)."""
        return self._plugins.secrets

    @property
    def published_topics(self) -> frozenset[str]:
        """The topics the instances' ``published_topics`` hooks named (known after start)."""
        return self._topics

    async def start(self) -> None:
        """Call ``on_load``, then ``published_topics``, of every instance in priority order.

        An exception (or topics that are not a collection of names) stops start-up: the
        instances already loaded are unloaded, and a
        :class:`~claimx_worker.config.problems.ConfigError` names the failing instance and hook.
        """
        topics: set[str] = set()
        for instance in self._plugins.instances:
            hook = "on_load"
            try:
                await self._lifecycle(
                    instance, hook, config=instance.config, instance_name=instance.name
                )
                self._loaded.append(instance)
                hook = "published_topics"
                topics |= _topic_names(
                    await self._lifecycle(instance, hook, instance_name=instance.name)
                )
            except Exception as exc:
                await self.stop()
                detail = self._redactor.redact(f"{type(exc).__name__}: {exc}")
                raise ConfigError(
                    [instance.spec.problem(f"{hook} of instance '{instance.name}' raised {detail}")]
                ) from None
        self._topics = frozenset(topics)
        self._running = True

    async def stop(self) -> None:
        """Call ``on_unload`` of every loaded instance in reverse order; errors are logged."""
        self._running = False
        while self._loaded:
            instance = self._loaded.pop()
            try:
                await self._lifecycle(instance, "on_unload", instance_name=instance.name)
            except Exception as exc:
                logger.bind(instance=instance.name, error=f"{type(exc).__name__}: {exc}").opt(
                    exception=exc
                ).error("Plugin on_unload raised; the other instances still unload")

    async def run_event_received(self, event: ClaimXEvent) -> StageResult:
        """``on_event_received`` before enrichment; ``result.filtered`` means drop the event."""
        self._check_running()
        return await self._runner.run(Stage.EVENT_RECEIVED, event, EMPTY_ROWS, NO_METADATA)

    async def run_enrichment_complete(
        self, event: ClaimXEvent, rows: EntityRows, metadata: HandlerMetadata
    ) -> StageResult:
        """``on_enrichment_complete``: the actions, and whether to skip the entity write."""
        self._check_running()
        return await self._runner.run(Stage.ENRICHMENT_COMPLETE, event, rows, metadata)

    async def run_event_failed(
        self,
        event: ClaimXEvent,
        error: EventFailure,
        *,
        rows: EntityRows = EMPTY_ROWS,
        metadata: HandlerMetadata = NO_METADATA,
    ) -> StageResult:
        """``on_event_failed`` for an event sent to the DLQ; returns the actions to run."""
        self._check_running()
        return await self._runner.run(Stage.EVENT_FAILED, event, rows, metadata, error)

    def _check_running(self) -> None:
        if not self._running:
            raise RuntimeError("PluginHost.start() must complete before events are run")

    async def _lifecycle(self, instance: PluginInstance, hook: str, **values: Any) -> Any:
        """Call ``hook`` of one instance (awaiting it if async), counting it in the metrics;
        its result, or ``None`` when the instance does not implement it."""
        implementation = instance.implementations.get(hook)
        if implementation is None:
            return None
        stats = self._metrics.stats(instance.name, hook)
        start = perf_counter()
        try:
            result = implementation.function(*[values[name] for name in implementation.argnames])
            return await result if inspect.isawaitable(result) else result
        except Exception:
            stats.errors[ErrorKind.EXCEPTION] += 1
            raise
        finally:
            stats.observe(perf_counter() - start)


def _topic_names(topics: object) -> set[str]:
    """``published_topics``'s result as a set of names; ``TypeError`` for anything else."""
    if topics is None:
        return set()
    if isinstance(topics, str | bytes) or not isinstance(topics, Iterable):
        raise TypeError(f"expected a collection of topic names, got {type(topics).__name__}")
    names = set(topics)
    if not all(isinstance(name, str) and name for name in names):
        raise TypeError(f"expected non-empty topic names, got {sorted(map(repr, names))}")
    return names
