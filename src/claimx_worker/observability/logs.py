"""Loguru set-up: one sink that writes every record as a redacted human or JSON line.

:class:`PreparedLogLine` is the cheap path for a line written per event whose level, message
and fields never change: rendered once, then written straight to that sink. :func:`write_line`
is the cheap path for one whose fields change: rendered per call, written straight to it.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from loguru import logger

from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.observability import loguru_adapter
from claimx_worker.observability.loguru_adapter import handler_table
from claimx_worker.observability.redaction import Redactor, scrub_field

if TYPE_CHECKING:
    from loguru import Level, Message, Record, RecordException

LOG_LEVEL_ENV = "LOG_LEVEL"
LOG_FORMAT_ENV = "LOG_FORMAT"
DEFAULT_LEVEL = "INFO"

_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}
_JSON_RESERVED = frozenset({"time", "level", "message", "exception"})


class LogLevel(enum.StrEnum):
    """The least level of the lines written (``LOG_LEVEL``); any case, ``WARN`` and ``FATAL``
    stand for ``WARNING`` and ``CRITICAL``."""

    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @classmethod
    def _missing_(cls, value: object) -> LogLevel | None:
        name = value.strip().upper() if isinstance(value, str) else ""
        return cls.__members__.get(_LEVEL_ALIASES.get(name, name))


class LogFormat(enum.StrEnum):
    """Output format of log lines (``LOG_FORMAT``), any case."""

    HUMAN = "human"
    JSON = "json"

    @classmethod
    def _missing_(cls, value: object) -> LogFormat | None:
        name = value.strip().upper() if isinstance(value, str) else ""
        return cls.__members__.get(name)


Formatter = Callable[["Record", Redactor], str]
Writer = Callable[[], None]
"""Writes one prepared line (see :class:`PreparedLogLine`)."""


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
    ``INFO``. Exceptions nothing caught, in the main thread or another, are logged through it
    too (``sys.excepthook``, ``threading.excepthook``): their tracebacks are redacted like any
    line. Raises :class:`LogVariableError` (a ``ValueError``) for an unknown level or format.
    """
    level_name = _parse_level(
        os.environ.get(LOG_LEVEL_ENV, DEFAULT_LEVEL) if level is None else level
    )
    log_format = _parse_format(
        os.environ.get(LOG_FORMAT_ENV, LogFormat.HUMAN) if fmt is None else fmt
    )
    stream = sys.stderr if sink is None else sink
    line_sink = _LineSink(stream, log_format, redactor, logger.level(level_name).no)
    logger.remove()
    logger.add(
        line_sink,
        level=level_name,
        format=_no_format,
        colorize=False,
        backtrace=False,
        diagnose=False,
        catch=False,
    )
    line_sink.handlers = handler_table()
    _INSTALLED[0] = line_sink
    if capture_stdlib:
        _capture_stdlib(logger.level(level_name).no)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def format_human(record: Record, redactor: Redactor) -> str:
    """``LEVEL: message | key=value ...`` (extras in bind order), then the traceback if any.

    The first line is redacted before newlines in it are escaped, so it stays one line.
    """
    line = _human_line(record["level"].name, record["message"], record["extra"], redactor)
    if record["exception"] is None:
        return line
    exception = _exception_text(record["exception"])
    return f"{line}\n{redactor.redact(exception)}" if exception else line


def format_json(record: Record, redactor: Redactor) -> str:
    """One JSON object: ``time`` (ISO, UTC), ``level``, ``message``, extras, ``exception``.

    Redacted after encoding (the redactor knows the JSON-escaped form of every secret).
    """
    return _json_line(
        _iso_time(record["time"]),
        record["level"].name,
        record["message"],
        record["extra"],
        redactor,
        _exception_text(record["exception"]),
    )


class PreparedLogLine:
    """A log line whose level, message and fields never change, for a line written per event.

    Build it once (in ``on_load``), then :meth:`emit` writes the same line as
    ``logger.bind(**fields).log(level, message)`` at a fraction of the cost: while the sink
    :func:`configure_logging` installed is loguru's only handler, the line is rendered and
    redacted once and written to that sink directly (loguru's per-module ``disable()`` and
    patchers are not applied there). Otherwise (logging not configured, or a test added a sink)
    it goes through loguru. Raises ``ValueError`` for an unknown level.
    """

    __slots__ = ("_fields", "_level", "_message", "_secrets", "_sink", "_write")

    def __init__(self, level: str, message: str, /, **fields: object) -> None:
        self._level = _level(level)
        self._message = message
        self._fields = fields
        self._sink: _LineSink | None = None
        self._secrets: frozenset[str] = frozenset()
        self._write: Writer = _write_nothing

    def emit(self) -> None:
        """Write the line (or nothing, below the configured level)."""
        sink = _direct_sink()
        if sink is None:
            logger.opt(depth=1).bind(**self._fields).log(self._level.name, self._message)
            return
        if self._sink is not sink or self._secrets is not sink.secrets:
            self._secrets = sink.secrets  # read first: a secret added meanwhile renders again
            self._write = sink.prepare(self._level, self._message, self._fields)
            self._sink = sink
        self._write()


def write_line(level: str, message: str, /, **fields: object) -> None:
    """Write the line ``logger.bind(**fields).log(level, message)`` writes, rendered per call
    and written straight to the sink :func:`configure_logging` installed: for a line written per
    event whose fields change (an event id), at a tenth of a loguru call's cost in the human
    format and a third in JSON. Goes through loguru, and skips the same loguru features, as
    :meth:`PreparedLogLine.emit`. Raises ``ValueError`` for an unknown level."""
    found = _level(level)
    sink = _direct_sink()
    if sink is None:
        logger.opt(depth=1).bind(**fields).log(found.name, message)
        return
    sink.log(found, message, fields)  # not "write": loguru takes a sink with one for a stream


def _direct_sink() -> _LineSink | None:
    """The installed sink while it is loguru's only handler; else ``None``: go through loguru."""
    sink = _INSTALLED[0]
    handlers = handler_table()
    if sink is None or handlers is None or sink.handlers is not handlers:
        return None
    return sink


def log_enabled(level: str) -> bool:
    """Whether some handler takes lines at ``level`` (a loguru level name, any case): a cheap
    test (a tenth of a microsecond) to skip a per-event line and the work of its fields below
    the configured level, e.g. a debug line on every miss. True when it cannot tell. Raises
    ``ValueError`` for an unknown level."""
    core = loguru_adapter.CORE
    if core is None:
        return True
    return bool(_level(level).no >= core.min_level)


def _level(name: str) -> Level:
    found = _LEVELS.get(name)
    if found is None:
        found = _LEVELS[name] = logger.level(name.upper())
    return found


_LEVELS: dict[str, Level] = {}
"""Level name (as asked) -> the loguru level; a loguru level never changes."""


class _LineSink:
    """Loguru sink: formats the record itself, redacts, writes one line; never raises."""

    __slots__ = (
        "_formatter",
        "_levelno",
        "_lock",
        "_log_format",
        "_redactor",
        "_stream",
        "handlers",
    )

    def __init__(
        self, stream: TextIO, log_format: LogFormat, redactor: Redactor, levelno: int
    ) -> None:
        self._stream = stream
        self._log_format = log_format
        self._formatter: Formatter = format_json if log_format is LogFormat.JSON else format_human
        self._redactor = redactor
        self._levelno = levelno
        self._lock = threading.Lock()  # prepared lines are written outside loguru's lock
        self.handlers: object = None
        """Loguru's handler table right after this sink was added (changes on add/remove)."""

    def __call__(self, message: Message) -> None:
        record = message.record
        try:
            line = self._formatter(record, self._redactor)
        except Exception as error:  # a log call must never break the worker
            line = _unformatted(error)
        self._write_line(line)

    @property
    def secrets(self) -> frozenset[str]:
        """The redactor's secrets (a new set whenever one is added)."""
        return self._redactor.secrets

    def prepare(self, level: Level, message: str, fields: Mapping[str, object]) -> Writer:
        """A function writing this line as ``__call__`` would write its record."""
        if level.no < self._levelno:
            return _write_nothing
        try:
            if self._log_format is LogFormat.HUMAN:
                line = _human_line(level.name, message, fields, self._redactor)
                return lambda: self._write_line(line)
            marker = "\x00time\x00"  # cannot be (part of) a secret, survives redaction
            encoded = self._redactor.redact(
                json.dumps(_json_payload(marker, level.name, message, fields), ensure_ascii=False)
            )
        except Exception as error:  # as in __call__
            unformatted = _unformatted(error)
            return lambda: self._write_line(unformatted)
        head, tail = encoded.split(json.dumps(marker), 1)
        return lambda: self._write_line(f'{head}"{_iso_time(datetime.now(UTC))}"{tail}')

    def log(self, level: Level, message: str, fields: Mapping[str, object]) -> None:
        """Render and write one line as ``__call__`` would write its record."""
        if level.no < self._levelno:
            return
        try:
            if self._log_format is LogFormat.HUMAN:
                line = _human_line(level.name, message, fields, self._redactor)
            else:
                now = _iso_time(datetime.now(UTC))
                line = _json_line(now, level.name, message, fields, self._redactor)
        except Exception as error:  # as in __call__
            line = _unformatted(error)
        self._write_line(line)

    def _write_line(self, line: str) -> None:
        try:
            with self._lock:
                self._stream.write(line + "\n")
                self._stream.flush()
        except (OSError, ValueError):  # closed or broken stream: nowhere left to report it
            pass


_INSTALLED: list[_LineSink | None] = [None]
"""The sink of the last :func:`configure_logging` call (loguru's handlers are global too)."""


def _unformatted(error: Exception) -> str:
    """The line written instead of one that could not be rendered."""
    return f"ERROR: Log record could not be formatted | error={type(error).__name__}"


def _write_nothing() -> None:
    return None


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


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """``sys.excepthook``: log the exception (redacted) instead of printing it."""
    logger.opt(exception=(kind, error, trace)).critical("Uncaught exception")


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook``: log the exception (redacted) instead of printing it; a
    thread's ``SystemExit`` stays silent, as with the default hook."""
    if args.exc_type is SystemExit:
        return
    thread = args.thread.name if args.thread is not None else None
    logger.opt(exception=(args.exc_type, args.exc_value, args.exc_traceback)).bind(
        thread=thread
    ).error("Uncaught exception in a thread")


def _no_format(_record: Record) -> str:
    return ""  # the sink formats from the record; loguru's own rendering is skipped


class LogVariableError(ClaimXWorkerError, ValueError):
    """An unknown level or format for the log set-up: ``variable`` is the environment variable
    that sets it (``LOG_LEVEL``, ``LOG_FORMAT``), ``reason`` what is wrong."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


def _parse_level(value: str) -> str:
    try:
        return LogLevel(value).value
    except ValueError:
        raise LogVariableError(
            LOG_LEVEL_ENV,
            f"unknown level {value!r}; expected one of "
            "TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR, CRITICAL",
        ) from None


def _parse_format(value: str) -> LogFormat:
    try:
        return LogFormat(value)
    except ValueError:
        raise LogVariableError(
            LOG_FORMAT_ENV, f"unknown format {value!r}; expected 'human' or 'json'"
        ) from None


def _human_line(level: str, message: str, extra: Mapping[str, object], redactor: Redactor) -> str:
    line = f"{level}: {message}"
    if extra:
        fields = " ".join([f"{key}={scrub_field(key, value)}" for key, value in extra.items()])
        line = f"{line} | {fields}"
    return _one_line(redactor.redact(line))


def _json_payload(
    time: str, level: str, message: str, extra: Mapping[str, object]
) -> dict[str, object]:
    payload: dict[str, object] = {"time": time, "level": level, "message": message}
    for key, value in extra.items():
        payload[f"extra_{key}" if key in _JSON_RESERVED else key] = scrub_field(key, value)
    return payload


def _json_line(
    time: str,
    level: str,
    message: str,
    extra: Mapping[str, object],
    redactor: Redactor,
    exception: str = "",
) -> str:
    """Redacted after encoding (the redactor knows the JSON-escaped form of every secret)."""
    payload = _json_payload(time, level, message, extra)
    if exception:
        payload["exception"] = exception
    return redactor.redact(json.dumps(payload, ensure_ascii=False))


def _iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _one_line(text: str) -> str:
    if "\n" in text or "\r" in text:
        return text.replace("\r", "\\r").replace("\n", "\\n")
    return text


def _exception_text(exception: RecordException | None) -> str:
    if exception is None or exception.type is None:
        return ""
    lines = traceback.format_exception(exception.type, exception.value, exception.traceback)
    return "".join(lines).rstrip("\n")
