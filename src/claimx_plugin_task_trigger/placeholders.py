"""``{name}`` placeholders: the names a log message, publish key, URL or payload string may use."""

from __future__ import annotations

import string
from urllib.parse import urlsplit

from claimx_worker import ConfigValueError

PLACEHOLDERS = (
    "trigger_name",
    "task_id",
    "event_id",
    "project_id",
    "event_type",
    "task_name",
    "assignment_id",
    "task_status",
)
"""Names a log message or a publish key may use as ``{name}`` (all are payload keys)."""

_FORMATTER = string.Formatter()


def template_fields(template: str) -> tuple[str, ...]:
    """The placeholder names in ``template``; raises ConfigValueError for anything not allowed.

    Only plain ``{name}`` placeholders from :data:`PLACEHOLDERS` are allowed (no positional
    ``{}``, attribute access, conversions or format specs); ``{{`` and ``}}`` are literal braces.
    """
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as error:
        raise ConfigValueError(f"invalid placeholder syntax in {template!r}: {error}") from None
    names: list[str] = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise ConfigValueError(
                f"unknown placeholder {{{name}}}; available: "
                + ", ".join(f"{{{known}}}" for known in PLACEHOLDERS)
            )
        if spec or conversion:
            raise ConfigValueError(
                f"placeholder {{{name}}} takes no format spec or conversion; write {{{name}}}"
            )
        names.append(name)
    return tuple(names)


def printf_template(template: str) -> str:
    """``template`` (checked by :func:`template_fields`) as a printf-style string with named
    fields: ``printf_template(t) % values == t.format_map(values)``, in about two thirds of the
    time (``str.format`` parses its template on every call)."""
    parts: list[str] = []
    for literal, name, _spec, _conversion in _FORMATTER.parse(template):
        parts.append(literal.replace("%", "%%"))
        if name is not None:
            parts.append(f"%({name})s")
    return "".join(parts)


def check_url_placeholders(url: str) -> None:
    """Refuse placeholders in a URL's scheme or host, and unknown ones anywhere."""
    parts = urlsplit(url)
    if "{" in parts.scheme or "{" in parts.netloc:
        raise ConfigValueError(
            "placeholders go in the path and query only: the scheme and host stay as written"
        )
    template_fields(url[len(f"{parts.scheme}://{parts.netloc}") if parts.scheme else 0 :])
