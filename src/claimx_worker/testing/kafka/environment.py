"""What the environment chooses for the test broker: a broker to use instead of starting one
(``KAFKA_BOOTSTRAP_SERVERS``), the Kafka version and the jar cache folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_KAFKA_VERSION = "4.1.1"
"""Apache Kafka version started when ``CLAIMX_KAFKA_VERSION`` is not set."""
KAFKA_VERSION_ENV = "CLAIMX_KAFKA_VERSION"
BOOTSTRAP_SERVERS_ENV = "KAFKA_BOOTSTRAP_SERVERS"


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
