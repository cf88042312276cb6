"""A local Apache Kafka broker process for tests: KRaft mode, one combined broker+controller
node on free loopback ports, started from the resolved jars; and :func:`open_kafka_broker`, which
prefers a broker named by ``KAFKA_BOOTSTRAP_SERVERS``."""

from __future__ import annotations

import atexit
import base64
import contextlib
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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from loguru import logger

from claimx_worker.testing.kafka.cluster import KafkaBroker
from claimx_worker.testing.kafka.environment import BOOTSTRAP_SERVERS_ENV, kafka_version
from claimx_worker.testing.kafka.errors import KafkaBrokerError
from claimx_worker.testing.kafka.jars import KafkaJars
from claimx_worker.testing.kafka.server_config import HOST, write_node_config
from claimx_worker.testing.kafka.tools import default_java, find_java, run_tool, tail

_ERROR_LINE = re.compile(
    r"^(?:\[[^]]*\] (?:ERROR|FATAL) .*|Caused by: .*|Error: .*|Exception .*)$", re.MULTILINE
)


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
        self.java = java or default_java()
        self._requested_port = port
        self._requested_controller_port = controller_port
        self.port: int | None = None
        self.controller_port: int | None = None
        self.data_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._relaunch: tuple[str, list[str], Path] | None = None

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
            parts.append(f"--- {path} (last {lines} lines) ---\n{tail(text, lines)}")
        return "\n".join(parts) or "(broker log is empty)"

    def start(self) -> Self:
        """Resolve the jars, format storage, start the JVM and wait until it serves clients."""
        if self._process is not None:
            raise KafkaBrokerError("broker already started")
        java = find_java(self.java, self.version)
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
        config_file = write_node_config(
            self.data_dir,
            port=self.port,
            controller_port=self.controller_port,
            auto_create_topics=self.auto_create_topics,
            log_level=self.log_level,
            properties=self.properties,
        )
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
        formatted = run_tool(
            format_command,
            cwd=self.data_dir,
            timeout=self.startup_timeout,
            too_slow=f"formatting Kafka storage took over {self.startup_timeout:.0f}s",
        )
        if formatted.returncode != 0:
            raise KafkaBrokerError(
                f"formatting Kafka storage failed (exit {formatted.returncode}):\n"
                f"{tail(formatted.stdout + formatted.stderr, 40)}\n{self.log_tail()}"
            )
        self._launch(java, jvm, config_file, deadline)
        logger.debug(
            "Kafka {} ready at {} in {:.1f}s (pid {}, data {})",
            self.version,
            self._bootstrap_servers,
            time.monotonic() - started,
            self.pid,
            self.data_dir,
        )

    def _launch(self, java: str, jvm: list[str], config_file: Path, deadline: float) -> None:
        """Start the JVM on the formatted storage and wait until it serves clients."""
        assert self.data_dir is not None
        command = [java, f"-Xmx{self.heap}", *jvm, "-cp", self.jars.classpath, "kafka.Kafka"]
        command.append(str(config_file))
        if (
            sys.platform == "linux"
            and threading.current_thread() is threading.main_thread()
            and shutil.which("setpriv")
        ):
            # The JVM dies with us even if we are killed before atexit can run.
            command = ["setpriv", "--pdeathsig", "KILL", "--", *command]
        self._output = (self.data_dir / "jvm-output.log").open("ab")
        self._process = subprocess.Popen(
            command,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        atexit.register(self._stop_at_exit)
        self._bootstrap_servers = f"{HOST}:{self.port}"
        self._wait_for_port(deadline)
        self.wait_ready(max(0.1, deadline - time.monotonic()))
        self._relaunch = (java, jvm, config_file)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop the broker (SIGTERM), stay down ``down_for`` seconds, and start it again on the
        same port with the same data: an outage as clients see it."""
        if self._relaunch is None or self._process is None:
            raise KafkaBrokerError("broker is not running")
        process, self._process = self._process, None
        _signal_group(process, signal.SIGTERM)
        process.wait(30)
        if self._output is not None:
            self._output.close()
        time.sleep(down_for)
        java, jvm, config_file = self._relaunch
        self._launch(java, jvm, config_file, time.monotonic() + self.startup_timeout)

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
                with socket.create_connection((HOST, self.port or 0), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise KafkaBrokerError(
                        f"Kafka broker did not open {HOST}:{self.port} within "
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


def _free_ports(count: int) -> list[int]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
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
