"""The floor reference of the pipeline benchmark (``pipeline_minimal_loop``): the same I/O as
``claimx-worker run`` on the same events, written as plainly as possible.

Consume a batch, make the ClaimX calls of each event with aiohttp directly (the project export
shared by a project's events for 5 s, as the worker's project cache does, and fetched again for a
project created or changed: the worker runs a project's events in order, so such an event never
finds its project's previous fetch still in flight to join), produce one row message
per event, a download task per media item with a link and, for a completed task of the trigger's
template, a trigger message, POST its webhook, wait for the deliveries and commit. No plugins, no
metrics, no retries, no per-key ordering: what is left is what the work itself costs.

Run by ``bench_pipeline.py`` with one JSON argument (bootstrap, topics, group, URLs, token,
template); prints ``Partitions assigned`` once it has its partitions, like the worker.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from claimx_worker.actions import idempotency_key

BATCH = 500
PROJECT_TTL_SECONDS = 5.0
INSTANCE = "task_trigger"
FRESH_PROJECT = frozenset({"PROJECT_CREATED", "PROJECT_MFN_ADDED"})


class MinimalLoop:
    """The loop's state: the clients and the shared project exports."""

    def __init__(self, options: dict[str, Any], session: aiohttp.ClientSession) -> None:
        self.options = options
        self.session = session
        self.api = options["api"].rstrip("/")
        self.headers = {"Authorization": f"Basic {options['token']}", "Accept": "application/json"}
        self.producer = Producer(
            {
                "bootstrap.servers": options["bootstrap"],
                "linger.ms": 5,
                "enable.idempotence": True,
            }
        )
        self.projects: dict[str, tuple[float, asyncio.Future[Any]]] = {}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(
            method, self.api + path, headers=self.headers, json=body, allow_redirects=False
        ) as response:
            content = await response.read()
            if response.status != 200:
                raise RuntimeError(f"{method} {path}: HTTP {response.status}")
            return json.loads(content)

    async def project(self, project_id: str, fresh: bool) -> Any:
        now = time.monotonic()
        held = self.projects.get(project_id)
        if held is None or fresh or now - held[0] > PROJECT_TTL_SECONDS:
            future = asyncio.ensure_future(self.call("GET", f"/export/project/{project_id}"))
            held = self.projects[project_id] = (now, future)
        return await held[1]

    async def handle(self, event: dict[str, Any]) -> None:
        kind, project_id = event["event_type"], event["project_id"]
        rows: dict[str, Any] = {"event_id": event["event_id"]}
        if kind == "PROJECT_FILE_ADDED":
            rows["media"], rows["project"] = await asyncio.gather(
                self.call("GET", f"/export/project/{project_id}/media"),
                self.project(project_id, False),
            )
        elif kind.startswith("CUSTOM_TASK"):
            path = f"/customTasks/assignment/{event['task_assignment_id']}?full=true"
            rows["task"], rows["project"] = await asyncio.gather(
                self.call("GET", path), self.project(project_id, False)
            )
        elif kind.startswith("VIDEO_COLLABORATION"):
            body = {"reportType": "VIDEO_COLLABORATION", "projectId": int(project_id)}
            rows["video"], rows["project"] = await asyncio.gather(
                self.call("POST", "/data", body), self.project(project_id, False)
            )
        elif kind != "PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL":
            rows["project"] = await self.project(project_id, kind in FRESH_PROJECT)
        key = project_id.encode()
        self.producer.produce(self.options["enriched"], json.dumps(rows).encode(), key)
        media = rows.get("media")
        for item in media if isinstance(media, list) else ():
            if item.get("fullDownloadLink"):
                task = {"media_id": item.get("mediaID"), "url": item["fullDownloadLink"]}
                self.producer.produce(self.options["downloads"], json.dumps(task).encode(), key)
        task = rows.get("task")
        if (
            kind == "CUSTOM_TASK_COMPLETED"
            and isinstance(task, dict)
            and task.get("taskId") == self.options["template"]
        ):
            await self.trigger(event, task)

    async def trigger(self, event: dict[str, Any], task: dict[str, Any]) -> None:
        payload = json.dumps({"event": event, "task": task}).encode()
        published = idempotency_key(event["event_id"], INSTANCE, 0)
        self.producer.produce(
            self.options["triggers"],
            payload,
            event["project_id"].encode(),
            headers=[("idempotency_key", published.encode())],
        )
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key(event["event_id"], INSTANCE, 1),
        }
        async with self.session.post(
            self.options["hook"], data=payload, headers=headers, allow_redirects=False
        ) as response:
            await response.read()

    async def delivered(self) -> None:
        """Serve delivery reports from the loop until every message is acknowledged."""
        while True:
            self.producer.poll(0)
            if not len(self.producer):
                return
            await asyncio.sleep(0.001)


def processed(batch: list[Message]) -> list[TopicPartition]:
    """The offsets that commit ``batch``: without offsets, ``commit`` takes the consumer's
    stored offsets when librdkafka's thread gets to it, often after the next ``consume`` has
    stored the next, unprocessed batch's."""
    offsets = {(m.topic(), m.partition()): m.offset() + 1 for m in batch if not m.error()}
    return [
        TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()
    ]


async def run(options: dict[str, Any]) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": options["bootstrap"],
            "group.id": options["group"],
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(
        [options["pending"]], on_assign=lambda _c, _p: print("Partitions assigned", flush=True)
    )
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = MinimalLoop(options, session)
        while True:
            batch = await asyncio.to_thread(consumer.consume, BATCH, 0.1)
            events = [json.loads(message.value()) for message in batch if not message.error()]
            await asyncio.gather(*(loop.handle(event) for event in events))
            await loop.delivered()
            if batch:
                consumer.commit(offsets=processed(batch), asynchronous=True)


if __name__ == "__main__":
    asyncio.run(run(json.loads(sys.argv[1])))
