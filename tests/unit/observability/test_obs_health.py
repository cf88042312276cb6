"""HealthState (liveness from a heartbeat, readiness from named checks) and run_heartbeat."""

from __future__ import annotations

import asyncio
import time

from tests.fakes import FakeClock

from claimx_worker.observability.health import HEARTBEAT_CHECK, HealthState, run_heartbeat


def test_alive_from_creation_until_stale() -> None:
    clock = FakeClock(1000.0)
    health = HealthState(stale_after=10.0, clock=clock)
    clock.now += 10.0
    assert health.liveness().alive
    clock.now += 0.5
    liveness = health.liveness()
    assert not liveness.alive
    assert liveness.age == 10.5


def test_a_beat_makes_it_alive_again_and_records_the_lag() -> None:
    clock = FakeClock(1000.0)
    health = HealthState(stale_after=2.0, clock=clock)
    clock.now += 5.0
    health.beat(loop_lag=0.25)
    health.beat(loop_lag=0.5)
    liveness = health.liveness()
    assert (liveness.alive, liveness.age, liveness.beats, liveness.lag_total) == (True, 0, 2, 0.75)


def test_declared_checks_fail_until_set() -> None:
    health = HealthState(clock=FakeClock(1000.0))
    health.declare("partitions_assigned", "broker_reachable")
    readiness = health.readiness()
    assert not readiness.ready
    assert readiness.failing == ["broker_reachable", "partitions_assigned"]

    health.set_check("partitions_assigned", True)
    health.set_check("broker_reachable", True)
    readiness = health.readiness()
    assert readiness.ready
    assert readiness.checks == {
        HEARTBEAT_CHECK: True,
        "partitions_assigned": True,
        "broker_reachable": True,
    }


def test_declaring_again_keeps_the_state() -> None:
    health = HealthState(clock=FakeClock(1000.0))
    health.set_check("plugins_loaded", True)
    health.declare("plugins_loaded")
    assert health.readiness().ready


def test_a_check_can_fail_again() -> None:
    health = HealthState(clock=FakeClock(1000.0))
    health.set_check("broker_reachable", True)
    health.set_check("broker_reachable", False)
    assert health.readiness().failing == ["broker_reachable"]


def test_not_ready_while_the_heartbeat_is_stale() -> None:
    clock = FakeClock(1000.0)
    health = HealthState(stale_after=1.0, clock=clock)
    health.set_check("plugins_loaded", True)
    clock.now += 2.0
    assert health.readiness().failing == [HEARTBEAT_CHECK]


async def test_heartbeat_keeps_a_running_loop_alive_and_stops_when_cancelled() -> None:
    health = HealthState(stale_after=0.2)
    task = asyncio.create_task(run_heartbeat(health, interval=0.02))
    await asyncio.sleep(0.3)
    assert health.liveness().alive
    task.cancel()
    await asyncio.sleep(0.3)
    assert not health.liveness().alive


async def test_heartbeat_measures_how_long_the_loop_was_blocked() -> None:
    health = HealthState()
    task = asyncio.create_task(run_heartbeat(health, interval=0.02))
    await asyncio.sleep(0.05)
    before = health.liveness()
    time.sleep(0.3)  # noqa: ASYNC251 - deliberately block the loop, as a sync call would
    await asyncio.sleep(0.05)
    task.cancel()
    after = health.liveness()
    assert after.beats > before.beats
    assert after.lag_total - before.lag_total >= 0.25
