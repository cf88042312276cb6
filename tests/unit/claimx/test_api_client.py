"""The API client over a mocked transport (pytest-httpx on httpx's native transport): status
classes, timeouts, quick retries honouring Retry-After, the circuit breaker, request shapes,
metrics, and the token staying out of errors, reprs and logs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from loguru import logger
from prometheus_client import CollectorRegistry
from pytest_httpx import HTTPXMock
from tests.fakes import FakeClock

from claimx_worker.claimx import (
    ApiCallTally,
    ApiSettings,
    ClaimXApiClient,
    ClaimXMetrics,
)
from claimx_worker.errors import AuthError, PermanentError, ProcessingError, TransientError
from claimx_worker.http.breaker import CircuitOpenError, CircuitState
from claimx_worker.http.pacing import RateLimitedError

TOKEN = "dXNlcjpzM2NyZXQtdmFsdWU="
BASE = "http://claimx.test/api"
PROJECT_URL = re.compile(re.escape(BASE) + r"/export/project/1(\?.*)?$")


class Env:
    """A client plus the fakes it runs on."""

    def __init__(self, **settings: Any) -> None:
        self.clock = FakeClock()
        self.sleeps: list[float] = []
        self.registry = CollectorRegistry()
        values = {"base_url": BASE, "token": TOKEN, "retries": 0, **settings}
        self.client = ClaimXApiClient(
            ApiSettings(**values),
            metrics=ClaimXMetrics(self.registry),
            transport=httpx.AsyncHTTPTransport(),
            clock=self.clock,
            sleep=self._sleep,
        )
        self.tally = ApiCallTally()

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.now += seconds

    async def project(self) -> Any:
        return await self.client.get_project("1", self.tally)

    def requests(self, endpoint: str, outcome: str) -> float:
        value = self.registry.get_sample_value(
            "claimx_api_requests_total", {"endpoint": endpoint, "outcome": outcome}
        )
        return value or 0.0


@pytest.fixture
async def make_env() -> AsyncIterator[Callable[..., Env]]:
    envs: list[Env] = []

    def make(**settings: Any) -> Env:
        envs.append(Env(**settings))
        return envs[-1]

    yield make
    for env in envs:
        await env.client.aclose()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m) + repr(m.record["extra"])), level="DEBUG")
    yield lines
    logger.remove(sink)


async def test_success_returns_json_and_sends_auth_and_accept(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env()
    httpx_mock.add_response(url=f"{BASE}/export/project/1", json={"projectId": 1})
    assert await env.project() == {"projectId": 1}
    request = httpx_mock.get_requests()[0]
    assert request.headers["Authorization"] == f"Basic {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert env.tally.count == 1
    assert env.requests("project", "ok") == 1


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (401, AuthError, "auth"),
        (403, PermanentError, "permanent"),
        (404, PermanentError, "permanent"),
        (400, PermanentError, "permanent"),
        (409, PermanentError, "permanent"),
        (302, PermanentError, "permanent"),
        (408, TransientError, "transient"),
        (429, RateLimitedError, "rate_limited"),
        (500, TransientError, "transient"),
        (502, TransientError, "transient"),
        (503, TransientError, "transient"),
        (504, TransientError, "transient"),
    ],
)
async def test_status_classes(
    make_env: Callable[..., Env],
    httpx_mock: HTTPXMock,
    status: int,
    error: type[ProcessingError],
    outcome: str,
) -> None:
    env = make_env()
    httpx_mock.add_response(url=PROJECT_URL, status_code=status)
    with pytest.raises(error) as caught:
        await env.project()
    assert type(caught.value) is error
    assert f"HTTP {status}" in str(caught.value)
    assert "/export/project/1" in str(caught.value)
    assert env.requests("project", outcome) == 1


def test_auth_error_is_not_retryable_and_transient_is() -> None:
    assert not AuthError("x").retryable
    assert not PermanentError("x").retryable
    assert TransientError("x").retryable


@pytest.mark.parametrize(
    "exception",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("pool"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("server hung up"),
    ],
)
async def test_timeouts_and_connection_errors_are_transient(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock, exception: Exception
) -> None:
    env = make_env(timeout_seconds=2.5)
    httpx_mock.add_exception(exception, url=PROJECT_URL)
    with pytest.raises(TransientError) as caught:
        await env.project()
    assert type(caught.value) is TransientError
    if isinstance(exception, httpx.TimeoutException):
        assert "no answer within 2.5 s" in str(caught.value)
    assert env.requests("project", "transient") == 1


async def test_a_2xx_body_that_is_not_json_is_transient(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env()
    httpx_mock.add_response(url=PROJECT_URL, text="<html>maintenance</html>")
    with pytest.raises(TransientError, match="not JSON"):
        await env.project()


async def test_empty_2xx_body_reads_as_none(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env()
    httpx_mock.add_response(url=PROJECT_URL, status_code=204)
    assert await env.project() is None


async def test_retry_then_success_with_exponential_backoff(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env(retries=3, retry_backoff_seconds=0.1)
    httpx_mock.add_response(url=PROJECT_URL, status_code=503)
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=PROJECT_URL)
    httpx_mock.add_response(url=PROJECT_URL, json={"projectId": 1})
    assert await env.project() == {"projectId": 1}
    assert len(env.sleeps) == 2
    assert 0.08 <= env.sleeps[0] <= 0.12
    assert 0.16 <= env.sleeps[1] <= 0.24
    assert env.tally.count == 3
    assert env.requests("project", "transient") == 2
    assert env.requests("project", "ok") == 1


async def test_retry_after_seconds_is_honoured(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env(retries=1)
    httpx_mock.add_response(url=PROJECT_URL, status_code=429, headers={"Retry-After": "1.5"})
    httpx_mock.add_response(url=PROJECT_URL, json={})
    assert await env.project() == {}
    assert env.sleeps == [1.5]


async def test_retry_after_http_date_is_honoured(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env(retries=1)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    httpx_mock.add_response(url=PROJECT_URL, status_code=503, headers={"Retry-After": when})
    httpx_mock.add_response(url=PROJECT_URL, json={})
    await env.project()
    assert 1.0 < env.sleeps[0] <= 3.0


async def test_long_retry_after_goes_to_the_runtime_instead(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env(retries=3, max_retry_after_seconds=5)
    httpx_mock.add_response(url=PROJECT_URL, status_code=429, headers={"Retry-After": "120"})
    with pytest.raises(TransientError) as caught:
        await env.project()
    assert caught.value.retry_after == 120
    assert env.sleeps == []


async def test_retries_exhausted_raise_the_last_error(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env(retries=2, retry_backoff_seconds=0.01)
    for _ in range(3):
        httpx_mock.add_response(url=PROJECT_URL, status_code=502)
    with pytest.raises(TransientError, match="HTTP 502"):
        await env.project()
    assert len(httpx_mock.get_requests()) == 3


async def test_permanent_errors_are_not_retried(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env(retries=3)
    httpx_mock.add_response(url=PROJECT_URL, status_code=404)
    with pytest.raises(PermanentError):
        await env.project()
    assert env.sleeps == []


async def test_circuit_opens_fails_fast_and_recovers(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env(circuit_failure_threshold=3, circuit_reset_seconds=30)
    for _ in range(3):
        httpx_mock.add_response(url=PROJECT_URL, status_code=503)
    for _ in range(3):
        with pytest.raises(TransientError):
            await env.project()
    assert env.client.circuit_state is CircuitState.OPEN
    assert env.registry.get_sample_value("claimx_api_circuit_open") == 1

    env.clock.now = 10
    with pytest.raises(CircuitOpenError) as caught:
        await env.project()
    assert caught.value.retry_after == pytest.approx(20)
    assert len(httpx_mock.get_requests()) == 3  # failed fast: nothing sent
    assert env.requests("project", "circuit_open") == 1

    env.clock.now = 30
    httpx_mock.add_response(url=PROJECT_URL, json={"projectId": 1})
    assert await env.project() == {"projectId": 1}
    assert env.client.circuit_state is CircuitState.CLOSED
    assert env.registry.get_sample_value("claimx_api_circuit_open") == 0


async def test_permanent_errors_do_not_open_the_circuit(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env(circuit_failure_threshold=2)
    for _ in range(3):
        httpx_mock.add_response(url=PROJECT_URL, status_code=404)
    for _ in range(3):
        with pytest.raises(PermanentError):
            await env.project()
    assert env.client.circuit_state is CircuitState.CLOSED


async def test_429s_never_open_the_circuit_and_lower_the_concurrency(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env(circuit_failure_threshold=1, max_concurrency=8)
    for _ in range(3):
        httpx_mock.add_response(url=PROJECT_URL, status_code=429, headers={"Retry-After": "1"})
    for _ in range(3):
        with pytest.raises(RateLimitedError) as caught:
            await env.project()
        assert caught.value.retryable
        assert not caught.value.spends_attempt  # the event keeps its retries
        env.clock.now += 1  # each 429 pauses the client for its Retry-After
    assert env.client.circuit_state is CircuitState.CLOSED
    assert env.requests("project", "rate_limited") == 3
    assert env.registry.get_sample_value("claimx_api_concurrency_limit") == 1  # 8 -> 4 -> 2 -> 1

    httpx_mock.add_response(url=PROJECT_URL, json={"projectId": 1})
    assert await env.project() == {"projectId": 1}
    assert env.registry.get_sample_value("claimx_api_concurrency_limit") == 2  # + 1 / limit


async def test_quick_retries_of_a_429_wait_its_retry_after(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env(retries=2, circuit_failure_threshold=1)
    httpx_mock.add_response(url=PROJECT_URL, status_code=429, headers={"Retry-After": "1.5"})
    httpx_mock.add_response(url=PROJECT_URL, json={"projectId": 1})
    assert await env.project() == {"projectId": 1}
    assert env.sleeps == [1.5]
    assert env.client.circuit_state is CircuitState.CLOSED


async def test_request_shapes(make_env: Callable[..., Env], httpx_mock: HTTPXMock) -> None:
    env = make_env(sender_username="svc@insurer.example")
    httpx_mock.add_response(url=f"{BASE}/export/project/7/media?mediaIds=1%2C2", json=[])
    httpx_mock.add_response(url=f"{BASE}/export/project/7/media", json=[])
    httpx_mock.add_response(url=f"{BASE}/customTasks/assignment/99?full=true", json={})
    httpx_mock.add_response(url=f"{BASE}/data", method="POST", json={})
    await env.client.get_project_media("7", env.tally, media_ids=["1", "2"])
    await env.client.get_project_media("7", env.tally, media_ids=[str(i) for i in range(51)])
    await env.client.get_task_assignment(99, env.tally)
    await env.client.get_video_collaborations("7", env.tally)
    body = httpx_mock.get_requests(method="POST")[0].read()
    assert body == (
        b'{"reportType":"VIDEO_COLLABORATION","projectId":7,"senderUsername":"svc@insurer.example"}'
    )
    assert env.tally.count == 4


async def test_token_never_appears_in_errors_reprs_or_logs(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock, log_lines: list[str]
) -> None:
    env = make_env(retries=2, circuit_failure_threshold=3)
    httpx_mock.add_response(url=PROJECT_URL, status_code=401)
    httpx_mock.add_response(url=PROJECT_URL, status_code=503)
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=PROJECT_URL)
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=PROJECT_URL)
    errors: list[BaseException] = []
    for _ in range(3):
        try:
            await env.project()
        except ProcessingError as exc:
            errors.append(exc)
    assert [type(e) for e in errors] == [AuthError, TransientError, CircuitOpenError]
    assert log_lines, "the retries and the circuit opening are logged"
    texts = [*log_lines, repr(env.client), repr(ApiSettings(token=TOKEN))]
    for error in errors:
        texts += [str(error), repr(error), repr(error.__cause__), repr(error.__context__)]
    for text in texts:
        assert TOKEN not in text
        assert "s3cret-value" not in text


async def test_an_empty_token_is_warned_about(
    make_env: Callable[..., Env], log_lines: list[str]
) -> None:
    make_env(token="")
    assert any("ClaimX API token is empty" in line for line in log_lines)
    log_lines.clear()
    make_env()
    assert not any("token is empty" in line for line in log_lines)


@pytest.mark.parametrize("project_id", ["..", ".", ""])
async def test_a_dot_or_empty_project_id_never_reaches_a_url(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock, project_id: str
) -> None:
    """Event data is untrusted: ``project_id: ".."`` once became ``/export/media``."""
    env = make_env()
    for call in (
        env.client.get_project(project_id, env.tally),
        env.client.get_project_media(project_id, env.tally, media_ids=[]),
    ):
        with pytest.raises(PermanentError, match="project_id: not a ClaimX id"):
            await call
    assert httpx_mock.get_requests() == []


async def test_any_other_project_id_stays_one_path_segment(
    make_env: Callable[..., Env], httpx_mock: HTTPXMock
) -> None:
    env = make_env()
    httpx_mock.add_response(url=f"{BASE}/export/project/7%2F..%2F..%2Fadmin%3Fx%3D1", json={})
    await env.client.get_project("7/../../admin?x=1", env.tally)
