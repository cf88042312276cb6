"""Recovery after a kill -9: seconds from killing ``claimx-worker run`` (and starting a new one at
once) until every partition of the input topic processes events again, for each way to make it
fast (see "Recovery after a crash" in docs/operating.md):

- ``recovery_default``: the worker's consumer defaults (session 6 s, heartbeat 1 s);
- ``recovery_librdkafka_defaults``: librdkafka's own (session 45 s, heartbeat 3 s): the baseline;
- ``recovery_static_membership``: ``group.instance.id`` with librdkafka's session timeout;
- ``recovery_consumer_protocol``: ``group.protocol: consumer`` (KIP-848; the broker's session).

Each run: a fresh input topic (3 partitions) and group, the ClaimX API simulator, no plugins; 30
events enriched by a first worker, which is then killed; a second starts at once and 30 more
events (on 30 projects, so every partition gets some) are produced; ``value`` is the time until
all 30 are enriched. ``baseline`` is ``recovery_librdkafka_defaults``. Prints one JSON list.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from ruamel.yaml import YAML

from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN, ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker, TopicSpec, open_kafka_broker

WORKER = str(Path(sys.executable).with_name("claimx-worker"))
EVENTS = 30
OPTIONS: dict[str, dict[str, Any]] = {
    "recovery_librdkafka_defaults": {"session.timeout.ms": 45000, "heartbeat.interval.ms": 3000},
    "recovery_default": {},
    "recovery_static_membership": {
        "group.instance.id": "bench-worker-1",
        "session.timeout.ms": 45000,
        "heartbeat.interval.ms": 3000,
    },
    "recovery_consumer_protocol": {"group.protocol": "consumer"},
}


def settings(directory: Path, broker: KafkaBroker, api: str, consumer: dict[str, Any]) -> Path:
    prefix = f"bench.{uuid.uuid4().hex[:8]}"
    topics = {
        "pending": f"{prefix}.pending",
        "enriched": f"{prefix}.enriched",
        "downloads": f"{prefix}.downloads",
        "retry_prefix": f"{prefix}.retry",
        "dlq": f"{prefix}.dlq",
        "actions_dlq": f"{prefix}.actions-dlq",
        "actions_retry": f"{prefix}.actions-retry",
    }
    broker.create_topics(
        [
            TopicSpec(name, 3 if key == "pending" else 1)
            for key, name in topics.items()
            if key != "retry_prefix"
        ]
        + [TopicSpec(f"{prefix}.retry.1m", 1)]
    )
    path = directory / "worker.yaml"
    with path.open("w") as stream:
        YAML().dump(
            {
                "kafka": {
                    "bootstrap_servers": broker.bootstrap_servers,
                    "consumer": consumer,
                    "claimx": {
                        "enrichment_worker": {
                            "consumer_group": f"{prefix}.group",
                            "topics": topics,
                            "processing": {
                                "plugins_dir": "",
                                "retry_delays": ["1m"],
                                "commit_interval_seconds": 0.5,
                            },
                        }
                    },
                },
                "claimx_api": {"base_url": api, "token": "${CLAIMX_API_TOKEN}"},
                "metrics": {"port": 0},
            },
            stream,
        )
    return path


def produce(broker: KafkaBroker, topic: str, prefix: str, first_project: int) -> set[str]:
    producer = Producer(broker.client_config({"linger.ms": 5}))
    ids = set()
    for n in range(EVENTS):
        event_id = f"{prefix}-{n}"
        project = str(first_project + n)
        body = {"event_id": event_id, "event_type": "PROJECT_CREATED", "project_id": project}
        producer.produce(topic, json.dumps(body).encode(), project.encode())
        ids.add(event_id)
    assert producer.flush(30) == 0
    return ids


def wait_enriched(broker: KafkaBroker, topic: str, wanted: set[str], worker: Any) -> None:
    consumer = Consumer(broker.client_config({"group.id": f"tail-{uuid.uuid4().hex[:8]}"}))
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    try:
        while not wanted <= seen:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the worker did not process the events")
            for message in consumer.consume(100, 0.05):
                seen.add(json.loads(message.value())["event_id"])
    finally:
        consumer.close()


def measure(broker: KafkaBroker, api: str, consumer: dict[str, Any]) -> float:
    with tempfile.TemporaryDirectory() as directory:
        config = settings(Path(directory), broker, api, consumer)
        data = YAML(typ="safe").load(config.read_text())
        topics = data["kafka"]["claimx"]["enrichment_worker"]["topics"]
        env = {**os.environ, "CLAIMX_API_TOKEN": SIMULATOR_TOKEN, "LOG_LEVEL": "WARNING"}
        command = [WORKER, "run", "--config", str(config)]
        first = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        second = None
        try:
            wanted = produce(broker, topics["pending"], "warm", 1000)
            wait_enriched(broker, topics["enriched"], wanted, first)
            time.sleep(1.0)
            killed = time.monotonic()
            first.kill()
            second = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
            wanted = produce(broker, topics["pending"], "after", 5000)
            wait_enriched(broker, topics["enriched"], wanted, second)
            return time.monotonic() - killed
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait(10)


def main() -> None:
    results: list[dict[str, Any]] = []
    with open_kafka_broker() as broker, ClaimXApiSimulator() as api:
        seconds = {name: measure(broker, api.base_url, props) for name, props in OPTIONS.items()}
    baseline = seconds["recovery_librdkafka_defaults"]
    for name, props in OPTIONS.items():
        results.append(
            {
                "name": name,
                "unit": "s",
                "value": round(seconds[name], 2),
                "baseline": round(baseline, 2),
                "consumer": props,
            }
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
