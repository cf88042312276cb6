"""The ClaimX API simulator as a process (``python -m claimx_worker.testing.claimx_api``), and
its determinism, call counters and knobs as the demo and benchmarks use them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN, ClaimXApiSimulator, Endpoint

AUTH = {"Authorization": f"Basic {SIMULATOR_TOKEN}"}


@pytest.fixture
def simulator_process() -> Iterator[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "claimx_worker.testing.claimx_api", "--port", "0"]
    command += ["--seed", "3", "--error-rate", "503=1.0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_runs_as_a_process_with_knobs_from_the_command_line(
    simulator_process: subprocess.Popen[str],
) -> None:
    assert simulator_process.stdout is not None
    base_url = simulator_process.stdout.readline().strip()
    assert base_url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=base_url, headers=AUTH) as client:
        response = client.get("/export/project/12")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        unauthorised = client.get("/export/project/12", headers={"Authorization": "Basic x"})
        assert unauthorised.status_code == 401
    simulator_process.terminate()
    _, stderr = simulator_process.communicate(timeout=10)
    assert simulator_process.returncode == 0
    assert stderr.splitlines() == [  # the worker's log format
        f"INFO: ClaimX API simulator listening | url={base_url} seed=3",
        "INFO: ClaimX API simulator stopped",
    ]


def test_data_is_deterministic_per_seed() -> None:
    path = "/customTasks/assignment/9001?full=true"
    with (
        ClaimXApiSimulator(seed=5) as first,
        ClaimXApiSimulator(seed=5) as second,
        ClaimXApiSimulator(seed=6) as other,
        httpx.Client(headers=AUTH) as client,
    ):
        a = client.get(first.base_url + path).json()
        b = client.get(second.base_url + path).json()
        c = client.get(other.base_url + path).json()
    assert a == b
    assert a != c
    assert a["taskId"] == c["taskId"] == 789  # template ids[9001 % 3]
    assert a["projectId"] == 9


def test_counters_scripts_and_reset(claimx_api: ClaimXApiSimulator) -> None:
    claimx_api.fail_next(404, 429, endpoint=Endpoint.TASK_ASSIGNMENT)
    with httpx.Client(base_url=claimx_api.base_url, headers=AUTH) as client:
        statuses = [client.get("/customTasks/assignment/1").status_code for _ in range(3)]
        assert client.get("/export/project/1").status_code == 200
        assert client.get("/export/project/projectId?projectNumber=CLM-31").json() == 31
        assert client.post("/data", json={"reportType": "OTHER"}).status_code == 400
    assert statuses == [404, 429, 200]
    assert claimx_api.calls["/customTasks/assignment/1"] == 3
    assert claimx_api.endpoint_calls[Endpoint.PROJECT] == 1
    assert claimx_api.total_calls == 6
    claimx_api.reset()
    assert claimx_api.total_calls == 0
