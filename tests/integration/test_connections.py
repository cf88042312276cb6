"""Webhooks through named connections, against real HTTP servers on loopback: each auth type,
OAuth2 token reuse, renewal before expiry, one refresh on a 401, a token endpoint that is down
(retried, then dead-lettered with the reason), the rate limit and the in-flight cap."""

from __future__ import annotations

import asyncio
import base64
import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.actions import ActionExecutor, ActionSettings, OutcomeStatus
from claimx_worker.http.connections import load_connections
from claimx_worker.http.exchange import Exchange, webhook_exchange
from claimx_worker.model import Webhook
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.integration.actions_support import LogCapture
from tests.integration.connections_support import TokenEndpoint

FAST = {"backoff_base": 0.01, "backoff_cap": 0.05}
ENV = {
    "CRM_TOKEN": "s3cr3t-bearer-value",
    "CRM_KEY": "s3cr3t-api-key-value",
    "CRM_PASSWORD": "s3cr3t-password-value",
    "CRM_CLIENT_SECRET": "s3cr3t-client-secret",
}
SECRETS = tuple(ENV.values())


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


@pytest.fixture
async def token_endpoint() -> AsyncIterator[TokenEndpoint]:
    async with TokenEndpoint("claimx-worker", ENV["CRM_CLIENT_SECRET"]) as endpoint:
        yield endpoint


class Harness:
    """An executor whose connections come from YAML files; DLQ records are collected."""

    def __init__(self, tmp_path: Path, client: Exchange) -> None:
        self._tmp_path = tmp_path
        self._client = client
        self.dead_letters: list[dict[str, Any]] = []
        self.executors: list[ActionExecutor] = []

    async def _produce(self, topic: str, value: bytes, key: bytes | None, headers: Any) -> None:
        self.dead_letters.append(json.loads(value))

    def executor(self, connections: dict[str, str], **settings: Any) -> ActionExecutor:
        directory = self._tmp_path / f"plugins{len(self.executors)}" / "connections"
        directory.mkdir(parents=True)
        for name, text in connections.items():
            (directory / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
        catalog = load_connections(directory.parent, env=ENV)
        assert catalog.problems == ()
        executor = ActionExecutor(
            ActionSettings(**(FAST | settings)),
            client=self._client,
            produce=self._produce,
            registry=CollectorRegistry(),
            connections=catalog.connections,
        )
        self.executors.append(executor)
        return executor


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with webhook_exchange(allowed_destinations=()) as client:
        made = Harness(tmp_path, client)
        yield made
        for executor in made.executors:
            await executor.aclose()


async def send(
    executor: ActionExecutor, count: int = 1, path: str = "/api/contact", **fields: Any
) -> list[Any]:
    futures = [
        executor.submit(
            f"evt-{index}",
            "12345",
            "task_trigger",
            0,
            Webhook(url=path, body={"n": index}, timeout=0, connection="crm", **fields),
        )
        for index in range(count)
    ]
    return list(await asyncio.gather(*futures))


def connection(base_url: str, auth: str, **extra: str) -> str:
    lines = [f"base_url: {base_url}", "auth:", textwrap.indent(textwrap.dedent(auth), "  ")]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


async def test_bearer_connection_with_headers_and_path(
    harness: Harness, receiver: WebhookReceiver
) -> None:
    executor = harness.executor(
        {
            "crm": connection(
                receiver.url("/v2"),
                "type: bearer\ntoken: ${CRM_TOKEN}\n",
                headers="{X-Source: claimx, X-Team: claims}",
            )
        }
    )
    (outcome,) = await send(executor, path="/api/contact?project=12345", headers={"X-Team": "t2"})

    assert outcome.status is OutcomeStatus.DELIVERED
    (request,) = receiver.at("/v2/api/contact")
    assert request.headers["authorization"] == "Bearer s3cr3t-bearer-value"
    assert request.headers["x-source"] == "claimx"
    assert request.headers["x-team"] == "t2"  # the action's header wins over the default
    assert json.loads(request.body) == {"n": 0}


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ("type: api_key\nheader: X-Api-Key\napi_key: ${CRM_KEY}\n", "x-api-key", ENV["CRM_KEY"]),
        (
            "type: basic\nusername: claimx\npassword: ${CRM_PASSWORD}\n",
            "authorization",
            "Basic " + base64.b64encode(b"claimx:s3cr3t-password-value").decode(),
        ),
    ],
    ids=["api_key", "basic"],
)
async def test_api_key_and_basic_connections(
    harness: Harness, receiver: WebhookReceiver, auth: str, header: str, value: str
) -> None:
    executor = harness.executor({"crm": connection(receiver.base_url, auth)})
    (outcome,) = await send(executor)
    assert outcome.status is OutcomeStatus.DELIVERED
    assert receiver.at("/api/contact")[0].headers[header] == value


def oauth2(token_url: str, **extra: Any) -> str:
    auth = (
        f"type: oauth2\ntoken_url: {token_url}\nclient_id: claimx-worker\n"
        "client_secret: ${CRM_CLIENT_SECRET}\nscope: contacts.write\n"
    )
    return auth + "".join(f"{key}: {value}\n" for key, value in extra.items())


async def test_oauth2_token_is_fetched_once_and_reused(
    harness: Harness, receiver: WebhookReceiver, token_endpoint: TokenEndpoint
) -> None:
    executor = harness.executor({"crm": connection(receiver.base_url, oauth2(token_endpoint.url))})
    outcomes = await send(executor, count=20)

    assert {outcome.status for outcome in outcomes} == {OutcomeStatus.DELIVERED}
    assert token_endpoint.issued == 1
    assert token_endpoint.requests[0]["form"] == {
        "grant_type": "client_credentials",
        "scope": "contacts.write",
    }
    tokens = {request.headers["authorization"] for request in receiver.at("/api/contact")}
    assert tokens == {"Bearer tok-1"}


async def test_oauth2_client_credentials_in_the_body(
    harness: Harness, receiver: WebhookReceiver, token_endpoint: TokenEndpoint
) -> None:
    executor = harness.executor(
        {"crm": connection(receiver.base_url, oauth2(token_endpoint.url, client_auth="body"))}
    )
    (outcome,) = await send(executor)
    assert outcome.status is OutcomeStatus.DELIVERED
    assert token_endpoint.requests[0]["form"]["client_id"] == "claimx-worker"


async def test_oauth2_token_is_renewed_shortly_before_it_expires(
    harness: Harness, receiver: WebhookReceiver, token_endpoint: TokenEndpoint
) -> None:
    token_endpoint.expires_in = 1.5
    executor = harness.executor(
        {"crm": connection(receiver.base_url, oauth2(token_endpoint.url, refresh_before=1))}
    )
    await send(executor)
    await send(executor)  # still 0.5 s before the renewal time: the same token
    assert token_endpoint.issued == 1
    await asyncio.sleep(0.7)  # past expiry minus refresh_before, before expiry itself
    await send(executor)

    assert token_endpoint.issued == 2
    tokens = [request.headers["authorization"] for request in receiver.at("/api/contact")]
    assert tokens == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


async def test_a_401_refreshes_the_token_once_and_sends_again(
    harness: Harness, receiver: WebhookReceiver, token_endpoint: TokenEndpoint
) -> None:
    receiver.behave("/api/contact", fail_first=1, fail_status=401)
    executor = harness.executor({"crm": connection(receiver.base_url, oauth2(token_endpoint.url))})
    (outcome,) = await send(executor)

    assert outcome.status is OutcomeStatus.DELIVERED
    assert token_endpoint.issued == 2
    tokens = [request.headers["authorization"] for request in receiver.at("/api/contact")]
    assert tokens == ["Bearer tok-1", "Bearer tok-2"]


async def test_a_401_after_the_refresh_is_dead_lettered(
    harness: Harness, receiver: WebhookReceiver, token_endpoint: TokenEndpoint
) -> None:
    receiver.behave("/api/contact", status=401)
    executor = harness.executor({"crm": connection(receiver.base_url, oauth2(token_endpoint.url))})
    (outcome,) = await send(executor)

    assert outcome.status is OutcomeStatus.DEAD_LETTERED
    assert token_endpoint.issued == 2  # one refresh, not one per 401
    assert len(receiver.at("/api/contact")) == 2
    (record,) = harness.dead_letters
    assert record["error"].startswith("HTTP 401")
    assert record["action"]["connection"] == "crm"


async def test_token_endpoint_down_is_retried_then_dead_lettered_with_the_reason(
    harness: Harness, receiver: WebhookReceiver, token_endpoint: TokenEndpoint
) -> None:
    token_endpoint.fail_status = 503
    executor = harness.executor(
        {
            "crm": connection(
                receiver.base_url, oauth2(token_endpoint.url), retry="{max_attempts: 4}"
            )
        }
    )
    with LogCapture() as logs:
        (outcome,) = await send(executor)

    assert outcome.status is OutcomeStatus.DEAD_LETTERED
    assert outcome.attempts == 4
    assert len(token_endpoint.requests) == 4
    assert receiver.requests == []
    (record,) = harness.dead_letters
    assert record["give_up"] == "max_attempts"
    assert "OAuth2 token endpoint" in record["error"]
    assert "answered HTTP 503" in record["error"]
    shown = json.dumps(harness.dead_letters) + "\n".join(logs.lines)
    assert not any(secret in shown for secret in SECRETS)


async def test_refused_client_credentials_are_dead_lettered_at_once(
    harness: Harness, receiver: WebhookReceiver, token_endpoint: TokenEndpoint
) -> None:
    token_endpoint.client_secret = "another"
    executor = harness.executor({"crm": connection(receiver.base_url, oauth2(token_endpoint.url))})
    (outcome,) = await send(executor)

    assert outcome.status is OutcomeStatus.DEAD_LETTERED
    assert len(token_endpoint.requests) == 1
    assert "answered HTTP 401 (client credentials refused)" in harness.dead_letters[0]["error"]


async def test_the_rate_limit_holds(harness: Harness, receiver: WebhookReceiver) -> None:
    limit = 25.0
    executor = harness.executor(
        {"crm": connection(receiver.base_url, "type: none\n", rate_limit=str(limit))}
    )
    outcomes = await send(executor, count=40)

    assert {outcome.status for outcome in outcomes} == {OutcomeStatus.DELIVERED}
    starts = sorted(request.started for request in receiver.at("/api/contact"))
    measured = (len(starts) - 1) / (starts[-1] - starts[0])
    assert measured <= limit * 1.1, measured
    assert measured >= limit * 0.5, measured  # it is a limit, not a stall


async def test_the_in_flight_cap_holds(harness: Harness, receiver: WebhookReceiver) -> None:
    receiver.behave("/api/contact", delay=0.1)
    executor = harness.executor(
        {"crm": connection(receiver.base_url, "type: none\n", max_in_flight="2")}
    )
    outcomes = await send(executor, count=8)

    assert {outcome.status for outcome in outcomes} == {OutcomeStatus.DELIVERED}
    assert receiver.peak["/api/contact"] == 2


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"connection": "nope"}, "unknown connection 'nope' (defined: crm)"),
        ({"url": "https://elsewhere.example.com/x"}, "takes a path starting with '/'"),
        ({"url": "//elsewhere.example.com/x"}, "takes a path starting with '/'"),
        ({"url": "/x/../../admin?y=1"}, "the path climbs above connection 'crm'"),
    ],
)
async def test_bad_connection_webhooks_are_dead_lettered(
    harness: Harness, receiver: WebhookReceiver, fields: dict[str, str], reason: str
) -> None:
    executor = harness.executor({"crm": connection(receiver.base_url, "type: none\n")})
    action = Webhook(**({"url": "/x", "connection": "crm"} | fields))
    outcome = await executor.submit("evt-1", "12345", "task_trigger", 0, action)

    assert outcome.status is OutcomeStatus.DEAD_LETTERED
    assert reason in harness.dead_letters[0]["error"]
    assert receiver.requests == []


@pytest.mark.parametrize("path", ["/%2e%2e/admin", "/x/%2E./%2e%2E/admin"])
async def test_percent_encoded_dot_segments_do_not_climb_above_the_base_path(
    harness: Harness, receiver: WebhookReceiver, path: str
) -> None:
    """The exchange decodes ``%2e`` before it resolves dot segments: refused like ``..``."""
    executor = harness.executor({"crm": connection(receiver.url("/crm"), "type: none\n")})
    (outcome,) = await send(executor, path=path)

    assert outcome.status is OutcomeStatus.DEAD_LETTERED
    assert "the path climbs above connection 'crm'" in harness.dead_letters[0]["error"]
    assert receiver.requests == []
