"""Which values the config loader registers as secrets: every value a ``${VAR}`` puts into the
file unless declared otherwise, and every string under a secret-looking key, by the same word
list the log redactor uses."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from ruamel.yaml import YAML

from claimx_worker.config.structuring import structure_node
from claimx_worker.config.variables import (
    PUBLIC_VARIABLES,
    PUBLIC_VARIABLES_ENV,
    expand_variables,
)
from claimx_worker.observability.redaction import MASK, Redactor
from claimx_worker.settings.worker import SHORT_NAMES


@attrs.frozen
class Anything:
    values: dict[str, Any] = attrs.field(factory=dict)


def secrets_of(text: str, env: Mapping[str, str]) -> frozenset[str]:
    node = YAML(typ="rt").load(text)
    return structure_node(node, Anything, file="f.yaml", key_prefix="", env=env).secrets


def test_every_variable_value_is_a_secret_whatever_its_key_or_name() -> None:
    env = {
        "AZURE_FUNCTION_KEY": "fn-code-1234",
        "APIM_KEY": "apim-key-1234",
        "TOPIC": "claimx.private-topic",
        "HOST": "internal.example",
    }
    secrets = secrets_of(
        """
        values:
          url: "https://fn.example.net/api/hook?code=${AZURE_FUNCTION_KEY}"
          key: "${APIM_KEY}"
          topic: "${TOPIC}"
          nested: {hosts: ["${HOST}:9093"]}
        """,
        env,
    )
    assert secrets == frozenset(env.values())


@pytest.mark.parametrize(
    "key",
    [
        "Authorization",
        "Ocp-Apim-Subscription-Key",
        "X-Functions-Key",
        "X-Api-Key",
        "Set-Cookie",
        "aws_secret_access_key",
        "private_key",
        "sasl.password",
        "credentials",
    ],
)
def test_a_literal_under_a_secret_looking_key_is_a_secret(key: str) -> None:
    """The loader and the redactor share one word list (``is_secret_key``)."""
    assert secrets_of(f"values: {{{key}: literal-value}}", {}) == {"literal-value"}


@pytest.mark.parametrize("value", ["9100", "-3", "0.25", "5000", "true", "False"])
def test_numbers_and_booleans_are_not_secrets(value: str) -> None:
    assert secrets_of("values: {port: '${PORT}'}", {"PORT": value}) == frozenset()


def test_a_default_written_in_the_file_is_not_a_secret() -> None:
    assert secrets_of("values: {topic: '${TOPIC:-claimx.triggers}'}", {}) == frozenset()


def test_public_variables_are_not_secrets() -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "broker-1:9093",
        "CLAIMX_API_BASE_URL": "https://claimx.example/service",
        "TASK_TRIGGER_TOPIC": "claimx.task-triggers",
        "REGION": "westeurope",
        "OTHER": "still-secret",
        PUBLIC_VARIABLES_ENV: " TASK_TRIGGER_TOPIC,REGION ",
    }
    secrets = secrets_of(
        """
        values:
          servers: "${KAFKA_BOOTSTRAP_SERVERS}"
          base_url: "${CLAIMX_API_BASE_URL}"
          topic: "${TASK_TRIGGER_TOPIC}"
          region: "${REGION}"
          other: "${OTHER}"
        """,
        env,
    )
    assert secrets == {"still-secret"}
    assert {"KAFKA_BOOTSTRAP_SERVERS", "METRICS_PORT", "LOG_LEVEL"} <= PUBLIC_VARIABLES


def test_the_workers_own_variables_are_public_but_its_token() -> None:
    """Every variable the worker reads by its short name (``CLAIMX_API_URL``, ``PLUGINS_DIR``,
    ...) is public when a file uses it too (a webhook URL built on ``${CLAIMX_API_URL}``), but
    the API token."""
    assert SHORT_NAMES.keys() - PUBLIC_VARIABLES == {"CLAIMX_API_TOKEN"}
    env = {"CLAIMX_API_URL": "http://127.0.0.1:40123", "PLUGINS_DIR": "/etc/claimx/plugins"}
    text = "values: {url: '${CLAIMX_API_URL}/hook', plugins: '${PLUGINS_DIR}'}"
    assert secrets_of(text, env) == frozenset()


def test_a_secret_looking_key_or_name_beats_every_exception() -> None:
    env = {
        "PIN": "482913",
        "API_TOKEN": "123456",
        "WEBHOOK_TOKEN": "declared-public",
        PUBLIC_VARIABLES_ENV: "WEBHOOK_TOKEN PIN",
    }
    secrets = secrets_of(
        """
        values:
          password: "${PIN}"
          count: "${API_TOKEN}"
          plain: "${WEBHOOK_TOKEN}"
          Authorization: "Bearer ${UNSET:-dev-token}"
        """,
        env,
    )
    assert secrets == {"482913", "123456", "declared-public", "Bearer dev-token", "dev-token"}


def test_values_shorter_than_four_characters_are_never_masked() -> None:
    secrets = secrets_of("values: {a: '${A}', b: '${B}'}", {"A": "abc", "B": "abcd"})
    redactor = Redactor(secrets)
    assert redactor.redact("abc abcd") == f"abc {MASK}"


def test_reprs_show_how_many_secrets_never_which() -> None:
    node = YAML(typ="rt").load("values: {url: 'https://fn.example/hook?code=${CODE}'}")
    env = {"CODE": "fn-code-1234"}
    loaded = structure_node(node, Anything, file="f.yaml", key_prefix="", env=env)
    expanded = expand_variables(node, env=env)
    assert repr(loaded) == "LoadedConfig(value=<Anything>, secrets=<1 secrets>)"
    assert "fn-code-1234" not in repr(expanded)
    assert "<1 secrets>" in repr(expanded)


def test_the_operating_guide_names_every_public_variable() -> None:
    guide = (Path(__file__).resolve().parents[3] / "docs" / "operating.md").read_text()
    section = guide[guide.index("### Secrets never appear in logs") :]
    for name in (*PUBLIC_VARIABLES, PUBLIC_VARIABLES_ENV):
        assert f"`{name}`" in section, name
