"""Building Kafka messages from publish actions: text a plugin took from event data may not be
encodable (a lone surrogate in a header name once crashed the producer)."""

from __future__ import annotations

import pytest

from claimx_worker.actions.encoding import InvalidActionError
from claimx_worker.actions.identity import KAFKA_IDEMPOTENCY_HEADER, ActionRef
from claimx_worker.actions.publish import build_message
from claimx_worker.model import PublishToTopic

REF = ActionRef(event_id="evt-1", project_id="12345", instance="task_trigger", index=0)


def test_headers_key_and_value_are_encoded() -> None:
    action = PublishToTopic(topic="t", value={"a": "é"}, key="k-1", headers={"source": "x"})
    message = build_message(action, REF)
    assert (message.topic, message.key, message.value) == ("t", b"k-1", '{"a":"é"}'.encode())
    assert message.headers == [("source", b"x"), (KAFKA_IDEMPOTENCY_HEADER, REF.key.encode())]


@pytest.mark.parametrize(
    "action",
    [
        PublishToTopic(topic="t", value={}, headers={"bad\ud800name": "x"}),
        PublishToTopic(topic="t", value={}, headers={"name": "bad\udfffvalue"}),
        PublishToTopic(topic="t", value={}, key="bad\ud800key"),
        PublishToTopic(topic="t", value={"text": "bad\ud800value"}),
    ],
)
def test_text_that_is_not_unicode_is_an_invalid_action(action: PublishToTopic) -> None:
    with pytest.raises(InvalidActionError, match="UTF-8"):
        build_message(action, REF)
