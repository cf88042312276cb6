"""``--processor module:function`` loading."""

from __future__ import annotations

import pytest
from tests.integration.runtime_support import make_processor

from claimx_worker.kafka.run import load_processor_factory


def test_a_factory_is_imported_by_module_and_name() -> None:
    assert load_processor_factory("tests.integration.runtime_support:make_processor") is (
        make_processor
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "expected module:function"),
        (":make", "expected module:function"),
        ("no.such.module:make", "cannot import 'no.such.module'"),
        ("tests.integration.runtime_support:nothing_here", "has no callable 'nothing_here'"),
        ("tests.integration.runtime_support:DELAY_ENV", "has no callable 'DELAY_ENV'"),
    ],
)
def test_bad_specs_are_named(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_processor_factory(spec)
