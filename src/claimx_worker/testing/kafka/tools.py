"""The external programs the test broker needs: finding Java, running a tool (Maven, Kafka's
storage tool) to completion."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from claimx_worker.testing.kafka.environment import BOOTSTRAP_SERVERS_ENV
from claimx_worker.testing.kafka.errors import KafkaBrokerError


def default_java() -> str:
    """``$JAVA_HOME/bin/java`` when it exists, else ``java`` (looked up on ``PATH``)."""
    java_home = os.environ.get("JAVA_HOME", "").strip()
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return "java"


def find_java(java: str, kafka_version: str) -> str:
    """The path of the ``java`` executable; :class:`KafkaBrokerError` saying what Kafka
    ``kafka_version`` needs when there is none."""
    found = shutil.which(java)
    if found is None:
        raise KafkaBrokerError(
            f"java ({java!r}) not found: Apache Kafka {kafka_version} needs a Java 17+ "
            f"runtime on PATH or in JAVA_HOME (or set {BOOTSTRAP_SERVERS_ENV})"
        )
    return found


def run_tool(
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


def tail(text: str, lines: int) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip().splitlines()[-lines:])
