"""``--processor module:function`` loading and the choice of event loop."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
import uvloop
from tests.integration.runtime_support import make_processor

from claimx_worker.kafka.run import event_loop_factory, load_processor_factory, resolve_event_loop
from claimx_worker.kafka.settings import EventLoopKind


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


def test_auto_event_loop_is_uvloop_when_installed_else_asyncio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_event_loop(EventLoopKind.AUTO) is EventLoopKind.UVLOOP
    assert resolve_event_loop(EventLoopKind.ASYNCIO) is EventLoopKind.ASYNCIO
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert resolve_event_loop(EventLoopKind.AUTO) is EventLoopKind.ASYNCIO


@pytest.mark.parametrize(
    ("kind", "uvloop_expected"),
    [(EventLoopKind.AUTO, True), (EventLoopKind.UVLOOP, True), (EventLoopKind.ASYNCIO, False)],
)
def test_event_loop_factory_makes_the_chosen_loop(
    kind: EventLoopKind, uvloop_expected: bool
) -> None:
    loop = event_loop_factory(kind)()
    try:
        assert isinstance(loop, uvloop.Loop) is uvloop_expected
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()
