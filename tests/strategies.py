"""Hypothesis strategies shared by the property-based tests of the parsers of untrusted input."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

JSON_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
"""Any JSON document (as Python data), small."""
