"""A third-party plugin, built as a wheel and installed beside claimx-worker in a fresh venv.

Proves discovery through the ``claimx.plugins`` entry point (distribution name and version from
metadata), configuration from a plugins directory, and one class backing two instances with
different configs and priorities that run in priority order.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.wheels import FreshVenv, build_wheel, plugin_pyproject

pytestmark = pytest.mark.slow

PYPROJECT = plugin_pyproject(
    "acme-claimx-plugin",
    "1.2.3",
    "claimx-worker",
    "acme_greeter",
    "acme_claimx_plugin:GreeterPlugin",
)

PLUGIN = '''
"""A third-party plugin: publishes a greeting for every enriched task event."""

import attrs

from claimx_worker import Plugin, PluginContext, PublishToTopic, hookimpl


@attrs.frozen(kw_only=True)
class GreeterConfig:
    greeting: str
    topic: str


class GreeterPlugin(Plugin[GreeterConfig]):
    config_class = GreeterConfig

    @hookimpl
    def on_load(self, config, instance_name):
        self.loaded_as = instance_name

    @hookimpl
    def on_enrichment_complete(self, context: PluginContext[GreeterConfig]):
        task = context.first_task
        return PublishToTopic(
            topic=context.config.topic,
            key=context.event.project_id,
            value={
                "greeting": context.config.greeting,
                "instance": context.instance_name,
                "loaded_as": self.loaded_as,
                "task_id": task.task_id if task else None,
            },
        )
'''

STAGE_RUN = """
import asyncio, json, os, sys
from pathlib import Path
from prometheus_client import CollectorRegistry
from claimx_worker import ClaimXEvent, EntityRows, HandlerMetadata, TaskRow
from claimx_worker.plugins.host import PluginHost

async def main():
    registry = CollectorRegistry()
    host = PluginHost.load(Path(sys.argv[1]), env=os.environ, registry=registry)
    await host.start()
    event = ClaimXEvent(event_id="e-1", event_type="CUSTOM_TASK_COMPLETED", project_id="777")
    rows = EntityRows(tasks=(TaskRow(assignment_id=1, task_id=456, project_id="777"),))
    result = await host.run_enrichment_complete(event, rows, HandlerMetadata(api_calls=2))
    await host.stop()
    calls = {
        name: registry.get_sample_value(
            "claimx_plugin_calls_total", {"instance": name, "hook": "on_enrichment_complete"}
        )
        for name in ("loud", "quiet")
    }
    print(json.dumps({
        "actions": [
            {"instance": a.instance, "index": a.index, "topic": a.action.topic,
             "key": a.action.key, "value": a.action.value}
            for a in result.actions
        ],
        "calls": calls,
    }))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def plugin_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("acme-plugin")
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "README.md").write_text("Acme's ClaimX plugin.\n")
    (project / "acme_claimx_plugin").mkdir()
    (project / "acme_claimx_plugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    return build_wheel(project, tmp_path_factory.mktemp("acme-dist"))


def write_plugins_dir(root: Path) -> Path:
    for directory, text in {
        # The same class twice, with different configs; "quiet" sorts first by directory
        # and by name but runs second by priority.
        "a_quiet": "name: quiet\nplugin: acme_greeter\npriority: 20\n"
        "config:\n  greeting: ${QUIET_GREETING:-hello}\n  topic: claimx.quiet\n",
        "b_loud": "name: loud\nplugin: acme_greeter\npriority: 10\n"
        "config:\n  greeting: HELLO\n  topic: claimx.loud\n",
    }.items():
        (root / directory).mkdir(parents=True)
        (root / directory / "config.yaml").write_text(text)
    return root


def run(
    venv_python: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv_python), *args], capture_output=True, text=True, env=env, check=False
    )


def test_wheel_plugin_is_discovered_configured_and_run_in_priority_order(
    worker_wheel: Path, plugin_wheel: Path, fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    python = fresh_venv([worker_wheel, plugin_wheel])
    cli = str(python.parent / "claimx-worker")
    plugins_dir = write_plugins_dir(tmp_path / "plugins")
    env = {"PATH": str(python.parent), "QUIET_GREETING": "psst"}

    listing = run(python, cli, "plugins", "list", "--json", "--plugins-dir", str(plugins_dir))
    assert listing.returncode == 0, listing.stderr
    found = json.loads(listing.stdout)
    assert found["installed"] == [
        {
            "name": "acme_greeter",
            "value": "acme_claimx_plugin:GreeterPlugin",
            "distribution": "acme-claimx-plugin",
            "version": "1.2.3",
            "requires_worker": "claimx-worker",
            "compatible": True,
        }
    ]
    assert [(i["name"], i["priority"], i["hooks"]) for i in found["instances"]] == [
        ("loud", 10, ["on_enrichment_complete", "on_load"]),
        ("quiet", 20, ["on_enrichment_complete", "on_load"]),
    ]
    assert {i["origin"] for i in found["instances"]} == {
        "entry point 'acme_greeter' (acme-claimx-plugin 1.2.3)"
    }

    stage = run(python, "-c", STAGE_RUN, str(plugins_dir), env=env)
    assert stage.returncode == 0, stage.stderr
    assert json.loads(stage.stdout) == {
        "actions": [
            {
                "instance": "loud",
                "index": 0,
                "topic": "claimx.loud",
                "key": "777",
                "value": {
                    "greeting": "HELLO",
                    "instance": "loud",
                    "loaded_as": "loud",
                    "task_id": 456,
                },
            },
            {
                "instance": "quiet",
                "index": 0,
                "topic": "claimx.quiet",
                "key": "777",
                "value": {
                    "greeting": "psst",
                    "instance": "quiet",
                    "loaded_as": "quiet",
                    "task_id": 456,
                },
            },
        ],
        "calls": {"loud": 1.0, "quiet": 1.0},
    }

    (plugins_dir / "b_loud" / "config.yaml").write_text(
        "name: loud\nplugin: acme_greeter\nconfig:\n  greetin: HELLO\n  topic: claimx.loud\n"
    )
    broken = run(python, cli, "plugins", "validate", "--plugins-dir", str(plugins_dir))
    assert broken.returncode == 2
    assert broken.stdout == ""
    assert broken.stderr == (
        f"{plugins_dir}/b_loud/config.yaml:3: config.greeting: required key is missing\n"
        f"{plugins_dir}/b_loud/config.yaml:4: config.greetin: unknown key 'greetin', "
        "did you mean 'greeting'?\n"
        "Invalid configuration: 2 problems.\n"
    )
