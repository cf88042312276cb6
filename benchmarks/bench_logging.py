"""Cost of one log line through the redacted sink, against loguru's own string format; and of
the same line as a :class:`~claimx_worker.PreparedLogLine` (rendered once, written directly).

Prints one JSON document: a list of ``{"name", "value", "unit", "baseline", "ratio"}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from loguru import logger

from claimx_worker import PreparedLogLine, PublishToTopic, Webhook
from claimx_worker.actions.announcement import ActionAnnouncer
from claimx_worker.actions.identity import ActionRef
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor

LINES = 20_000
ROUNDS = 3
SECRETS = ["Y2xhaW14OnMzY3IzdA==", "whsec_9f8e7d6c5b4a", "sasl-pass-0123", "tok-abcdef", "pw-xyz"]


class NullSink:
    """A text stream that discards everything (measures formatting, not I/O)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        """Nothing buffered."""


FIELDS: dict[str, object] = {
    "trigger_name": "Photo Documentation Task",
    "task_id": 456,
    "event_type": "CUSTOM_TASK_COMPLETED",
    "action_count": 3,
}


def log_lines() -> None:
    bound = logger.bind(**FIELDS)
    for _ in range(LINES):
        bound.info("Task trigger matched")


def prepared_lines() -> None:
    line = PreparedLogLine("info", "Task trigger matched", **FIELDS)
    for _ in range(LINES):
        line.emit()


ANNOUNCER = ActionAnnouncer(str)
REF = ActionRef(event_id="evt-1", project_id="12345", instance="task_trigger", index=0)
WEBHOOK = Webhook(url="https://hooks.example.com/claimx/task-trigger?code=k", method="POST")
PUBLISH = PublishToTopic(topic="claimx.task-triggers", value={})


def webhook_announcements() -> None:
    for _ in range(LINES):
        ANNOUNCER.announce(REF, WEBHOOK)


def publish_announcements() -> None:
    for _ in range(LINES):
        ANNOUNCER.announce(REF, PUBLISH)


def per_line_us(setup: Callable[[], None], body: Callable[[], None] = log_lines) -> float:
    setup()
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        body()
        best = min(best, time.perf_counter() - start)
    return best / LINES * 1e6


def loguru_string_format() -> None:
    logger.remove()
    logger.add(NullSink(), level="INFO", format="{level}: {message} | {extra}", colorize=False)


def ours(fmt: str, secrets: list[str]) -> Callable[[], None]:
    def setup() -> None:
        configure_logging(
            redactor=Redactor(secrets), level="INFO", fmt=fmt, sink=NullSink(), capture_stdlib=False
        )

    return setup


def filtered_out() -> None:
    for _ in range(LINES):
        logger.bind(task_id=456).debug("Dropped at INFO")


def main() -> None:
    baseline = per_line_us(loguru_string_format)
    cases = {
        "log_line_human_no_secrets": per_line_us(ours("human", [])),
        "log_line_human_5_secrets": per_line_us(ours("human", SECRETS)),
        "log_line_json_5_secrets": per_line_us(ours("json", SECRETS)),
        "log_line_prepared_human": per_line_us(ours("human", SECRETS), prepared_lines),
        "log_line_prepared_json": per_line_us(ours("json", SECRETS), prepared_lines),
        "log_line_action_webhook": per_line_us(ours("human", SECRETS), webhook_announcements),
        "log_line_action_publish": per_line_us(ours("human", SECRETS), publish_announcements),
    }
    results: list[dict[str, object]] = [
        {"name": "log_line_loguru_string_format", "value": round(baseline, 2), "unit": "us/line"}
    ]
    results += [
        {
            "name": name,
            "value": round(value, 2),
            "unit": "us/line",
            "baseline": round(baseline, 2),
            "ratio": round(value / baseline, 2),
        }
        for name, value in cases.items()
    ]
    below_level = per_line_us(ours("human", SECRETS), filtered_out)
    results.append(
        {"name": "log_call_below_level", "value": round(below_level, 2), "unit": "us/call"}
    )
    logger.remove()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
