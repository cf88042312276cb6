"""Fuzz targets: one per parser of untrusted input. Each takes raw bytes, runs the parser and
lets through only what the parser does not document (or an ``AssertionError`` for a broken
invariant). ``tests/fuzz/run.py`` runs them under atheris (``nox -s fuzz``); the property-based
unit tests run them under hypothesis."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from claimx_worker.actions.dead_letter import (
    DeadLetter,
    ReplayScope,
    UnreplayableError,
    to_action,
)
from claimx_worker.actions.secrets import MissingSecretError
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.config.problems import ConfigError
from claimx_worker.config.structuring import load_config_file
from claimx_worker.errors import InvalidEventError
from claimx_worker.kafka.routing import ROUTING_HEADERS, HeaderList, RetryState, read_retry_state
from claimx_worker.model.event import parse_event
from claimx_worker.settings import WorkerSettings

REPO = Path(__file__).resolve().parents[2]

RETRY_TOPIC = "claimx.enrichment.retry.5m"
NOW_MS = 1_800_000_000_000
DELAY_SECONDS = 300.0
ENVIRON = {"WEBHOOK_TOKEN": "tok-3f9a-secret-value", "KAFKA_TOPIC": "claimx.out"}
SCOPE = ReplayScope(
    variables=frozenset({"WEBHOOK_TOKEN", "KAFKA_TOPIC"}),
    destinations=frozenset({"https://hooks.example.com:443"}),
    topics=frozenset({"claimx.out"}),
    settings=ActionSettings(),
)
"""What the configuration of the records' instance allows on replay."""
"""The environment replay and config loading see (some ``${VAR}`` references resolve)."""

_HEADER_NAMES = sorted(ROUTING_HEADERS)
_NULL = b"\x01"


def event(data: bytes) -> None:
    """``parse_event``: raises only :class:`InvalidEventError`."""
    with contextlib.suppress(InvalidEventError):
        parse_event(data)


def headers_from_bytes(data: bytes) -> HeaderList:
    """A header list cut from ``data``: NUL-separated chunks alternate name and value; a
    one-byte name picks one of the runtime's own header names, a value ``\\x01`` is null."""
    chunks = data.split(b"\x00")
    headers: HeaderList = []
    for name, value in zip(chunks[::2], chunks[1::2], strict=False):
        text = (
            _HEADER_NAMES[name[0] % len(_HEADER_NAMES)]
            if len(name) == 1
            else name.decode("utf-8", "replace")
        )
        headers.append((text, None if value == _NULL else value))
    return headers


def check_retry_state(headers: HeaderList) -> RetryState:
    """``read_retry_state`` on a record at offset 7 of partition 0 of :data:`RETRY_TOPIC`: never
    raises, and every value it reads is within bounds."""
    state = read_retry_state(headers, RETRY_TOPIC, 0, 7, now_ms=NOW_MS, delay_seconds=DELAY_SECONDS)
    assert state.attempts >= 0
    assert state.due_ms is None or 0 <= state.due_ms <= NOW_MS + DELAY_SECONDS * 1000
    assert 0 <= state.origin.partition < 2**31
    assert 0 <= state.origin.offset < 2**63
    assert 0 < len(state.origin.topic) < 250
    return state


def retry_headers(data: bytes) -> None:
    """:func:`check_retry_state` over headers cut from ``data``."""
    check_retry_state(headers_from_bytes(data))


def dead_letter(data: bytes) -> None:
    """``DeadLetter.from_json``, then ``to_action``: raises only :class:`UnreplayableError`
    (including its :class:`~claimx_worker.actions.dead_letter.InvalidDeadLetterError`) and
    :class:`MissingSecretError`."""
    with contextlib.suppress(UnreplayableError, MissingSecretError):
        to_action(DeadLetter.from_json(data), ENVIRON, SCOPE)


def config_file(data: bytes, cls: type[Any] = WorkerSettings) -> None:
    """``load_config_file`` of ``cls`` (the worker settings by default) over ``data`` as a
    file: raises only :class:`ConfigError`."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "config.yaml"
        path.write_bytes(data)
        with contextlib.suppress(ConfigError):
            load_config_file(path, cls, env=ENVIRON)


DEAD_LETTER = {
    "idempotency_key": "k",
    "event_id": "evt-1",
    "project_id": "1",
    "instance": "task_trigger",
    "action_index": 0,
    "action": {
        "type": "webhook",
        "url": "https://hooks.example.com/x?t=${WEBHOOK_TOKEN}",
        "method": "POST",
        "headers": {"X-T": "1"},
        "body": {"task_id": 456},
        "timeout": 5.0,
    },
    "error": "HTTP 503",
    "give_up": "max_attempts",
    "attempts": 3,
    "dead_lettered_at": "2026-01-01T00:00:00Z",
    "secret_vars": ["WEBHOOK_TOKEN"],
    "record_version": 2,
}
"""A valid action DLQ record (as JSON data) that replays with :data:`ENVIRON`."""


@frozen
class Target:
    """A fuzz target and the inputs its corpus starts from."""

    name: str
    check: Callable[[bytes], None]
    seeds: Sequence[bytes]


TARGETS = (
    Target(
        "event",
        event,
        [b'{"event_id":"e","event_type":"PROJECT_CREATED","project_id":"1","metadata":{}}'],
    ),
    Target(
        "retry_headers",
        retry_headers,
        [
            b"claimx-attempts\x002\x00claimx-due-ms\x001800000000000\x00claimx-original-topic"
            b"\x00in\x00claimx-original-partition\x004\x00claimx-original-offset\x0099"
        ],
    ),
    Target("dead_letter", dead_letter, [json.dumps(DEAD_LETTER).encode()]),
    Target("config_file", config_file, [(REPO / "config" / "claimx_config.yaml").read_bytes()]),
)
