"""The task trigger's config schema, structured by the host's loader from YAML."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from claimx_plugin_task_trigger import (
    ActionBlock,
    LogConfig,
    MetricConfig,
    PublishToTopicConfig,
    TaskTriggerConfig,
    TriggerConfig,
    WebhookConfig,
)
from claimx_plugin_task_trigger.placeholders import template_fields
from claimx_worker import ConfigValueError
from claimx_worker.config.problems import ConfigError
from claimx_worker.config.structuring import load_config_file


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> TaskTriggerConfig:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return load_config_file(path, TaskTriggerConfig, env=env or {}, key_prefix="config").value


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    prefix = f"{tmp_path / 'config.yaml'}:"
    return [str(problem).removeprefix(prefix) for problem in caught.value.problems]


def test_string_forms_are_shorthands(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        triggers:
          456:
            name: Photo
            on_completed:
              publish_to_topic: claimx.task-triggers
              webhook: https://hooks.example.com/x
              log: "done {task_id}"
              metric: claimx_photo_done
        """,
    )

    assert config == TaskTriggerConfig(
        triggers={
            456: TriggerConfig(
                name="Photo",
                on_completed=ActionBlock(
                    publish_to_topic=PublishToTopicConfig(topic="claimx.task-triggers"),
                    webhook=WebhookConfig(url="https://hooks.example.com/x"),
                    log=LogConfig(message="done {task_id}"),
                    metric=MetricConfig(name="claimx_photo_done"),
                ),
            )
        }
    )
    assert config.include_task_data is True
    assert config.include_project_data is False


def test_mapping_forms_and_env_expansion(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        include_task_data: false
        include_project_data: true
        triggers:
          "789":
            name: Damage
            on_any:
              publish_to_topic: {topic: "${TOPIC:-claimx.damage}", key: "{assignment_id}"}
              webhook:
                url: https://hooks.example.com/d
                method: put
                headers: {Authorization: "Bearer ${WEBHOOK_TOKEN}"}
                timeout: 2.5
                signing_secret: whsec_abc
              log: {level: warning, message: "{trigger_name} on {project_id}"}
              metric: {name: claimx_damage, labels: {source: claimx}}
        """,
        env={"WEBHOOK_TOKEN": "s3cr3t"},
    )

    block = config.triggers[789].on_any
    assert block is not None
    assert block.publish_to_topic == PublishToTopicConfig(
        topic="claimx.damage", key="{assignment_id}"
    )
    assert block.webhook == WebhookConfig(
        url="https://hooks.example.com/d",
        method="PUT",
        headers={"Authorization": "Bearer s3cr3t"},
        timeout=2.5,
        signing_secret="whsec_abc",
    )
    assert block.log == LogConfig(message="{trigger_name} on {project_id}", level="warning")
    assert block.metric == MetricConfig(name="claimx_damage", labels={"source": "claimx"})
    assert (config.include_task_data, config.include_project_data) == (False, True)


def test_string_and_int_template_ids_are_the_same_trigger(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        triggers:
          "456": {name: A, on_any: {log: a}}
          789: {name: B, on_any: {log: b}}
        """,
    )

    assert sorted(config.triggers) == [456, 789]


def test_webhook_secrets_stay_out_of_the_repr() -> None:
    hook = WebhookConfig(
        url="https://h.example.com", headers={"Authorization": "Bearer tok"}, signing_secret="sec"
    )

    assert "tok" not in repr(hook)
    assert "sec" not in repr(hook).replace("signing_secret", "")


BROKEN = [
    pytest.param(
        """
        triggers:
          456:
            name: Photo
            on_complete:
              log: x
        """,
        [
            "4: config.triggers.456.on_complete: unknown key 'on_complete', "
            "did you mean 'on_completed'?",
        ],
        id="misspelt-block",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: Photo
            on_completed:
              log: "done on {project}"
        """,
        [
            "5: config.triggers.456.on_completed.log: unknown placeholder {project}; "
            "available: {trigger_name}, {task_id}, {event_id}, {project_id}, {event_type}, "
            "{task_name}, {assignment_id}, {task_status}"
        ],
        id="unknown-placeholder",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: Photo
            on_completed:
              publish_to_topic: {topic: t, key: "{task_id:05d}"}
        """,
        [
            "5: config.triggers.456.on_completed.publish_to_topic.key: placeholder {task_id} "
            "takes no format spec or conversion; write {task_id}"
        ],
        id="format-spec",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: Photo
            on_completed: {}
        """,
        [
            "4: config.triggers.456.on_completed: an action block needs at least one of "
            "publish_to_topic, webhook, log, metric"
        ],
        id="empty-block",
    ),
    pytest.param(
        """
        triggers:
          456:
            on_any: {log: x}
        """,
        ["2: config.triggers.456.name: required key is missing"],
        id="missing-name",
    ),
    pytest.param(
        """
        triggers:
          456:
            on_any: {log: x}
            name: "  "
        """,
        ["4: config.triggers.456.name: name must not be empty"],
        id="blank-name",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_any:
              metric:
                labels: {kind: photo}
                name: "bad name"
        """,
        [
            "7: config.triggers.456.on_any.metric.name: invalid metric name 'bad name'; use "
            "letters, digits and _"
        ],
        id="metric-name-in-mapping",
    ),
    pytest.param(
        """
        triggers:
          abc: {name: X, on_any: {log: x}}
        """,
        ["2: config.triggers.abc: expected an integer, got the string 'abc'"],
        id="non-numeric-template-id",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_any:
              webhook:
                url: https://example.com
                header: {Authorization: x}
        """,
        [
            "7: config.triggers.456.on_any.webhook.header: unknown key 'header', "
            "did you mean 'headers'?"
        ],
        id="misspelt-webhook-key",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_any:
              webhook: {url: "ftp://example.com"}
        """,
        [
            "5: config.triggers.456.on_any.webhook.url: url must be an absolute http:// or "
            "https:// URL"
        ],
        id="webhook-url",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_any:
              webhook: {url: "https://svc:pa55word@example.com/hook"}
        """,
        [
            "5: config.triggers.456.on_any.webhook.url: url must not carry credentials "
            "(user:password@host): send them in an Authorization header"
        ],
        id="webhook-url-credentials",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_any:
              webhook:
                url: https://example.com
                method: GET
        """,
        [
            "7: config.triggers.456.on_any.webhook.method: unsupported method 'GET'; "
            "expected one of PATCH, POST, PUT"
        ],
        id="webhook-method",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_any:
              webhook: {url: "https://example.com", timeout: 0}
        """,
        [
            "5: config.triggers.456.on_any.webhook.timeout: timeout must be a positive number "
            "of seconds"
        ],
        id="webhook-timeout",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_any:
              log: {level: verbose, message: x}
        """,
        [
            "5: config.triggers.456.on_any.log.level: expected one of 'debug', 'info', "
            "'warning', 'error', got the string 'verbose'"
        ],
        id="log-level",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_any:
              metric: "bad name"
        """,
        [
            "5: config.triggers.456.on_any.metric: invalid metric name 'bad name'; use "
            "letters, digits and _"
        ],
        id="metric-name",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_any:
              metric: {name: ok, labels: {"bad-label": x}}
        """,
        [
            "5: config.triggers.456.on_any.metric.labels: invalid label name 'bad-label'; use "
            "letters, digits and _"
        ],
        id="metric-label",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_any:
              metric: {name: ok, labels: {instance: x}}
        """,
        [
            "5: config.triggers.456.on_any.metric.labels: label 'instance' is reserved: the worker "
            "adds the instance name"
        ],
        id="metric-reserved-label",
    ),
    pytest.param(
        """
        triggers:
          456:
            name: X
            on_assigned:
              metric: {name: done, labels: {kind: photo}}
            on_completed:
              metric: done
        """,
        [
            "1: config: metric 'done' is used with label names ['kind'] and []; one counter "
            "needs the same label names everywhere"
        ],
        id="metric-label-names-differ",
    ),
    pytest.param(
        """
        include_task_data: true
        trigers: {}
        """,
        [
            "2: config.trigers: unknown key 'trigers', did you mean 'triggers'?",
            "1: config.triggers: required key is missing",
        ],
        id="misspelt-triggers",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BROKEN)
def test_broken_configs_are_reported_at_their_line(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    assert sorted(problems(tmp_path, text)) == sorted(expected)


@pytest.mark.parametrize(
    ("template", "fields"),
    [
        ("plain text", ()),
        ("{trigger_name}/{task_id}", ("trigger_name", "task_id")),
        ("literal {{braces}} and {event_id}", ("event_id",)),
    ],
)
def test_template_fields(template: str, fields: tuple[str, ...]) -> None:
    assert template_fields(template) == fields


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{}", "unknown placeholder {}"),
        ("{task.name}", "unknown placeholder {task.name}"),
        ("{task_id!r}", "placeholder {task_id} takes no format spec or conversion"),
        ("{task_id", "invalid placeholder syntax in '{task_id'"),
    ],
)
def test_template_fields_rejects(template: str, message: str) -> None:
    with pytest.raises(ConfigValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        template_fields(template)
