"""The one reader of loguru internals, pinned to the loguru releases pyproject.toml admits."""

from __future__ import annotations

import io
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import pytest
from loguru import logger
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from claimx_worker import PreparedLogLine, log_enabled
from claimx_worker.observability import loguru_adapter
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


@pytest.fixture(autouse=True)
def _restore_loguru() -> Iterator[None]:
    yield
    logger.remove()
    logger.add(sys.stderr)


def test_pyproject_requires_the_loguru_releases_the_adapter_supports() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    (loguru,) = [r for r in map(Requirement, dependencies) if r.name == "loguru"]
    assert loguru.specifier == SpecifierSet(loguru_adapter.SUPPORTED_LOGURU)
    assert version("loguru") in loguru.specifier


def test_the_handler_table_changes_exactly_when_a_handler_is_added_or_removed() -> None:
    before = loguru_adapter.handler_table()
    assert before is not None
    logger.info("a record changes nothing")
    logger.bind(x=1).warning("nor does a bound one")
    assert loguru_adapter.handler_table() is before
    handler = logger.add(io.StringIO())
    added = loguru_adapter.handler_table()
    assert added is not before
    logger.remove(handler)
    removed = loguru_adapter.handler_table()
    assert removed is not added
    assert removed is not before


def test_without_the_internal_a_prepared_line_goes_through_loguru(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = io.StringIO()
    configure_logging(redactor=Redactor(), level="INFO", fmt="human", sink=sink)
    monkeypatch.setattr(loguru_adapter, "logger", SimpleNamespace())  # a loguru without _core
    assert loguru_adapter.handler_table() is None
    logger.configure(patcher=lambda record: record["extra"].update(via="loguru"))
    try:
        PreparedLogLine("info", "Prepared").emit()
    finally:
        logger.configure(patcher=lambda record: None)
    assert sink.getvalue() == "INFO: Prepared | via=loguru\n"


def test_log_enabled_follows_the_handlers_levels() -> None:
    configure_logging(redactor=Redactor(), level="INFO", fmt="human", sink=io.StringIO())
    assert not log_enabled("debug")
    assert not log_enabled("TRACE")
    assert log_enabled("info")
    assert log_enabled("error")
    configure_logging(redactor=Redactor(), level="DEBUG", fmt="human", sink=io.StringIO())
    assert log_enabled("debug")  # a reload that lowers the level is seen at once
    handler = logger.add(io.StringIO(), level="TRACE")  # any handler that takes the level
    assert log_enabled("trace")
    logger.remove(handler)
    assert not log_enabled("trace")
    logger.remove()
    assert not log_enabled("critical")  # no handler: nothing is written


def test_log_enabled_says_yes_when_it_cannot_tell(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_logging(redactor=Redactor(), level="ERROR", fmt="human", sink=io.StringIO())
    monkeypatch.setattr(loguru_adapter, "CORE", None)  # a loguru without its core
    assert log_enabled("debug")


def test_log_enabled_refuses_an_unknown_level() -> None:
    with pytest.raises(ValueError, match="VERBOSE"):
        log_enabled("verbose")
