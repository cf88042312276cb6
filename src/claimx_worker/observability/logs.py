"""Loguru set-up: one sink that writes every record as a redacted human or JSON line."""

from __future__ import annotations

import enum
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, TextIO

from loguru import logger

from claimx_worker.observability.redaction import Redactor, scrub_field

if TYPE_CHECKING:
    from loguru import Message, Record, RecordException

LOG_LEVEL_ENV = "LOG_LEVEL"
LOG_FORMAT_ENV = "LOG_FORMAT"
DEFAULT_LEVEL = "INFO"

_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}
_JSON_RESERVED = frozenset({"time", "level", "message", "exception"})


class LogFormat(enum.StrEnum):
    """Output format of log lines (``LOG_FORMAT``)."""

    HUMAN = "human"
    JSON = "json"


Formatter = Callable[["Record", Redactor], str]


def configure_logging(
    *,
    redactor: Redactor,
    level: str | None = None,
    fmt: str | None = None,
    sink: TextIO | None = None,
    capture_stdlib: bool = True,
) -> None:
    """Route all logging to one redacted sink; call once at start (again to reconfigure).

    ``level`` defaults to ``$LOG_LEVEL`` (else ``INFO``), ``fmt`` to ``$LOG_FORMAT`` (``human``
    or ``json``, else ``human``), ``sink`` to ``sys.stderr``. Removes every other loguru handler.
    With ``capture_stdlib``, records of the standard ``logging`` module (httpx, asyncio, ...)
    go through the same sink: from ``WARNING`` up, or from the chosen level when it is below
    ``INFO``. Raises ``ValueError`` naming the variable for an unknown level or format.
    """
    level_name = _parse_level(
        os.environ.get(LOG_LEVEL_ENV, DEFAULT_LEVEL) if level is None else level
    )
    log_format = _parse_format(
        os.environ.get(LOG_FORMAT_ENV, LogFormat.HUMAN) if fmt is None else fmt
    )
    formatter = format_json if log_format is LogFormat.JSON else format_human
    stream = sys.stderr if sink is None else sink
    logger.remove()
    logger.add(
        _LineSink(stream, formatter, redactor),
        level=level_name,
        format=_no_format,
        colorize=False,
        backtrace=False,
        diagnose=False,
        catch=False,
    )
    if capture_stdlib:
        _capture_stdlib(logger.level(level_name).no)


def format_human(record: Record, redactor: Redactor) -> str:
    """``LEVEL: message | key=value ...`` (extras in bind order), then the traceback if any.

    The first line is redacted before newlines in it are escaped, so it stays one line.
    """
    line = f"{record['level'].name}: {record['message']}"
    extra = record["extra"]
    if extra:
        fields = " ".join([f"{key}={scrub_field(key, value)}" for key, value in extra.items()])
        line = f"{line} | {fields}"
    line = _one_line(redactor.redact(line))
    if record["exception"] is None:
        return line
    exception = _exception_text(record["exception"])
    return f"{line}\n{redactor.redact(exception)}" if exception else line


def format_json(record: Record, redactor: Redactor) -> str:
    """One JSON object: ``time`` (ISO, UTC), ``level``, ``message``, extras, ``exception``.

    Redacted after encoding (the redactor knows the JSON-escaped form of every secret).
    """
    payload: dict[str, object] = {
        "time": record["time"].astimezone(UTC).isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "message": record["message"],
    }
    for key, value in record["extra"].items():
        payload[f"extra_{key}" if key in _JSON_RESERVED else key] = scrub_field(key, value)
    exception = _exception_text(record["exception"])
    if exception:
        payload["exception"] = exception
    return redactor.redact(json.dumps(payload, ensure_ascii=False))


class _LineSink:
    """Loguru sink: formats the record itself, redacts, writes one line; never raises."""

    __slots__ = ("_formatter", "_redactor", "_stream")

    def __init__(self, stream: TextIO, formatter: Formatter, redactor: Redactor) -> None:
        self._stream = stream
        self._formatter = formatter
        self._redactor = redactor

    def __call__(self, message: Message) -> None:
        record = message.record
        try:
            line = self._formatter(record, self._redactor)
        except Exception as error:  # a log call must never break the worker
            line = f"ERROR: Log record could not be formatted | error={type(error).__name__}"
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # closed or broken stream: nowhere left to report it
            pass


class _StdlibToLoguru(logging.Handler):
    """Forwards standard-library log records to loguru (and so to the redacted sink)."""

    def emit(self, record: logging.LogRecord) -> None:
        level: str | int
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        try:
            message = record.getMessage()
        except Exception:
            self.handleError(record)
            return
        logger.opt(exception=record.exc_info).bind(logger=record.name).log(level, message)


def _capture_stdlib(loguru_level: int) -> None:
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.addHandler(_StdlibToLoguru())
    root.setLevel(
        loguru_level if loguru_level < logging.INFO else max(loguru_level, logging.WARNING)
    )


def _no_format(_record: Record) -> str:
    return ""  # the sink formats from the record; loguru's own rendering is skipped


def _parse_level(value: str) -> str:
    name = _LEVEL_ALIASES.get(value.strip().upper(), value.strip().upper())
    try:
        return logger.level(name).name
    except ValueError:
        raise ValueError(
            f"{LOG_LEVEL_ENV}: unknown level {value!r}; expected one of "
            "TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR, CRITICAL"
        ) from None


def _parse_format(value: str) -> LogFormat:
    try:
        return LogFormat(value.strip().lower())
    except ValueError:
        raise ValueError(
            f"{LOG_FORMAT_ENV}: unknown format {value!r}; expected 'human' or 'json'"
        ) from None


def _one_line(text: str) -> str:
    if "\n" in text or "\r" in text:
        return text.replace("\r", "\\r").replace("\n", "\\n")
    return text


def _exception_text(exception: RecordException | None) -> str:
    if exception is None or exception.type is None:
        return ""
    lines = traceback.format_exception(exception.type, exception.value, exception.traceback)
    return "".join(lines).rstrip("\n")
