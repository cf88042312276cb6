"""Named connections swapped on a reload: unchanged ones keep their state (token cache, rate
limit), changed ones start afresh, removed ones are gone."""

from __future__ import annotations

import pytest

from claimx_worker.actions.connections import ConnectionDelivery
from claimx_worker.actions.encoding import InvalidActionError
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.webhook import WebhookSender
from claimx_worker.http.connections import AuthConfig, Connection, ConnectionConfig
from claimx_worker.http.exchange import webhook_exchange
from claimx_worker.model import Webhook


def _oauth2(name: str, client_id: str) -> Connection:
    auth = AuthConfig(
        type="oauth2",
        token_url="https://auth.example.com/token",
        client_id=client_id,
        client_secret="s3cr3t",
    )
    return Connection(name, ConnectionConfig(base_url="https://crm.example.com", auth=auth), "f")


def test_a_reload_keeps_unchanged_connections_and_replaces_changed_ones() -> None:
    settings = ActionSettings()
    client = webhook_exchange(allowed_destinations=())
    sender = WebhookSender(client, settings, on_state=lambda *_: None, on_attempt=lambda: None)
    delivery = ConnectionDelivery(
        {
            "kept": _oauth2("kept", "a"),
            "changed": _oauth2("changed", "a"),
            "gone": _oauth2("gone", "a"),
        },
        settings,
        client,
        sender,
    )
    kept, changed = delivery.token_source("kept"), delivery.token_source("changed")

    delivery.use({"kept": _oauth2("kept", "a"), "changed": _oauth2("changed", "b")})

    assert delivery.token_source("kept") is kept
    assert delivery.token_source("changed") is not changed
    assert delivery.token_source("gone") is None
    with pytest.raises(InvalidActionError, match="unknown connection 'gone'"):
        delivery.plan(Webhook(url="/x", body={}, connection="gone"), "key")
