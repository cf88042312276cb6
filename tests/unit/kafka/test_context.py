"""When an event counts as done: process() returned, outputs acked, deferred work finished."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message

from claimx_worker.errors import TransientError
from claimx_worker.kafka.context import ProcessContext
from claimx_worker.kafka.producer import DeliveryCallback, DeliveryError
from claimx_worker.kafka.routing import Origin


class FakeProducer:
    """Collects produced messages; the test acknowledges them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, DeliveryCallback | None]] = []

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: Any = None,
        headers: Any = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        self.sent.append((topic, value, on_delivery))

    def ack(self, index: int, error: DeliveryError | None = None) -> None:
        callback = self.sent[index][2]
        assert callback is not None
        callback(error)


class Owner:
    def __init__(self) -> None:
        self.producer = FakeProducer()
        self.done: list[ProcessContext] = []
        self.failed: list[tuple[ProcessContext, BaseException]] = []

    def event_done(self, ctx: ProcessContext) -> None:
        self.done.append(ctx)

    def event_failed(self, ctx: ProcessContext, exc: BaseException) -> None:
        self.failed.append((ctx, exc))


def make_ctx(owner: Owner, **kwargs: Any) -> ProcessContext:
    build: Any = Message  # the installed stubs do not declare its keyword arguments
    message = build(
        topic="in", partition=2, offset=40, key=b"42", value=b"{}", headers=[("h", b"v")]
    )
    return ProcessContext(owner, message, None, ("in", 2, 40), **kwargs)  # type: ignore[arg-type]


def failure() -> DeliveryError:
    return DeliveryError(KafkaError(KafkaError._MSG_TIMED_OUT), "out")


def test_done_only_after_process_returned_and_every_output_acked() -> None:
    owner = Owner()
    ctx = make_ctx(owner)
    ctx.produce("rows", b"1")
    ctx.produce("downloads", b"2")
    owner.producer.ack(0)
    ctx.release()  # process() returned
    assert owner.done == []
    owner.producer.ack(1)
    assert owner.done == [ctx]
    assert ctx.done


def test_an_event_without_outputs_is_done_when_process_returns() -> None:
    owner = Owner()
    ctx = make_ctx(owner)
    ctx.release()
    assert owner.done == [ctx]


async def test_deferred_work_keeps_the_event_open_until_it_finishes() -> None:
    owner = Owner()
    ctx = make_ctx(owner)
    gate = asyncio.Event()

    async def action() -> None:
        await gate.wait()

    ctx.defer(action())
    ctx.release()
    await asyncio.sleep(0)
    assert owner.done == []
    gate.set()
    await asyncio.sleep(0.01)
    assert owner.done == [ctx]


async def test_deferred_failure_fails_the_event_once() -> None:
    owner = Owner()
    ctx = make_ctx(owner)

    async def broken() -> None:
        raise TransientError("webhook 503")

    ctx.defer(broken())
    ctx.produce("rows", b"1")
    ctx.release()
    await asyncio.sleep(0.01)
    owner.producer.ack(0, failure())  # a second failure after the first is ignored
    assert [str(exc) for _, exc in owner.failed] == ["webhook 503"]
    assert owner.done == []


async def test_cancelled_deferred_work_is_a_transient_failure() -> None:
    owner = Owner()
    ctx = make_ctx(owner)
    task = asyncio.ensure_future(asyncio.sleep(10))
    ctx.defer(task)
    task.cancel()
    await asyncio.sleep(0.01)
    assert len(owner.failed) == 1
    assert isinstance(owner.failed[0][1], TransientError)


def test_a_failed_delivery_fails_the_event() -> None:
    owner = Owner()
    ctx = make_ctx(owner)
    ctx.produce("rows", b"1")
    ctx.release()
    error = failure()
    owner.producer.ack(0, error)
    assert owner.failed == [(ctx, error)]
    assert owner.done == []


def test_outputs_after_the_event_finished_are_sent_untracked() -> None:
    owner = Owner()
    ctx = make_ctx(owner)
    ctx.release()
    ctx.produce("late", b"x")
    assert owner.producer.sent == [("late", b"x", None)]


async def test_send_returns_a_future_and_is_tracked() -> None:
    class SendingProducer(FakeProducer):
        def send(self, topic: str, value: bytes | None, key: Any, headers: Any) -> Any:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.sent.append((topic, value, None))
            self.future = future
            return future

    owner = Owner()
    producer = SendingProducer()
    owner.producer = producer
    ctx = make_ctx(owner)
    future = ctx.send("actions", b"a")
    ctx.release()
    await asyncio.sleep(0)
    assert owner.done == []
    producer.future.set_result(None)
    await future
    await asyncio.sleep(0)
    assert owner.done == [ctx]


def test_record_fields_and_origin() -> None:
    owner = Owner()
    ctx = make_ctx(owner)
    assert (ctx.topic, ctx.partition, ctx.offset, ctx.key, ctx.value) == ("in", 2, 40, b"42", b"{}")
    assert ctx.headers == [("h", b"v")]
    assert ctx.attempt == 1
    assert ctx.origin == Origin("in", 2, 40)
    retried = make_ctx(owner, attempt=3, origin=Origin("pending", 0, 7))
    assert retried.origin == Origin("pending", 0, 7)
    assert "attempt=3" in repr(retried)


@pytest.mark.parametrize("kind", ["release", "fail"])
def test_finishing_twice_reports_once(kind: str) -> None:
    owner = Owner()
    ctx = make_ctx(owner)
    if kind == "release":
        ctx.release()
    else:
        ctx.fail(TransientError("x"))
    ctx.fail(TransientError("y"))
    assert len(owner.done) + len(owner.failed) == 1
