"""``docs/rows.md`` documents every field of every row type with its type, and is regenerated.

The first test reads the document as a reader would (one section per row list, one table row per
field) and compares it with the attrs classes of :mod:`claimx_worker.model.rows`, independently
of the generator; the second checks the file is the generator's current output.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import attrs

from claimx_worker.model.reference import rows_reference
from claimx_worker.model.rows import ROW_CLASSES

ROWS_DOC = Path(__file__).resolve().parents[3] / "docs" / "rows.md"
_SECTION = re.compile(r"^## `(\w+)`: `(\w+)`$", re.MULTILINE)
_FIELD = re.compile(r"^\| `(\w+)` \| `((?:[^`\\]|\\.)+)` \|", re.MULTILINE)


def documented() -> dict[tuple[str, str], dict[str, str]]:
    """(row list, class) -> {field: type} as the document's tables say."""
    text = ROWS_DOC.read_text()
    parts = _SECTION.split(text)[1:]
    return {
        (parts[i], parts[i + 1]): {
            name: kind.replace("\\|", "|") for name, kind in _FIELD.findall(parts[i + 2])
        }
        for i in range(0, len(parts), 3)
    }


def declared() -> dict[tuple[str, str], dict[str, str]]:
    """(row list, class) -> {field: type} from the model."""
    found = {}
    for row_list, row_class in ROW_CLASSES.items():
        annotations = inspect.get_annotations(row_class)  # as written in the source
        found[row_list, row_class.__name__] = {
            field.name: annotations[field.name] for field in attrs.fields(row_class)
        }
    return found


def test_every_row_field_is_documented_with_its_type() -> None:
    assert documented() == declared()


def test_the_document_is_the_generators_current_output() -> None:
    assert ROWS_DOC.read_text() == rows_reference(), (
        "docs/rows.md is out of date: python -m claimx_worker.model.reference > docs/rows.md"
    )
