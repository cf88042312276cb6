"""TaskTriggerPlugin's hooks called directly with hand-built contexts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs
import pytest
from loguru import logger
from tests.unit.task_trigger.support import as_enriched, task_event, task_row, task_rows

from claimx_plugin_task_trigger import (
    ActionBlock,
    LogConfig,
    MetricConfig,
    PublishToTopicConfig,
    TaskTriggerConfig,
    TaskTriggerPlugin,
    TriggerConfig,
    WebhookConfig,
)
from claimx_plugin_task_trigger.payload import UtcClock
from claimx_worker import (
    Action,
    ClaimXEvent,
    EntityRows,
    Log,
    Metric,
    PluginContext,
    PublishToTopic,
    Webhook,
)
from claimx_worker.model import HandlerMetadata, Stage
from claimx_worker.model import rows as rows_module

if TYPE_CHECKING:
    from loguru import Record

FULL_BLOCK = ActionBlock(
    publish_to_topic=PublishToTopicConfig(topic="claimx.task-triggers"),
    webhook=WebhookConfig(
        url="https://hooks.example.com/x", headers={"Authorization": "Bearer tok"}, timeout=3.0
    ),
    log=LogConfig(message="{trigger_name}: {task_name} {event_type} ({assignment_id})"),
    metric=MetricConfig(name="claimx_photo", labels={"kind": "photo"}),
)
CONFIG = TaskTriggerConfig(
    triggers={
        456: TriggerConfig(
            name="Photo Documentation Task",
            on_completed=FULL_BLOCK,
            on_any=ActionBlock(
                log=LogConfig(message="any {event_id} {{literal}}", level="debug"),
                metric=MetricConfig(name="claimx_any"),
            ),
        ),
        789: TriggerConfig(
            name="Damage Assessment",
            on_assigned=ActionBlock(
                publish_to_topic=PublishToTopicConfig(
                    topic="claimx.damage", key="{project_id}-{assignment_id}"
                )
            ),
        ),
    }
)


def loaded(config: TaskTriggerConfig = CONFIG) -> TaskTriggerPlugin:
    plugin = TaskTriggerPlugin()
    plugin.on_load(config=config)
    return plugin


def fire(
    plugin: TaskTriggerPlugin,
    event: ClaimXEvent,
    rows: EntityRows,
    config: TaskTriggerConfig = CONFIG,
) -> list[Action] | None:
    context = PluginContext(
        event=event,
        stage=Stage.ENRICHMENT_COMPLETE,
        rows=rows,
        metadata=HandlerMetadata(handler="task", api_calls=2, duration_ms=3.0),
        config=config,
        instance_name="task_trigger",
    )
    return plugin.on_enrichment_complete(context=context)


@pytest.fixture
def records() -> Iterator[list[Record]]:
    captured: list[Record] = []
    sink = logger.add(lambda message: captured.append(message.record), level="DEBUG")
    yield captured
    logger.remove(sink)


def test_completed_fires_the_specific_block_then_on_any_in_order() -> None:
    actions = fire(loaded(), task_event("CUSTOM_TASK_COMPLETED"), task_rows(task_row(456)))

    assert actions is not None
    assert [type(action) for action in actions] == [
        PublishToTopic,
        Webhook,
        Log,
        Metric,
        Log,
        Metric,
    ]
    publish, webhook, log, metric, any_log, any_metric = actions
    assert isinstance(publish, PublishToTopic)
    payload = publish.value
    assert publish.topic == "claimx.task-triggers"
    assert publish.key == "12345"
    assert publish.headers == {
        "trigger_name": "Photo Documentation Task",
        "task_id": "456",
        "event_type": "CUSTOM_TASK_COMPLETED",
        "event_id": "evt-8c1e5d0b2f",
        "x-trigger-name": "Photo Documentation Task",
        "x-task-id": "456",
        "x-event-type": "CUSTOM_TASK_COMPLETED",
    }
    assert payload["trigger_name"] == "Photo Documentation Task"
    assert payload["task"]["assignment_id"] == 98765
    assert "project" not in payload
    assert webhook == Webhook(
        url="https://hooks.example.com/x",
        method="POST",
        headers={"Authorization": "Bearer tok"},
        body=payload,
        timeout=3.0,
    )
    assert log == Log(
        message="Photo Documentation Task: Photo Documentation CUSTOM_TASK_COMPLETED (98765)",
        level="info",
    )
    assert metric == Metric(name="claimx_photo", value=1.0, labels={"kind": "photo"})
    assert any_log == Log(message="any evt-8c1e5d0b2f {literal}", level="debug")
    assert any_metric == Metric(name="claimx_any", value=1.0, labels={})


def test_rows_as_enrichment_makes_them_fire_alike_without_typed_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = attrs.evolve(CONFIG, include_project_data=True)
    monkeypatch.setattr(UtcClock, "now", lambda _self: "2024-05-01T12:00:00.000Z")
    typed = fire(loaded(config), task_event(), task_rows(task_row(456)), config)
    enriched = as_enriched(task_rows(task_row(456)))
    monkeypatch.setattr(rows_module, "_typed_row", pytest.fail)

    actions = fire(loaded(config), task_event(), enriched, config)

    assert actions is not None
    assert actions == typed
    publish = actions[0]
    assert isinstance(publish, PublishToTopic)
    assert publish.value["project"]["customer_last_name"] == "Lovelace"
    assert publish.value["task"]["date_assigned"] == "2024-04-30T09:15:00.000Z"


def test_assigned_fires_only_on_any_when_there_is_no_specific_block() -> None:
    actions = fire(
        loaded(), task_event("CUSTOM_TASK_ASSIGNED"), task_rows(task_row(456, status="ASSIGNED"))
    )

    assert actions == [
        Log(message="any evt-8c1e5d0b2f {literal}", level="debug"),
        Metric(name="claimx_any", value=1.0, labels={}),
    ]


def test_publish_key_template() -> None:
    actions = fire(
        loaded(), task_event("CUSTOM_TASK_ASSIGNED"), task_rows(task_row(789, status="ASSIGNED"))
    )

    assert actions is not None
    (publish,) = actions
    assert isinstance(publish, PublishToTopic)
    assert publish.key == "12345-98765"
    assert publish.headers["event_type"] == "CUSTOM_TASK_ASSIGNED"
    assert publish.value["task_status"] == "ASSIGNED"


def test_each_match_gets_its_own_payload_and_timestamp() -> None:
    plugin = loaded()
    first = fire(plugin, task_event(event_id="a"), task_rows(task_row(456)))
    second = fire(plugin, task_event(event_id="b"), task_rows(task_row(456)))

    assert first is not None
    assert second is not None
    assert isinstance(first[0], PublishToTopic)
    assert isinstance(second[0], PublishToTopic)
    assert first[0].value is not second[0].value
    assert (first[0].value["event_id"], second[0].value["event_id"]) == ("a", "b")


def test_project_data_is_included_when_configured() -> None:
    config = TaskTriggerConfig(
        triggers={456: TriggerConfig(name="P", on_any=FULL_BLOCK)},
        include_task_data=False,
        include_project_data=True,
    )
    plugin = loaded(config)

    with_project = fire(plugin, task_event(), task_rows(task_row(456)), config)
    without_project = fire(
        plugin, task_event(), task_rows(task_row(456), with_project=False), config
    )

    assert with_project is not None
    assert without_project is not None
    assert isinstance(with_project[0], PublishToTopic)
    assert isinstance(without_project[0], PublishToTopic)
    assert with_project[0].value["project"]["project_number"] == "CLM-2024-0042"
    assert "task" not in with_project[0].value
    assert without_project[0].value["project"] is None


@pytest.mark.parametrize(
    ("event_type", "task_id"),
    [
        ("CUSTOM_TASK_COMPLETED", 999),  # no trigger for the template
        ("CUSTOM_TASK_COMPLETED", 789),  # 789 has no on_completed nor on_any
        ("PROJECT_CREATED", 456),  # not a task event, even with a task row
        ("SOMETHING_NEW", 456),
    ],
)
def test_misses_return_nothing(event_type: str, task_id: int) -> None:
    assert fire(loaded(), task_event(event_type), task_rows(task_row(task_id))) is None


def test_task_event_without_task_rows_returns_nothing() -> None:
    assert fire(loaded(), task_event(), EntityRows()) is None


def test_matching_uses_the_first_task_row() -> None:
    rows = EntityRows(tasks=(task_row(999), task_row(456)))

    assert fire(loaded(), task_event(), rows) is None


def test_one_info_line_per_match(records: list[Record]) -> None:
    fire(loaded(), task_event("CUSTOM_TASK_COMPLETED"), task_rows(task_row(456)))

    assert [(r["level"].name, r["message"], r["extra"]) for r in records] == [
        (
            "INFO",
            "Task trigger matched",
            {
                "trigger_name": "Photo Documentation Task",
                "task_id": 456,
                "event_type": "CUSTOM_TASK_COMPLETED",
                "action_count": 6,
            },
        )
    ]


def test_a_miss_logs_at_debug_only(records: list[Record]) -> None:
    plugin = loaded()
    fire(plugin, task_event(), task_rows(task_row(999)))
    fire(plugin, task_event("PROJECT_CREATED"), EntityRows())

    assert [(r["level"].name, r["message"], r["extra"]) for r in records] == [
        ("DEBUG", "No task trigger for the task template", {"task_id": 999})
    ]


def test_instances_keep_their_own_triggers() -> None:
    photo = loaded()
    other = loaded(TaskTriggerConfig(triggers={999: TriggerConfig(name="O", on_any=FULL_BLOCK)}))

    assert fire(other, task_event(), task_rows(task_row(456))) is None
    assert fire(photo, task_event(), task_rows(task_row(456))) is not None
    assert fire(other, task_event(), task_rows(task_row(999))) is not None


def test_published_topics_are_the_publish_actions_topics() -> None:
    assert loaded().published_topics() == {"claimx.task-triggers", "claimx.damage"}
    no_publish = TaskTriggerConfig(
        triggers={1: TriggerConfig(name="Log only", on_any=ActionBlock(log=LogConfig(message="x")))}
    )
    assert loaded(no_publish).published_topics() == set()
