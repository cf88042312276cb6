"""Quarantine: a plugin instance that keeps failing stops being called for a while.

Per instance, a circuit breaker over its stage hook calls (``on_event_received``,
``on_enrichment_complete``, ``on_event_failed``): when, over the last ``window_seconds``, at least
``min_calls`` calls were made and the share that failed (raised, ran past the budget, returned
garbage) reaches ``error_rate``, the instance is *quarantined* for ``cooldown_seconds``. A hook
that hung (:mod:`claimx_worker.plugins.watchdog`) quarantines its instance at once. After the
cooldown the next call is a probe (*half-open*): success restores the instance, failure
quarantines it again. Each change is one log line and moves ``claimx_plugin_quarantined``.

While quarantined, the instance's declared ``quarantine_policy`` decides: ``skip`` (the default)
runs the event without it (counted in ``claimx_plugin_quarantine_skips_total``); ``hold`` sends
the event to the retry path (:class:`PluginQuarantinedError`, transient), so it runs again,
every instance included, once the instance is back: the other instances' actions are repeated
with the same idempotency keys.

The window is a sliding-window counter (this window's counts plus the previous window's,
weighted by how much of it still overlaps); a successful call costs one increment.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from time import perf_counter

from loguru import logger
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from claimx_worker.errors import DeferredError
from claimx_worker.plugins.settings import QuarantinePolicy, QuarantineSettings


class PluginQuarantinedError(DeferredError):
    """An instance with ``quarantine_policy: hold`` is quarantined: retry the event later,
    without spending one of its retries (it waits as long as the quarantine lasts)."""


class State(enum.StrEnum):
    """A breaker's state."""

    LOADED = "loaded"
    QUARANTINED = "quarantined"
    PROBING = "probing"


class InstanceBreaker:
    """The quarantine state of one instance; see the module docstring."""

    __slots__ = (
        "_calls",
        "_failures",
        "_previous_calls",
        "_previous_failures",
        "_window_start",
        "blocked",
        "instance",
        "policy",
        "settings",
        "skips",
        "state",
        "until",
    )

    def __init__(
        self, instance: str, policy: QuarantinePolicy, settings: QuarantineSettings
    ) -> None:
        self.instance = instance
        self.policy = policy
        self.settings = settings
        self.state = State.LOADED
        self.blocked = False
        """True while quarantined or probing: the runner asks :meth:`admit` first."""
        self.until = 0.0
        self.skips = 0
        self._calls = 0
        self._failures = 0
        self._previous_calls = 0
        self._previous_failures = 0
        self._window_start = perf_counter()

    def admit(self, now: float) -> bool:
        """Whether a call may run now (the caller checked :attr:`blocked` first): after the
        cooldown, the first call is the probe."""
        if self.state is State.QUARANTINED and now >= self.until:
            self.state = State.PROBING
            logger.bind(instance=self.instance).info(
                "Plugin instance cooldown over; probing with the next call"
            )
            return True
        return False

    def held(self, now: float) -> bool:
        """True when an event must not run now because of this instance (policy ``hold``):
        quarantined with the cooldown not over, or another event's probe call running."""
        if self.policy is not QuarantinePolicy.HOLD:
            return False
        return self.state is State.PROBING or (self.state is State.QUARANTINED and now < self.until)

    def succeeded(self) -> None:
        """One call succeeded."""
        self._calls += 1
        if self.blocked and self.state is State.PROBING:  # blocked first: one slot read
            self._restore()

    def failed(self, now: float) -> None:
        """One call failed; quarantines the instance when the error rate is reached."""
        if self.state is State.PROBING:
            self._quarantine(now, "the probe call failed")
            return
        if not self.settings.enabled:
            return
        if now - self._window_start >= self.settings.window_seconds:
            self._rotate(now)
        self._calls += 1
        self._failures += 1
        calls, failures = self._weighted(now)
        settings = self.settings
        if calls >= settings.min_calls and failures >= settings.error_rate * calls:
            self._quarantine(now, f"{failures / calls:.0%} of {calls:.0f} calls failed")

    def hung(self, now: float) -> None:
        """A call hung: quarantine at once."""
        self._quarantine(now, "a hook call hung")

    def _weighted(self, now: float) -> tuple[float, float]:
        overlap = max(0.0, 1.0 - (now - self._window_start) / self.settings.window_seconds)
        return (
            self._calls + self._previous_calls * overlap,
            self._failures + self._previous_failures * overlap,
        )

    def _rotate(self, now: float) -> None:
        recent = now - self._window_start < 2 * self.settings.window_seconds
        self._previous_calls = self._calls if recent else 0
        self._previous_failures = self._failures if recent else 0
        self._calls = self._failures = 0
        self._window_start = now

    def _quarantine(self, now: float, reason: str) -> None:
        self.state = State.QUARANTINED
        self.blocked = True
        self.until = now + self.settings.cooldown_seconds
        self._calls = self._failures = self._previous_calls = self._previous_failures = 0
        logger.bind(
            instance=self.instance,
            reason=reason,
            cooldown_seconds=self.settings.cooldown_seconds,
            policy=self.policy.value,
        ).warning("Plugin instance quarantined")

    def _restore(self) -> None:
        self.state = State.LOADED
        self.blocked = False
        self._window_start = perf_counter()
        logger.bind(instance=self.instance).info("Plugin instance restored")


class QuarantineMetrics(Collector):
    """``claimx_plugin_quarantined{instance}`` (1 while quarantined or probing, else 0) and
    ``claimx_plugin_quarantine_skips_total{instance}``, read from the breakers at scrape time."""

    def __init__(self, breakers: Mapping[str, InstanceBreaker]) -> None:
        self._breakers = breakers

    def describe(self) -> Iterator[Metric]:
        """The metric families without samples."""
        return self._families(with_samples=False)

    def collect(self) -> Iterator[Metric]:
        """The metric families, one sample per instance."""
        return self._families(with_samples=True)

    def _families(self, *, with_samples: bool) -> Iterator[Metric]:
        quarantined = GaugeMetricFamily(
            "claimx_plugin_quarantined",
            "1 while a plugin instance is quarantined (or probing), else 0.",
            labels=["instance"],
        )
        skips = CounterMetricFamily(
            "claimx_plugin_quarantine_skips",
            "Hook calls skipped because the instance was quarantined (policy skip).",
            labels=["instance"],
        )
        if with_samples:
            for name, breaker in sorted(dict(self._breakers).items()):
                quarantined.add_metric([name], 1.0 if breaker.blocked else 0.0)
                skips.add_metric([name], breaker.skips)
        yield quarantined
        yield skips
