"""Redactor: registered secrets, credential shapes, secret-looking keys, thread safety."""

from __future__ import annotations

import json
import threading

import pytest

from claimx_worker.observability.redaction import MASK, Redactor, is_secret_key, scrub_field


def test_masks_every_occurrence_of_a_registered_secret() -> None:
    redactor = Redactor(["tok-12345"])
    assert redactor.redact("a tok-12345 b tok-12345") == f"a {MASK} b {MASK}"


def test_text_without_secrets_is_unchanged() -> None:
    text = "INFO: Task trigger matched | trigger_name=Photo Documentation Task task_id=456"
    assert Redactor().redact(text) == text
    assert Redactor(["tok-12345"]).redact(text) == text


def test_longest_secret_wins_when_one_contains_another() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.redact("x abcdefgh y abcd") == f"x {MASK} y {MASK}"


def test_escaped_forms_of_a_secret_are_masked() -> None:
    secret = 'pa"ss/wo\\rd'
    redactor = Redactor([secret])
    assert redactor.redact('{"v": "pa\\"ss/wo\\\\rd"}') == f'{{"v": "{MASK}"}}'
    assert redactor.redact("?p=pa%22ss%2Fwo%5Crd&x=1") == f"?p={MASK}&x=1"


@pytest.mark.parametrize("value", ["", "a", "abc"])
def test_empty_and_very_short_values_are_not_registered(value: str) -> None:
    redactor = Redactor([value])
    assert redactor.redact("a basic abc text") == "a basic abc text"


def test_secrets_added_later_are_masked() -> None:
    redactor = Redactor()
    redactor.add("late-secret")
    assert redactor.redact("x late-secret") == f"x {MASK}"


def test_a_text_seen_before_a_secret_was_added_is_masked_after() -> None:
    redactor = Redactor(["tok-12345"])
    text = "INFO: Matched | trigger_name=late-secret tok-12345"
    assert redactor.redact(text) == f"INFO: Matched | trigger_name=late-secret {MASK}"
    assert redactor.redact(text) == f"INFO: Matched | trigger_name=late-secret {MASK}"
    redactor.add("late-secret")
    assert redactor.redact(text) == f"INFO: Matched | trigger_name={MASK} {MASK}"


def test_many_distinct_and_long_texts_are_all_masked() -> None:
    redactor = Redactor(["tok-12345"])
    for index in range(3000):
        text = f"line {index} tok-12345" + "x" * (index % 3 * 1000)
        assert redactor.redact(text) == f"line {index} {MASK}" + "x" * (index % 3 * 1000)


def test_repr_does_not_show_secrets() -> None:
    assert "tok-12345" not in repr(Redactor(["tok-12345"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: Basic {MASK}"),
        ("authorization=Bearer eyJhbGciOi.x.y", f"authorization=Bearer {MASK}"),
        ("{'Authorization': 'Bearer abc.def'}", f"{{'Authorization': 'Bearer {MASK}'}}"),
        ('{"authorization": "Basic abc"}', f'{{"authorization": "Basic {MASK}"}}'),
        ("AUTHORIZATION: raw-credential", f"AUTHORIZATION: {MASK}"),
        ("POST https://user:hunter2@example.com/x", f"POST https://user:{MASK}@example.com/x"),
        ("GET /x?api_key=k123&page=2", f"GET /x?api_key={MASK}&page=2"),
        ("sasl.password=pw1 ok", f"sasl.password={MASK} ok"),
        (
            "POST https://fn.example.net/api/hook?code=Zm9vYmFy&x=1",
            f"POST https://fn.example.net/api/hook?code={MASK}&x=1",
        ),
        (
            "url=https://acct.blob.example.net/c/b?sv=2024&sig=abc%2Bdef",
            f"url=https://acct.blob.example.net/c/b?sv=2024&sig={MASK}",
        ),
        ("Ocp-Apim-Subscription-Key: 0123abcd", f"Ocp-Apim-Subscription-Key: {MASK}"),
        ("x-functions-key=0123abcd", f"x-functions-key={MASK}"),
    ],
)
def test_credential_shapes_are_masked_without_registration(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Basic setup finished",
        "https://example.com:8443/service/cxedirest",
        "task_id=456 event_type=CUSTOM_TASK_COMPLETED",
        "Kafka consume error | code=_PARTITION_EOF",
        "idempotency_key=evt-1:task_trigger:0 partition_key=12345",
        "Bearer of bad news",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor().redact(text) == text


@pytest.mark.parametrize(
    "key",
    [
        "Authorization",
        "api_token",
        "WEBHOOK_SECRET",
        "sasl.password",
        "X-Api-Key",
        "apikey",
        "signature",
        "Set-Cookie",
        "passwd",
        "Ocp-Apim-Subscription-Key",
        "X-Functions-Key",
        "aws_secret_access_key",
        "AWS_ACCESS_KEY_ID",
        "private_key",
        "credentials",
    ],
)
def test_secret_looking_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["task_id", "trigger_name", "event_type", "url", "status", "idempotency_key", "code", "key"],
)
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_scrub_field_masks_by_key_and_recurses() -> None:
    value = {
        "headers": {"Authorization": "Basic x", "X-Trace": "t"},
        "items": [("a", {"password": "p"}), 3, None, True, 1.5],
    }
    assert scrub_field("request", value) == {
        "headers": {"Authorization": MASK, "X-Trace": "t"},
        "items": [["a", {"password": MASK}], 3, None, True, 1.5],
    }
    assert scrub_field("api_token", 12345) == MASK


def test_scrub_field_turns_other_objects_into_text() -> None:
    class Client:
        def __str__(self) -> str:
            return "Client(host=h)"

    assert scrub_field("client", Client()) == "Client(host=h)"


@pytest.mark.parametrize(
    ("secret", "inner"), [("tok-12345", "12345"), ('q"uoXYZ\te\nd\x01', "uoXYZ")]
)
def test_secret_rendered_through_repr_and_json_is_masked(secret: str, inner: str) -> None:
    redactor = Redactor([secret])
    for rendered in (
        str(KeyError(secret)),
        str({"k": [secret]}),
        json.dumps({"e": str(KeyError(secret))}, ensure_ascii=False),
        json.dumps({"e": secret}),
    ):
        assert inner in rendered
        assert inner not in redactor.redact(rendered)


def test_adding_secrets_from_many_threads_while_redacting() -> None:
    redactor = Redactor()
    secrets = [[f"secret-{t}-{i:04d}" for i in range(25)] for t in range(6)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def add(batch: list[str]) -> None:
        for secret in batch:
            redactor.add(secret)

    def read() -> None:
        try:
            while not stop.is_set():
                redactor.redact("secret-0-0001 and secret-5-0024")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=add, args=(batch,)) for batch in secrets]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    reader.join()

    assert errors == []
    text = " ".join(s for batch in secrets for s in batch)
    assert redactor.redact(text) == " ".join([MASK] * 150)


def test_the_cheap_prefilter_covers_every_secret_key_part() -> None:
    """A line is only searched for ``key=value`` credentials when it holds one of the hints."""
    from claimx_worker.observability.redaction import _KEY_HINTS, _SECRET_KEY_PARTS

    for part in _SECRET_KEY_PARTS:
        for spelling in (part, part.replace("_", "-"), part.upper()):
            assert any(hint in spelling.lower() for hint in _KEY_HINTS), spelling
