"""The action executor against real webhook receivers on loopback (no Kafka: nothing here may
reach the action DLQ), plus the immediate Log and Metric actions. Every test runs with httpx's
own transport and with httpx over aiohttp (the two HTTP clients the worker may use)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.actions import (
    ActionExecutor,
    ActionSettings,
    OutcomeStatus,
    idempotency_key,
)
from claimx_worker.http.exchange import Exchange, HttpxExchange, webhook_exchange
from claimx_worker.model import Filter, Log, Metric, Webhook
from claimx_worker.testing.webhooks import WebhookReceiver, valid_signature
from tests.integration.actions_support import LogCapture

INSTANCE = "task_trigger"
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05}


async def no_dead_letters(topic: str, value: bytes, key: bytes | None, headers: Any) -> None:
    pytest.fail(f"unexpected produce to {topic}: {value[:200]!r}")


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


@pytest.fixture
async def other_receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


@pytest.fixture(params=["native", "aiohttp"])
async def make_executor(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[..., ActionExecutor]]:
    """Executors sharing one client: httpx's own, or aiohttp driven directly (the worker's)."""
    client: Exchange = (
        webhook_exchange(allowed_destinations=())
        if request.param == "aiohttp"
        else HttpxExchange(httpx.AsyncClient())
    )
    made: list[ActionExecutor] = []
    registry = CollectorRegistry()

    def make(**settings: Any) -> ActionExecutor:
        executor = ActionExecutor(
            ActionSettings(**settings),
            client=client,
            produce=no_dead_letters,
            registry=registry,
        )
        made.append(executor)
        return executor

    make.registry = registry  # type: ignore[attr-defined]
    yield make
    for executor in made:
        await executor.aclose()
    await client.aclose()


def _sample(make: Callable[..., ActionExecutor], name: str, **labels: str) -> float:
    value = make.registry.get_sample_value(name, labels)  # type: ignore[attr-defined]
    return 0.0 if value is None else float(value)


async def test_503_for_a_while_then_every_call_arrives_with_stable_keys(
    receiver: WebhookReceiver, make_executor: Callable[..., ActionExecutor]
) -> None:
    receiver.behave("/flaky", fail_first=12, fail_status=503)
    executor = make_executor(max_attempts=50, breaker_threshold=3, breaker_reset=0.1, **FAST)
    url = receiver.url("/flaky")
    futures = [
        executor.submit(f"evt-{n}", "12345", INSTANCE, 0, Webhook(url=url, body={"n": n}))
        for n in range(10)
    ]
    outcomes = await asyncio.gather(*futures)

    assert {o.status for o in outcomes} == {OutcomeStatus.DELIVERED}
    delivered = receiver.at("/flaky", ok=True)
    assert sorted(json.loads(r.body)["n"] for r in delivered) == list(range(10))
    assert len(receiver.at("/flaky", ok=False)) == 12
    for request in receiver.at("/flaky"):
        n = json.loads(request.body)["n"]
        key = idempotency_key(f"evt-{n}", INSTANCE, 0)
        assert request.headers["idempotency-key"] == key
        assert request.headers["webhook-id"] == key
        assert request.headers["content-type"] == "application/json"
    assert sum(o.attempts for o in outcomes) == 22
    assert _sample(make_executor, "claimx_actions_total", type="webhook", outcome="delivered") == 10
    assert _sample(make_executor, "claimx_actions_total", type="webhook", outcome="retried") == 12
    assert _sample(make_executor, "claimx_action_attempts_total", type="webhook") == 22
    assert _sample(make_executor, "claimx_actions_in_flight") == 0


async def test_a_slow_endpoint_does_not_hold_up_other_actions(
    receiver: WebhookReceiver,
    other_receiver: WebhookReceiver,
    make_executor: Callable[..., ActionExecutor],
) -> None:
    receiver.behave("/slow", delay=2.0)
    executor = make_executor()
    slow = executor.submit("evt-slow", "1", INSTANCE, 0, Webhook(url=receiver.url("/slow")))
    await receiver.wait_for(lambda: receiver.in_flight["/slow"] == 1)
    fast = [
        executor.submit(f"evt-{n}", "2", INSTANCE, 0, Webhook(url=other_receiver.url("/fast")))
        for n in range(20)
    ] + [
        executor.submit(f"evt-same-{n}", "2", INSTANCE, 0, Webhook(url=receiver.url("/fast")))
        for n in range(20)
    ]
    outcomes = await asyncio.gather(*fast)

    assert {o.status for o in outcomes} == {OutcomeStatus.DELIVERED}
    assert not slow.done()  # every fast action finished while the slow call was in flight
    assert receiver.in_flight["/slow"] == 1
    assert (await slow).status is OutcomeStatus.DELIVERED


async def test_per_endpoint_in_flight_cap_leaves_other_endpoints_free(
    receiver: WebhookReceiver,
    other_receiver: WebhookReceiver,
    make_executor: Callable[..., ActionExecutor],
) -> None:
    receiver.behave("/capped", delay=0.5)
    other_receiver.behave("/free", delay=0.1)
    executor = make_executor(endpoint_max_in_flight=3)
    capped = [
        executor.submit(f"evt-{n}", "1", INSTANCE, 0, Webhook(url=receiver.url("/capped")))
        for n in range(10)
    ]
    free = [
        executor.submit(f"evt-o{n}", "1", INSTANCE, 0, Webhook(url=other_receiver.url("/free")))
        for n in range(10)
    ]
    await asyncio.gather(*free)
    assert not any(f.done() for f in capped[6:])  # the busy endpoint did not delay the other
    assert other_receiver.peak["/free"] == 3  # which has its own three slots
    outcomes = await asyncio.gather(*capped)
    assert {o.status for o in outcomes} == {OutcomeStatus.DELIVERED}
    assert receiver.peak["/capped"] == 3


async def test_an_open_circuit_waits_for_the_probe_instead_of_hammering(
    receiver: WebhookReceiver,
    other_receiver: WebhookReceiver,
    make_executor: Callable[..., ActionExecutor],
) -> None:
    outage = 1.5
    receiver.behave("/down", fail_until=time.monotonic() + outage, fail_status=503)
    executor = make_executor(max_attempts=100, breaker_threshold=2, breaker_reset=0.3, **FAST)
    endpoint = receiver.url("")
    down = [
        executor.submit(f"evt-{n}", "1", INSTANCE, 0, Webhook(url=receiver.url("/down")))
        for n in range(10)
    ]
    await receiver.wait_for(lambda: len(receiver.at("/down", ok=False)) >= 2)
    await asyncio.sleep(0.05)
    assert _sample(make_executor, "claimx_webhook_circuit_open", endpoint=endpoint) == 1
    healthy = await executor.submit(
        "evt-other", "1", INSTANCE, 0, Webhook(url=other_receiver.url("/ok"))
    )
    assert healthy.status is OutcomeStatus.DELIVERED

    outcomes = await asyncio.gather(*down)
    assert {o.status for o in outcomes} == {OutcomeStatus.DELIVERED}
    failures = len(receiver.at("/down", ok=False))
    # Without the breaker each action would retry every ~50 ms through the outage (hundreds
    # of calls); with it: the calls before it opened plus about one probe per reset period.
    assert failures <= 10 + outage / 0.3 + 2
    assert max(o.attempts for o in outcomes) <= 1 + outage / 0.3 + 2
    assert _sample(make_executor, "claimx_webhook_circuit_open", endpoint=endpoint) == 0


async def test_retry_after_is_honoured(
    receiver: WebhookReceiver, make_executor: Callable[..., ActionExecutor]
) -> None:
    receiver.behave("/limited", fail_first=1, fail_status=429, retry_after="1")
    executor = make_executor(**FAST)
    outcome = await executor.submit(
        "evt-1", "1", INSTANCE, 0, Webhook(url=receiver.url("/limited"))
    )
    assert outcome.status is OutcomeStatus.DELIVERED
    first, second = receiver.at("/limited")
    assert first.status == 429
    assert second.started - first.ended >= 0.95  # backoff alone would be under 0.05 s


async def test_signed_webhooks_verify_independently(
    receiver: WebhookReceiver, make_executor: Callable[..., ActionExecutor]
) -> None:
    key = os.urandom(24)
    receiver.behave("/signed", signing_key=key)
    receiver.behave("/default-signed", signing_key=b"default-signing-secret")
    executor = make_executor(signing_secret="default-signing-secret")
    secret = "whsec_" + base64.b64encode(key).decode()
    own = executor.submit(
        "evt-1",
        "1",
        INSTANCE,
        0,
        Webhook(url=receiver.url("/signed"), body={"a": "ü"}, signing_secret=secret),
    )
    default = executor.submit(
        "evt-2", "1", INSTANCE, 0, Webhook(url=receiver.url("/default-signed"), body=[1])
    )
    assert (await own).status is OutcomeStatus.DELIVERED
    assert (await default).status is OutcomeStatus.DELIVERED
    (request,) = receiver.at("/signed")
    assert request.status == 200
    assert request.headers["webhook-id"] == idempotency_key("evt-1", INSTANCE, 0)
    assert valid_signature(key, request.headers, request.body)
    assert not valid_signature(key, request.headers, request.body + b" ")
    assert not valid_signature(os.urandom(24), request.headers, request.body)


async def test_log_metric_and_filter_run_immediately(
    make_executor: Callable[..., ActionExecutor],
) -> None:
    executor = make_executor()
    with LogCapture() as logs:
        logged = executor.submit(
            "evt-1",
            "1",
            INSTANCE,
            0,
            Log(message="Photo task done {x}", level="warning", fields={"task_id": 456}),
        )
    metric = Metric(name="photo tasks", labels={"status": "done"})
    counted = [executor.submit("evt-1", "1", INSTANCE, i, metric) for i in (1, 2)]
    with LogCapture() as warnings:
        bad = executor.submit(
            "evt-1", "1", INSTANCE, 3, Metric(name="photo tasks", labels={"other": "x"})
        )
    skipped = executor.submit("evt-1", "1", INSTANCE, 4, Filter(reason="not ours"))

    for future in (logged, *counted, bad, skipped):
        assert future.done()
    assert logged.result().status is OutcomeStatus.DELIVERED
    (record,) = logs.records()
    assert (record["level"]["name"], record["message"]) == ("WARNING", "Photo task done {x}")
    assert record["extra"] == {"task_id": 456, "instance": INSTANCE, "event_id": "evt-1"}
    assert (
        _sample(make_executor, "claimx_plugin_photo_tasks_total", status="done", instance=INSTANCE)
        == 2
    )
    assert bad.result().status is OutcomeStatus.FAILED
    assert "label names" in (bad.result().error or "")
    assert any("label names" in line for line in warnings.lines)
    assert _sample(make_executor, "claimx_actions_total", type="metric", outcome="failed") == 1
    assert skipped.result().status is OutcomeStatus.SKIPPED


async def test_a_log_action_is_written_to_the_sink_with_its_fields_and_secrets_masked(
    make_executor: Callable[..., ActionExecutor],
) -> None:
    import io

    from loguru import logger

    from claimx_worker.observability.logs import configure_logging
    from claimx_worker.observability.redaction import MASK, Redactor

    out = io.StringIO()
    configure_logging(
        redactor=Redactor(["s3cret-token"]), level="INFO", sink=out, capture_stdlib=False
    )
    try:
        executor = make_executor()
        for index, level in enumerate(("success", "debug")):
            action = Log(message="Photo task done", level=level, fields={"note": "s3cret-token"})
            logged = executor.submit("evt-1", "1", INSTANCE, index, action)
            assert logged.result().status is OutcomeStatus.DELIVERED
    finally:
        logger.remove()
    assert out.getvalue() == (
        f"SUCCESS: Photo task done | note={MASK} instance={INSTANCE} event_id=evt-1\n"
    )


async def test_drain_waits_and_close_cancels_what_is_left(
    receiver: WebhookReceiver, make_executor: Callable[..., ActionExecutor]
) -> None:
    receiver.behave("/slow", delay=2.0)
    executor = make_executor()
    quick = executor.submit("evt-1", "1", INSTANCE, 0, Webhook(url=receiver.url("/quick")))
    slow = executor.submit("evt-2", "1", INSTANCE, 0, Webhook(url=receiver.url("/slow")))
    assert executor.in_flight == 2
    assert await executor.drain(0.5) == 1
    assert quick.result().status is OutcomeStatus.DELIVERED
    await executor.aclose()
    assert slow.cancelled()  # its event stays uncommitted and is redelivered
    assert executor.in_flight == 0
    assert _sample(make_executor, "claimx_actions_in_flight") == 0


async def test_each_action_is_announced_in_the_operators_words(
    receiver: WebhookReceiver, make_executor: Callable[..., ActionExecutor]
) -> None:
    """The lines the original guide promises: one per webhook and per publish when submitted;
    a webhook's URL shown without its query (where keys travel) or user info."""
    import io

    from claimx_worker.observability.logs import configure_logging
    from claimx_worker.observability.redaction import Redactor

    out = io.StringIO()
    configure_logging(redactor=Redactor(), level="INFO", sink=out, capture_stdlib=False)
    try:
        executor = make_executor(**FAST)
        url = receiver.url("/hooks/task-trigger") + "?code=key-in-the-query"
        await executor.submit("evt-1", "12345", INSTANCE, 0, Webhook(url=url, method="PUT"))
        await executor.submit("evt-2", "12345", INSTANCE, 0, Webhook(url=url, method="PUT"))
    finally:
        from loguru import logger

        logger.remove()
    lines = [line for line in out.getvalue().splitlines() if "Plugin action" in line]
    shown = receiver.url("/hooks/task-trigger")
    assert lines == [f"INFO: Plugin action: HTTP webhook | url={shown} method=PUT"] * 2
    assert "key-in-the-query" not in out.getvalue()
