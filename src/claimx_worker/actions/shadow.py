"""Shadow mode: the actions of an instance with ``mode: shadow`` are recorded, not delivered.

Each action becomes one JSON record on the shadow topic (``plugins.shadow_topic``), built the
way the executor builds what it sends: a webhook's method, URL, request headers (idempotency
key and Standard Webhooks headers included, a signature computed as for a first attempt) and
body; a publish's topic, key, headers and value; a log line's level and message; a metric's
name, value and labels; a row change's row list, columns and condition. Secrets are kept out as
in action DLQ records: registered secret values become ``${VAR}`` references, other
secret-looking headers ``***``. An action that could not be sent at all is recorded with its
``error``. The Kafka message is keyed by project and carries the idempotency key header; the
event is committed only once its records are acknowledged.
Counted in ``claimx_shadow_actions_total{instance,type}``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from claimx_worker.actions.encoding import InvalidActionError
from claimx_worker.actions.identity import KAFKA_IDEMPOTENCY_HEADER, ActionRef
from claimx_worker.actions.publish import Produce, build_message
from claimx_worker.actions.secrets import SecretScrubber
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.webhook import build_request
from claimx_worker.model import (
    ACTION_TYPE_NAMES,
    Action,
    ChangeRows,
    Filter,
    Log,
    Metric,
    PublishToTopic,
    Webhook,
)


class ShadowRecorder:
    """Records shadow actions on ``topic`` through ``produce`` (see the module docstring)."""

    def __init__(
        self,
        settings: ActionSettings,
        *,
        topic: str,
        produce: Produce,
        registry: CollectorRegistry,
        secret_refs: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self.topic = topic
        self._produce = produce
        self._scrubber = SecretScrubber(secret_refs or {})
        self._recorded = Counter(
            "claimx_shadow_actions",
            "Actions of shadow-mode instances recorded on the shadow topic instead of run.",
            ["instance", "type"],
            registry=registry,
        )

    def add_secret_refs(self, secret_refs: Mapping[str, str]) -> None:
        """Register more secret values (value -> environment variable) to keep out of records."""
        self._scrubber.add(secret_refs)

    def record(
        self, event_id: str, project_id: str, instance: str, index: int, action: Action
    ) -> asyncio.Future[None]:
        """Start writing the record of ``action``; the future ends when Kafka acknowledges it."""
        ref = ActionRef(event_id=event_id, project_id=project_id, instance=instance, index=index)
        kind = ACTION_TYPE_NAMES.get(type(action), type(action).__name__)
        value = json.dumps(self.shadow_record(ref, action), separators=(",", ":")).encode()
        headers = [(KAFKA_IDEMPOTENCY_HEADER, ref.key.encode())]
        self._recorded.labels(instance, kind).inc()
        return asyncio.ensure_future(self._produce(self.topic, value, project_id.encode(), headers))

    def shadow_record(self, ref: ActionRef, action: Action) -> dict[str, Any]:
        """The record of ``action`` as a JSON-able mapping, secrets kept out."""
        used: set[str] = set()
        masked: list[str] = []
        record: dict[str, Any] = {
            "idempotency_key": ref.key,
            "event_id": ref.event_id,
            "project_id": ref.project_id,
            "instance": ref.instance,
            "action_index": ref.index,
            "type": ACTION_TYPE_NAMES.get(type(action), type(action).__name__),
            "recorded_at": datetime.now(UTC).isoformat(),
        }
        scrub = self._scrubber
        try:
            if isinstance(action, Webhook):
                request = build_request(action, ref.key, self._settings)
                record |= {
                    "method": request.method,
                    "url": scrub.text(str(request.url), used),
                    "headers": scrub.headers(request.headers_at(int(time.time())), used, masked),
                    "body": scrub.data(_decoded(request.body), used),
                }
            elif isinstance(action, PublishToTopic):
                message = build_message(action, ref)
                headers = {name: value.decode() for name, value in message.headers}
                record |= {
                    "topic": message.topic,
                    "key": None if message.key is None else scrub.text(message.key.decode(), used),
                    "headers": scrub.headers(headers, used, masked),
                    "value": scrub.data(_decoded(message.value), used),
                }
            elif isinstance(action, Log):
                record |= {"level": action.level, "message": scrub.text(action.message, used)}
            elif isinstance(action, Metric):
                labels = dict(action.labels)
                record |= {"name": action.name, "value": action.value, "labels": labels}
            elif isinstance(action, Filter):
                record["reason"] = scrub.text(action.reason, used)
            elif isinstance(action, ChangeRows):
                record |= {
                    "rows": action.rows,
                    "columns": scrub.data(dict(action.columns), used),
                    "where": scrub.data(dict(action.where), used),
                }
        except InvalidActionError as exc:
            record["error"] = scrub.text(str(exc), used)
        record["secret_vars"] = sorted(used)
        record["masked_headers"] = masked
        return record


def _decoded(payload: bytes) -> Any:
    """A payload as JSON when it is JSON, else ``{"base64": ...}``."""
    try:
        return json.loads(payload)
    except ValueError:
        return {"base64": base64.b64encode(payload).decode()}
