"""``claimx-worker produce``'s input: events from JSON, a JSON array or JSON lines, or made by
the factories; checked before anything is sent."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from claimx_worker.cli import cli
from claimx_worker.errors import InvalidEventError
from claimx_worker.model import parse_event
from claimx_worker.testing.factories import DATA_SEED, DEFAULT_TASK_ID
from claimx_worker.testing.producing import example_events, read_events
from claimx_worker.testing.simulated_data import DEFAULT_TASK_TEMPLATE_IDS, SimulatedData

TASK = {
    "eventId": "e-1",
    "eventType": "CUSTOM_TASK_COMPLETED",
    "projectId": "7",
    "taskAssignmentId": "7003",
}
CREATED = {"event_id": "e-2", "event_type": "PROJECT_CREATED", "project_id": "8"}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(TASK) + "\n" + json.dumps(CREATED) + "\n",  # JSON lines
        json.dumps([TASK, CREATED], indent=2),  # an array
        "\n" + json.dumps(TASK) + "\n\n" + json.dumps(CREATED),  # blank lines are skipped
    ],
)
def test_events_are_read_as_given_and_keyed_by_project(text: str) -> None:
    events = read_events(text)

    assert [(e.event.event_id, e.key) for e in events] == [("e-1", b"7"), ("e-2", b"8")]
    assert [json.loads(e.value) for e in events] == [TASK, CREATED]  # sent as written


def test_one_pretty_printed_object_is_one_event() -> None:
    (event,) = read_events(json.dumps(TASK, indent=2))

    assert json.loads(event.value) == TASK


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps(TASK) + "\n{oops\n", "line 2: not valid JSON"),
        (json.dumps([TASK, {"eventId": "x"}]), "event 2: "),
        (json.dumps(TASK) + "\n" + json.dumps({**CREATED, "project_id": ""}), "line 2: project_id"),
        ("", "no event"),
        ("[]", "no event"),
    ],
)
def test_an_invalid_event_is_refused_with_its_place(text: str, message: str) -> None:
    with pytest.raises(InvalidEventError, match=message):
        read_events(text)


def test_examples_are_distinct_task_events_the_shipped_trigger_fires_on() -> None:
    events = example_events("custom_task_completed", count=3)

    parsed = [parse_event(e.value) for e in events]
    assert [e.project_id for e in parsed] == ["12345", "12346", "12347"]
    assert len({e.event_id for e in parsed}) == 3
    data = SimulatedData(DATA_SEED)  # what `sandbox up`'s simulator serves
    for event in parsed:
        assert event.task_assignment_id is not None
        task = data.assignment(int(event.task_assignment_id), DEFAULT_TASK_TEMPLATE_IDS)
        assert (task["taskId"], task["status"]) == (DEFAULT_TASK_ID, "COMPLETED")


def test_examples_start_at_a_given_project() -> None:
    (event,) = example_events("PROJECT_CREATED", count=1, first_project=900)

    assert event.key == b"900"


def produce(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["produce", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_produce_needs_a_file_or_an_example() -> None:
    code, _, err = produce()

    assert code == 2
    assert "give EVENTS_FILE (or - for stdin), or --example TYPE" in err


def test_produce_refuses_an_unknown_example_type() -> None:
    code, _, err = produce("--example", "NOPE")

    assert code == 2
    assert "unknown event type 'NOPE'" in err


def test_produce_refuses_an_invalid_file_before_connecting() -> None:
    code, out, err = produce("-", "--bootstrap-servers", "127.0.0.1:1", stdin='{"eventId": "x"}')

    assert (code, out) == (2, "")
    assert err.startswith("Invalid events in <stdin>: ")
