"""Reloading a running worker's configuration, without a restart.

SIGHUP (``claimx-worker reload`` sends it, to the process named in ``control.pid_file``) asks
the worker to re-read its settings (same file, environment and options as at start) and its
plugin instances. Everything is validated before anything changes: settings, every instance's
keys and config, hook contracts. Any problem keeps the running configuration, and each is
logged with its ``file:line`` and key. Otherwise the new and changed instances get ``on_load``,
the configuration is swapped between events (events in flight finish on the one they started
with), and the removed and changed instances get ``on_unload``
(:meth:`~claimx_worker.plugins.host.PluginHost.reload`). The Kafka consumer is not touched, so
a reload neither loses nor repeats an event.

Live settings (:data:`LIVE_SETTINGS`) take effect at once; any other changed setting is logged
as waiting for a restart. Requests that arrive while a reload runs are coalesced into one more.

Why a PID file and not an HTTP endpoint: the metrics server listens on every interface by
default and is read-only by design; a signal needs no listener to secure, is what process
managers (systemd's ``ExecReload``, ``kill -HUP``) already send, and works the same with or
without ``claimx-worker reload``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import attrs
from attrs import frozen
from confluent_kafka import KafkaException
from loguru import logger
from prometheus_client import CollectorRegistry, Counter, Info

from claimx_worker.actions import secret_refs_from_environ
from claimx_worker.config.problems import ConfigError, ConfigProblem
from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.kafka.clients import admin_config
from claimx_worker.kafka.topics import MissingTopicsError, ensure_topics
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.instances import CONFIG_FILE
from claimx_worker.plugins.loading import check_plugins
from claimx_worker.plugins.settings import InstanceMode
from claimx_worker.settings import LoadedSettings, WorkerSettings
from claimx_worker.settings.schema import setting_keys, value_at

_PROCESSING = "kafka.claimx.enrichment_worker.processing"
LIVE_SETTINGS = frozenset(
    {
        "logging.level",
        "logging.format",
        f"{_PROCESSING}.plugin_timeout_ms",
        f"{_PROCESSING}.plugin_lifecycle_timeout_seconds",
        "plugins.quarantine.enabled",
        "plugins.quarantine.error_rate",
        "plugins.quarantine.min_calls",
        "plugins.quarantine.window_seconds",
        "plugins.quarantine.cooldown_seconds",
        "plugins.hung_hook_seconds",
    }
)
"""The settings a reload applies at once; every other one waits for a restart."""
SUCCEEDED, FAILED = "succeeded", "failed"


class ReloadSignalError(ClaimXWorkerError):
    """``claimx-worker reload`` could not signal a worker: no PID file, or no such process."""


@frozen
class ReloadResult:
    """The outcome of the last reload: ``succeeded`` or ``failed``, when, and the problems."""

    outcome: str
    at: float
    """Unix time."""
    problems: tuple[str, ...] = ()


class ReloadMetrics:
    """``claimx_config_reloads_total{outcome}`` and ``claimx_config_info{hash}``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.reloads = Counter(
            "claimx_config_reloads",
            "Configuration reloads (SIGHUP), by outcome: succeeded, failed.",
            ["outcome"],
            registry=registry,
        )
        for outcome in (SUCCEEDED, FAILED):
            self.reloads.labels(outcome)
        self.config = Info(
            "claimx_config",
            "The running configuration: hash of the settings file and the plugin instance files.",
            registry=registry,
        )


class ConfigurationReloader:
    """Reloads the worker's configuration on request (see the module docstring).

    ``read`` reads the settings again, as at start; ``host`` is the running plugin host
    (``None`` with a ``--processor``: settings only).
    """

    def __init__(
        self,
        *,
        read: Callable[[], LoadedSettings],
        loaded: LoadedSettings,
        config_file: Path | None,
        environ: Mapping[str, str],
        redactor: Redactor,
    ) -> None:
        self._read = read
        self._settings = loaded.value
        self._config_file = config_file
        self._environ = environ
        self._redactor = redactor
        self._metrics: ReloadMetrics | None = None
        self._requested = asyncio.Event()
        self._secret_listeners: list[Callable[[Mapping[str, str]], None]] = []
        self._plugin_listeners: list[Callable[[], None]] = []
        self.config_hash = self._hash(loaded.value)
        self.last: ReloadResult | None = None

    def register(self, registry: CollectorRegistry) -> None:
        """Expose the reload metrics on ``registry`` (once, before the first reload)."""
        self._metrics = ReloadMetrics(registry)
        self._metrics.config.info({"hash": self.config_hash})

    def status(self) -> dict[str, object]:
        """The ``config`` section of ``/status``: hash and the last reload's result."""
        last = self.last
        return {
            "hash": self.config_hash,
            "last_reload": None
            if last is None
            else {"outcome": last.outcome, "at": last.at, "problems": list(last.problems)},
        }

    def on_secrets(self, listener: Callable[[Mapping[str, str]], None]) -> None:
        """Call ``listener`` with every secret (value -> variable) after each successful reload,
        for what keeps secrets out of Kafka records (action DLQ, shadow records)."""
        self._secret_listeners.append(listener)

    def on_plugins_reloaded(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each successful reload of the plugin instances, for what
        keeps a view of them (connections, replay scopes)."""
        self._plugin_listeners.append(listener)

    def request(self) -> None:
        """Ask for a reload (the SIGHUP handler); coalesced with any pending request."""
        logger.info("Configuration reload requested")
        self._requested.set()

    async def serve(self, host: PluginHost | None) -> None:
        """Reload on each request, one at a time, until cancelled."""
        while True:
            await self._requested.wait()
            self._requested.clear()
            await self.reload(host)

    async def reload(self, host: PluginHost | None) -> ReloadResult:
        """Validate and apply the configuration as it is now on disk; the outcome."""
        try:
            loaded = self._read()
        except ConfigError as error:
            return self._failed(error.problems)
        settings = loaded.value
        self._redactor.add(*loaded.secrets)
        processing = settings.kafka.worker.processing
        running = self._settings.kafka.worker.processing
        changes: dict[str, int] = {}
        if host is not None:
            plugins_dir = Path(running.plugins_dir) if running.plugins_dir else None
            check = check_plugins(plugins_dir, env=self._environ, redactor=self._redactor)
            if check.problems:
                return self._failed(check.problems)
            if any(i.spec.mode is InstanceMode.SHADOW for i in check.plugins.instances):
                problem = await self._shadow_topic_problem()
                if problem is not None:
                    return self._failed([problem])
            reloaded = await host.reload(
                check.plugins,
                budget_ms=processing.plugin_timeout_ms,
                lifecycle_budget_seconds=processing.plugin_lifecycle_timeout_seconds,
                drain_seconds=running.drain_deadline_seconds,
                settings=settings.plugins,
            )
            if reloaded.problem is not None:
                return self._failed([reloaded.problem])
            changes = dict(reloaded.changes)
            refs = secret_refs_from_environ(self._redactor.secrets, self._environ)
            for listener in self._secret_listeners:
                listener(refs)
            for reloaded_listener in self._plugin_listeners:
                reloaded_listener()
        for key in _changed_keys(self._settings, settings) - LIVE_SETTINGS:
            logger.bind(key=key).warning("Setting changed; it takes effect at the next restart")
        logging = settings.logging
        configure_logging(redactor=self._redactor, level=logging.level, fmt=logging.format)
        self._settings = _with_live(self._settings, settings)
        self.config_hash = self._hash(settings)
        self._count(SUCCEEDED)
        self.last = ReloadResult(SUCCEEDED, time.time())
        logger.bind(hash=self.config_hash, **changes).info("Configuration reload succeeded")
        return self.last

    def _failed(self, problems: tuple[ConfigProblem, ...] | list[str]) -> ReloadResult:
        for problem in problems:
            if isinstance(problem, ConfigProblem):
                where = problem.file if problem.line is None else f"{problem.file}:{problem.line}"
                logger.bind(location=where, key=problem.key or "(file)").error(
                    "Configuration problem: {}", problem.message
                )
            else:
                logger.error("Configuration problem: {}", problem)
        self._count(FAILED)
        self.last = ReloadResult(FAILED, time.time(), tuple(map(str, problems)))
        logger.bind(problems=len(problems), hash=self.config_hash).error(
            "Configuration reload failed; the running configuration is kept"
        )
        return self.last

    async def _shadow_topic_problem(self) -> str | None:
        """Why the shadow topic cannot be written to (``None``: it exists, or was created)."""
        kafka = self._settings.kafka
        topic = self._settings.plugins.shadow_topic
        try:
            await asyncio.to_thread(
                ensure_topics,
                admin_config(kafka),
                [topic],
                create=kafka.create_topics,
                partitions=kafka.topic_partitions,
                replication_factor=kafka.topic_replication_factor,
                timeout=kafka.startup_timeout_seconds,
            )
        except (MissingTopicsError, KafkaException) as exc:
            return f"plugins.shadow_topic: an instance is in shadow mode: {exc}"
        return None

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.reloads.labels(outcome).inc()
            self._metrics.config.info({"hash": self.config_hash})

    def _hash(self, settings: WorkerSettings) -> str:
        """sha256 (12 hex digits) of the settings file and every instance file: their text,
        never the values of variables (secrets) they name."""
        digest = hashlib.sha256()
        plugins_dir = settings.kafka.worker.processing.plugins_dir
        for path in _config_files(self._config_file, Path(plugins_dir) if plugins_dir else None):
            digest.update(str(path).encode() + b"\0")
            with contextlib.suppress(OSError):
                digest.update(path.read_bytes())
            digest.update(b"\0")
        return digest.hexdigest()[:12]


def _config_files(config_file: Path | None, plugins_dir: Path | None) -> Iterator[Path]:
    if config_file is not None:
        yield config_file
    if plugins_dir is not None and plugins_dir.is_dir():
        yield from sorted(plugins_dir.rglob(CONFIG_FILE))


def _changed_keys(old: WorkerSettings, new: WorkerSettings) -> set[str]:
    """The keys of the settings whose values differ."""
    paths = (tuple(setting.key.split(".")) for setting in setting_keys())
    return {".".join(path) for path in paths if value_at(old, path) != value_at(new, path)}


def _with_live(running: WorkerSettings, new: WorkerSettings) -> WorkerSettings:
    """``running`` with the live settings (:data:`LIVE_SETTINGS`) taken from ``new``."""
    result: object = running
    for key in sorted(LIVE_SETTINGS):
        result = _evolve_at(result, key.split("."), value_at(new, tuple(key.split("."))))
    assert isinstance(result, WorkerSettings)
    return result


def _evolve_at(settings: object, path: list[str], value: object) -> object:
    name, *rest = path
    replacement = value if not rest else _evolve_at(getattr(settings, name), rest, value)
    return attrs.evolve(settings, **{name: replacement})  # type: ignore[misc]


def write_pid_file(path: Path) -> None:
    """Write this process's id to ``path``; :class:`ReloadSignalError` when another running
    process's id is there."""
    other = _read_pid(path)
    if other is not None and other != os.getpid() and _alive(other):
        raise ReloadSignalError(f"{path} names a running process ({other}): another worker?")
    path.write_text(f"{os.getpid()}\n")


def remove_pid_file(path: Path) -> None:
    """Remove ``path`` if it still holds this process's id."""
    if _read_pid(path) == os.getpid():
        path.unlink(missing_ok=True)


def signal_reload(pid_file: Path) -> int:
    """Send SIGHUP to the worker named in ``pid_file``; its process id.

    Raises :class:`ReloadSignalError` when the file is missing or unreadable or names no
    running process.
    """
    pid = _read_pid(pid_file)
    if pid is None:
        raise ReloadSignalError(f"no worker process id in {pid_file}: is the worker running?")
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise ReloadSignalError(f"{pid_file} names process {pid}, which is not running") from None
    except PermissionError:
        raise ReloadSignalError(f"not allowed to signal process {pid} ({pid_file})") from None
    return pid


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
