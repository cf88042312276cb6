"""``claimx-worker simulate``: the dry run, end to end through the command line.

Examples printed by ``--example`` are fed back into ``simulate`` with the shipped task trigger
instance (``plugins/config``): raw through the in-process API simulator, raw through "the API"
(the settings file pointing at the simulator fixture), and enriched. The actions must be those
``docs/task-trigger.md`` documents, with nothing executed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from claimx_worker.cli import cli
from claimx_worker.testing import ClaimXApiSimulator
from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN

pytestmark = pytest.mark.usefixtures("restore_logging")

REPO = Path(__file__).resolve().parents[2]
PLUGINS = str(REPO / "plugins" / "config")
TOKEN = "tok-5f3e9a1c7b2d"
PHOTO_URL = "http://127.0.0.1:8099/hooks/task-trigger"
DAMAGE_URL = "http://127.0.0.1:8099/hooks/damage-assessment"
ENV = {
    "WEBHOOK_TOKEN": TOKEN,
    "TASK_TRIGGER_TOPIC": "",
    "TASK_TRIGGER_WEBHOOK_URL": PHOTO_URL,
    "DAMAGE_ASSESSMENT_WEBHOOK_URL": DAMAGE_URL,
    # a ${VAR} value is a secret unless declared public: these URLs carry no credential
    "CLAIMX_PUBLIC_VARIABLES": "TASK_TRIGGER_WEBHOOK_URL DAMAGE_ASSESSMENT_WEBHOOK_URL",
}


def invoke(*args: str, stdin: str | None = None, env: Mapping[str, str] = ENV) -> Result:
    unset = {name: None for name, value in env.items() if value == ""}
    return CliRunner().invoke(
        cli, ["simulate", *args], input=stdin, env={**env, **unset}, catch_exceptions=False
    )


def example(event_type: str, *, enriched: bool = False) -> str:
    result = invoke("--example", event_type, *(["--enriched"] if enriched else []))
    assert result.exit_code == 0, result.output
    return result.stdout


def actions_of(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    actions: list[dict[str, Any]] = json.loads(result.stdout)
    return actions


def payload_checks(payload: dict[str, Any], *, event_type: str, status: str) -> None:
    assert payload["trigger_name"] == "Photo Documentation Task"
    assert payload["event_type"] == event_type
    assert (payload["project_id"], payload["task_id"]) == ("12345", 456)
    assert payload["task_status"] == status
    assert payload["task"]["task_id"] == 456
    assert "project" not in payload  # include_project_data: false


def test_a_webhook_url_from_a_variable_is_masked_unless_declared_public() -> None:
    raw = example("custom_task_completed")
    private = {**ENV, "CLAIMX_PUBLIC_VARIABLES": ""}
    result = invoke("-", "--simulator", "--plugins-dir", PLUGINS, "--json", stdin=raw, env=private)
    _, webhook, _ = actions_of(result)
    assert webhook["url"] == "***"
    assert PHOTO_URL not in result.output


def test_a_completed_photo_task_through_the_simulator_gives_the_documented_actions() -> None:
    raw = example("custom_task_completed")
    assert json.loads(raw)["event_type"] == "CUSTOM_TASK_COMPLETED"
    result = invoke("-", "--simulator", "--plugins-dir", PLUGINS, "--json", stdin=raw)
    publish, webhook, log = actions_of(result)
    event_id = json.loads(raw)["event_id"]
    assert {k: publish[k] for k in ("instance", "stage", "index", "type", "topic", "key")} == {
        "instance": "task_trigger",
        "stage": "enrichment_complete",
        "index": 0,
        "type": "publish_to_topic",
        "topic": "claimx.task-triggers",
        "key": "12345",
    }
    assert publish["headers"] == {
        "trigger_name": "Photo Documentation Task",
        "task_id": "456",
        "event_type": "CUSTOM_TASK_COMPLETED",
        "event_id": event_id,
        "x-trigger-name": "Photo Documentation Task",
        "x-task-id": "456",
        "x-event-type": "CUSTOM_TASK_COMPLETED",
    }
    payload_checks(publish["value"], event_type="CUSTOM_TASK_COMPLETED", status="COMPLETED")
    assert (webhook["type"], webhook["method"], webhook["url"]) == ("webhook", "POST", PHOTO_URL)
    assert webhook["headers"] == {"Authorization": "***"}
    assert webhook["signed"] is False
    assert webhook["body"]["task_id"] == 456
    assert publish["idempotency_key"] != webhook["idempotency_key"]
    assert log == {
        "instance": "task_trigger",
        "stage": "enrichment_complete",
        "index": 2,
        "type": "log",
        "level": "info",
        "message": "Photo documentation completed: assignment 12345681 on project 12345",
        "fields": {},
    }
    assert "simulated data" in result.stderr
    assert TOKEN not in result.output


def test_an_enriched_example_runs_without_any_api() -> None:
    enriched = example("CUSTOM_TASK_ASSIGNED", enriched=True)
    assert set(json.loads(enriched)) == {"event", "rows"}
    result = invoke("-", "--enriched", "--plugins-dir", PLUGINS, "--json", stdin=enriched)
    assert actions_of(result) == [
        {
            "instance": "task_trigger",
            "stage": "enrichment_complete",
            "index": 0,
            "type": "log",
            "level": "info",
            "message": "Photo documentation assigned: task 456 on project 12345",
            "fields": {},
        }
    ]
    assert "simulated" not in result.output


def test_on_any_actions_follow_the_specific_block_for_template_789(tmp_path: Path) -> None:
    document = json.loads(example("CUSTOM_TASK_ASSIGNED", enriched=True))
    document["rows"]["tasks"][0]["task_id"] = 789
    (tmp_path / "assigned-789.json").write_text(json.dumps(document))
    result = invoke(
        str(tmp_path / "assigned-789.json"), "--enriched", "--plugins-dir", PLUGINS, "--json"
    )
    webhook, log, metric = actions_of(result)
    assert webhook["url"] == DAMAGE_URL
    assert log["message"] == (
        "Damage Assessment CUSTOM_TASK_ASSIGNED: assignment 12345678 on project 12345"
    )
    assert (metric["name"], metric["counter"], metric["value"], metric["labels"]) == (
        "damage_assessment_tasks",
        "claimx_plugin_damage_assessment_tasks",
        1.0,
        {"template": "789"},
    )


def test_the_actions_of_a_shadow_instance_are_marked_as_recorded_not_run(tmp_path: Path) -> None:
    shadow = tmp_path / "plugins" / "task_trigger"
    shutil.copytree(Path(PLUGINS) / "task_trigger", shadow)
    config = shadow / "config.yaml"
    config.write_text(config.read_text().replace("enabled: true", "enabled: true\nmode: shadow"))
    enriched = example("CUSTOM_TASK_ASSIGNED", enriched=True)
    plugins = str(tmp_path / "plugins")

    (log,) = actions_of(
        invoke("-", "--enriched", "--plugins-dir", plugins, "--json", stdin=enriched)
    )
    human = invoke("-", "--enriched", "--plugins-dir", plugins, stdin=enriched)

    assert (log["type"], log["shadow"]) == ("log", True)
    assert (
        "0 actions would run, 1 would be recorded on the shadow topic (shadow mode)" in human.output
    )
    assert (
        "1. log from task_trigger (enrichment_complete, action 0; shadow: recorded, not run)"
        in (human.output)
    )


def test_the_human_report_has_one_block_per_action_and_no_secret() -> None:
    result = invoke(
        "-", "--simulator", "--plugins-dir", PLUGINS, stdin=example("CUSTOM_TASK_COMPLETED")
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "3 actions would run (dry run: none was executed)." in out
    assert "1. publish_to_topic from task_trigger (enrichment_complete, action 0)" in out
    assert "2. webhook from task_trigger (enrichment_complete, action 1)" in out
    assert "3. log from task_trigger (enrichment_complete, action 2)" in out
    assert '       "Authorization": "***"' in out
    assert "   topic: claimx.task-triggers" in out
    assert '       "task_status": "COMPLETED",' in out  # the payload, pretty-printed
    assert (
        "Rows (enriched through the ClaimX API simulator): projects 1, contacts 1, tasks 1" in out
    )
    assert TOKEN not in result.output


def test_nothing_matched_is_said() -> None:
    raw = example("PROJECT_CREATED")
    result = invoke("-", "--simulator", "--plugins-dir", PLUGINS, "--json", stdin=raw)
    assert actions_of(result) == []
    assert "No action: no plugin instance returned an action for this event." in result.stderr
    human = invoke("-", "--simulator", "--plugins-dir", PLUGINS, stdin=raw)
    assert "0 actions would run" in human.stdout
    assert "No action: no plugin instance returned an action" in human.stdout


LOCAL_PLUGINS = """
from claimx_worker import Filter, Log, Plugin, hookimpl


class DropTests(Plugin[None]):
    @hookimpl
    def on_event_received(self, context):
        if context.event.project_id == "12345":
            return Filter(reason="test project")


class Scribbler(Plugin[None]):
    @hookimpl
    def on_enrichment_complete(self, context):
        with open(context.event.metadata["path"], "w") as stream:
            stream.write("side effect")
        return Log(message="wrote")


class Alerts(Plugin[None]):
    @hookimpl
    def on_event_failed(self, context, error):
        return Log(level="error", message=f"{context.event.event_id}: {error.category}")
"""


@pytest.fixture
def local_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "simulate_demo_plugins.py").write_text(LOCAL_PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "simulate_demo_plugins", raising=False)
    return tmp_path


def plugins_dir(root: Path, **instances: str) -> str:
    for name, cls in instances.items():
        (root / "plugins" / name).mkdir(parents=True)
        (root / "plugins" / name / "config.yaml").write_text(
            f"module: simulate_demo_plugins\nclass: {cls}\n"
        )
    return str(root / "plugins")


def test_a_filter_before_enrichment_is_reported_and_no_api_is_called(local_plugins: Path) -> None:
    directory = plugins_dir(local_plugins, drop="DropTests")
    raw = example("CUSTOM_TASK_COMPLETED")
    result = invoke("-", "--plugins-dir", directory, "--json", stdin=raw)  # no --simulator
    assert actions_of(result) == [
        {"instance": "drop", "stage": "event_received", "type": "filter", "reason": "test project"}
    ]
    assert "Filtered before enrichment by drop (test project): no API call" in result.stderr


def test_io_inside_a_hook_is_refused_and_fails_the_run(local_plugins: Path) -> None:
    directory = plugins_dir(local_plugins, scribbler="Scribbler")
    target = local_plugins / "side-effect.txt"
    document = json.loads(example("PROJECT_CREATED", enriched=True))
    document["event"]["metadata"] = {"path": str(target)}
    result = invoke("-", "--enriched", "--plugins-dir", directory, stdin=json.dumps(document))
    assert result.exit_code == 1
    assert (
        "I/O refused (a dry run has no side effects): on_enrichment_complete of instance "
        f"'scribbler' attempted a file write {str(target)!r}"
    ) in result.stdout
    assert not target.exists()


def settings_file(root: Path, base_url: str) -> str:
    path = root / "claimx_config.yaml"
    path.write_text(
        "claimx_api:\n"
        f"  base_url: {base_url}\n"
        "  token: ${CLAIMX_API_TOKEN}\n"
        "  retries: 0\n"
        "kafka:\n  claimx:\n    enrichment_worker:\n      processing:\n"
        f"        plugins_dir: {PLUGINS}\n"
    )
    return str(path)


def test_a_raw_event_is_enriched_through_the_api_of_the_settings_file(
    claimx_api: ClaimXApiSimulator, tmp_path: Path
) -> None:
    config = settings_file(tmp_path, claimx_api.base_url)
    env = {**ENV, "CLAIMX_API_TOKEN": SIMULATOR_TOKEN}
    result = invoke(
        "-", "--config", config, "--json", stdin=example("CUSTOM_TASK_COMPLETED"), env=env
    )
    assert [a["type"] for a in actions_of(result)] == ["publish_to_topic", "webhook", "log"]
    assert claimx_api.total_calls == 2  # the assignment and the project
    assert "simulated" not in result.output


def test_a_failed_enrichment_shows_what_on_event_failed_would_run(
    claimx_api: ClaimXApiSimulator, tmp_path: Path, local_plugins: Path
) -> None:
    claimx_api.knobs.missing_project_ids = {"12345"}
    config = settings_file(tmp_path, claimx_api.base_url)
    env = {**ENV, "CLAIMX_API_TOKEN": SIMULATOR_TOKEN}
    directory = plugins_dir(local_plugins, alerts="Alerts")
    raw = example("PROJECT_CREATED")
    result = invoke(
        "-", "--config", config, "--plugins-dir", directory, "--json", stdin=raw, env=env
    )
    assert result.exit_code == 1
    (alert,) = json.loads(result.stdout)
    assert (alert["stage"], alert["level"]) == ("event_failed", "error")
    assert alert["message"] == f"{json.loads(raw)['event_id']}: permanent"
    assert "Enrichment failed (permanent): ClaimX API GET /export/project/12345: HTTP 404" in (
        result.stderr
    )
    assert "would go to the DLQ" in result.stderr


@pytest.mark.parametrize(
    ("document", "enriched", "message"),
    [
        (
            '{"event_type": "PROJECT_CREATED", "project_id": "1"}',
            False,
            "event_id: required field missing",
        ),
        ("{not json", False, "not valid JSON"),
        (
            '{"event": {"event_id": "e", "event_type": "X", "project_id": 1}}',
            True,
            "rows: required field missing",
        ),
        (
            '{"event": {"event_id": "e", "event_type": "X"}, "rows": {}}',
            True,
            "event.project_id: required field missing",
        ),
        (
            '{"event": {"event_id": "e", "event_type": "X", "project_id": "1"}, '
            '"rows": {"tasks": [{"assignment_id": "x", "task_id": 1, "project_id": "1"}]}}',
            True,
            "rows.tasks[0].assignment_id: invalid value for type, expected int",
        ),
        (
            '{"event": {"event_id": "e", "event_type": "X", "project_id": "1"}, '
            '"rows": {"taks": []}}',
            True,
            "rows: extra fields found (taks)",
        ),
    ],
)
def test_an_invalid_event_file_exits_2_naming_the_field(
    tmp_path: Path, document: str, enriched: bool, message: str
) -> None:
    path = tmp_path / "event.json"
    path.write_text(document)
    result = invoke(str(path), "--plugins-dir", PLUGINS, *(["--enriched"] if enriched else []))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Invalid event file {path}: {message}")


def test_plugin_configuration_errors_exit_2_with_the_host_s_report(tmp_path: Path) -> None:
    (tmp_path / "plugins" / "tt").mkdir(parents=True)
    (tmp_path / "plugins" / "tt" / "config.yaml").write_text(
        "plugin: task_trigger\nconfig:\n  triggers: {}\n  include_task_dat: true\n"
    )
    result = invoke(
        "-",
        "--simulator",
        "--plugins-dir",
        str(tmp_path / "plugins"),
        stdin=example("PROJECT_CREATED"),
    )
    assert result.exit_code == 2
    where = tmp_path / "plugins" / "tt" / "config.yaml"
    assert result.stderr == (
        f"{where}:4: config.include_task_dat: unknown key 'include_task_dat', did you mean "
        "'include_task_data'?\nInvalid configuration: 1 problem.\n"
    )
    missing = invoke("-", "--plugins-dir", str(tmp_path / "nope"), stdin=example("PROJECT_CREATED"))
    assert missing.exit_code == 2
    assert "nope: plugins directory not found" in missing.stderr


def test_an_unknown_example_type_exits_2_listing_the_ten() -> None:
    result = invoke("--example", "PROJECT_DELETED")
    assert result.exit_code == 2
    assert "unknown event type 'PROJECT_DELETED'; one of: PROJECT_CREATED, PROJECT_MFN_ADDED" in (
        result.stderr
    )
    assert "PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL" in result.stderr


def test_the_installed_command_pipes_an_example_into_a_dry_run() -> None:
    command = str(Path(sys.executable).parent / "claimx-worker")
    sample = subprocess.run(
        [command, "simulate", "--example", "CUSTOM_TASK_COMPLETED"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    run = subprocess.run(
        [command, "simulate", "-", "--simulator", "--plugins-dir", PLUGINS, "--json"],
        input=sample.stdout,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(Path(sys.executable).parent), **ENV},
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert [a["type"] for a in json.loads(run.stdout)] == ["publish_to_topic", "webhook", "log"]
    assert (
        "INFO: Task trigger matched | trigger_name=Photo Documentation Task task_id=456"
        in run.stderr
    )
    assert TOKEN not in run.stdout + run.stderr
