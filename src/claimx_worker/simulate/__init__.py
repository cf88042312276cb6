"""``claimx-worker simulate``: one event through the plugin stages, printing the actions that would
run, executing none of them.

The plugin instances are loaded and started as the worker does (config validation, ``${VAR}``,
``on_load``) and run on the worker's stage runner, inside the testing kit's stage harness: hooks
that attempt I/O are refused, and every hook problem (exception, invalid return, time budget,
an action the executor would refuse) is reported. A raw event is enriched through the ClaimX API
of the settings file, or through the in-process API simulator; an enriched event file brings its
own rows. When enrichment fails, ``on_event_failed`` shows what would run for a dead-lettered
event. The testing kit is imported inside the functions that use it: importing this package
loads none of it. The reports are :mod:`claimx_worker.simulate.report`'s.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import cattrs
from attrs import frozen
from prometheus_client import CollectorRegistry

from claimx_worker.claimx import ApiSettings, Enricher, Enrichment
from claimx_worker.config.problems import ConfigError, ConfigProblem, display_path
from claimx_worker.errors import (
    ClaimXWorkerError,
    InvalidEventError,
    ProcessingError,
)
from claimx_worker.explain import explain_instances
from claimx_worker.model import (
    ClaimXEvent,
    EntityRows,
    EventFailure,
    EventType,
    Filter,
    Stage,
    converter,
    new_converter,
    parse_event,
)
from claimx_worker.model.rows import ROW_CLASSES
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.loading import PluginSet, load_plugins
from claimx_worker.plugins.runner import PluginAction, StageResult
from claimx_worker.plugins.settings import InstanceMode
from claimx_worker.simulate.report import render_human, render_json, render_notes

if TYPE_CHECKING:
    from claimx_worker.testing.harness import HookProblem
    from claimx_worker.testing.io_guard import IOAttempt

EXAMPLE_TYPES = tuple(t.value for t in EventType)
_CATTRS_MESSAGE = re.compile(r"(?P<message>.*) @ (?P<path>\S+)$")


class InvalidInputError(ClaimXWorkerError, ValueError):
    """The event file is not a valid (raw or enriched) event; the message names the field."""


# ---------------------------------------------------------------------- input


def example(event_type: str, *, enriched: bool) -> str:
    """A sample event of ``event_type`` as JSON (with its rows under ``rows`` if ``enriched``)."""
    from claimx_worker.testing.factories import make_enriched_event, make_event

    if enriched:
        event, rows = make_enriched_event(event_type)
        document: Any = {"event": _event_json(event), "rows": converter.unstructure(rows)}
    else:
        document = _event_json(make_event(event_type))
    return json.dumps(document, indent=2, ensure_ascii=False)


def read_input(text: str, *, enriched: bool) -> tuple[ClaimXEvent, EntityRows | None]:
    """The event (and rows, for an enriched file) in ``text``; raises :class:`InvalidInputError`."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"not valid JSON: {exc}") from None
    if not enriched:
        return _parse_event(data, ""), None
    if not isinstance(data, Mapping):
        raise InvalidInputError('expected an object {"event": {...}, "rows": {...}}')
    missing = [key for key in ("event", "rows") if key not in data]
    if missing:
        raise InvalidInputError(f"{missing[0]}: required field missing (enriched event file)")
    return _parse_event(data["event"], "event."), _parse_rows(data["rows"])


def _event_json(event: ClaimXEvent) -> Any:
    data = converter.unstructure(event)
    return {key: value for key, value in data.items() if value not in (None, {})}


def _parse_event(data: Any, prefix: str) -> ClaimXEvent:
    try:
        return parse_event(data if isinstance(data, Mapping) else json.dumps(data))
    except InvalidEventError as exc:
        raise InvalidInputError(f"{prefix}{exc}") from None


def _rows_converter() -> cattrs.Converter:
    strict = new_converter()
    strict.forbid_extra_keys = True  # a misspelled column is an error, not a silent drop
    return strict


_ROWS = _rows_converter()


def _parse_rows(data: Any) -> EntityRows:
    if not isinstance(data, Mapping):
        raise InvalidInputError("rows: expected an object of row lists")
    messages = []
    extra = [name for name in data if name not in ROW_CLASSES]
    if extra:
        messages.append(f"rows: extra fields found ({', '.join(extra)})")
    lists: dict[str, Any] = {}
    for name, row_class in ROW_CLASSES.items():
        if name not in data:
            continue
        try:
            lists[name] = _ROWS.structure(data[name], tuple[row_class, ...])  # type: ignore[valid-type]
        except Exception as exc:
            for line in cattrs.transform_error(exc, path=f"rows.{name}"):
                match = _CATTRS_MESSAGE.match(line)
                messages.append(f"{match['path']}: {match['message']}" if match else line)
    if messages:
        raise InvalidInputError("; ".join(messages))
    return EntityRows(**lists)


# ---------------------------------------------------------------------- the dry run


@frozen(kw_only=True)
class DryRun:
    """What one event did in the plugin stages."""

    event: ClaimXEvent
    instances: tuple[str, ...]
    source: str
    """Where the rows came from: ``file``, ``api``, ``simulator`` or ``none`` (not enriched)."""
    received: StageResult
    rows: EntityRows | None = None
    completed: StageResult | None = None
    failure: EventFailure | None = None
    """Why enrichment failed (then ``failed`` holds ``on_event_failed``'s actions)."""
    failed: StageResult | None = None
    problems: tuple[HookProblem, ...] = ()
    io_attempts: tuple[IOAttempt, ...] = ()
    explained: tuple[dict[str, Any], ...] | None = None
    """With ``--explain``: per instance, its conditions' verdict and its rules' (see
    :func:`~claimx_worker.explain.explain_instances`)."""
    shadow: frozenset[str] = frozenset()
    """The instances in shadow mode: their actions would be recorded on the shadow topic."""

    @property
    def ok(self) -> bool:
        """No hook problem (timeouts aside), no refused I/O, enrichment did not fail."""
        from claimx_worker.testing.harness import ProblemKind

        serious = [p for p in self.problems if p.kind is not ProblemKind.TIMEOUT]
        return not serious and not self.io_attempts and self.failure is None

    def actions(self) -> list[tuple[Stage, PluginAction | Filter, str]]:
        """Every action in run order, with its stage and instance; a filter comes last."""
        listed: list[tuple[Stage, PluginAction | Filter, str]] = []
        for stage, result in (
            (Stage.EVENT_RECEIVED, self.received),
            (Stage.ENRICHMENT_COMPLETE, self.completed),
            (Stage.EVENT_FAILED, self.failed),
        ):
            if result is None:
                continue
            listed += [(stage, action, action.instance) for action in result.actions]
            if result.filter is not None and result.filtered_by is not None:
                listed.append((stage, result.filter, result.filtered_by))
        return listed


def dry_run(
    plugins: PluginSet,
    event: ClaimXEvent,
    *,
    rows: EntityRows | None,
    api: ApiSettings | None,
    budget_ms: float,
    explain: bool = False,
) -> DryRun:
    """Run ``event`` through the stages of ``plugins``. ``rows`` given: use them (an enriched
    event); else enrich through ``api``, or through the API simulator when ``api`` is ``None``.
    ``explain``: also say why each instance and rule matched or not (when enriched).
    Raises :class:`~claimx_worker.config.problems.ConfigError` when an ``on_load`` fails."""
    from claimx_worker.testing.factories import handler_metadata
    from claimx_worker.testing.harness import StageHarness

    with StageHarness(plugins, budget_ms=budget_ms, strict=False, block_io=True) as harness:
        names = tuple(instance.name for instance in harness.instances)
        shadow = frozenset(i.name for i in harness.instances if i.spec.mode is InstanceMode.SHADOW)
        received = harness.event_received(event)
        source = "file" if rows is not None else ("simulator" if api is None else "api")
        run = DryRun(event=event, instances=names, source=source, received=received, shadow=shadow)
        if received.filtered:
            run = attrs.evolve(run, source="none")
        elif rows is not None:
            completed = harness.enrichment_complete(event, rows, handler_metadata(event))
            run = attrs.evolve(run, rows=rows, completed=completed)
        else:
            try:
                enrichment = _enrich(event, api)
            except ProcessingError as exc:
                failure = EventFailure(category=exc.category, message=str(exc))
                run = attrs.evolve(
                    run, failure=failure, failed=harness.event_failed(event, failure)
                )
            else:
                completed = harness.enrichment_complete(event, enrichment.rows, enrichment.metadata)
                run = attrs.evolve(run, rows=enrichment.rows, completed=completed)
        if explain and run.rows is not None:
            explained = explain_instances(plugins, event, run.rows)
            run = attrs.evolve(run, explained=explained)
        return attrs.evolve(run, problems=harness.problems, io_attempts=harness.io_attempts)


def _enrich(event: ClaimXEvent, api: ApiSettings | None) -> Enrichment:
    if api is not None:
        return asyncio.run(_enrich_with(event, api))
    from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN, ClaimXApiSimulator
    from claimx_worker.testing.factories import DATA_SEED

    with ClaimXApiSimulator(seed=DATA_SEED) as simulator:
        settings = ApiSettings(base_url=simulator.base_url, token=SIMULATOR_TOKEN, retries=0)
        return asyncio.run(_enrich_with(event, settings))


async def _enrich_with(event: ClaimXEvent, settings: ApiSettings) -> Enrichment:
    async with Enricher.from_settings(settings, registry=CollectorRegistry()) as enricher:
        return await enricher.enrich(event)


# ---------------------------------------------------------------------- the command


def run_simulation(
    text: str,
    *,
    enriched: bool,
    plugins_dir: Path | None,
    api: ApiSettings | None,
    budget_ms: float,
    as_json: bool,
    env: Mapping[str, str],
    redactor: Redactor,
    echo: Callable[[str], None],
    note: Callable[[str], None],
    explain: bool = False,
) -> int:
    """Read the event in ``text``, run it, print the report; return the exit status (0: ran
    cleanly, 1: a hook problem, refused I/O or failed enrichment). The report goes through
    ``redactor``, which learns the API token and the plugin configs' secrets before any plugin
    code runs. Raises
    :class:`InvalidInputError` for a bad event file and
    :class:`~claimx_worker.config.problems.ConfigError` for bad plugin configuration (exit 2)."""
    event, rows = read_input(text, enriched=enriched)
    if plugins_dir is not None and not plugins_dir.is_dir():
        problem = ConfigProblem(display_path(plugins_dir), None, "", "plugins directory not found")
        raise ConfigError([problem])
    if api is not None:
        redactor.add(api.token)
    plugins = load_plugins(plugins_dir, env=env, redactor=redactor)
    run = dry_run(plugins, event, rows=rows, api=api, budget_ms=budget_ms, explain=explain)
    if as_json:
        echo(render_json(run, redactor))
        for line in render_notes(run):
            note(redactor.redact(line))
    else:
        echo(render_human(run, redactor))
    return 0 if run.ok else 1
