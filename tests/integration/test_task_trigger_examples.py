"""Every task trigger configuration the docs show, loaded and run through the real plugin host.

The examples come from the fenced ``yaml`` blocks of ``docs/task-trigger.md``
(read at test time, so the docs cannot drift from the behaviour): blocks starting with
``# example: <id>`` are complete instance files, the others are action blocks. Each is loaded by
``PluginHost`` from a plugins directory, started, and fed enriched task events through the stage
runner; the actions and payloads are compared field by field with what the guide says.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker import (
    EntityRows,
    HandlerMetadata,
    Log,
    Metric,
    PublishToTopic,
    Webhook,
    converter,
)
from claimx_worker.cli import cli
from claimx_worker.config.problems import ConfigError
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.runner import PluginAction
from tests.unit.task_trigger.support import (
    PAYLOAD_BASE_KEYS,
    task_event,
    task_row,
    task_rows,
)

REPO = Path(__file__).resolve().parents[2]
PLUGINS_CONFIG = REPO / "plugins" / "config"
TRIGGER_GUIDE = REPO / "docs" / "task-trigger.md"
PLUGINS_GUIDE = REPO / "docs" / "configuring-plugins.md"
URLS = {
    "TASK_TRIGGER_WEBHOOK_URL": "http://127.0.0.1:8099/hooks/task-trigger",
    "DAMAGE_ASSESSMENT_WEBHOOK_URL": "http://127.0.0.1:8099/hooks/damage-assessment",
}
ENV = {
    "WEBHOOK_TOKEN": "tok-0123456789",
    "WEBHOOK_SIGNING_SECRET": "whsec_c2VjcmV0LWtleQ==",
    "CRM_TOKEN": "tok-crm-0123",
    **URLS,
}
METADATA = HandlerMetadata(handler="task", api_calls=2, duration_ms=12.0)
ASSIGNED, COMPLETED = "CUSTOM_TASK_ASSIGNED", "CUSTOM_TASK_COMPLETED"
ISO_MILLIS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


def fenced_blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), re.MULTILINE | re.DOTALL)


def readme_examples() -> dict[str, str]:
    examples = {}
    for block in fenced_blocks(TRIGGER_GUIDE, "yaml"):
        first = block.splitlines()[0]
        if first.startswith("# example: "):
            examples[first.removeprefix("# example: ").strip()] = block
    return examples


def readme_fragments() -> list[str]:
    return [
        b
        for b in fenced_blocks(TRIGGER_GUIDE, "yaml")
        if not b.startswith(("# example: ", "# connection: "))
    ]


def readme_connections() -> dict[str, str]:
    """The connection files the guide shows (blocks starting ``# connection: <name>``)."""
    return {
        block.splitlines()[0].removeprefix("# connection: ").strip(): block
        for block in fenced_blocks(TRIGGER_GUIDE, "yaml")
        if block.startswith("# connection: ")
    }


async def started_host(plugins_dir: Path, env: Mapping[str, str] = ENV) -> PluginHost:
    host = PluginHost.load(plugins_dir, env=env, registry=CollectorRegistry())
    await host.start()
    return host


async def host_for(tmp_path: Path, instance_file: str, env: Mapping[str, str] = ENV) -> PluginHost:
    directory = tmp_path / "plugins" / "example"
    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text(instance_file)
    connections = tmp_path / "plugins" / "connections"
    connections.mkdir()
    for name, text in readme_connections().items():
        (connections / f"{name}.yaml").write_text(text)
    return await started_host(tmp_path / "plugins", env)


async def run(
    host: PluginHost, event_type: str, template: int, *, rows: EntityRows | None = None
) -> tuple[PluginAction, ...]:
    status = "ASSIGNED" if event_type == ASSIGNED else "COMPLETED"
    event = task_event(event_type)
    rows = rows or task_rows(task_row(template, status=status))
    result = await host.run_enrichment_complete(event, rows, METADATA)
    assert not result.filtered
    return result.actions


def actions_of(results: tuple[PluginAction, ...], instance: str) -> list[Any]:
    assert [r.instance for r in results] == [instance] * len(results)
    assert [r.index for r in results] == list(range(len(results)))
    return [r.action for r in results]


def check_payload(
    payload: dict[str, Any],
    *,
    trigger_name: str,
    event_type: str,
    template: int,
    with_task: bool,
    with_project: bool,
) -> None:
    """The payload has exactly the documented keys and values (the timestamp: its format)."""
    status = "ASSIGNED" if event_type == ASSIGNED else "COMPLETED"
    expected: dict[str, Any] = {
        "trigger_name": trigger_name,
        "event_id": "evt-8c1e5d0b2f",
        "event_type": event_type,
        "project_id": "12345",
        "task_id": template,
        "assignment_id": 98765,
        "task_name": "Photo Documentation",
        "task_status": status,
        "timestamp": payload["timestamp"],
    }
    rows = task_rows(task_row(template, status=status))
    if with_task:
        expected["task"] = converter.unstructure(rows.tasks[0])
    if with_project:
        expected["project"] = converter.unstructure(rows.projects[0])
    assert payload == expected
    assert list(payload) == list(expected)
    assert ISO_MILLIS_Z.match(payload["timestamp"])
    assert json.loads(json.dumps(payload)) == payload


def kafka_headers(trigger_name: str, event_type: str, template: int) -> dict[str, str]:
    return {
        "trigger_name": trigger_name,
        "task_id": str(template),
        "event_type": event_type,
        "event_id": "evt-8c1e5d0b2f",
        "x-trigger-name": trigger_name,
        "x-task-id": str(template),
        "x-event-type": event_type,
    }


def test_the_guide_examples_are_all_covered() -> None:
    assert sorted(readme_examples()) == sorted(EXAMPLE_CHECKS)
    assert len(readme_fragments()) == len(FRAGMENT_ACTIONS)


async def check_minimal(tmp_path: Path) -> None:
    host = await host_for(tmp_path, readme_examples()["minimal"])

    assert actions_of(await run(host, COMPLETED, 456), "task_trigger") == [
        Log(message="Photo documentation done on project 12345", level="info")
    ]
    assert await run(host, ASSIGNED, 456) == ()
    assert await run(host, COMPLETED, 789) == ()


async def check_photo_documentation(tmp_path: Path) -> None:
    host = await host_for(tmp_path, readme_examples()["photo-documentation"])

    publish, webhook, log = actions_of(await run(host, COMPLETED, 456), "task_trigger")

    name = "Photo Documentation Task"
    assert isinstance(publish, PublishToTopic)
    check_payload(
        publish.value,
        trigger_name=name,
        event_type=COMPLETED,
        template=456,
        with_task=True,
        with_project=False,
    )
    assert publish == PublishToTopic(
        topic="claimx.task-triggers",
        value=publish.value,
        key="12345",
        headers=kafka_headers(name, COMPLETED, 456),
    )
    assert webhook == Webhook(
        url="https://hooks.example.com/claimx",
        method="POST",
        headers={"Authorization": "Bearer tok-0123456789"},
        body=publish.value,
        timeout=10.0,
    )
    assert log == Log(
        message="Photo documentation completed: assignment 98765 on project 12345", level="info"
    )
    assert await run(host, ASSIGNED, 456) == ()
    assert await run(host, COMPLETED, 999) == ()


async def check_damage_assessment(tmp_path: Path) -> None:
    host = await host_for(tmp_path, readme_examples()["damage-assessment"])
    (instance,) = host.instances
    assert (instance.name, instance.spec.priority) == ("damage_assessment", 20)
    name = "Damage Assessment"
    metric = Metric(name="damage_assessment_tasks", value=1.0, labels={"source": "claimx"})

    webhook, log, counted = actions_of(await run(host, ASSIGNED, 789), "damage_assessment")

    assert isinstance(webhook, Webhook)
    check_payload(
        webhook.body,
        trigger_name=name,
        event_type=ASSIGNED,
        template=789,
        with_task=False,
        with_project=True,
    )
    assert webhook == Webhook(url="https://hooks.example.com/damage", body=webhook.body)
    assert log == Log(
        message="Damage Assessment CUSTOM_TASK_ASSIGNED: task 789 on project 12345",
        level="warning",
    )
    assert counted == metric

    publish, log, counted = actions_of(await run(host, COMPLETED, 789), "damage_assessment")

    assert isinstance(publish, PublishToTopic)
    check_payload(
        publish.value,
        trigger_name=name,
        event_type=COMPLETED,
        template=789,
        with_task=False,
        with_project=True,
    )
    assert publish == PublishToTopic(
        topic="claimx.damage-assessments",
        value=publish.value,
        key="98765",
        headers=kafka_headers(name, COMPLETED, 789),
    )
    assert log == Log(
        message="Damage Assessment CUSTOM_TASK_COMPLETED: task 789 on project 12345",
        level="warning",
    )
    assert counted == metric


async def check_string_forms(tmp_path: Path) -> None:
    host = await host_for(tmp_path, readme_examples()["string-forms"])
    counted = Metric(name="roof_inspection_tasks", value=1.0, labels={})

    assert actions_of(await run(host, ASSIGNED, 101), "task_trigger") == [counted]
    assert actions_of(await run(host, COMPLETED, 101), "task_trigger") == [counted]
    assert actions_of(await run(host, ASSIGNED, 102), "task_trigger") == [
        Log(message="Inventory assigned to project 12345", level="info")
    ]
    (publish,) = actions_of(await run(host, COMPLETED, 102), "task_trigger")
    assert isinstance(publish, PublishToTopic)
    assert (publish.topic, publish.key) == ("claimx.inventory", "12345")
    assert publish.headers == kafka_headers("Contents Inventory", COMPLETED, 102)


async def check_conditions(tmp_path: Path) -> None:
    host = await host_for(tmp_path, readme_examples()["conditions"])
    done = Log(message="Photo documentation done on project 12345", level="info")

    assert actions_of(await run(host, COMPLETED, 456), "task_trigger") == [done]
    elsewhere = EntityRows(tasks=(task_row(456, project_id="99999"),))
    other_event = task_event(COMPLETED, project_id="99999")
    result = await host.run_enrichment_complete(other_event, elsewhere, METADATA)
    assert result.actions == ()
    not_done = task_rows(task_row(456, status="ASSIGNED"))
    assert await run(host, COMPLETED, 456, rows=not_done) == ()


async def check_connection(tmp_path: Path) -> None:
    host = await host_for(tmp_path, readme_examples()["connection"])
    assert set(host.connections) == {"crm"}
    crm = host.connections["crm"].config
    assert (crm.base_url, crm.auth.type, crm.rate_limit) == (
        "https://crm.example.com/api",
        "bearer",
        20.0,
    )

    publish, webhook = actions_of(await run(host, COMPLETED, 456), "task_trigger")

    assert webhook == Webhook(
        url="/contacts/12345/notes?task=456",
        connection="crm",
        body={
            "note": "Photo documentation completed (Photo Documentation)",
            "project": "12345",
            "assignment": 98765,
            "completed_at": "2024-05-01T11:59:58.000Z",
            "source": "claimx",
        },
        timeout=0.0,
    )
    assert publish == PublishToTopic(
        topic="claimx.crm-notes",
        value={"project": "12345", "status": "COMPLETED"},
        key="12345",
        headers=kafka_headers("Photo Documentation Task", COMPLETED, 456),
    )


EXAMPLE_CHECKS = {
    "conditions": check_conditions,
    "connection": check_connection,
    "minimal": check_minimal,
    "photo-documentation": check_photo_documentation,
    "damage-assessment": check_damage_assessment,
    "string-forms": check_string_forms,
}


@pytest.mark.parametrize("example", sorted(EXAMPLE_CHECKS))
async def test_guide_example_behaves_as_documented(tmp_path: Path, example: str) -> None:
    await EXAMPLE_CHECKS[example](tmp_path)


FRAGMENT_TRIGGER = "Fragment"
FRAGMENT_HEADERS = kafka_headers(FRAGMENT_TRIGGER, COMPLETED, 456)
FRAGMENT_ACTIONS: list[Any] = [
    PublishToTopic(topic="claimx.task-triggers", value=None, key="12345", headers=FRAGMENT_HEADERS),
    PublishToTopic(topic="claimx.task-triggers", value=None, key="98765", headers=FRAGMENT_HEADERS),
    Webhook(url="https://hooks.example.com/claimx"),
    Webhook(
        url="https://hooks.example.com/claimx",
        method="PUT",
        headers={"Authorization": "Bearer tok-0123456789"},
        timeout=5.0,
        signing_secret="whsec_c2VjcmV0LWtleQ==",
    ),
    Log(message="Photo documentation done on project 12345", level="info"),
    Log(message="Fragment: task 456 CUSTOM_TASK_COMPLETED on project 12345", level="warning"),
    Metric(name="photo_documentation_done"),
    Metric(name="photo_documentation_done", labels={"template": "456"}),
]


@pytest.mark.parametrize(
    ("fragment", "expected"),
    list(zip(readme_fragments(), FRAGMENT_ACTIONS, strict=False)),
    ids=[f"fragment-{i}" for i in range(len(FRAGMENT_ACTIONS))],
)
async def test_guide_action_block_behaves_as_documented(
    tmp_path: Path, fragment: str, expected: Any
) -> None:
    instance_file = (
        "name: fragment\nplugin: task_trigger\nconfig:\n  triggers:\n    456:\n"
        f"      name: {FRAGMENT_TRIGGER}\n      on_completed:\n"
        + textwrap.indent(fragment, " " * 8)
    )
    host = await host_for(tmp_path, instance_file)

    (action,) = actions_of(await run(host, COMPLETED, 456), "fragment")

    if isinstance(action, PublishToTopic):
        assert action == PublishToTopic(
            topic=expected.topic, value=action.value, key=expected.key, headers=expected.headers
        )
        check_payload(
            action.value,
            trigger_name=FRAGMENT_TRIGGER,
            event_type=COMPLETED,
            template=456,
            with_task=True,
            with_project=False,
        )
    elif isinstance(action, Webhook):
        assert action.body is not None
        assert action == Webhook(
            url=expected.url,
            method=expected.method,
            headers=expected.headers,
            body=action.body,
            timeout=expected.timeout,
            signing_secret=expected.signing_secret,
        )
    else:
        assert action == expected


def test_guide_payload_example_has_the_payload_keys() -> None:
    (example,) = [json.loads(block) for block in fenced_blocks(TRIGGER_GUIDE, "json")]

    assert list(example) == [*PAYLOAD_BASE_KEYS, "task"]
    assert ISO_MILLIS_Z.match(example["timestamp"])


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The worker's log set-up (human format, INFO) into a StringIO; loguru restored after."""
    sink = io.StringIO()
    configure_logging(
        redactor=Redactor(ENV.values()),
        level="INFO",
        fmt="human",
        sink=sink,
        capture_stdlib=False,
    )
    yield sink
    logger.remove()
    logger.add(sys.stderr)


async def test_one_runbook_line_per_match_and_nothing_for_a_miss(
    tmp_path: Path, log_lines: io.StringIO
) -> None:
    host = await host_for(tmp_path, readme_examples()["photo-documentation"])
    loading = log_lines.getvalue()  # the host's own lines (Loaded plugin ...) before the events

    await run(host, COMPLETED, 456)
    await run(host, COMPLETED, 999)
    await run(host, ASSIGNED, 456)
    await run(host, "PROJECT_CREATED", 456, rows=EntityRows())

    assert log_lines.getvalue().removeprefix(loading) == (
        "INFO: Task trigger matched | trigger_name=Photo Documentation Task task_id=456 "
        "event_type=CUSTOM_TASK_COMPLETED action_count=3\n"
    )


def test_the_shipped_instance_refuses_to_start_without_the_webhook_token_and_urls() -> None:
    """No default webhook URL: the token never goes to an address the operator did not set."""
    with pytest.raises(ConfigError) as info:
        PluginHost.load(PLUGINS_CONFIG, env={}, registry=CollectorRegistry())
    assert [str(problem) for problem in info.value.problems] == [
        "plugins/config/task_trigger/config.yaml:19: "
        "config.triggers.456.on_completed.webhook.url: "
        "environment variable 'TASK_TRIGGER_WEBHOOK_URL' is not set and has no default",
        "plugins/config/task_trigger/config.yaml:21: "
        "config.triggers.456.on_completed.webhook.headers.Authorization: "
        "environment variable 'WEBHOOK_TOKEN' is not set and has no default",
        "plugins/config/task_trigger/config.yaml:29: "
        "config.triggers.789.on_assigned.webhook: "
        "environment variable 'DAMAGE_ASSESSMENT_WEBHOOK_URL' is not set and has no default",
    ]


async def test_the_shipped_instance_and_a_second_instance_of_the_same_plugin(
    tmp_path: Path,
) -> None:
    """plugins/config as shipped, plus the plugins guide's 'another instance' example next to it."""
    plugins_dir = tmp_path / "plugins"
    shutil.copytree(PLUGINS_CONFIG / "task_trigger", plugins_dir / "task_trigger")
    second = next(
        block
        for block in fenced_blocks(PLUGINS_GUIDE, "yaml")
        if block.startswith("name: damage_assessment")
    )
    (plugins_dir / "damage_assessment").mkdir()
    (plugins_dir / "damage_assessment" / "config.yaml").write_text(second)
    host = await started_host(plugins_dir, env={"WEBHOOK_TOKEN": "tok-1", **URLS})

    assert [i.name for i in host.instances] == ["task_trigger", "damage_assessment"]
    photo = await run(host, COMPLETED, 456)
    assert [type(r.action) for r in photo] == [PublishToTopic, Webhook, Log]
    publish, webhook, _ = (r.action for r in photo)
    assert isinstance(publish, PublishToTopic)
    assert isinstance(webhook, Webhook)
    assert publish.topic == "claimx.task-triggers"
    assert webhook.url == "http://127.0.0.1:8099/hooks/task-trigger"
    assert webhook.headers == {"Authorization": "Bearer tok-1"}
    damage = await run(host, COMPLETED, 789)
    assert [(r.instance, type(r.action)) for r in damage] == [
        ("task_trigger", PublishToTopic),
        ("task_trigger", Log),
        ("task_trigger", Metric),
        ("damage_assessment", PublishToTopic),
    ]
    first, second_publish = damage[0].action, damage[3].action
    assert isinstance(first, PublishToTopic)
    assert isinstance(second_publish, PublishToTopic)
    assert (first.topic, first.key) == ("claimx.task-triggers", "98765")
    assert (second_publish.topic, second_publish.key) == ("claimx.damage-assessments", "12345")
    assert [type(r.action) for r in await run(host, ASSIGNED, 789)] == [Webhook, Log, Metric]


async def test_disabled_instance_fires_nothing(tmp_path: Path) -> None:
    text = readme_examples()["photo-documentation"].replace(
        "plugin: task_trigger\n", "plugin: task_trigger\nenabled: false\n"
    )
    host = await host_for(tmp_path, text)

    assert host.instances == ()
    assert await run(host, COMPLETED, 456) == ()


def test_shipped_config_uses_no_secret_literals() -> None:
    text = (PLUGINS_CONFIG / "task_trigger" / "config.yaml").read_text()

    assert re.search(r"Bearer [^$\s\"]", text) is None


@pytest.mark.usefixtures("restore_logging")
def test_guide_configuration_errors_are_what_validate_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide's error example: the shipped file with its two documented mistakes."""
    shipped = (PLUGINS_CONFIG / "task_trigger" / "config.yaml").read_text().splitlines()
    assert shipped[15] == "      on_completed:"
    assert shipped[36].endswith('assignment {assignment_id} on project {project_id}"')
    shipped[15] = "      on_complete:"
    shipped[36] = shipped[36].replace("{project_id}", "{project}")
    directory = tmp_path / "plugins" / "config" / "task_trigger"
    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text("\n".join(shipped) + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEBHOOK_TOKEN", "tok-1")
    for name, url in URLS.items():
        monkeypatch.setenv(name, url)
    (documented,) = fenced_blocks(TRIGGER_GUIDE, "text")

    result = CliRunner().invoke(cli, ["plugins", "validate", "--plugins-dir", "plugins/config"])

    assert result.exit_code == 2
    assert result.stderr == documented


async def test_the_plugins_guide_conditions_and_connection_examples_load(tmp_path: Path) -> None:
    """docs/configuring-plugins.md: its conditions example (as an instance's) and its connection
    file load and work, with the shipped instance beside them."""
    blocks = fenced_blocks(PLUGINS_GUIDE, "yaml")
    (conditions,) = [block for block in blocks if block.startswith("conditions:")]
    (connection,) = [block for block in blocks if block.startswith("# connections/crm.yaml")]
    plugins_dir = tmp_path / "plugins"
    (plugins_dir / "connections").mkdir(parents=True)
    (plugins_dir / "connections" / "crm.yaml").write_text(connection)
    (plugins_dir / "texas").mkdir()
    (plugins_dir / "texas" / "config.yaml").write_text(
        conditions + "plugin: task_trigger\nconfig:\n  triggers:\n    456:\n      name: TX\n"
        "      on_completed: {log: tx}\n"
    )
    host = await started_host(plugins_dir, env={"CRM_CLIENT_SECRET": "s3cret"})

    assert host.connections["crm"].config.auth.type == "oauth2"
    texas = EntityRows(
        tasks=(task_row(456),),
        projects=(attrs.evolve(task_rows(task_row(456)).projects[0], state_province="TX"),),
    )
    result = await host.run_enrichment_complete(task_event(COMPLETED), texas, METADATA)
    assert [action.action for action in result.actions] == [Log(message="tx", level="info")]
    illinois = task_rows(task_row(456))
    result = await host.run_enrichment_complete(task_event(COMPLETED), illinois, METADATA)
    assert result.actions == ()
