"""configure_logging: the human and JSON line formats, levels, stdlib capture, redaction."""

from __future__ import annotations

import enum
import io
import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from loguru import logger

from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import MASK, Redactor

Configure = Callable[..., io.StringIO]


@pytest.fixture
def configure(restore_logging: None) -> Configure:
    """configure_logging into a StringIO (everything restored after the test)."""

    def setup(**kwargs: object) -> io.StringIO:
        sink = io.StringIO()
        kwargs.setdefault("redactor", Redactor())
        configure_logging(sink=sink, **kwargs)  # type: ignore[arg-type]
        return sink

    return setup


def test_runbook_line_is_reproduced_exactly(configure: Configure) -> None:
    sink = configure(level="INFO", fmt="human")
    logger.bind(
        trigger_name="Photo Documentation Task",
        task_id=456,
        event_type="CUSTOM_TASK_COMPLETED",
        action_count=3,
    ).info("Task trigger matched")
    assert sink.getvalue() == (
        "INFO: Task trigger matched | trigger_name=Photo Documentation Task task_id=456 "
        "event_type=CUSTOM_TASK_COMPLETED action_count=3\n"
    )


def test_field_values_render_as_text(configure: Configure) -> None:
    class Kind(enum.StrEnum):
        PHOTO = "photo"

    class Count(enum.IntEnum):
        THREE = 3

    sink = configure(level="INFO", fmt="human")
    logger.bind(
        s="x", i=7, f=1.5, b=True, n=None, kind=Kind.PHOTO, count=Count.THREE, d={"k": [1]}
    ).info("Values")
    assert sink.getvalue() == (
        "INFO: Values | s=x i=7 f=1.5 b=True n=None kind=photo count=3 d={'k': [1]}\n"
    )


def test_no_separator_without_extras(configure: Configure) -> None:
    sink = configure(level="INFO", fmt="human")
    logger.warning("Consumer paused")
    assert sink.getvalue() == "WARNING: Consumer paused\n"


def test_extras_keep_bind_order_across_nested_binds(configure: Configure) -> None:
    sink = configure(level="INFO", fmt="human")
    logger.bind(b=1).bind(a=2).info("Ordered")
    assert sink.getvalue() == "INFO: Ordered | b=1 a=2\n"


def test_newlines_in_message_and_values_stay_on_one_line(configure: Configure) -> None:
    sink = configure(level="INFO", fmt="human")
    logger.bind(note="a\nb").info("first\r\nsecond")
    assert sink.getvalue() == "INFO: first\\r\\nsecond | note=a\\nb\n"


def test_exception_traceback_is_appended(configure: Configure) -> None:
    sink = configure(level="INFO", fmt="human")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.bind(event_id="e1").exception("Enrichment failed")
    first, *rest = sink.getvalue().splitlines()
    assert first == "ERROR: Enrichment failed | event_id=e1"
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "RuntimeError: boom"


def test_level_filters_records(configure: Configure) -> None:
    sink = configure(level="warn", fmt="human")
    logger.info("Dropped")
    logger.error("Kept")
    assert sink.getvalue() == "ERROR: Kept\n"


def test_level_and_format_come_from_the_environment(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("LOG_FORMAT", "json")
    sink = configure()
    logger.debug("Fetched")
    assert json.loads(sink.getvalue())["level"] == "DEBUG"


def test_defaults_are_info_and_human(configure: Configure, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    sink = configure()
    logger.debug("Dropped")
    logger.info("Kept")
    assert sink.getvalue() == "INFO: Kept\n"


@pytest.mark.parametrize(
    ("kwargs", "variable"), [({"level": "LOUD"}, "LOG_LEVEL"), ({"fmt": "xml"}, "LOG_FORMAT")]
)
def test_unknown_level_or_format_names_the_variable(
    configure: Configure, kwargs: dict[str, str], variable: str
) -> None:
    with pytest.raises(ValueError, match=variable):
        configure(**kwargs)


def test_json_lines(configure: Configure) -> None:
    sink = configure(level="INFO", fmt="json")
    before = datetime.now().astimezone()
    logger.bind(task_id=456, tags=["a", "b"], message="shadowed").info("Task trigger matched")
    try:
        raise ValueError("bad")
    except ValueError:
        logger.exception("Failed")
    first, second = (json.loads(line) for line in sink.getvalue().splitlines())

    time = datetime.fromisoformat(first.pop("time"))
    assert time.utcoffset() == timedelta(0)
    assert timedelta(milliseconds=-1) <= time - before < timedelta(seconds=5)  # ms precision
    assert first == {
        "level": "INFO",
        "message": "Task trigger matched",
        "task_id": 456,
        "tags": ["a", "b"],
        "extra_message": "shadowed",
    }
    assert second["level"] == "ERROR"
    assert second["exception"].startswith("Traceback (most recent call last):")
    assert second["exception"].endswith("ValueError: bad")


def test_stdlib_records_go_through_the_same_sink(configure: Configure) -> None:
    sink = configure(level="INFO", fmt="human")
    logging.getLogger("httpx").info("HTTP Request: GET /x")  # below WARNING: not forwarded
    logging.getLogger("httpx").warning("Retrying %s", "GET /x")
    assert sink.getvalue() == "WARNING: Retrying GET /x | logger=httpx\n"


def test_stdlib_debug_records_are_forwarded_at_debug(configure: Configure) -> None:
    sink = configure(level="DEBUG", fmt="human")
    logging.getLogger("asyncio").debug("Using selector")
    assert sink.getvalue() == "DEBUG: Using selector | logger=asyncio\n"


def test_stdlib_capture_can_be_left_off(configure: Configure) -> None:
    root = logging.getLogger()
    handlers = root.handlers[:]
    configure(level="INFO", capture_stdlib=False)
    assert root.handlers == handlers


def test_reconfiguring_replaces_the_sink(configure: Configure) -> None:
    first = configure(level="INFO", fmt="human")
    second = configure(level="INFO", fmt="human")
    logger.info("Once")
    logging.getLogger("x").warning("Once too")
    assert first.getvalue() == ""
    assert second.getvalue() == "INFO: Once\nWARNING: Once too | logger=x\n"


def test_a_value_that_cannot_be_formatted_never_breaks_the_caller(configure: Configure) -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    sink = configure(level="INFO", fmt="human")
    logger.bind(value=Broken()).info("Odd")
    assert sink.getvalue() == "ERROR: Log record could not be formatted | error=RuntimeError\n"


def test_a_closed_sink_never_breaks_the_caller(configure: Configure) -> None:
    sink = configure(level="INFO", fmt="human")
    sink.close()
    logger.info("Nowhere to go")


SECRET = "cx-api-token-9f8e7d"
QUOTED_SECRET = 'hook"secret\\with\nnewline'


def _log_everywhere(secret: str) -> None:
    logger.info("Token is " + secret)
    logger.info("Token is {}", secret)
    logger.bind(token_value=secret, nested={"a": [secret]}, obj=RuntimeError(secret)).info("X")
    logger.bind(Authorization="Basic dXNlcjpwYXNz", webhook_secret="unregistered-v").info("Y")
    logger.info("headers={'Authorization': 'Bearer unregistered-b'}")
    logging.getLogger("httpx").warning("GET https://user:unregistered-u@h/?x=%s", secret)
    try:
        try:
            raise KeyError(secret)
        except KeyError as cause:
            raise RuntimeError(f"call failed: {secret}") from cause
    except RuntimeError:
        logger.exception("Failed")
    try:
        raise RuntimeError("literal cx-api-token-9f8e7d in the source line")
    except RuntimeError:
        logger.opt(exception=True).error("Failed again")


@pytest.mark.parametrize("fmt", ["human", "json"])
@pytest.mark.parametrize("secret", [SECRET, QUOTED_SECRET])
def test_no_line_contains_a_secret(configure: Configure, fmt: str, secret: str) -> None:
    sink = configure(level="DEBUG", fmt=fmt, redactor=Redactor([secret]))
    _log_everywhere(secret)
    output = sink.getvalue()

    assert output.count(MASK) >= 10
    forbidden = [
        secret,
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
        "dXNlcjpwYXNz",
        "unregistered-v",
        "unregistered-b",
        "unregistered-u",
    ]
    for text in forbidden:
        assert text not in output
    if fmt == "json":
        assert all(json.loads(line) for line in output.splitlines())


def test_secrets_registered_after_configuration_are_masked(configure: Configure) -> None:
    redactor = Redactor()
    sink = configure(level="INFO", fmt="human", redactor=redactor)
    redactor.add("late-secret-value")
    logger.bind(v="late-secret-value").info("late-secret-value")
    assert sink.getvalue() == f"INFO: {MASK} | v={MASK}\n"


def test_uncaught_exceptions_are_logged_through_the_sink_redacted(configure: Configure) -> None:
    sink = configure(level="INFO", fmt="human", redactor=Redactor(["s3cret-value"]))

    def fail() -> None:
        raise RuntimeError("thread failed with s3cret-value")

    try:
        raise ValueError("main failed with s3cret-value")
    except ValueError as error:
        sys.excepthook(type(error), error, error.__traceback__)
    thread = threading.Thread(target=fail, name="poller")
    thread.start()
    thread.join()

    text = sink.getvalue()
    assert "s3cret-value" not in text
    assert text.startswith("CRITICAL: Uncaught exception\nTraceback (most recent call last):\n")
    assert f"ValueError: main failed with {MASK}\n" in text
    assert "ERROR: Uncaught exception in a thread | thread=poller\nTraceback" in text
    assert text.endswith(f"RuntimeError: thread failed with {MASK}\n")
