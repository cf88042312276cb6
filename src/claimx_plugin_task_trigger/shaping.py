"""Payload templates and URL templates: what a target receives, declared in the config.

A payload template maps output keys to values, each one of:

- a string: a text with the same ``{placeholders}`` as log messages (``"Task {task_name}"``);
- ``{path: <dotted path>}``: a value of the default payload (``task_id``, ``timestamp``, ...)
  or of the rows (``task.<column>``, ``project.<column>``; ``task`` / ``project`` for the whole
  row); a missing project gives ``null``;
- ``{value: <anything>}``, a number, a boolean, ``null`` or a list: that constant, as written;
- any other mapping: a nested object built by the same rules.

Nothing is executed: paths are looked up, strings formatted. Unknown paths and placeholders are
refused at load. A URL template fills placeholders in the path and query only (the values
percent-encoded); its scheme and host are the ones written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from claimx_plugin_task_trigger.payload import Columns, project_payload, task_payload
from claimx_plugin_task_trigger.placeholders import (
    PLACEHOLDERS,
    check_url_placeholders,
    printf_template,
    template_fields,
)
from claimx_worker import ConfigValueError, ProjectRow, TaskRow

Payload = dict[str, Any]
Producer = Callable[[Payload, Columns, Columns | None], Any]
"""Makes one output value from the default payload and the task and project rows' columns."""

PAYLOAD_PATHS = (*PLACEHOLDERS, "timestamp")
"""The default payload's keys a path may name (besides ``task...`` and ``project...``)."""
_ROW_COLUMNS = {
    "task": frozenset(attrs.fields_dict(TaskRow)),
    "project": frozenset(attrs.fields_dict(ProjectRow)),
}


def compile_payload(template: Mapping[str, Any]) -> Producer:
    """The producer of ``template``; raises :class:`ConfigValueError` naming the output key."""
    return _object(template, "payload")


def template_problem(template: Mapping[str, Any]) -> str | None:
    """Why ``template`` cannot be compiled, or ``None``."""
    try:
        compile_payload(template)
    except ConfigValueError as error:
        return str(error)
    return None


def _object(template: Mapping[str, Any], where: str) -> Producer:
    producers = [(str(key), _value(value, f"{where}.{key}")) for key, value in template.items()]

    def produce(payload: Payload, task: Columns, project: Columns | None) -> Any:
        return {key: producer(payload, task, project) for key, producer in producers}

    return produce


def _value(spec: Any, where: str) -> Producer:
    if isinstance(spec, str):
        try:
            fields = template_fields(spec)
        except ConfigValueError as error:
            raise ConfigValueError(f"{where}: {error}") from None
        if not fields:
            return _constant(spec)
        text = printf_template(spec)
        return lambda payload, _task, _project: text % payload
    if isinstance(spec, Mapping):
        if set(spec) == {"path"}:
            return _path(spec["path"], where)
        if set(spec) == {"value"}:
            return _constant(spec["value"])
        return _object(spec, where)
    return _constant(spec)


def _constant(value: Any) -> Producer:
    return lambda _payload, _task, _project: value


def _path(path: Any, where: str) -> Producer:
    if not isinstance(path, str):
        raise ConfigValueError(f"{where}: path must be a dotted name, e.g. project.city")
    if path in PAYLOAD_PATHS:
        return lambda payload, _task, _project: payload[path]
    root, _, column = path.partition(".")
    if root in _ROW_COLUMNS and (not column or column in _ROW_COLUMNS[root]):
        return _row_path(root, column)
    known = ", ".join(PAYLOAD_PATHS)
    raise ConfigValueError(
        f"{where}: unknown path {path!r}; use one of {known}, task, task.<column>, project or "
        "project.<column>"
    )


def _row_path(root: str, column: str) -> Producer:
    if column:
        if root == "task":
            return lambda _payload, task, _project: task.get(column)
        return lambda _payload, _task, project: None if project is None else project.get(column)
    if root == "task":
        return lambda _payload, task, _project: task_payload(task)
    return lambda _payload, _task, project: project_payload(project)


class _Encoded(Mapping[str, str]):
    """A payload's values, percent-encoded for a URL's path or query."""

    __slots__ = ("_payload",)

    def __init__(self, payload: Payload) -> None:
        self._payload = payload

    def __getitem__(self, key: str) -> str:
        value = quote(str(self._payload[key]), safe="")
        # "." and ".." are dot-segments: URL normalisation would drop them or climb a level
        return value.replace(".", "%2E") if value in (".", "..") else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._payload)

    def __len__(self) -> int:
        return len(self._payload)


class UrlTemplate:
    """A URL (or a connection's path) with placeholders in its path and query; one without
    placeholders is sent exactly as written."""

    __slots__ = ("_fixed", "_literal", "_rest")

    def __init__(self, url: str) -> None:
        check_url_placeholders(url)
        parts = urlsplit(url)
        self._fixed = f"{parts.scheme}://{parts.netloc}" if parts.scheme else ""
        rest = url[len(self._fixed) :]
        self._rest = printf_template(rest)
        self._literal = None if template_fields(rest) else url

    def build(self, payload: Payload) -> str:
        """The URL for ``payload``."""
        if self._literal is not None:
            return self._literal
        return self._fixed + self._rest % _Encoded(payload)
