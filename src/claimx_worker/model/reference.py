"""The Markdown reference of the entity row types, ``docs/rows.md``, generated from
:mod:`claimx_worker.model.rows`: one section per row list of
:class:`~claimx_worker.model.rows.EntityRows`, one table row per field with its type and default.

Regenerate it with ``python -m claimx_worker.model.reference > docs/rows.md``; a test fails when
the file is not the current output.
"""

from __future__ import annotations

import inspect
import re

import attrs

from claimx_worker.model.rows import ROW_CLASSES

_RST_LITERAL = re.compile(r"``([^`]+)``")

INTRODUCTION = """\
# Entity rows reference

<!-- Generated from claimx_worker.model.rows by
     `python -m claimx_worker.model.reference > docs/rows.md`: do not edit by hand. -->

Enrichment turns each ClaimX event into entity rows: the lists of an `EntityRows`
(`claimx_worker.EntityRows`). A plugin sees them as `context.rows` in `on_enrichment_complete`
(shortcuts: `context.project` for the first project row, `context.first_task` for the first
task row); the worker writes them, one message per event, to the enriched topic
(`claimx.enriched`) and the download tasks to `claimx.downloads.pending`.

Which lists an event fills depends on its type: task events (`CUSTOM_TASK_ASSIGNED`,
`CUSTOM_TASK_COMPLETED`) one task row (its `task_id` is the **task template id**), its template,
external link, the link's contact and the project; `PROJECT_FILE_ADDED` media rows (a download
task per media row with a download link) and the project; `PROJECT_CREATED` the project and its
contacts; the video collaboration events video collaboration rows and the project; an unknown
event type no row at all.

Types are Python's: a field typed `X | None` may be unset. In the JSON messages, field names are
as below, a `datetime` is an ISO-8601 string in UTC (`2024-05-01T12:00:00.000Z`) and `None` is
`null` (a project row leaves out its unset event-driven columns: `policyholder_invited_at`,
`policyholder_joined_at`, `xa_autolink_fail`, `xa_autolink_fail_at`; a project row built without
project data, every column its event did not set). Every row but a download task also carries
the audit columns `event_id` (the source event), `created_at`, `updated_at` and
`last_enriched_at`.

A plugin's typed rows hold what is written: enrichment builds each row as the columns of the
message, and `context.rows.tasks` (say) makes the typed rows from them when first read, so their
datetimes are in UTC, to the millisecond. `EntityRows(tasks=(TaskRow(...),))` builds rows from
typed rows (as tests do), and `rows.replace(tasks=...)` a copy with some lists replaced.
"""


def rows_reference() -> str:
    """The whole of ``docs/rows.md``."""
    sections = [INTRODUCTION]
    for row_list, row_class in ROW_CLASSES.items():
        sections.append(_section(row_list, row_class))
    return "\n".join(sections)


def _section(row_list: str, row_class: type) -> str:
    summary = (row_class.__doc__ or "").strip().split("\n\n")[0]
    lines = [
        f"## `{row_list}`: `{row_class.__name__}`",
        "",
        _RST_LITERAL.sub(r"`\1`", " ".join(summary.split())),
        "",
        "| field | type | default |",
        "|---|---|---|",
    ]
    annotations = inspect.get_annotations(row_class)  # as written (field.type may be resolved)
    for field in attrs.fields(row_class):
        kind = str(annotations[field.name]).replace("|", "\\|")
        default = "required" if field.default is attrs.NOTHING else f"`{field.default!r}`"
        lines.append(f"| `{field.name}` | `{kind}` | {default} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(rows_reference(), end="")
