"""The reports of ``claimx-worker simulate``: a dry run's actions, in a human-readable form or
as JSON, and the notes on what the action list does not say (the data source, filters,
failures, problems)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from claimx_worker.actions.identity import idempotency_key
from claimx_worker.actions.metric_counters import MetricActionError, metric_name
from claimx_worker.errors import ErrorCategory
from claimx_worker.explain import render_explanation
from claimx_worker.model import (
    ACTION_TYPE_NAMES,
    ClaimXEvent,
    EntityRows,
    Filter,
    Log,
    Metric,
    PublishToTopic,
    Stage,
    Webhook,
    converter,
)
from claimx_worker.model.row_changes import ChangeRows
from claimx_worker.model.rows import ROW_CLASSES
from claimx_worker.observability.redaction import MASK, Redactor, is_secret_key
from claimx_worker.plugins.runner import PluginAction

if TYPE_CHECKING:
    from claimx_worker.simulate import DryRun


def describe_action(
    event: ClaimXEvent,
    stage: Stage,
    action: PluginAction | Filter,
    instance: str,
    *,
    shadow: bool = False,
) -> dict[str, Any]:
    """One action as a JSON-able object: instance, stage, type, ``shadow`` (``true`` for an
    instance in shadow mode: recorded on the shadow topic, not run), fields, payload; secret
    header values masked."""
    if isinstance(action, Filter):
        return {
            "instance": instance,
            "stage": stage.value,
            "type": "filter",
            "reason": action.reason,
        }
    item = action.action
    described: dict[str, Any] = {
        "instance": instance,
        "stage": stage.value,
        "index": action.index,
        "type": ACTION_TYPE_NAMES[type(item)],
    }
    if shadow:
        described["shadow"] = True
    key = idempotency_key(event.event_id, instance, action.index)
    if isinstance(item, PublishToTopic):
        described |= {
            "topic": item.topic,
            "key": event.project_id if item.key is None else item.key,
            "headers": _headers(item.headers),
            "idempotency_key": key,
            "value": _payload(item.value),
        }
    elif isinstance(item, Webhook):
        described |= {
            "method": item.method.upper(),
            "url": item.url,
            "timeout": item.timeout,
            "headers": _headers(item.headers),
            "signed": item.signing_secret is not None,
            "idempotency_key": key,
            "body": _payload(item.body),
        }
    elif isinstance(item, Log):
        described |= {"level": item.level, "message": item.message, "fields": _payload(item.fields)}
    elif isinstance(item, Metric):
        described |= {
            "name": item.name,
            "counter": _counter(item.name),
            "value": item.value,
            "labels": dict(item.labels),
        }
    elif isinstance(item, ChangeRows):
        described |= {
            "rows": item.rows,
            "columns": _payload(dict(item.columns)),
            "where": _payload(dict(item.where)),
        }
    return described


def render_json(run: DryRun, redactor: Redactor) -> str:
    """The actions as a JSON list, one object per action (see :func:`describe_action`); with
    ``--explain`` an object: ``actions`` (that list) and ``explain``
    (:func:`~claimx_worker.explain.explain_instances`)."""
    items = [
        describe_action(run.event, stage, action, name, shadow=name in run.shadow)
        for stage, action, name in run.actions()
    ]
    document: Any = items
    if run.explained is not None:
        document = {"actions": items, "explain": list(run.explained)}
    return redactor.redact(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def render_notes(run: DryRun) -> list[str]:
    """What the action list does not say: the data source, filters, failures, problems."""
    from claimx_worker.testing.io_guard import BlockedIOError

    notes: list[str] = []
    if run.source == "simulator":
        notes.append(
            "Enriched through the built-in ClaimX API simulator: the rows are simulated data, "
            "not this project's."
        )
    if not run.instances:
        notes.append("No plugin instance is enabled: nothing would run.")
    if run.received.filtered:
        notes.append(
            f"Filtered before enrichment by {run.received.filtered_by} "
            f"({run.received.filter.reason if run.received.filter else ''}): no API call, no "
            "entity rows, no later instance."
        )
    if run.completed is not None and run.completed.filtered:
        notes.append(
            f"Filtered after enrichment by {run.completed.filtered_by}: the entity rows would "
            "not be written and lower-priority instances were not called."
        )
    if run.failure is not None:
        where = (
            "would be retried later, and dead-lettered when its retries run out"
            if run.failure.category == ErrorCategory.TRANSIENT
            else "would go to the DLQ"
        )
        notes.append(
            f"Enrichment failed ({run.failure.category}): {run.failure.message}. The event "
            f"{where}; on_event_failed's actions for it are listed."
        )
    if run.instances and not any(not isinstance(action, Filter) for _, action, _ in run.actions()):
        notes.append("No action: no plugin instance returned an action for this event.")
    notes += [f"I/O refused (a dry run has no side effects): {a}" for a in run.io_attempts]
    notes += [f"Problem: {p}" for p in run.problems if not isinstance(p.exception, BlockedIOError)]
    return notes


def render_human(run: DryRun, redactor: Redactor) -> str:
    """A readable report: the event, the rows, one block per action, notes."""
    event = run.event
    lines = [f"Event {event.event_type} {event.event_id} (project {event.project_id})"]
    if run.rows is not None:
        lines.append(f"Rows ({_source_label(run.source)}): {_row_summary(run.rows)}")
    lines.append(f"Plugin instances in run order: {', '.join(run.instances) or 'none'}")
    actions = run.actions()
    counted = [name in run.shadow for _, action, name in actions if not isinstance(action, Filter)]
    live, recorded = counted.count(False), counted.count(True)
    summary = f"{live} action{'' if live == 1 else 's'} would run"
    if recorded:
        summary += f", {recorded} would be recorded on the shadow topic (shadow mode)"
    lines += ["", f"{summary} (dry run: none was executed)."]
    for number, (stage, action, name) in enumerate(actions, start=1):
        described = describe_action(event, stage, action, name, shadow=name in run.shadow)
        lines += ["", *_block(number, described)]
    if run.explained is not None:
        lines += ["", *render_explanation(run.explained)]
    notes = render_notes(run)
    if notes:
        lines += ["", *notes]
    return redactor.redact("\n".join(lines))


def _block(number: int, described: dict[str, Any]) -> list[str]:
    head = (
        f"{number}. {described['type']} from {described['instance']} "
        f"({described['stage']}"
        + (f", action {described['index']}" if "index" in described else "")
        + ("; shadow: recorded, not run" if described.get("shadow") else "")
        + ")"
    )
    lines = [head]
    for key, value in described.items():
        if key in ("type", "instance", "stage", "index", "shadow"):
            continue
        if isinstance(value, dict | list):
            if not value:
                continue
            text = json.dumps(value, indent=2, ensure_ascii=False)
            lines.append(f"   {key}:")
            lines += [f"     {line}" for line in text.splitlines()]
        else:
            shown = value if isinstance(value, str) else json.dumps(value)
            lines.append(f"   {key}: {shown}")
    return lines


def _source_label(source: str) -> str:
    return {
        "file": "from the file",
        "api": "enriched through the ClaimX API",
        "simulator": "enriched through the ClaimX API simulator",
    }.get(source, source)


def _row_summary(rows: EntityRows) -> str:
    counts = {name: len(getattr(rows, name)) for name in ROW_CLASSES}
    parts = [f"{name} {count}" for name, count in counts.items() if count]
    return ", ".join(parts) or "none"


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: MASK if is_secret_key(name) else value for name, value in headers.items()}


def _payload(value: Any) -> Any:
    """A payload as JSON data (bytes: parsed if JSON, else text)."""
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", errors="replace")
        try:
            return json.loads(text)
        except ValueError:
            return text
    return json.loads(json.dumps(converter.unstructure(value), default=repr))


def _counter(name: str) -> str | None:
    try:
        return metric_name(name)
    except MetricActionError:
        return None
