"""A real Apache Kafka broker for tests: KRaft mode, one combined broker+controller node.

The jars come from Maven Central, resolved once with ``mvn`` into a cache folder outside the
repository (``${XDG_CACHE_HOME:-~/.cache}/claimx-worker/kafka/<version>/``); later starts reuse
them and are ready in seconds. ``KAFKA_BOOTSTRAP_SERVERS``, when set, names a broker to use
instead of starting one (see :func:`open_kafka_broker`).

Command line: ``python -m claimx_worker.testing.kafka [--check] [--port N] [--version V]
[--create-topic NAME[:PARTITIONS]]`` prints ``KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT`` and runs
until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import concurrent.futures
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Self

import attrs
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from loguru import logger

__all__ = [
    "BOOTSTRAP_SERVERS_ENV",
    "DEFAULT_KAFKA_VERSION",
    "KAFKA_VERSION_ENV",
    "LOG4J_VERSION",
    "KafkaBroker",
    "KafkaBrokerError",
    "KafkaJars",
    "LocalKafkaBroker",
    "TopicFactory",
    "TopicSpec",
    "default_cache_root",
    "kafka_version",
    "main",
    "open_kafka_broker",
]

DEFAULT_KAFKA_VERSION = "4.1.1"
"""Apache Kafka version started when ``CLAIMX_KAFKA_VERSION`` is not set."""
KAFKA_VERSION_ENV = "CLAIMX_KAFKA_VERSION"
BOOTSTRAP_SERVERS_ENV = "KAFKA_BOOTSTRAP_SERVERS"
LOG4J_VERSION = "2.24.3"
"""log4j 2 version of the SLF4J binding; matches the log4j that Kafka 4.1 pulls in."""
SCALA_BINARY_VERSION = "2.13"

_MARKER_NAME = ".resolved.json"
_LOCK_NAME = ".lock"
_HOST = "127.0.0.1"
_SAFE_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
_TOPIC_ILLEGAL = re.compile(r"[^a-zA-Z0-9._-]")
_MAX_TOPIC_LEN = 249
_ERROR_LINE = re.compile(
    r"^(?:\[[^]]*\] (?:ERROR|FATAL) .*|Caused by: .*|Error: .*|Exception .*)$", re.MULTILINE
)


class KafkaBrokerError(RuntimeError):
    """The broker could not be resolved, started, reached or asked to do something."""


def kafka_version(environ: Mapping[str, str] | None = None) -> str:
    """The Kafka version to use: ``$CLAIMX_KAFKA_VERSION`` or :data:`DEFAULT_KAFKA_VERSION`."""
    env = os.environ if environ is None else environ
    return env.get(KAFKA_VERSION_ENV, "").strip() or DEFAULT_KAFKA_VERSION


def default_cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/claimx-worker/kafka``: one sub-folder per Kafka version."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "claimx-worker" / "kafka"


def _run_tool(
    command: list[str], *, cwd: Path, timeout: float, too_slow: str
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to completion with its output captured; :class:`KafkaBrokerError` with
    the message ``too_slow`` when it takes longer than ``timeout`` seconds."""
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise KafkaBrokerError(too_slow) from exc


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# --------------------------------------------------------------------------- jars


class KafkaJars:
    """Kafka's jars for one version, resolved with Maven into a cache folder outside the repo.

    The folder holds a generated ``pom.xml``, ``libs/`` and a marker file written only once
    ``mvn dependency:copy-dependencies`` succeeded, so a half-finished download is redone. A file
    lock keeps concurrent processes from resolving at the same time.
    """

    def __init__(
        self,
        version: str | None = None,
        *,
        cache_dir: Path | None = None,
        log4j_version: str = LOG4J_VERSION,
        mvn: str = "mvn",
        timeout: float = 900.0,
    ) -> None:
        self.version = version or kafka_version()
        for value in (self.version, log4j_version):
            if not _SAFE_VERSION.match(value):
                raise KafkaBrokerError(f"not a valid version: {value!r}")
        self.root = (cache_dir or default_cache_root()) / self.version
        self.log4j_version = log4j_version
        self.mvn = mvn
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"KafkaJars(version={self.version!r}, root={str(self.root)!r})"

    @property
    def libs_dir(self) -> Path:
        """The folder holding the jars."""
        return self.root / "libs"

    @property
    def marker_path(self) -> Path:
        """Written after a complete resolution; lists the jars."""
        return self.root / _MARKER_NAME

    @property
    def classpath(self) -> str:
        """A ``java -cp`` value covering every jar."""
        return f"{self.libs_dir}{os.sep}*"

    def is_resolved(self) -> bool:
        """True when a complete resolution of this version is in the cache."""
        try:
            marker = json.loads(self.marker_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(marker, dict) or marker.get("version") != self.version:
            return False
        if marker.get("log4j_version") != self.log4j_version:
            return False
        jars = marker.get("jars")
        if not isinstance(jars, list) or not jars:
            return False
        return all(isinstance(jar, str) and (self.libs_dir / jar).is_file() for jar in jars)

    def pom_xml(self) -> str:
        """The generated Maven project that depends on the broker and a log4j SLF4J binding."""
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by claimx_worker.testing.kafka; resolves the jars of a test Kafka broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>claimx-worker.testing</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>{self.version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{SCALA_BINARY_VERSION}</artifactId>
      <version>{self.version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{self.log4j_version}</version>
    </dependency>
  </dependencies>
</project>
"""

    def resolve(self) -> Path:
        """Return the libs folder, running Maven first unless the cache is complete."""
        if self.is_resolved():
            return self.libs_dir
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if self.is_resolved():  # another process finished while we waited
                return self.libs_dir
            self._run_maven()
        return self.libs_dir

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout
        with (self.root / _LOCK_NAME).open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise KafkaBrokerError(
                            f"timed out after {self.timeout:.0f}s waiting for another process "
                            f"resolving Kafka jars into {self.root}"
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _run_maven(self) -> None:
        mvn = shutil.which(self.mvn)
        if mvn is None:
            raise KafkaBrokerError(
                f"Maven ({self.mvn!r}) is not on PATH; it is needed once to download "
                f"Apache Kafka {self.version} into {self.root} (or set {BOOTSTRAP_SERVERS_ENV})"
            )
        self.marker_path.unlink(missing_ok=True)
        shutil.rmtree(self.libs_dir, ignore_errors=True)
        pom = self.root / "pom.xml"
        pom.write_text(self.pom_xml(), encoding="utf-8")
        command = [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={self.libs_dir}",
            "-DincludeScope=runtime",
        ]
        logger.info(
            "Resolving Apache Kafka {} jars with Maven into {} (first time only)",
            self.version,
            self.root,
        )
        started = time.monotonic()
        result = _run_tool(
            command,
            cwd=self.root,
            timeout=self.timeout,
            too_slow=(
                f"Maven did not resolve Apache Kafka {self.version} within {self.timeout:.0f}s"
            ),
        )
        output = _tail(f"{result.stdout}\n{result.stderr}", 40)
        if result.returncode != 0:
            raise KafkaBrokerError(
                f"Maven failed (exit {result.returncode}) resolving Apache Kafka {self.version}:"
                f"\n$ {' '.join(command)}\n{output}"
            )
        jars = sorted(p.name for p in self.libs_dir.glob("*.jar"))
        expected = f"kafka_{SCALA_BINARY_VERSION}-{self.version}.jar"
        if expected not in jars:
            raise KafkaBrokerError(f"Maven finished but {expected} is not in {self.libs_dir}")
        marker = {
            "version": self.version,
            "log4j_version": self.log4j_version,
            "jars": jars,
            "resolved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        partial = self.marker_path.with_suffix(".tmp")
        partial.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        partial.replace(self.marker_path)
        logger.info(
            "Resolved {} jars for Apache Kafka {} in {:.1f}s",
            len(jars),
            self.version,
            time.monotonic() - started,
        )


# --------------------------------------------------------------------------- topics


@attrs.frozen
class TopicSpec:
    """A topic to create; ``partitions=None`` takes the default of the call."""

    name: str
    partitions: int | None = None
    config: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, text: str) -> TopicSpec:
        """Parse ``NAME`` or ``NAME:PARTITIONS`` (the CLI's ``--create-topic`` syntax)."""
        name, sep, count = text.rpartition(":")
        if not sep:
            name, count = text, ""
        if not name or _TOPIC_ILLEGAL.search(name) or len(name) > _MAX_TOPIC_LEN:
            raise ValueError(f"not a valid topic name: {name!r}")
        if not count:
            return cls(name)
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"partitions must be a positive integer, got {count!r}")
        return cls(name, int(count))


def _topic_specs(
    topics: str | TopicSpec | Iterable[str | TopicSpec],
    partitions: int,
    config: Mapping[str, str] | None,
) -> list[TopicSpec]:
    items: Iterable[str | TopicSpec] = [topics] if isinstance(topics, str | TopicSpec) else topics
    specs: list[TopicSpec] = []
    for item in items:
        spec = TopicSpec(item) if isinstance(item, str) else item
        specs.append(
            TopicSpec(
                spec.name,
                spec.partitions if spec.partitions is not None else partitions,
                {**(config or {}), **spec.config},
            )
        )
    return specs


# --------------------------------------------------------------------------- brokers


class KafkaBroker:
    """A reachable Kafka cluster: client settings and topic helpers.

    Use it directly for an existing broker (``KAFKA_BOOTSTRAP_SERVERS``);
    :class:`LocalKafkaBroker` starts one.
    """

    def __init__(self, bootstrap_servers: str | None = None) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._admin: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bootstrap_servers={self._bootstrap_servers!r})"

    @property
    def bootstrap_servers(self) -> str:
        """``host:port[,host:port...]`` for the ``bootstrap.servers`` client setting."""
        if self._bootstrap_servers is None:
            raise KafkaBrokerError(f"{type(self).__name__} is not started")
        return self._bootstrap_servers

    def client_config(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A confluent-kafka client configuration for this broker, plus ``extra``."""
        return {"bootstrap.servers": self.bootstrap_servers, **(extra or {})}

    def admin(self) -> Any:
        """A shared ``confluent_kafka.admin.AdminClient`` for this broker."""
        if self._admin is None:
            self._admin = AdminClient(self.client_config())
        return self._admin

    def _check_alive(self) -> None:
        """Raise :class:`KafkaBrokerError` if the broker is known to be gone."""

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the broker answers metadata requests and lists a live broker."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            self._check_alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KafkaBrokerError(
                    f"Kafka at {self.bootstrap_servers} not ready after {timeout:.0f}s: {last}"
                )
            try:
                metadata = self.admin().list_topics(timeout=max(0.2, min(2.0, remaining)))
            except KafkaException as exc:
                last = _error_of(exc)[1]
            else:
                if metadata.brokers:
                    return
                last = "metadata lists no live broker yet"
            time.sleep(0.1)

    def create_topics(
        self,
        topics: str | TopicSpec | Iterable[str | TopicSpec],
        *,
        partitions: int = 1,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
        exist_ok: bool = False,
        timeout: float = 30.0,
    ) -> list[str]:
        """Create topics and wait until every partition has a leader; return their names.

        ``topics`` is a name, a :class:`TopicSpec` or an iterable of either; ``partitions`` and
        ``config`` apply where a spec does not say. An existing topic is an error unless
        ``exist_ok``.
        """
        specs = _topic_specs(topics, partitions, config)
        if not specs:
            return []
        new_topics = [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions or partitions,
                replication_factor=replication_factor,
                config=dict(spec.config),
            )
            for spec in specs
        ]
        futures = self.admin().create_topics(
            new_topics, operation_timeout=timeout, request_timeout=timeout
        )
        errors: list[str] = []
        existing: set[str] = set()
        for name, future in futures.items():
            try:
                future.result(timeout=timeout + 5)
            except KafkaException as exc:
                code, reason = _error_of(exc)
                if exist_ok and code == KafkaError.TOPIC_ALREADY_EXISTS:
                    existing.add(name)
                else:
                    errors.append(f"{name}: {reason}")
            except concurrent.futures.TimeoutError:
                errors.append(f"{name}: no answer within {timeout:.0f}s")
        if errors:
            raise KafkaBrokerError("could not create topics: " + "; ".join(errors))
        expected = {
            spec.name: (None if spec.name in existing else spec.partitions) for spec in specs
        }
        self._wait_for_topics(expected, timeout)
        return [spec.name for spec in specs]

    def _wait_for_topics(self, expected: Mapping[str, int | None], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(expected)
        while True:
            try:
                metadata = self.admin().list_topics(timeout=5.0)
            except KafkaException:
                metadata = None
            for name in list(pending) if metadata is not None else []:
                topic = metadata.topics.get(name)
                if topic is None or topic.error is not None:
                    continue
                count = pending[name]
                if count is not None and len(topic.partitions) < count:
                    continue
                if all(p.leader >= 0 and p.error is None for p in topic.partitions.values()):
                    del pending[name]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise KafkaBrokerError(
                    f"topics not ready after {timeout:.0f}s: {', '.join(sorted(pending))}"
                )
            time.sleep(0.05)

    def delete_topics(
        self, names: Iterable[str], *, missing_ok: bool = True, timeout: float = 30.0
    ) -> None:
        """Delete topics and wait for the broker to accept the deletion."""
        names = list(names)
        if not names:
            return
        futures = self.admin().delete_topics(
            names, operation_timeout=timeout, request_timeout=timeout
        )
        errors: list[str] = []
        for name, future in futures.items():
            try:
                future.result(timeout=timeout + 5)
            except KafkaException as exc:
                code, reason = _error_of(exc)
                if not (missing_ok and code == KafkaError.UNKNOWN_TOPIC_OR_PART):
                    errors.append(f"{name}: {reason}")
            except concurrent.futures.TimeoutError:
                errors.append(f"{name}: no answer within {timeout:.0f}s")
        if errors:
            raise KafkaBrokerError("could not delete topics: " + "; ".join(errors))


def _error_of(exc: KafkaException) -> tuple[int | None, str]:
    """The error code (if any) and a readable reason of a confluent-kafka exception."""
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return error.code(), error.str()
    return None, str(error) if error is not None else repr(exc)


def _free_ports(count: int) -> list[int]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((_HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _random_cluster_id() -> str:
    # Kafka's own generator never starts an id with "-" (the CLI would read it as an option).
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _default_java() -> str:
    java_home = os.environ.get("JAVA_HOME", "").strip()
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return "java"


_LOG4J2_PROPERTIES = """\
# Generated by claimx_worker.testing.kafka: broker logs go to a file, never to stdout.
status = error
name = claimx-test-kafka
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
"""


class LocalKafkaBroker(KafkaBroker):
    """Apache Kafka in KRaft mode (one broker+controller node) on free loopback ports.

    Use as a context manager or call :meth:`start` and :meth:`stop`. Data and logs live in a
    temporary folder removed on stop; the broker log is ``log_path``. An ``atexit`` hook (and, on
    Linux when started from the main thread, a parent-death signal) stops a JVM left behind.
    """

    def __init__(
        self,
        *,
        version: str | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        auto_create_topics: bool = False,
        properties: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
        heap: str = "512m",
        jvm_args: Sequence[str] = (),
        log_level: str = "INFO",
        keep_data: bool = False,
        jars: KafkaJars | None = None,
        java: str | None = None,
    ) -> None:
        super().__init__()
        self.jars = jars or KafkaJars(version)
        self.version = self.jars.version
        self.auto_create_topics = auto_create_topics
        self.properties = dict(properties or {})
        self.startup_timeout = startup_timeout
        self.heap = heap
        self.jvm_args = list(jvm_args)
        self.log_level = log_level
        self.keep_data = keep_data
        self.java = java or _default_java()
        self._requested_port = port
        self._requested_controller_port = controller_port
        self.port: int | None = None
        self.controller_port: int | None = None
        self.data_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    def __enter__(self) -> Self:
        if self._process is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def log_path(self) -> Path | None:
        """The broker's log4j log file (inside ``data_dir``)."""
        return None if self.data_dir is None else self.data_dir / "broker.log"

    @property
    def pid(self) -> int | None:
        """Process id of the broker JVM while it runs."""
        return None if self._process is None else self._process.pid

    @property
    def is_running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The broker log's errors and last lines, and the JVM's own output."""
        if self.data_dir is None:
            return "(no broker log)"
        parts = []
        for name in ("broker.log", "jvm-output.log"):
            path = self.data_dir / name
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if not text.strip():
                continue
            errors = list(dict.fromkeys(_ERROR_LINE.findall(text)))[-10:]
            if errors:
                parts.append(f"--- errors in {path} ---\n" + "\n".join(errors))
            parts.append(f"--- {path} (last {lines} lines) ---\n{_tail(text, lines)}")
        return "\n".join(parts) or "(broker log is empty)"

    def start(self) -> Self:
        """Resolve the jars, format storage, start the JVM and wait until it serves clients."""
        if self._process is not None:
            raise KafkaBrokerError("broker already started")
        java = shutil.which(self.java)
        if java is None:
            raise KafkaBrokerError(
                f"java ({self.java!r}) not found: Apache Kafka {self.version} needs a Java 17+ "
                f"runtime on PATH or in JAVA_HOME (or set {BOOTSTRAP_SERVERS_ENV})"
            )
        self.jars.resolve()
        auto_ports = self._requested_port is None and self._requested_controller_port is None
        attempts = 3 if auto_ports else 1
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(java)
            except BaseException as exc:
                retry = (
                    isinstance(exc, KafkaBrokerError)
                    and attempt < attempts
                    and "Address already in use" in self.log_tail(400)
                )
                self.stop()
                if not retry:
                    raise
                logger.debug("Kafka port taken by another process; retrying on new ports")
            else:
                break
        return self

    def _start_once(self, java: str) -> None:
        started = time.monotonic()
        deadline = started + self.startup_timeout
        port, controller_port = _free_ports(2)
        self.port = self._requested_port or port
        self.controller_port = self._requested_controller_port or controller_port
        if self.port == self.controller_port:
            raise KafkaBrokerError("the broker and controller ports must differ")
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"claimx-kafka-{self.port}-"))
        config_file = self._write_config(self.data_dir)
        classpath = self.jars.classpath
        jvm = [
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-Djava.awt.headless=true",
            *self.jvm_args,
        ]
        format_command = [
            java,
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",  # a short-lived tool: start fast rather than run fast
            "-XX:+UseSerialGC",
            *jvm,
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            _random_cluster_id(),
            "-c",
            str(config_file),
        ]
        formatted = _run_tool(
            format_command,
            cwd=self.data_dir,
            timeout=self.startup_timeout,
            too_slow=f"formatting Kafka storage took over {self.startup_timeout:.0f}s",
        )
        if formatted.returncode != 0:
            raise KafkaBrokerError(
                f"formatting Kafka storage failed (exit {formatted.returncode}):\n"
                f"{_tail(formatted.stdout + formatted.stderr, 40)}\n{self.log_tail()}"
            )
        command = [java, f"-Xmx{self.heap}", *jvm, "-cp", classpath, "kafka.Kafka"]
        command.append(str(config_file))
        if (
            sys.platform == "linux"
            and threading.current_thread() is threading.main_thread()
            and shutil.which("setpriv")
        ):
            # The JVM dies with us even if we are killed before atexit can run.
            command = ["setpriv", "--pdeathsig", "KILL", "--", *command]
        self._output = (self.data_dir / "jvm-output.log").open("wb")
        self._process = subprocess.Popen(
            command,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        atexit.register(self._stop_at_exit)
        self._bootstrap_servers = f"{_HOST}:{self.port}"
        self._wait_for_port(deadline)
        self.wait_ready(max(0.1, deadline - time.monotonic()))
        logger.debug(
            "Kafka {} ready at {} in {:.1f}s (pid {}, data {})",
            self.version,
            self._bootstrap_servers,
            time.monotonic() - started,
            self.pid,
            self.data_dir,
        )

    def _write_config(self, data_dir: Path) -> Path:
        log4j = data_dir / "log4j2.properties"
        log4j.write_text(
            _LOG4J2_PROPERTIES.format(log_file=data_dir / "broker.log", level=self.log_level),
            encoding="utf-8",
        )
        properties = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{_HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{_HOST}:{self.port},CONTROLLER://{_HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{_HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(data_dir / "data"),
            "num.partitions": "1",
            "auto.create.topics.enable": "true" if self.auto_create_topics else "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            **self.properties,
        }
        path = data_dir / "server.properties"
        path.write_text(
            "# Generated by claimx_worker.testing.kafka\n"
            + "".join(f"{key}={value}\n" for key, value in properties.items()),
            encoding="utf-8",
        )
        return path

    def _check_alive(self) -> None:
        if self._process is None:
            raise KafkaBrokerError("broker is not running")
        code = self._process.poll()
        if code is not None:
            raise KafkaBrokerError(f"Kafka broker exited early with code {code}\n{self.log_tail()}")

    def _wait_for_port(self, deadline: float) -> None:
        while True:
            self._check_alive()
            try:
                with socket.create_connection((_HOST, self.port or 0), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise KafkaBrokerError(
                        f"Kafka broker did not open {_HOST}:{self.port} within "
                        f"{self.startup_timeout:.0f}s\n{self.log_tail()}"
                    ) from None
                time.sleep(0.1)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the broker serves metadata; errors include the broker log's tail."""
        try:
            super().wait_ready(timeout)
        except KafkaBrokerError as exc:
            if "exited early" in str(exc):
                raise
            raise KafkaBrokerError(f"{exc}\n{self.log_tail()}") from None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the broker, SIGKILL it after ``timeout`` seconds, remove its data folder."""
        self._admin = None  # drop the admin client first: it would log the disconnect
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("Kafka broker ignored SIGTERM for {:.0f}s; killing it", timeout)
                _signal_group(process, signal.SIGKILL)
                process.wait(10)
        atexit.unregister(self._stop_at_exit)
        if self._output is not None:
            self._output.close()
            self._output = None
        if self.data_dir is not None and not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self._bootstrap_servers = None

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(timeout=10.0)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


@contextlib.contextmanager
def open_kafka_broker(
    *,
    version: str | None = None,
    port: int | None = None,
    auto_create_topics: bool = False,
    startup_timeout: float = 60.0,
    environ: Mapping[str, str] | None = None,
) -> Iterator[KafkaBroker]:
    """Yield a ready broker: the one in ``KAFKA_BOOTSTRAP_SERVERS`` if set, else a local one.

    Raises :class:`KafkaBrokerError` with the reason when no broker can be had.
    """
    env = os.environ if environ is None else environ
    external = env.get(BOOTSTRAP_SERVERS_ENV, "").strip()
    if external:
        broker = KafkaBroker(external)
        broker.wait_ready(startup_timeout)
        yield broker
        return
    with LocalKafkaBroker(
        version=version or kafka_version(env),
        port=port,
        auto_create_topics=auto_create_topics,
        startup_timeout=startup_timeout,
    ) as local:
        yield local


class TopicFactory:
    """Creates uniquely named topics (``<prefix>.<random>``); :meth:`cleanup` deletes them."""

    def __init__(self, broker: KafkaBroker, prefix: str = "test") -> None:
        self.broker = broker
        self.prefix = (_TOPIC_ILLEGAL.sub("_", prefix) or "test")[:200]
        self.created: list[str] = []

    def __call__(
        self,
        partitions: int = 1,
        *,
        name: str | None = None,
        config: Mapping[str, str] | None = None,
    ) -> str:
        """Create a topic (a fresh unique name unless ``name``) and return its name."""
        topic = name or f"{self.prefix}.{uuid.uuid4().hex[:12]}"
        self.broker.create_topics(TopicSpec(topic, partitions, dict(config or {})))
        self.created.append(topic)
        return topic

    def cleanup(self, timeout: float = 10.0) -> None:
        """Delete the topics this factory created; errors are logged, not raised."""
        created, self.created = self.created, []
        try:
            self.broker.delete_topics(created, timeout=timeout)
        except (KafkaBrokerError, KafkaException) as exc:
            logger.warning("Could not delete test topics {}: {}", created, exc)


# --------------------------------------------------------------------------- command line


def _topic_argument(text: str) -> TopicSpec:
    try:
        return TopicSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m claimx_worker.testing.kafka``: run a broker until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m claimx_worker.testing.kafka",
        description="Start a local Apache Kafka broker (KRaft, one node) for development and "
        f"tests, or use ${BOOTSTRAP_SERVERS_ENV} when it is set. Prints "
        f"{BOOTSTRAP_SERVERS_ENV}=HOST:PORT once ready.",
    )
    parser.add_argument("--port", type=int, help="PLAINTEXT port on 127.0.0.1 (default: free)")
    parser.add_argument(
        "--version",
        dest="kafka_version",
        metavar="KAFKA_VERSION",
        help=f"Apache Kafka version (default: ${KAFKA_VERSION_ENV} or {DEFAULT_KAFKA_VERSION})",
    )
    parser.add_argument(
        "--create-topic",
        action="append",
        default=[],
        type=_topic_argument,
        metavar="NAME[:PARTITIONS]",
        help="create this topic once the broker is ready (repeatable)",
    )
    parser.add_argument(
        "--auto-create-topics", action="store_true", help="let the broker auto-create topics"
    )
    parser.add_argument("--startup-timeout", type=float, default=60.0, help="seconds (default: 60)")
    parser.add_argument(
        "--check", action="store_true", help="start, print the address, stop and exit 0"
    )
    args = parser.parse_args(argv)
    if os.environ.get(BOOTSTRAP_SERVERS_ENV, "").strip() and (args.port or args.kafka_version):
        print(
            f"note: {BOOTSTRAP_SERVERS_ENV} is set; using that broker, --port/--version ignored",
            file=sys.stderr,
        )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    ready = False
    try:
        with open_kafka_broker(
            version=args.kafka_version,
            port=args.port,
            auto_create_topics=args.auto_create_topics,
            startup_timeout=args.startup_timeout,
        ) as broker:
            ready = True
            for name in broker.create_topics(args.create_topic, exist_ok=True):
                print(f"topic ready: {name}", file=sys.stderr)
            print(f"{BOOTSTRAP_SERVERS_ENV}={broker.bootstrap_servers}", flush=True)
            if args.check:
                return 0
            print("Kafka is running; stop with Ctrl-C or SIGTERM", file=sys.stderr, flush=True)
            while not isinstance(broker, LocalKafkaBroker) or broker.is_running:
                time.sleep(0.5)
            assert isinstance(broker, LocalKafkaBroker)
            print(f"error: the broker exited\n{broker.log_tail()}", file=sys.stderr)
            return 1
    except KafkaBrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0 if ready else 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
