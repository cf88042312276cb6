"""Reloading under load: ``pipeline_e2e`` (see ``bench_pipeline.py``) while the worker's plugin
configuration is changed and reloaded every second.

Three runs of ``bench_pipeline``'s pipeline on one broker: a warm-up (not reported), the
baseline (no reload) and the reloading run, both of :data:`EVENTS` events, enough to keep the
worker busy for the whole reloading period. During the reloading run a thread rewrites the
trigger instance's ``config.yaml`` (the trigger's name alternates, so every reload replaces the
instance: ``on_unload`` of the old one, ``on_load`` of the new one) and sends SIGHUP through
``claimx-worker reload``'s PID file, once a second for :data:`RELOAD_SECONDS` seconds.

``value`` is the reloading run's sustained rate as a ratio to the baseline's (target 0.9);
``lost`` counts expected webhooks and trigger messages that never arrived (by idempotency key);
``reloads`` and ``reloads_succeeded`` the SIGHUPs sent and the reloads the worker logged as
succeeded. Prints one JSON list.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from ruamel.yaml import YAML

import bench_pipeline as pipeline
from claimx_worker.reload import ReloadSignalError, signal_reload
from claimx_worker.testing.kafka import open_kafka_broker

EVENTS = 40_000
RELOAD_SECONDS = 30
TARGET_RATIO = 0.9


class Reloads:
    """Changes the trigger instance and signals the worker once a second, on a thread."""

    def __init__(self, config: Path) -> None:
        self._pid_file = config.parent / "worker.pid"
        self._instance = config.parent / "plugins" / pipeline.INSTANCE / "config.yaml"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-reloads")
        self.sent = 0
        yaml = YAML()
        settings = yaml.load(config.read_text())
        settings["control"] = {"pid_file": str(self._pid_file)}
        with config.open("w") as stream:
            yaml.dump(settings, stream)

    def __enter__(self) -> Reloads:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        yaml = YAML()
        started = None
        while not self._stop.wait(1.0):
            if not self._pid_file.exists():
                continue
            started = started or time.monotonic()
            if time.monotonic() - started > RELOAD_SECONDS:
                return
            instance = yaml.load(self._instance.read_text())
            trigger = instance["config"]["triggers"][pipeline.TEMPLATE]
            trigger["name"] = f"Photo Documentation Task {self.sent % 2}"
            with self._instance.open("w") as stream:
                yaml.dump(instance, stream)
            try:
                signal_reload(self._pid_file)
            except ReloadSignalError:
                return  # the worker is gone: the run is over
            self.sent += 1


def reloading(run_worker: Callable[..., Any], outcome: dict[str, Any]) -> Callable[..., Any]:
    """``bench_pipeline.run_worker`` with :class:`Reloads` running beside it; the counts go to
    ``outcome``."""

    def run(command: list[str], log: Path, consumer: Consumer, topic: str, *rest: Any) -> Any:
        config = Path(command[command.index("--config") + 1])
        with Reloads(config) as reloads:
            try:
                return run_worker(command, log, consumer, topic, *rest)
            finally:
                text = log.read_text(errors="replace")
                outcome["reloads"] = reloads.sent
                outcome["reloads_succeeded"] = text.count("Configuration reload succeeded")

    return run


def main() -> None:
    with (
        open_kafka_broker() as broker,
        pipeline.service("claimx_worker.testing.claimx_api", "--port", "0") as api,
    ):
        pipeline.measure(broker, api, ())  # warm-up
        pipeline.EVENTS = EVENTS  # read by bench_pipeline's functions at call time
        baseline = pipeline.measure(broker, api, ())
        counts: dict[str, Any] = {}
        pipeline.run_worker = reloading(pipeline.run_worker, counts)
        measured = pipeline.measure(broker, api, ())
    ratio = measured["value"] / baseline["value"] if baseline["value"] else 0.0
    result = {
        "name": "reload_under_load",
        "value": round(ratio, 3),
        "unit": "ratio",
        "events_per_s": measured["value"],
        "baseline": baseline["value"],
        "lost": measured.get("lost"),
        **counts,
        "reload_every_seconds": 1.0,
        "reload_seconds": RELOAD_SECONDS,
        "events": EVENTS,
        "target": TARGET_RATIO,
    }
    if "error" in measured:
        result["error"] = measured["error"]
    print(json.dumps([result]))


if __name__ == "__main__":
    main()
