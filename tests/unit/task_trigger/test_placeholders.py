"""Placeholder templates formatted with ``%``: the same text as ``str.format_map``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from claimx_plugin_task_trigger.placeholders import PLACEHOLDERS, printf_template

_LITERAL = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12).map(
    lambda text: text.replace("{", "{{").replace("}", "}}")
)
_PIECES = st.lists(st.one_of(_LITERAL, st.sampled_from(PLACEHOLDERS).map("{{{}}}".format)))
_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=8))


@given(pieces=_PIECES, values=st.fixed_dictionaries({name: _VALUES for name in PLACEHOLDERS}))
def test_printf_template_formats_as_format_map(
    pieces: list[str], values: dict[str, object]
) -> None:
    template = "".join(pieces)
    assert printf_template(template) % values == template.format_map(values)


def test_percent_signs_and_braces_stay_literal() -> None:
    template = "100% of {task_name} {{done}} %(x)s"
    assert printf_template(template) % {"task_name": "Photo"} == "100% of Photo {done} %(x)s"
