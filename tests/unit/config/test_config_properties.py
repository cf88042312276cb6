"""Config loading over generated YAML: whatever a settings or plugin file holds, the only error
is a ConfigError; and ``${VAR}`` expansion over any tree and environment never raises."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from tests.fuzz.targets import ENVIRON, config_file

from claimx_plugin_task_trigger.config import TaskTriggerConfig
from claimx_worker.config.variables import expand_variables
from claimx_worker.settings import WorkerSettings

_KEYS = st.sampled_from(
    [
        "kafka",
        "claimx",
        "enrichment_worker",
        "topics",
        "processing",
        "retry_delays",
        "max_in_flight",
        "bootstrap_servers",
        "common",
        "claimx_api",
        "base_url",
        "token",
        "actions",
        "metrics",
        "port",
        "triggers",
        "name",
        "on_assigned",
        "on_completed",
        "on_any",
        "webhook",
        "url",
        "headers",
        "Authorization",
        "publish_to_topic",
        "topic",
        "key",
        "log",
        "level",
        "metric",
        "labels",
        "timeout",
        "signing_secret",
        "<<",
    ]
) | st.text(max_size=8)
_TEMPLATES = st.sampled_from(
    ["${WEBHOOK_TOKEN}", "${UNSET}", "${UNSET:-5}", "$${", "${", "${1x}", "5m", "-1", "1e400"]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | _TEMPLATES
    | st.sampled_from(["http://127.0.0.1:1/x", "{task_id}", "info", "456"])
)
_TREES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_KEYS | st.integers(-5, 500), children, max_size=5)
    ),
    max_leaves=25,
)
_YAML_SYNTAX = st.text(st.sampled_from(list(":-[]{}&*!|>'\"%@`?,#$ \n\tab01")), max_size=120)


def _yaml(tree: Any) -> bytes:
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(tree, stream)
    return stream.getvalue().encode()


@given(st.binary(max_size=300))
@settings(max_examples=50)
def test_any_bytes_as_a_settings_file_raise_only_config_error(data: bytes) -> None:
    config_file(data)


@given(_YAML_SYNTAX)
@settings(max_examples=100)
def test_any_yaml_ish_text_raises_only_config_error(text: str) -> None:
    config_file(text.encode())
    config_file(text.encode(), TaskTriggerConfig)


@given(st.dictionaries(_KEYS, _TREES, max_size=5))
@settings(max_examples=40)
def test_any_yaml_document_raises_only_config_error(tree: dict[Any, Any]) -> None:
    config_file(_yaml(tree), WorkerSettings)
    config_file(_yaml(tree), TaskTriggerConfig)


@given(_TREES, st.dictionaries(st.sampled_from(["WEBHOOK_TOKEN", "X", "1x"]), st.text()))
@settings(max_examples=200)
def test_variable_expansion_never_raises(tree: Any, env: dict[str, str]) -> None:
    expanded = expand_variables(tree, env=env | ENVIRON)
    assert all(message for _, message in expanded.problems)


@given(st.text(max_size=40).filter(lambda text: "${" not in text), st.text(max_size=40))
def test_only_references_are_rendered_and_values_are_not_expanded_again(
    text: str, value: str
) -> None:
    tree = {"plain": text, "reference": "${V}", "escaped": "$${V}", "again": "${W}"}
    expanded = expand_variables(tree, env={"V": value, "W": "${V}"})
    assert expanded.data == {"plain": text, "reference": value, "escaped": "${V}", "again": "${V}"}
    assert expanded.problems == ()
