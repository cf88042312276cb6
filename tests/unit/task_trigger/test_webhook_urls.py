"""Placeholders in webhook URLs: filled in the path and query, percent-encoded; checked at load."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.task_trigger.support import task_event, task_row, task_rows
from tests.unit.task_trigger.test_config import load as load_config
from tests.unit.task_trigger.test_plugin import fire, loaded

from claimx_plugin_task_trigger import TaskTriggerConfig
from claimx_plugin_task_trigger.shaping import UrlTemplate
from claimx_worker import Webhook
from claimx_worker.config.problems import ConfigError


def load(tmp_path: Path, url: str) -> TaskTriggerConfig:
    text = f"""
    triggers:
      456:
        name: Photo
        on_completed:
          webhook: "{url}"
    """
    return load_config(tmp_path, text)


def webhook_url(tmp_path: Path, url: str, task_name: str = "Photo Documentation") -> str:
    config = load(tmp_path, url)
    actions = fire(loaded(config), task_event(), task_rows(task_row(task_name=task_name)), config)
    assert actions is not None
    (webhook,) = actions
    assert isinstance(webhook, Webhook)
    return webhook.url


def test_placeholders_in_the_path_and_query_are_filled(tmp_path: Path) -> None:
    url = webhook_url(
        tmp_path, "https://hooks.example.com/projects/{project_id}/tasks?template={task_id}"
    )
    assert url == "https://hooks.example.com/projects/12345/tasks?template=456"


def test_values_are_percent_encoded(tmp_path: Path) -> None:
    url = webhook_url(
        tmp_path,
        "https://hooks.example.com/t/{task_name}?name={task_name}",
        task_name="a/b c&d=e?#",
    )
    assert url == "https://hooks.example.com/t/a%2Fb%20c%26d%3De%3F%23?name=a%2Fb%20c%26d%3De%3F%23"


def test_a_url_without_placeholders_is_sent_as_written(tmp_path: Path) -> None:
    assert webhook_url(tmp_path, "https://hooks.example.com/x?a=1") == (
        "https://hooks.example.com/x?a=1"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://hooks.example.com/{nope}", "unknown placeholder {nope}"),
        ("https://{project_id}.example.com/x", "placeholders go in the path and query only"),
    ],
)
def test_bad_placeholders_are_refused_at_load(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, url)
    (problem,) = caught.value.problems
    assert problem.line == 5
    assert message in problem.message


@given(task_name=st.text(max_size=40))
def test_any_value_stays_inside_its_path_segment_and_query_value(task_name: str) -> None:
    """Whatever a task's name holds, the URL keeps its scheme, host and path shape, and the
    value decodes back from its segment and its query parameter."""
    template = UrlTemplate("https://hooks.example.com/t/{task_name}/x?name={task_name}&k=1")
    url = httpx.URL(template.build({"task_name": task_name}))

    assert (url.scheme, url.host) == ("https", "hooks.example.com")
    segments = url.raw_path.decode().split("?")[0].split("/")
    assert segments[:3] == ["", "t", segments[2]]
    assert segments[3:] == ["x"]
    assert unquote(segments[2]) == task_name
    assert url.params["name"] == task_name
    assert url.params["k"] == "1"


@pytest.mark.parametrize("name", [".", ".."])
def test_a_dot_segment_value_cannot_climb_the_path(tmp_path: Path, name: str) -> None:
    url = webhook_url(tmp_path, "https://hooks.example.com/t/{task_name}/x", task_name=name)
    assert httpx.URL(url).path == f"/t/{name}/x"
