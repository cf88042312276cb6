"""Entity rows per event, in process: what enrichment does between the API's answers and the
Kafka producer, on the pipeline benchmark's event mix (``bench_pipeline.make_events``: 5,000
events of every type over 1,000 projects).

- ``rows_build_and_encode``: the real handlers (project exports shared through the real
  ``ProjectCache``, 5 s) on the simulator's data, served from memory already decoded, then the
  entity-rows and download-task messages; ``encode_us`` is the messages' part. The typed rows are
  not read (no plugin), as for an event no trigger looks at.
- its ``baseline``, the floor's work (``minimal_loop.py``): the API's JSON written as it came,
  one ``json.dumps`` per event and per download link.

Both in process CPU time, microseconds per event, the median of five rounds after a warm-up one.
Prints one JSON list.
"""

from __future__ import annotations

import asyncio
import functools
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import bench_pipeline
from claimx_worker.claimx.builders import Stamp
from claimx_worker.claimx.client import ApiCallTally
from claimx_worker.claimx.handlers import HANDLERS, HandlerContext
from claimx_worker.claimx.output import download_task_messages, entity_rows_message
from claimx_worker.claimx.projects import ProjectCache
from claimx_worker.model import ClaimXEvent
from claimx_worker.model.event import parse_event
from claimx_worker.testing.simulated_data import DEFAULT_TASK_TEMPLATE_IDS, SimulatedData

EVENTS = 5_000
ROUNDS = 5
DATA = SimulatedData(1)


@functools.cache
def _answer(kind: str, key: str) -> Any:
    """The simulator's answer in its default shape, decoded from JSON once (as the client hands
    it over)."""
    if kind == "project":
        payload: Any = {"data": DATA.project(int(key))}
    elif kind == "media":
        payload = DATA.media(int(key), "http://simulator")
    elif kind == "assignment":
        payload = DATA.assignment(int(key), DEFAULT_TASK_TEMPLATE_IDS)
    else:
        payload = {"data": DATA.video_collaborations(int(key))}
    return json.loads(json.dumps(payload))


class MemoryClient:
    """The ``ClaimXApiClient`` calls the handlers make, answered from memory."""

    async def get_project(self, project_id: str, tally: ApiCallTally) -> Any:
        return _answer("project", project_id)

    async def get_project_media(
        self, project_id: str, tally: ApiCallTally, media_ids: tuple[str, ...] = ()
    ) -> Any:
        return _answer("media", project_id)

    async def get_task_assignment(self, assignment_id: int, tally: ApiCallTally) -> Any:
        return _answer("assignment", str(assignment_id))

    async def get_video_collaborations(self, project_id: str, tally: ApiCallTally) -> Any:
        return _answer("video", project_id)


async def _worker_round(events: list[ClaimXEvent], projects: ProjectCache) -> tuple[float, float]:
    """CPU seconds of one pass: in all, and encoding the messages."""
    encoding = 0.0
    started = time.process_time()
    for event in events:
        known = event.known_type
        assert known is not None
        context = HandlerContext(
            event=event,
            client=MemoryClient(),  # type: ignore[arg-type]
            projects=projects,
            tally=ApiCallTally(),
            stamp=Stamp(event_id=event.event_id, now=datetime.now(UTC)),
        )
        rows = await HANDLERS[known].run(context)
        encode_start = time.process_time()
        if not rows.is_empty:
            entity_rows_message(event, rows)
        download_task_messages(event, rows.download_tasks)
        encoding += time.process_time() - encode_start
    return time.process_time() - started, encoding


def _floor_round(events: list[ClaimXEvent]) -> float:
    """CPU seconds of the floor's rows for the same events (the answers already in hand)."""
    started = time.process_time()
    for event in events:
        kind, project_id = event.event_type, event.project_id
        rows: dict[str, Any] = {"event_id": event.event_id}
        if kind == "PROJECT_FILE_ADDED":
            rows["media"] = _answer("media", project_id)
        elif kind.startswith("CUSTOM_TASK"):
            rows["task"] = _answer("assignment", str(event.task_assignment_id))
        elif kind.startswith("VIDEO_COLLABORATION"):
            rows["video"] = _answer("video", project_id)
        if kind != "PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL":
            rows["project"] = _answer("project", project_id)
        json.dumps(rows).encode()
        for item in rows.get("media", ()):
            if item.get("fullDownloadLink"):
                task = {"media_id": item.get("mediaID"), "url": item["fullDownloadLink"]}
                json.dumps(task).encode()
    return time.process_time() - started


async def main() -> None:
    bench_pipeline.EVENTS = EVENTS
    records, _ = bench_pipeline.make_events()
    events = [parse_event(value) for _, value in records]
    projects = ProjectCache(MemoryClient(), ttl_seconds=5.0)  # type: ignore[arg-type]
    await _worker_round(events, projects)  # warm-up: answers decoded, caches filled
    _floor_round(events)
    worker, encoding, floor = [], [], []
    for _ in range(ROUNDS):
        total, encoded = await _worker_round(events, projects)
        worker.append(total)
        encoding.append(encoded)
        floor.append(_floor_round(events))

    def per_event(seconds: list[float]) -> float:
        return round(statistics.median(seconds) / EVENTS * 1e6, 2)

    print(
        json.dumps(
            [
                {
                    "name": "rows_build_and_encode",
                    "value": per_event(worker),
                    "unit": "us/event",
                    "encode_us": per_event(encoding),
                    "baseline": per_event(floor),
                    "baseline_name": "the floor's json.dumps of the API's answers",
                    "events": EVENTS,
                }
            ]
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
