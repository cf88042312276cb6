"""Secrets out of DLQ records, and back in on replay."""

from __future__ import annotations

import pytest

from claimx_worker.actions.secrets import (
    MissingSecretError,
    SecretScrubber,
    restore,
    secret_refs_from_environ,
)
from claimx_worker.observability.redaction import MASK

TOKEN = "tok-3f9a-secret-value"


def test_registered_secrets_become_references_and_come_back() -> None:
    scrubber = SecretScrubber({TOKEN: "WEBHOOK_TOKEN", "other-secret": "OTHER"})
    used: set[str] = set()
    masked: list[str] = []
    headers = scrubber.headers(
        {"Authorization": f"Bearer {TOKEN}", "X-Api-Key": "unregistered", "X-Trace": "t1"},
        used,
        masked,
    )
    assert headers == {
        "Authorization": "Bearer ${WEBHOOK_TOKEN}",
        "X-Api-Key": MASK,
        "X-Trace": "t1",
    }
    assert masked == ["X-Api-Key"]
    body = scrubber.data({"note": f"x{TOKEN}x", "list": [TOKEN, 3, None], TOKEN: True}, used)
    assert TOKEN not in repr(body)
    assert used == {"WEBHOOK_TOKEN"}
    environ = {"WEBHOOK_TOKEN": "new-token-value"}
    assert restore(headers, used, environ)["Authorization"] == "Bearer new-token-value"
    assert restore(body, used, environ) == {
        "note": "xnew-token-valuex",
        "list": ["new-token-value", 3, None],
        "new-token-value": True,
    }


def test_restore_leaves_other_references_alone_and_names_missing_variables() -> None:
    assert restore("${A} ${B}", ["A"], {"A": "1"}) == "1 ${B}"
    assert restore("$${A} $$ ${A}", ["A"], {"A": "1"}) == "${A} $ 1"
    with pytest.raises(MissingSecretError, match="WEBHOOK_TOKEN is not set"):
        restore("${WEBHOOK_TOKEN}", ["WEBHOOK_TOKEN"], {})


def test_longest_secret_wins() -> None:
    scrubber = SecretScrubber({"abcd": "SHORT", "abcdefgh": "LONG"})
    assert scrubber.text("abcdefgh abcd", set()) == "${LONG} ${SHORT}"


def test_refs_from_the_environment() -> None:
    environ = {
        "WEBHOOK_TOKEN": TOKEN,
        "EXACT": "exact-secret",
        "HOME": "/root",
        "API_KEY": "abc",  # too short to mask safely
        "EMPTY_SECRET": "",
    }
    refs = secret_refs_from_environ(["exact-secret", ""], environ)
    assert refs == {TOKEN: "WEBHOOK_TOKEN", "exact-secret": "EXACT"}


def test_more_secrets_can_be_added() -> None:
    scrubber = SecretScrubber({})
    assert scrubber.text(TOKEN, set()) == TOKEN
    scrubber.add({TOKEN: "WEBHOOK_TOKEN"})
    used: set[str] = set()
    assert scrubber.text(f"a {TOKEN}", used) == "a ${WEBHOOK_TOKEN}"
    assert used == {"WEBHOOK_TOKEN"}


@pytest.mark.parametrize(
    "text",
    ["${WEBHOOK_TOKEN}", "$${WEBHOOK_TOKEN}", "cost: $5", "$", "$$", "${", "a$" + TOKEN, "${}"],
)
def test_literal_dollar_text_in_data_comes_back_literally(text: str) -> None:
    """Event data is untrusted: ``${WEBHOOK_TOKEN}`` written into a task name must come back as
    that text, never as the variable's value."""
    scrubber = SecretScrubber({TOKEN: "WEBHOOK_TOKEN"})
    used: set[str] = set()
    scrubbed = scrubber.data({"name": text, text: 1}, used)
    environ = {"WEBHOOK_TOKEN": "the-real-token-value"}
    assert restore(scrubbed, ["WEBHOOK_TOKEN"], environ) == {
        "name": text.replace(TOKEN, "the-real-token-value"),
        text.replace(TOKEN, "the-real-token-value"): 1,
    }
