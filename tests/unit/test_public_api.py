"""The public API of ``claimx_worker``: what ``__init__`` exports, and what importing it costs.

The exported names are pinned in two steps, so that none changes unnoticed:

1. :data:`EXPORTED` is a snapshot of ``__all__`` of each public module; any change to an
   ``__all__`` fails :func:`test_the_exported_names_are_the_snapshot` until the snapshot is
   updated with it, in the same diff.
2. :data:`RELEASED` holds the names at the last release. Every name added to or removed from the
   snapshot since then must be named, in backquotes, in the ``[Unreleased]`` section of
   ``CHANGELOG.md`` (:func:`test_every_change_since_the_release_is_in_the_changelog`); the
   check itself is tested on a made-up changelog, so it cannot pass vacuously.

At a release, copy :data:`EXPORTED` into :data:`RELEASED`. 0.1.0 is not released yet: until
then :data:`RELEASED` holds the names as they were when the API was pinned.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path

import pytest

import claimx_worker
from claimx_worker import _version

PACKAGE = Path(claimx_worker.__file__).parent
CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"

PLUGIN_API = frozenset(
    {
        "Action",
        "ChangeRows",
        "ClaimXEvent",
        "ClaimXWorkerError",
        "Condition",
        "ConditionMatcher",
        "ConditionReport",
        "ConfigValueError",
        "ContactRow",
        "EntityRows",
        "ErrorCategory",
        "EventFailure",
        "EventType",
        "ExternalLinkRow",
        "Filter",
        "HandlerMetadata",
        "Log",
        "MediaRow",
        "Metric",
        "Plugin",
        "PluginContext",
        "PreparedLogLine",
        "ProjectRow",
        "PublishToTopic",
        "Stage",
        "TaskRow",
        "TaskTemplateRow",
        "VideoCollabRow",
        "Webhook",
        "__version__",
        "compile_conditions",
        "connection_field",
        "converter",
        "hookimpl",
        "log_enabled",
        "require_group",
        "write_line",
    }
)
TESTING_KIT = frozenset(
    {
        "BlockedIOError",
        "CONTRACT_EVENT_TYPES",
        "ClaimXApiSimulator",
        "ConfigError",
        "HookError",
        "HookProblem",
        "IOAttempt",
        "KafkaBroker",
        "PluginAction",
        "PluginContract",
        "ProblemKind",
        "StageHarness",
        "StageResult",
        "TopicFactory",
        "UNKNOWN_EVENT_TYPE",
        "WebhookReceiver",
        "load_instances",
        "make_enriched_event",
        "make_event",
        "make_rows",
    }
)

EXPORTED: Mapping[str, frozenset[str]] = {
    "claimx_worker": PLUGIN_API,
    "claimx_worker.testing": TESTING_KIT,
}
"""The ``__all__`` of each public module, as it is now."""


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


RELEASED: Mapping[str, frozenset[str]] = {
    "claimx_worker": _names(
        """
        Action ClaimXEvent ConfigValueError ContactRow EntityRows ErrorCategory EventFailure
        EventType ExternalLinkRow Filter HandlerMetadata Log MediaRow Metric Plugin
        PluginContext PreparedLogLine ProjectRow PublishToTopic Stage TaskRow TaskTemplateRow
        VideoCollabRow Webhook __version__ converter hookimpl
        """
    ),
    "claimx_worker.testing": _names(
        """
        BlockedIOError CONTRACT_EVENT_TYPES ClaimXApiSimulator ConfigError HookError HookProblem
        IOAttempt KafkaBroker PluginAction PluginContract ProblemKind StageHarness StageResult
        TopicFactory UNKNOWN_EVENT_TYPE WebhookReceiver load_instances make_enriched_event
        make_event make_rows
        """
    ),
}
"""The ``__all__`` of each public module at the last release (see the module docstring)."""


def unreleased_section(changelog: str) -> str:
    """The ``## [Unreleased]`` section of a Keep a Changelog file."""
    match = re.search(r"^## \[Unreleased\]\n(.*?)(?=^## \[|\Z)", changelog, re.M | re.S)
    assert match is not None, "CHANGELOG.md has no '## [Unreleased]' section"
    return match.group(1)


def unlisted_changes(
    released: Mapping[str, frozenset[str]],
    exported: Mapping[str, frozenset[str]],
    changelog: str,
) -> list[str]:
    """The names added or removed since ``released`` that the unreleased section does not name
    in backquotes (```name``` or ```name(...)```, optionally with the module)."""
    section = unreleased_section(changelog)
    unlisted: list[str] = []
    for module in sorted(released.keys() | exported.keys()):
        before, now = released.get(module, frozenset()), exported.get(module, frozenset())
        for change, names in (("added", now - before), ("removed", before - now)):
            for name in sorted(names):
                mention = rf"`(?:{re.escape(module)}\.)?{re.escape(name)}(?!\w)"
                if not re.search(mention, section):
                    unlisted.append(f"{module}.{name} ({change})")
    return unlisted


@pytest.mark.parametrize("module", sorted(EXPORTED))
def test_the_exported_names_are_the_snapshot(module: str) -> None:
    exported = importlib.import_module(module).__all__
    assert len(exported) == len(set(exported)), "a name is exported twice"
    assert set(exported) == EXPORTED[module], (
        "the public API changed: update EXPORTED in this file, and name the change in CHANGELOG.md"
    )


def test_every_change_since_the_release_is_in_the_changelog() -> None:
    changelog = CHANGELOG.read_text(encoding="utf-8")
    assert unlisted_changes(RELEASED, EXPORTED, changelog) == []


def test_the_changelog_check_fails_for_a_change_it_does_not_name() -> None:
    released = {"claimx_worker": frozenset({"Log", "Gone"})}
    exported = {"claimx_worker": frozenset({"Log", "NewThing", "Named"})}
    changelog = (
        "# Changelog\n\n## [Unreleased]\n### Added\n- `Named(x)` does things; NewThing too\n"
        "\n## [0.1.0]\n### Removed\n- `Gone`\n- `NewThing`\n"
    )

    assert unlisted_changes(released, exported, changelog) == [
        "claimx_worker.NewThing (added)",
        "claimx_worker.Gone (removed)",
    ]
    assert unlisted_changes(released, released, changelog) == []


def test_the_version_lives_in_its_own_module() -> None:
    assert claimx_worker.__version__ == _version.__version__ == version("claimx-worker")


def test_no_internal_module_imports_a_public_name_from_the_package() -> None:
    """``__init__`` imports the modules behind the public names, so a module that imports a
    public name back from ``claimx_worker`` would close an import cycle: it imports it from the
    module that defines it instead."""
    offenders: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "claimx_worker":
                public = sorted({alias.name for alias in node.names} & set(claimx_worker.__all__))
                if public and path != PACKAGE / "__init__.py":
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {public}")
    assert offenders == []


def run_python(code: str) -> str:
    """What ``code`` prints, run in a fresh interpreter (a failure shows its stderr)."""
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


PLUGIN_CONVERTER_PROBE = """
from datetime import datetime
import claimx_worker
from claimx_worker.actions.encoding import payload_bytes
from claimx_worker.claimx.output import entity_rows_message
from claimx_worker.model import ProjectRow
from claimx_worker.testing import make_event, make_rows

event = make_event("CUSTOM_TASK_COMPLETED")
rows = make_rows(event)
def encoded():
    return entity_rows_message(event, rows), payload_bytes(rows)
before = encoded()
same_conventions = claimx_worker.converter.unstructure(rows) == __import__("json").loads(
    payload_bytes(rows)
)
claimx_worker.converter.register_unstructure_hook(datetime, lambda value: "plugin's")
claimx_worker.converter.register_unstructure_hook(ProjectRow, lambda row: {"plugin's": True})
print(same_conventions, encoded() == before, claimx_worker.converter.unstructure(rows)["projects"])
"""


def test_hooks_a_plugin_registers_on_the_public_converter_leave_the_worker_s_output_alone() -> None:
    """Run in a fresh interpreter: a hook registered on a converter cannot be removed."""
    assert run_python(PLUGIN_CONVERTER_PROBE).split(" ", 2) == [
        "True",
        "True",
        '[{"plugin\'s": True}]\n',
    ]


def test_importing_the_plugin_api_loads_only_what_its_names_need() -> None:
    """No metrics, HTTP, Kafka or plugin-host code behind ``import claimx_worker``: a plugin
    imports it, and so does every ``claimx_worker.<module>`` import in the worker's own tests."""
    code = (
        "import sys, claimx_worker\n"
        "print(' '.join(sorted(m for m in sys.modules if m.partition('.')[0] in {"
        "'prometheus_client', 'httpx', 'aiohttp', 'confluent_kafka', 'wsgiref', 'packaging'}"
        " or m.startswith(('claimx_worker.plugins.', 'claimx_worker.observability.',"
        " 'claimx_worker.actions', 'claimx_worker.claimx', 'claimx_worker.kafka')))))\n"
    )
    assert run_python(code).split() == [
        "claimx_worker.observability.logs",
        "claimx_worker.observability.loguru_adapter",
        "claimx_worker.observability.redaction",
        "claimx_worker.plugins.base",
    ]
