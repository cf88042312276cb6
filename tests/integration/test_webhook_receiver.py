"""The testing kit's webhook receiver: thread mode, the record file, the command line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from claimx_worker.testing.webhooks import WebhookReceiver, load_record


def test_thread_mode_records_and_scripts_per_path(tmp_path: Path) -> None:
    record = tmp_path / "hooks.jsonl"
    with WebhookReceiver(record=record) as receiver:
        receiver.behave("/flaky", fail_first=1, fail_status=503, retry_after="2")
        with httpx.Client() as client:
            first = client.post(receiver.url("/flaky"), json={"n": 1})
            second = client.post(receiver.url("/flaky"), json={"n": 2}, headers={"X-A": "b"})
            other = client.put(receiver.url("/other"), content=b"\xff raw")
        assert (first.status_code, first.headers.get("retry-after")) == (503, "2")
        assert (second.status_code, other.status_code) == (200, 200)
        assert [r.json() for r in receiver.at("/flaky")] == [{"n": 1}, {"n": 2}]
        assert [r.json() for r in receiver.at("/flaky", ok=True)] == [{"n": 2}]
        assert receiver.at("/flaky", ok=False)[0].status == 503
        assert receiver.at("/flaky")[1].headers["x-a"] == "b"
        assert receiver.calls == {"/flaky": 2, "/other": 1}
        seen = receiver.requests
    assert load_record(record) == seen
    assert load_record(record)[2].body == b"\xff raw"


def test_wait_until_sees_requests_in_flight_from_another_thread() -> None:
    with WebhookReceiver() as receiver:
        receiver.behave("/slow", delay=0.5)
        caller = threading.Thread(target=httpx.post, args=(receiver.url("/slow"),))
        caller.start()
        receiver.wait_until(lambda: receiver.in_flight["/slow"] == 1)
        assert receiver.requests == []
        receiver.wait_until(lambda: len(receiver.requests) == 1)
        caller.join()
        assert receiver.in_flight["/slow"] == 0
        assert receiver.peak["/slow"] == 1
        with pytest.raises(TimeoutError):
            receiver.wait_until(lambda: len(receiver.requests) == 2, timeout=0.1)


async def test_in_loop_mode_and_async_wait() -> None:
    async with WebhookReceiver() as receiver, httpx.AsyncClient() as client:
        receiver.behave("/gone", status=404)
        answer = await client.post(receiver.url("/gone"), content=b"{}")
        await receiver.wait_for(lambda: len(receiver.at("/gone")) == 1)
        assert answer.status_code == 404


def test_fixture_is_running(webhook_receiver: WebhookReceiver) -> None:
    assert httpx.get(webhook_receiver.url("/ping")).status_code == 200
    assert [r.path for r in webhook_receiver.requests] == ["/ping"]


def test_command_line_prints_url_records_and_stops_on_sigterm(tmp_path: Path) -> None:
    record = tmp_path / "hooks.jsonl"
    command = ["-m", "claimx_worker.testing.webhooks", "--record", str(record), "--status", "202"]
    process = subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        sent = httpx.post(f"{url}/hooks/a", json={"x": 1}, headers={"Idempotency-Key": "k-1"})
        assert sent.status_code == 202
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0
    # the worker's log format, on stderr
    assert stderr.splitlines() == [
        f"INFO: Webhook receiver listening | url={url} status=202",
        "INFO: Webhook received | method=POST path=/hooks/a status=202 idempotency_key=k-1 bytes=7",
        "INFO: Webhook receiver stopped",
    ]
    (line,) = record.read_text().splitlines()
    assert json.loads(line)["path"] == "/hooks/a"
    assert load_record(record)[0].json() == {"x": 1}
