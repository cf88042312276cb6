"""The per-action INFO lines, as the installed sink writes them."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

import pytest
from loguru import logger

from claimx_worker import PublishToTopic, Webhook
from claimx_worker.actions.announcement import ActionAnnouncer
from claimx_worker.actions.identity import ActionRef
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import MASK, Redactor

SECRET = "tok-0123456789abcdef"


@pytest.fixture(autouse=True)
def _restore_loguru() -> Iterator[None]:
    yield
    logger.remove()
    logger.add(sys.stderr)


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_each_publish_is_announced_with_its_event_and_secrets_masked(fmt: str) -> None:
    out = io.StringIO()
    configure_logging(
        redactor=Redactor([SECRET]), level="INFO", fmt=fmt, sink=out, capture_stdlib=False
    )
    announcer = ActionAnnouncer(scrub=lambda url: url)
    for event_id in ("evt-1", "evt-2"):
        ref = ActionRef(event_id=event_id, project_id="12345", instance="task_trigger", index=0)
        announcer.announce(ref, PublishToTopic(topic=f"claimx.{SECRET}", value={}))
    lines = out.getvalue().splitlines()
    if fmt == "human":
        assert lines == [
            f"INFO: Plugin action: publish to topic | topic=claimx.{MASK} event_id=evt-1",
            f"INFO: Plugin action: publish to topic | topic=claimx.{MASK} event_id=evt-2",
        ]
    else:
        assert [line.split('"level"', 1)[1] for line in lines] == [
            f': "INFO", "message": "Plugin action: publish to topic", '
            f'"topic": "claimx.{MASK}", "event_id": "{event_id}"}}'
            for event_id in ("evt-1", "evt-2")
        ]


def test_a_webhook_is_announced_without_its_query() -> None:
    out = io.StringIO()
    configure_logging(
        redactor=Redactor(), level="INFO", fmt="human", sink=out, capture_stdlib=False
    )
    announcer = ActionAnnouncer(scrub=lambda url: url)
    ref = ActionRef(event_id="evt-1", project_id="12345", instance="task_trigger", index=0)
    announcer.announce(ref, Webhook(url="https://hooks.example.com/x?code=k", method="put"))
    assert out.getvalue() == (
        "INFO: Plugin action: HTTP webhook | url=https://hooks.example.com/x method=PUT\n"
    )
