"""API failures against the ClaimX API simulator: classification, quick retries honouring
Retry-After, timeouts, the circuit breaker, and the token kept out of errors and logs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.claimx import ApiSettings, Enricher
from claimx_worker.errors import AuthError, PermanentError, ProcessingError, TransientError
from claimx_worker.http.breaker import CircuitOpenError, CircuitState
from claimx_worker.model import ClaimXEvent
from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN, ClaimXApiSimulator, Endpoint

EnricherFactory = Callable[..., Enricher]


def task_event(assignment_id: int = 42003, project_id: str = "42") -> ClaimXEvent:
    return ClaimXEvent(
        event_id=f"evt-{assignment_id}",
        event_type="CUSTOM_TASK_ASSIGNED",
        project_id=project_id,
        task_assignment_id=str(assignment_id),
    )


def project_event(project_id: str = "42") -> ClaimXEvent:
    return ClaimXEvent(event_id="evt-p", event_type="PROJECT_CREATED", project_id=project_id)


@pytest.fixture
async def make_enricher(claimx_api: ClaimXApiSimulator) -> AsyncIterator[EnricherFactory]:
    made: list[Enricher] = []

    def make(**settings: Any) -> Enricher:
        values = {
            "base_url": claimx_api.base_url,
            "token": SIMULATOR_TOKEN,
            "retries": 0,
            "retry_backoff_seconds": 0.01,
            **settings,
        }
        made.append(Enricher.from_settings(ApiSettings(**values), registry=CollectorRegistry()))
        return made[-1]

    yield make
    for enricher in made:
        await enricher.aclose()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m) + repr(m.record["extra"])), level="DEBUG")
    yield lines
    logger.remove(sink)


async def test_missing_project_is_permanent(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator
) -> None:
    claimx_api.knobs.missing_project_ids = {"77"}
    enricher = make_enricher(retries=3)
    with pytest.raises(PermanentError, match="HTTP 404"):
        await enricher.enrich(project_event("77"))
    assert claimx_api.total_calls == 1


async def test_one_failing_call_of_two_fails_the_event(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator
) -> None:
    claimx_api.fail_next(404, endpoint=Endpoint.TASK_ASSIGNMENT)
    with pytest.raises(PermanentError, match="/customTasks/assignment/42003: HTTP 404"):
        await make_enricher().enrich(task_event())


async def test_rejected_token_is_an_auth_error_without_the_token(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator, log_lines: list[str]
) -> None:
    wrong = "d3Jvbmc6dG9rZW4tdmFsdWU="
    enricher = make_enricher(token=wrong, retries=3)
    with pytest.raises(AuthError) as caught:
        await enricher.enrich(project_event("4401"))
    assert not caught.value.retryable
    # not retried (counted on this test's own path: the simulator outlives each test, and a
    # request another test left in flight may reach it after this test's reset)
    assert claimx_api.calls["/export/project/4401"] == 1
    for text in [str(caught.value), repr(caught.value), repr(enricher.client), *log_lines]:
        assert wrong not in text
        assert SIMULATOR_TOKEN not in text


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_transient_status_then_success(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator, status: int
) -> None:
    claimx_api.knobs.retry_after_seconds = 0.2
    claimx_api.fail_next(status, endpoint=Endpoint.TASK_ASSIGNMENT)
    enricher = make_enricher(retries=2)
    started = time.perf_counter()
    result = await enricher.enrich(task_event())
    elapsed = time.perf_counter() - started
    assert result.rows.first_task is not None
    assert claimx_api.endpoint_calls[Endpoint.TASK_ASSIGNMENT] == 2
    assert result.metadata.api_calls == 3  # project + two assignment attempts
    if status in (429, 503):  # the simulator sends Retry-After with these
        assert elapsed >= 0.2


async def test_transient_status_without_retries_left_carries_retry_after(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator
) -> None:
    claimx_api.knobs.retry_after_seconds = 7
    claimx_api.fail_next(429, endpoint=Endpoint.PROJECT)
    with pytest.raises(TransientError, match="HTTP 429") as caught:
        await make_enricher().enrich(project_event())
    assert caught.value.retry_after == 7


async def test_timeout_is_transient_and_retried(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator
) -> None:
    claimx_api.fail_next("timeout", endpoint=Endpoint.PROJECT)
    with pytest.raises(TransientError, match=r"no answer within 0\.3 s"):
        await make_enricher(timeout_seconds=0.3).enrich(project_event())
    claimx_api.fail_next("timeout", endpoint=Endpoint.PROJECT)
    result = await make_enricher(timeout_seconds=0.3, retries=1).enrich(project_event())
    assert result.rows.project is not None


async def test_circuit_opens_fails_fast_and_recovers(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator
) -> None:
    enricher = make_enricher(circuit_failure_threshold=3, circuit_reset_seconds=0.3)
    claimx_api.knobs.error_rates = {503: 1.0}
    for _ in range(3):
        with pytest.raises(TransientError, match="HTTP 503"):
            await enricher.enrich(project_event())
    assert enricher.client.circuit_state is CircuitState.OPEN
    calls = claimx_api.total_calls
    for _ in range(5):
        with pytest.raises(CircuitOpenError) as caught:
            await enricher.enrich(project_event())
        assert caught.value.retryable
        assert 0 < (caught.value.retry_after or 0) <= 0.3
    assert claimx_api.total_calls == calls  # nothing reached the API

    claimx_api.knobs.error_rates = {}
    await asyncio.sleep(0.35)
    result = await enricher.enrich(project_event())
    assert result.rows.project is not None
    assert enricher.client.circuit_state is CircuitState.CLOSED


async def test_failed_trial_reopens_the_circuit(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator
) -> None:
    enricher = make_enricher(circuit_failure_threshold=1, circuit_reset_seconds=0.2)
    claimx_api.knobs.error_rates = {502: 1.0}
    with pytest.raises(TransientError):
        await enricher.enrich(project_event())
    await asyncio.sleep(0.25)
    with pytest.raises(TransientError, match="HTTP 502"):  # the trial went out and failed
        await enricher.enrich(project_event())
    with pytest.raises(CircuitOpenError):
        await enricher.enrich(project_event())
    assert claimx_api.total_calls == 2


async def test_errors_and_logs_never_hold_the_token(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator, log_lines: list[str]
) -> None:
    enricher = make_enricher(retries=1, circuit_failure_threshold=3, timeout_seconds=0.3)
    claimx_api.knobs.retry_after_seconds = 0.05
    claimx_api.fail_next(503, "timeout", 500, endpoint=Endpoint.PROJECT)
    errors: list[ProcessingError] = []
    for _ in range(3):
        try:
            await enricher.enrich(project_event())
        except ProcessingError as exc:
            errors.append(exc)
    # the third failure opens the circuit, so the second event's quick retry fails fast
    assert [type(e) for e in errors] == [TransientError, CircuitOpenError, CircuitOpenError]
    assert any("circuit opened" in line for line in log_lines)
    texts = [*log_lines, repr(enricher.client)]
    texts += [t for e in errors for t in (str(e), repr(e), repr(e.__context__))]
    assert all(SIMULATOR_TOKEN not in text for text in texts)
