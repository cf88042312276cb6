"""PreparedLogLine: the same line as a loguru call, through the installed sink or through loguru."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from loguru import logger

from claimx_worker import PreparedLogLine
from claimx_worker.observability.logs import configure_logging, write_line
from claimx_worker.observability.redaction import MASK, Redactor

SECRET = "tok-0123456789abcdef"
FIELDS = {
    "trigger_name": "Photo Documentation Task",
    "task_id": 456,
    "event_type": "CUSTOM_TASK_COMPLETED",
    "action_count": 3,
}


@pytest.fixture(autouse=True)
def _restore_loguru() -> Iterator[None]:
    yield
    logger.remove()
    logger.add(sys.stderr)


def configured(fmt: str, level: str = "INFO") -> io.StringIO:
    sink = io.StringIO()
    configure_logging(
        redactor=Redactor([SECRET]), level=level, fmt=fmt, sink=sink, capture_stdlib=False
    )
    return sink


def through_loguru(fmt: str, level: str, message: str, /, **fields: object) -> str:
    sink = configured(fmt)
    logger.bind(**fields).log(level, message)
    return sink.getvalue()


def test_human_line_equals_the_loguru_line() -> None:
    line = PreparedLogLine("info", "Task trigger matched", **FIELDS)
    sink = configured("human")
    line.emit()
    line.emit()
    expected = through_loguru("human", "INFO", "Task trigger matched", **FIELDS)
    assert expected == (
        "INFO: Task trigger matched | trigger_name=Photo Documentation Task task_id=456 "
        "event_type=CUSTOM_TASK_COMPLETED action_count=3\n"
    )
    assert sink.getvalue() == expected * 2


def prepared(level: str, message: str, /, **fields: object) -> None:
    PreparedLogLine(level, message, **fields).emit()


@pytest.mark.parametrize("write", [prepared, write_line])
def test_json_line_equals_the_loguru_line_with_the_time_of_the_call(
    write: Callable[..., None],
) -> None:
    sink = configured("json")
    before = datetime.now(UTC)
    write("WARNING", 'Quoted "message"', **FIELDS, message="reserved key")
    after = datetime.now(UTC)
    written = json.loads(sink.getvalue())
    expected = json.loads(
        through_loguru("json", "WARNING", 'Quoted "message"', **FIELDS, message="reserved key")
    )
    written_at = datetime.fromisoformat(written.pop("time"))
    expected.pop("time")
    assert written == expected
    assert written["extra_message"] == "reserved key"
    assert before - timedelta(milliseconds=1) <= written_at <= after


def test_secrets_are_redacted_in_both_formats() -> None:
    for fmt in ("human", "json"):
        line = PreparedLogLine("info", f"token {SECRET}", url=f"https://x/?t={SECRET}", api_key="k")
        sink = configured(fmt)
        line.emit()
        text = sink.getvalue()
        assert SECRET not in text
        assert "k\n" not in text
        assert text.count(MASK) == 3, text


def test_a_secret_registered_after_the_first_line_is_masked_in_the_next() -> None:
    redactor = Redactor()
    sink = io.StringIO()
    configure_logging(redactor=redactor, level="INFO", fmt="human", sink=sink, capture_stdlib=False)
    line = PreparedLogLine("info", "Calling", url="https://x/?t=late-secret-42")
    line.emit()
    redactor.add("late-secret-42")
    line.emit()
    first, second = sink.getvalue().splitlines()
    assert "late-secret-42" in first
    assert second == f"INFO: Calling | url=https://x/?t={MASK}"


def test_nothing_is_written_below_the_configured_level() -> None:
    sink = configured("human", level="WARNING")
    PreparedLogLine("info", "Task trigger matched", **FIELDS).emit()
    assert sink.getvalue() == ""


def test_an_added_sink_receives_the_line_through_loguru() -> None:
    sink = configured("human")
    line = PreparedLogLine("info", "Task trigger matched", **FIELDS)
    line.emit()
    records: list[tuple[str, dict[str, object]]] = []
    handler = logger.add(lambda m: records.append((m.record["message"], m.record["extra"])))
    line.emit()
    logger.remove(handler)
    assert records == [("Task trigger matched", FIELDS)]
    assert sink.getvalue().count("Task trigger matched") == 2


def test_a_new_configuration_renders_the_line_again() -> None:
    line = PreparedLogLine("info", "Task trigger matched", task_id=456)
    first = configured("human")
    line.emit()
    second = configured("json")
    line.emit()
    assert first.getvalue() == "INFO: Task trigger matched | task_id=456\n"
    assert json.loads(second.getvalue())["task_id"] == 456


def test_unconfigured_logging_goes_through_loguru() -> None:
    logger.remove()
    records: list[str] = []
    logger.add(lambda m: records.append(m.record["message"]))
    PreparedLogLine("debug", "Quiet line").emit()
    assert records == ["Quiet line"]


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="LOUD"):
        PreparedLogLine("loud", "x")


def test_the_installed_sink_is_written_without_a_loguru_record() -> None:
    # a patcher runs on every loguru record: it marks the lines that went through loguru
    sink = configured("human")
    logger.configure(patcher=lambda record: record["extra"].update(via="loguru"))
    try:
        PreparedLogLine("info", "Prepared").emit()
        logger.info("Logged")
    finally:
        logger.configure(patcher=lambda record: None)
    assert sink.getvalue() == "INFO: Prepared\nINFO: Logged | via=loguru\n"


# write_line: a line whose fields change per call, rendered per call


def test_written_human_line_equals_the_loguru_line() -> None:
    sink = configured("human")
    write_line("info", "Plugin action: publish to topic", topic="t", event_id="evt-1")
    write_line("info", "Plugin action: publish to topic", topic="t", event_id="evt-2")
    assert sink.getvalue() == (
        through_loguru(
            "human", "INFO", "Plugin action: publish to topic", topic="t", event_id="evt-1"
        )
        + through_loguru(
            "human", "INFO", "Plugin action: publish to topic", topic="t", event_id="evt-2"
        )
    )


def test_written_lines_are_redacted_in_both_formats() -> None:
    for fmt in ("human", "json"):
        sink = configured(fmt)
        write_line("info", f"token {SECRET}", url=f"https://x/?t={SECRET}", api_key="k")
        text = sink.getvalue()
        assert SECRET not in text
        assert "k\n" not in text
        assert text.count(MASK) == 3, text


def test_nothing_is_written_below_the_configured_level_by_write_line() -> None:
    sink = configured("human", level="WARNING")
    write_line("info", "Plugin action: publish to topic", topic="t")
    assert sink.getvalue() == ""


def test_write_line_goes_through_loguru_to_an_added_sink_or_without_configuration() -> None:
    sink = configured("human")
    records: list[tuple[str, dict[str, object]]] = []
    handler = logger.add(lambda m: records.append((m.record["message"], m.record["extra"])))
    write_line("info", "Added sink", event_id="evt-1")
    logger.remove(handler)
    assert records == [("Added sink", {"event_id": "evt-1"})]
    assert sink.getvalue() == "INFO: Added sink | event_id=evt-1\n"
    logger.remove()
    logger.add(lambda m: records.append((m.record["message"], m.record["extra"])))
    write_line("debug", "Unconfigured", event_id="evt-2")
    assert records[1] == ("Unconfigured", {"event_id": "evt-2"})


def test_write_line_writes_without_a_loguru_record_and_refuses_an_unknown_level() -> None:
    sink = configured("human")
    logger.configure(patcher=lambda record: record["extra"].update(via="loguru"))
    try:
        write_line("info", "Written", event_id="evt-1")
    finally:
        logger.configure(patcher=lambda record: None)
    assert sink.getvalue() == "INFO: Written | event_id=evt-1\n"
    with pytest.raises(ValueError, match="LOUD"):
        write_line("loud", "x")


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


@pytest.mark.parametrize("write", [prepared, write_line])
@pytest.mark.parametrize("fmt", ["human", "json"])
def test_a_field_that_cannot_be_rendered_gives_the_loguru_paths_error_line(
    fmt: str, write: Callable[..., None]
) -> None:
    sink = configured(fmt)
    write("info", "Rendered per call", thing=Unprintable())
    expected = through_loguru(fmt, "INFO", "Rendered per call", thing=Unprintable())
    assert sink.getvalue() == expected
    assert expected == "ERROR: Log record could not be formatted | error=RuntimeError\n"
