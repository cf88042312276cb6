"""A ClaimX API simulator: a real HTTP server on loopback serving generated, deterministic data.

It serves the endpoints of the ClaimX reference (project export, project media, custom task
assignment, the ``VIDEO_COLLABORATION`` report, project id by claim number), checks the
``Authorization: Basic`` header, counts calls per path and endpoint, and has run-time knobs for
latency, error rates (429 with ``Retry-After``, 5xx, timeouts, 401, 404), scripted failures and
response-shape variants.

The data is a pure function of ``(seed, id)`` (:mod:`claimx_worker.testing.simulated_data`).

Use it from Python (``with ClaimXApiSimulator() as api: api.base_url``), through the pytest
fixture ``claimx_api`` (:mod:`claimx_worker.testing.claimx_api_fixtures`), or as a process
(``--help`` explains it; it prints its base URL, then logs in the worker's format)::

    python -m claimx_worker.testing.claimx_api --port 8765 --latency-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import enum
import random
import sys
from collections.abc import Mapping
from typing import Any, Literal

import orjson
from aiohttp import web
from attrs import define, field
from loguru import logger

from claimx_worker.testing.background import BackgroundLoop
from claimx_worker.testing.commands import command_parser, serve_until_signal, start_logging
from claimx_worker.testing.simulated_data import DEFAULT_TASK_TEMPLATE_IDS, SimulatedData

SIMULATOR_TOKEN = "c2ltdWxhdG9yOm5vdC1hLXNlY3JldA=="
"""The Basic token the simulator accepts by default (base64 of ``simulator:not-a-secret``)."""

Fault = int | Literal["timeout"]
"""An injected failure: an HTTP status to answer with, or ``"timeout"`` (never answer)."""


class Endpoint(enum.StrEnum):
    """The simulated endpoints; call counters are kept per endpoint and per path."""

    PROJECT = "project"
    PROJECT_MEDIA = "project_media"
    PROJECT_ID = "project_id"
    TASK_ASSIGNMENT = "task_assignment"
    DATA_REPORT = "data_report"


@define
class Knobs:
    """Run-time behaviour; change attributes at any time (``api.knobs.latency_seconds = 0.02``).

    Shapes: ``project_shape`` ``data.project`` | ``project`` | ``top_level``; ``media_shape``
    ``list`` | ``data`` | ``media`` | ``single`` (one object, the first media); ``task_shape``
    ``object`` | ``data``; ``video_shape`` ``data`` | ``list`` | ``object`` | ``collaborations``
    | ``videoCollaboration``.
    """

    latency_seconds: float = 0.0
    error_rates: dict[Fault, float] = field(factory=dict)
    """Probability per request of each fault, e.g. ``{429: 0.1, 503: 0.05, "timeout": 0.01}``."""
    retry_after_seconds: float = 1.0
    """``Retry-After`` sent with 429 and 503 answers."""
    hang_seconds: float = 300.0
    """How long a ``"timeout"`` fault keeps the request unanswered (the client gives up first)."""
    token: str = field(default=SIMULATOR_TOKEN, repr=False)
    missing_project_ids: set[str] = field(factory=set)
    """Projects that answer 404 (on every endpoint naming them)."""
    task_template_ids: tuple[int, ...] = DEFAULT_TASK_TEMPLATE_IDS
    project_shape: str = "data.project"
    media_shape: str = "list"
    task_shape: str = "object"
    video_shape: str = "data"


@define
class _Script:
    faults: collections.deque[Fault]
    endpoint: Endpoint | None


def _shape(payload: Any, shape: str) -> Any:
    """Shape a list/object per a knob: ``list``/``top_level`` as is, ``object``/``single`` one
    object (a list's first item), anything else a one-key wrapper of that name."""
    if shape in ("list", "top_level"):
        return payload
    if shape in ("object", "single"):
        return payload[0] if isinstance(payload, list) and payload else payload
    return {shape: payload}


class ClaimXApiSimulator:
    """The simulator server. Runs on its own thread and event loop (``start``/``stop``) or in
    the caller's loop (``serve``)."""

    def __init__(self, *, seed: int = 1, host: str = "127.0.0.1", port: int = 0) -> None:
        self.knobs = Knobs()
        self.calls: collections.Counter[str] = collections.Counter()
        """Requests per path, e.g. ``calls["/export/project/12"]``."""
        self.endpoint_calls: collections.Counter[Endpoint] = collections.Counter()
        """Requests per :class:`Endpoint`."""
        self.data = SimulatedData(seed)
        """The generator of the served data (tests compare rows against it)."""
        self._random = random.Random(seed)
        self._scripts: list[_Script] = []
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._background = BackgroundLoop("claimx-api-simulator", self.start_async, self.stop_async)

    def __repr__(self) -> str:
        return f"ClaimXApiSimulator(base_url={self.base_url!r})"

    @property
    def port(self) -> int:
        """The bound port (once started)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; point ``ApiSettings.base_url`` here."""
        return f"http://{self._host}:{self._port}"

    @property
    def total_calls(self) -> int:
        """All requests received."""
        return sum(self.calls.values())

    def reset(self) -> None:
        """Default knobs, no scripted faults, zero counters."""
        self.knobs = Knobs()
        self._scripts.clear()
        self.calls.clear()
        self.endpoint_calls.clear()

    def fail_next(self, *faults: Fault, endpoint: Endpoint | None = None) -> None:
        """Answer the next requests (to ``endpoint``, or any) with ``faults``, in order."""
        self._scripts.append(_Script(collections.deque(faults), endpoint))

    # ------------------------------------------------------------------ running

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/export/project/projectId", self._project_id)
        app.router.add_get("/export/project/{project_id}", self._project)
        app.router.add_get("/export/project/{project_id}/media", self._media)
        app.router.add_get("/customTasks/assignment/{assignment_id}", self._assignment)
        app.router.add_post("/data", self._report)
        return app

    async def start_async(self) -> None:
        """Bind and serve on the running loop."""
        self._runner = web.AppRunner(
            self._app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop_async(self) -> None:
        """Stop serving (in-flight requests are cancelled)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> ClaimXApiSimulator:
        """Serve on a background thread with its own event loop; returns when bound."""
        self._background.run()
        return self

    def stop(self) -> None:
        """Stop the background server and join its thread."""
        self._background.stop()

    def __enter__(self) -> ClaimXApiSimulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ request handling

    def _scripted_fault(self, endpoint: Endpoint) -> Fault | None:
        for script in self._scripts:
            if script.faults and script.endpoint in (None, endpoint):
                fault = script.faults.popleft()
                if not script.faults:
                    self._scripts.remove(script)
                return fault
        return None

    def _random_fault(self) -> Fault | None:
        for fault, rate in self.knobs.error_rates.items():
            if rate > 0 and self._random.random() < rate:
                return fault
        return None

    async def _admit(self, request: web.Request, endpoint: Endpoint) -> web.Response | None:
        """Count, delay, authenticate and inject faults; ``None`` means answer normally."""
        self.calls[request.path] += 1
        self.endpoint_calls[endpoint] += 1
        knobs = self.knobs
        if knobs.latency_seconds > 0:
            await asyncio.sleep(knobs.latency_seconds)
        if request.headers.get("Authorization") != f"Basic {knobs.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        fault = self._scripted_fault(endpoint) or self._random_fault()
        if fault is None:
            return None
        if fault == "timeout":
            await asyncio.sleep(knobs.hang_seconds)
            fault = 504
        headers = {}
        if fault in (429, 503):
            headers["Retry-After"] = f"{knobs.retry_after_seconds:g}"
        return web.json_response({"error": f"simulated {fault}"}, status=fault, headers=headers)

    def _project_number(self, raw: str) -> int | None:
        if not raw.isdigit() or raw in self.knobs.missing_project_ids:
            return None
        return int(raw)

    @staticmethod
    def _not_found(what: str) -> web.Response:
        return web.json_response({"error": f"{what} not found"}, status=404)

    @staticmethod
    def _json(payload: Any) -> web.Response:
        return web.Response(body=orjson.dumps(payload), content_type="application/json")

    async def _project(self, request: web.Request) -> web.Response:
        if (refused := await self._admit(request, Endpoint.PROJECT)) is not None:
            return refused
        project_id = self._project_number(request.match_info["project_id"])
        if project_id is None:
            return self._not_found("project")
        export = self.data.project(project_id)
        match self.knobs.project_shape:
            case "data.project":
                return self._json({"data": export})
            case "project":
                return self._json(export)
            case _:
                return self._json(
                    {
                        **export["project"],
                        "teamMembers": export["teamMembers"],
                        "companyName": export["companyName"],
                    }
                )

    async def _media(self, request: web.Request) -> web.Response:
        if (refused := await self._admit(request, Endpoint.PROJECT_MEDIA)) is not None:
            return refused
        project_id = self._project_number(request.match_info["project_id"])
        if project_id is None:
            return self._not_found("project")
        items = self.data.media(project_id, self.base_url)
        wanted = request.query.get("mediaIds")
        if wanted:
            ids = {part.strip() for part in wanted.split(",")}
            items = [item for item in items if str(item["mediaID"]) in ids]
        return self._json(_shape(items, self.knobs.media_shape))

    async def _assignment(self, request: web.Request) -> web.Response:
        if (refused := await self._admit(request, Endpoint.TASK_ASSIGNMENT)) is not None:
            return refused
        raw = request.match_info["assignment_id"]
        if not raw.isdigit():
            return self._not_found("assignment")
        assignment = self.data.assignment(int(raw), self.knobs.task_template_ids)
        if str(assignment["projectId"]) in self.knobs.missing_project_ids:
            return self._not_found("assignment")
        return self._json(_shape(assignment, self.knobs.task_shape))

    async def _report(self, request: web.Request) -> web.Response:
        if (refused := await self._admit(request, Endpoint.DATA_REPORT)) is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, Mapping) or body.get("reportType") != "VIDEO_COLLABORATION":
            return web.json_response({"error": "unsupported reportType"}, status=400)
        project_id = self._project_number(str(body.get("projectId", "")))
        if project_id is None:
            return self._not_found("project")
        rows = self.data.video_collaborations(project_id)
        return self._json(_shape(rows, self.knobs.video_shape))

    async def _project_id(self, request: web.Request) -> web.Response:
        if (refused := await self._admit(request, Endpoint.PROJECT_ID)) is not None:
            return refused
        number = request.query.get("projectNumber", "")
        project_id = self._project_number(number.removeprefix("CLM-"))
        if project_id is None:
            return self._not_found("project number")
        return self._json(project_id)


def argument_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m claimx_worker.testing.claimx_api``."""
    parser = command_parser(
        "claimx_worker.testing.claimx_api",
        description="Serve the ClaimX API simulator on loopback: the ClaimX REST endpoints the "
        "worker calls\n(project export, project media, custom task assignments, the "
        "VIDEO_COLLABORATION report,\nproject id by claim number) with generated data that is a "
        "pure function of the seed and\nthe ids asked for, behind HTTP Basic authentication.\n\n"
        "Prints its base URL on the first line of stdout, then logs to stderr in the worker's\n"
        "format (LOG_LEVEL, LOG_FORMAT). Runs until Ctrl-C or SIGTERM.",
        epilog="Point a worker at it with CLAIMX_API_URL=<the printed URL> and\n"
        "CLAIMX_API_TOKEN=<the --token value>. Example, with faults:\n\n"
        "  python -m claimx_worker.testing.claimx_api --port 8765 --latency-ms 20 \\\n"
        "      --error-rate 429=0.05 --error-rate timeout=0.01",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on; 0 picks a free one"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the generated data (same seed, same data)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay before every answer, in milliseconds"
    )
    parser.add_argument(
        "--token",
        default=SIMULATOR_TOKEN,
        help="the Basic token to accept (Authorization: Basic TOKEN); others get 401",
    )
    parser.add_argument(
        "--error-rate",
        action="append",
        default=[],
        metavar="FAULT=RATE",
        help="answer this share of requests with FAULT: an HTTP status (429 and 503 come with "
        "Retry-After) or 'timeout' (never answer); e.g. 429=0.1 (repeatable)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator until SIGINT or SIGTERM; prints its base URL on the first line."""
    args = argument_parser().parse_args(argv)
    start_logging()
    simulator = ClaimXApiSimulator(seed=args.seed, host=args.host, port=args.port)
    simulator.knobs.latency_seconds = args.latency_ms / 1000
    simulator.knobs.token = args.token
    for item in args.error_rate:
        fault, _, rate = item.partition("=")
        key: Fault = "timeout" if fault == "timeout" else int(fault)
        simulator.knobs.error_rates[key] = float(rate)

    def ready() -> None:
        print(simulator.base_url, flush=True)
        logger.bind(url=simulator.base_url, seed=args.seed).info("ClaimX API simulator listening")

    serve_until_signal(simulator.start_async, simulator.stop_async, ready)
    logger.info("ClaimX API simulator stopped")
    sys.exit(0)


if __name__ == "__main__":
    main()
