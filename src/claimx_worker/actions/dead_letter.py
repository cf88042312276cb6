"""Action DLQ records: an action whose delivery gave up, with its context, free of secrets,
and the way back from a record to an action that replay can run again.

A record arrives over Kafka, so replay trusts nothing in it but *which* action it was (instance,
index, idempotency key) and its payload: the destination must be one the current configuration
of that instance names (or an explicit allow-list), ``${VAR}`` references are filled only with
variables that configuration uses, and signing keys come from the current configuration
(:class:`ReplayScope`). A signed record whose key cannot be found is not replayed unsigned."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import httpx
from cattrs import transform_error
from cattrs.errors import ClassValidationError

from claimx_worker.actions.connections import connection_url
from claimx_worker.actions.encoding import InvalidActionError, payload_bytes
from claimx_worker.actions.identity import ActionRef
from claimx_worker.actions.retry import DeliveryReport
from claimx_worker.actions.secrets import SecretScrubber, restore
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.signing import SigningSource
from claimx_worker.actions.webhook import endpoint_of_text, webhook_signing
from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.http.connections import Connection
from claimx_worker.model import PublishToTopic, Webhook, converter
from claimx_worker.model.event import nested_deeper

RECORD_VERSION = 2
"""Version 2 records write every literal ``$`` as ``$$`` (see :mod:`.secrets`)."""
WEBHOOK = "webhook"
PUBLISH_TO_TOPIC = "publish_to_topic"
_PAYLOAD_FIELDS = {WEBHOOK: "body", PUBLISH_TO_TOPIC: "value"}
MAX_NESTING = 64
"""How deep a record may nest (replay walks it recursively)."""
_TOO_DEEP = f"nested deeper than {MAX_NESTING} levels"


class UnreplayableError(ClaimXWorkerError, ValueError):
    """A record that cannot become an action again (its payload was never JSON, unknown type)."""


class InvalidDeadLetterError(UnreplayableError):
    """A Kafka value that is not an action DLQ record at all (not JSON, a field missing or of
    the wrong type)."""


@attrs.frozen(kw_only=True)
class DeadLetter:
    """One record on the action DLQ topic (JSON through the model converter).

    ``action`` holds ``type`` and the action's fields, secrets replaced: ``${VAR}`` references
    for registered secrets (their names in ``secret_vars``), ``***`` for other secret-looking
    headers (named in ``masked_headers``). A webhook's signing secret is never stored, only
    where it came from (``signing``) and, for the action's own, its variable when known.
    ``payload_encoding`` says how the payload field is held: ``json`` (as is), ``base64``
    (bytes) or ``repr`` (not JSON-able; cannot be replayed).
    """

    idempotency_key: str
    event_id: str
    project_id: str
    instance: str
    action_index: int
    action: Mapping[str, Any]
    payload_encoding: str = "json"
    error: str
    give_up: str
    attempts: int
    http_status: int | None = None
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    dead_lettered_at: datetime
    secret_vars: tuple[str, ...] = ()
    masked_headers: tuple[str, ...] = ()
    signing: SigningSource = SigningSource.NONE
    signing_secret_var: str | None = None
    record_version: int = 1
    """Absent in records of earlier versions (1), which cannot be replayed safely."""

    @property
    def ref(self) -> ActionRef:
        """Where the action came from (the idempotency key derives from it again)."""
        return ActionRef(
            event_id=self.event_id,
            project_id=self.project_id,
            instance=self.instance,
            index=self.action_index,
        )

    def to_json(self) -> bytes:
        """The record's Kafka value."""
        return converter.dumps(self).encode()

    @classmethod
    def from_json(cls, data: bytes | str | None) -> DeadLetter:
        """Parse a record's Kafka value; raises :class:`InvalidDeadLetterError`, saying why, for
        anything that is not an action DLQ record (the value arrives over Kafka: untrusted)."""
        if data is None:
            raise InvalidDeadLetterError("the record has no value")
        try:
            value = json.loads(data)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
            raise InvalidDeadLetterError(f"not valid JSON: {exc}") from None
        except RecursionError:
            raise InvalidDeadLetterError(_TOO_DEEP) from None
        if not isinstance(value, dict):
            raise InvalidDeadLetterError(f"expected a JSON object, got {type(value).__name__}")
        if nested_deeper(value, MAX_NESTING):
            raise InvalidDeadLetterError(_TOO_DEEP)
        try:
            return converter.structure(value, cls)
        except ClassValidationError as exc:
            raise InvalidDeadLetterError("; ".join(transform_error(exc))) from None


def _payload(value: Any) -> tuple[Any, str]:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode(), "base64"
    try:
        payload_bytes(value)
    except InvalidActionError:
        return repr(value), "repr"
    return converter.unstructure(value), "json"


@attrs.frozen(kw_only=True)
class ReplayScope:
    """What the current configuration lets replay use for one plugin instance's records."""

    variables: frozenset[str]
    """Environment variables the instance's configuration uses: the only ones a record's
    ``${VAR}`` references may be filled from."""
    destinations: frozenset[str]
    """Webhook endpoints (``scheme://host:port``) the record may be sent to."""
    topics: frozenset[str]
    """Topics the record may be published to."""
    settings: ActionSettings
    """The current action settings (their signing secrets sign a record signed with them)."""
    connections: Mapping[str, Connection] = attrs.field(factory=dict)
    """The named connections the instance's configuration names (and that are defined): the
    only ones a webhook record that names a connection may go through."""


def dead_letter(
    ref: ActionRef,
    action: Webhook | PublishToTopic,
    report: DeliveryReport,
    scrubber: SecretScrubber,
    settings: ActionSettings,
) -> DeadLetter:
    """The DLQ record of an action whose ``report`` says it was not delivered."""
    used: set[str] = set()
    masked: list[str] = []
    kind = WEBHOOK if isinstance(action, Webhook) else PUBLISH_TO_TOPIC
    payload, encoding = _payload(action.body if isinstance(action, Webhook) else action.value)
    fields: dict[str, Any] = {"type": kind}
    if isinstance(action, Webhook):
        fields |= {
            "url": scrubber.text(action.url, used),
            "method": action.method,
            "headers": scrubber.headers(action.headers, used, masked),
            "timeout": action.timeout,
        }
        if action.connection is not None:
            fields["connection"] = action.connection
    else:
        fields |= {
            "topic": action.topic,
            "key": None if action.key is None else scrubber.text(action.key, used),
            "headers": scrubber.headers(action.headers, used, masked),
        }
    fields[_PAYLOAD_FIELDS[kind]] = payload if encoding == "repr" else scrubber.data(payload, used)
    signing = webhook_signing(action, settings) if isinstance(action, Webhook) else None
    return DeadLetter(
        idempotency_key=ref.key,
        event_id=ref.event_id,
        project_id=ref.project_id,
        instance=ref.instance,
        action_index=ref.index,
        action=fields,
        payload_encoding=encoding,
        error=scrubber.text(report.error or "", used),
        give_up=str(report.give_up or ""),
        attempts=report.attempts,
        http_status=report.status,
        first_attempt_at=report.first_attempt_at,
        last_attempt_at=report.last_attempt_at,
        dead_lettered_at=datetime.now(UTC),
        secret_vars=tuple(sorted(used)),
        masked_headers=tuple(masked),
        signing=SigningSource.NONE if signing is None else signing,
        signing_secret_var=scrubber.name_of(action.signing_secret)
        if isinstance(action, Webhook)
        else None,
        record_version=RECORD_VERSION,
    )


def to_action(
    record: DeadLetter, environ: Mapping[str, str], scope: ReplayScope
) -> Webhook | PublishToTopic:
    """The action again, within ``scope``: ``${VAR}`` references and the action's own signing
    secret taken from ``environ`` (raises
    :class:`~claimx_worker.actions.secrets.MissingSecretError`), masked headers left out.
    Raises :class:`UnreplayableError` for a record that cannot, or may not, be run again."""
    if record.record_version != RECORD_VERSION:
        raise UnreplayableError(
            f"record version {record.record_version}, written by an older claimx-worker: its "
            "${...} text cannot be told from event data"
        )
    if record.payload_encoding == "repr":
        raise UnreplayableError("the action's payload was not JSON-serialisable")
    fields = dict(record.action)
    kind = fields.pop("type", None)
    if not isinstance(kind, str) or kind not in _PAYLOAD_FIELDS:
        raise UnreplayableError(f"unknown action type {kind!r}")
    names = {*record.secret_vars, *filter(None, [record.signing_secret_var])}
    if outside := sorted(names - scope.variables):
        raise UnreplayableError(
            f"refers to {', '.join('${' + name + '}' for name in outside)}, which the "
            f"configuration of instance {record.instance!r} does not use"
        )
    fields = restore(fields, record.secret_vars, environ)
    masked = set(record.masked_headers)
    headers = fields.get("headers", {})
    if not isinstance(headers, Mapping):
        raise UnreplayableError("the action's headers are not a mapping")
    fields["headers"] = {k: v for k, v in headers.items() if k not in masked}
    payload_field = _PAYLOAD_FIELDS[kind]
    if record.payload_encoding == "base64":
        fields[payload_field] = _base64_payload(fields.get(payload_field))
    if kind == PUBLISH_TO_TOPIC:
        action = _structure(fields, PublishToTopic)
        if action.topic not in scope.topics:
            raise UnreplayableError(
                f"topic {action.topic!r} is not one the configuration of instance "
                f"{record.instance!r} names (allow it with --allow-topic)"
            )
        return action
    if record.signing is SigningSource.ACTION:
        if record.signing_secret_var is None:
            raise UnreplayableError(
                "was signed with a secret that did not come from a variable: its key is unknown"
            )
        fields["signing_secret"] = restore(
            "${" + record.signing_secret_var + "}", [record.signing_secret_var], environ
        )
    webhook = _structure(fields, Webhook)
    _check_webhook(webhook, record, scope)
    return webhook


def _check_webhook(webhook: Webhook, record: DeadLetter, scope: ReplayScope) -> None:
    if webhook.connection is not None:
        _check_connection(webhook.connection, webhook.url, record, scope)
    elif (endpoint := endpoint_of_text(webhook.url)) not in scope.destinations:
        raise UnreplayableError(
            f"endpoint {endpoint} is not one the configuration of instance {record.instance!r} "
            "names (allow it with --allow-destination)"
        )
    signing = webhook_signing(webhook, scope.settings)
    if record.signing is not SigningSource.NONE and signing is SigningSource.NONE:
        raise UnreplayableError(
            f"was signed with the settings' {record.signing} signing secret, which the current "
            "settings do not have (give --config): not sent unsigned"
        )


def _check_connection(name: str, path: str, record: DeadLetter, scope: ReplayScope) -> None:
    """``path`` must stay below the base URL of connection ``name``, which must be in scope."""
    connection = scope.connections.get(name)
    if connection is None:
        raise UnreplayableError(
            f"connection {name!r} is not one the configuration of instance {record.instance!r} "
            "names and the connections directory defines"
        )
    try:
        connection_url(name, httpx.URL(connection.config.base_url), path)
    except InvalidActionError as exc:
        raise UnreplayableError(str(exc)) from None


def _base64_payload(payload: object) -> bytes:
    if isinstance(payload, str):
        with contextlib.suppress(ValueError):  # binascii.Error, non-ASCII text
            return base64.b64decode(payload, validate=True)
    raise UnreplayableError("the action's payload is not base64 text")


_Action = TypeVar("_Action", Webhook, PublishToTopic)


def _structure(fields: Mapping[str, Any], cls: type[_Action]) -> _Action:
    try:
        return converter.structure(fields, cls)
    except ClassValidationError as exc:
        reasons = "; ".join(transform_error(exc))
        raise UnreplayableError(
            f"the record's fields are not a {cls.__name__}: {reasons}"
        ) from None
