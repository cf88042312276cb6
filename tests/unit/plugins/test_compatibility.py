"""Plugin compatibility: a distribution's ``claimx-worker`` requirement is checked before import.

The CLI cases install a real (if minimal) distribution: a ``.dist-info`` directory with its
metadata and entry points on ``sys.path``, found by ``importlib.metadata`` like any other, and a
plugin module that leaves a marker file when it is imported.
"""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner
from plugin_host_support import write_instances

from claimx_worker import __version__
from claimx_worker.cli import cli
from claimx_worker.config.problems import ConfigError
from claimx_worker.plugins.compatibility import admits, incompatibility, worker_requirement
from claimx_worker.plugins.discovery import ENTRY_POINT_GROUP, InstalledPlugin, installed_plugins
from claimx_worker.plugins.loading import load_plugins

MODULE = "claimx_compat_probe"
PLUGIN_MODULE = '''
"""Leaves a marker when imported: the host must not import an incompatible plugin."""
import pathlib
pathlib.Path({marker!r}).write_text("imported")

from claimx_worker import Plugin, hookimpl


class ProbePlugin(Plugin[None]):
    @hookimpl
    def on_enrichment_complete(self, context):
        return None
'''


@pytest.mark.parametrize(
    ("requires", "expected"),
    [
        (["attrs>=23", "claimx-worker<0.2,>=0.1"], "claimx-worker<0.2,>=0.1"),
        (["Claimx_Worker >=1.0, <2"], "Claimx_Worker<2,>=1.0"),
        (["claimx-worker"], "claimx-worker"),
        (["claimx-worker>=9; extra == 'test'", "claimx-worker>=0.1"], "claimx-worker>=0.1"),
        (["claimx-worker>=9; python_version < '3'"], None),
        (["claimx-workers>=9", "not a requirement ~~", "httpx"], None),
        ([], None),
        (None, None),
    ],
)
def test_worker_requirement_is_the_unconditional_claimx_worker_one(
    requires: list[str] | None, expected: str | None
) -> None:
    assert worker_requirement(requires) == expected


@pytest.mark.parametrize(
    ("requirement", "version", "expected"),
    [
        ("claimx-worker>=0.1,<0.2", "0.1.0", True),
        ("claimx-worker>=0.1,<0.2", "0.1.7", True),
        ("claimx-worker>=0.1,<0.2", "0.1.1.dev3", True),
        ("claimx-worker>=0.1,<0.2", "0.2.0", False),
        ("claimx-worker>=0.1,<0.2", "0.2.0rc1", False),
        ("claimx-worker>=0.1,<0.2", "0.0.9", False),
        ("claimx-worker>=1.2,<2", "1.9.0", True),
        ("claimx-worker>=1.2,<2", "2.0.0", False),
        ("claimx-worker", "7.0.0", True),
        (None, "7.0.0", True),
        ("claimx-worker>=0.1", "not-a-version", False),
    ],
)
def test_admits(requirement: str | None, version: str, expected: bool) -> None:
    assert admits(requirement, version) is expected


def test_incompatibility_names_instance_distribution_requirement_and_worker() -> None:
    plugin = installed("acme", "acme-plugin", "2.3.0", "claimx-worker>=0.2,<0.3")

    assert incompatibility(plugin, instance="alerts", worker_version="0.2.5") is None
    assert incompatibility(plugin, instance="alerts", worker_version="0.1.0") == (
        "instance 'alerts': plugin 'acme' (acme-plugin 2.3.0) requires "
        "claimx-worker>=0.2,<0.3, but claimx-worker 0.1.0 is installed; install a release of "
        "acme-plugin that supports claimx-worker 0.1.0 (read: claimx-worker docs upgrading)"
    )


def test_discovery_reads_the_requirement_from_distribution_metadata() -> None:
    task_trigger = installed_plugins()["task_trigger"]

    assert task_trigger.requires_worker == "claimx-worker<0.2,>=0.1"
    assert task_trigger.supports(__version__)


def test_an_incompatible_plugin_is_refused_before_its_module_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = probe_module(tmp_path, monkeypatch)
    write_instances(tmp_path / "plugins", {"probe": {"plugin": "probe"}})
    plugins = {"probe": installed("probe", "claimx-probe", "1.0.0", "claimx-worker>=99")}

    with pytest.raises(ConfigError) as raised:
        load_plugins(tmp_path / "plugins", env={}, installed=plugins)

    (problem,) = raised.value.problems
    assert problem.key == "plugin"
    assert problem.line == 1
    assert problem.message == (
        "instance 'probe': plugin 'probe' (claimx-probe 1.0.0) requires claimx-worker>=99, "
        f"but claimx-worker {__version__} is installed; install a release of claimx-probe "
        f"that supports claimx-worker {__version__} (read: claimx-worker docs upgrading)"
    )
    assert not marker.exists()
    assert MODULE not in sys.modules


def test_a_compatible_plugin_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = probe_module(tmp_path, monkeypatch)
    write_instances(tmp_path / "plugins", {"probe": {"plugin": "probe"}})
    major, minor = __version__.split(".")[:2]
    requirement = f"claimx-worker>={major}.{minor},<{major}.{int(minor) + 1}"
    plugins = {"probe": installed("probe", "claimx-probe", "1.0.0", requirement)}

    loaded = load_plugins(tmp_path / "plugins", env={}, installed=plugins)

    assert [instance.name for instance in loaded.instances] == ["probe"]
    assert marker.read_text() == "imported"


@pytest.mark.usefixtures("restore_logging")
def test_validate_refuses_an_installed_incompatible_plugin_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = probe_module(tmp_path, monkeypatch)
    dist_info = tmp_path / "site" / "claimx_probe-1.0.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: claimx-probe\nVersion: 1.0.0\n"
        "Requires-Dist: claimx-worker<0.1,>=0.0.1\nRequires-Dist: pytest; extra == 'test'\n"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nprobe = {MODULE}:ProbePlugin\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    plugins_dir = write_instances(tmp_path / "plugins", {"alerts": {"plugin": "probe"}})

    listing = CliRunner().invoke(cli, ["plugins", "list", "--plugins-dir", ""])
    validation = CliRunner().invoke(cli, ["plugins", "validate", "--plugins-dir", str(plugins_dir)])

    assert listing.exit_code == 0, listing.output
    assert (
        f"probe claimx-probe 1.0.0 {MODULE}:ProbePlugin claimx-worker<0.1,>=0.0.1 "
        f"(INCOMPATIBLE with claimx-worker {__version__})"
    ) in [" ".join(line.split()) for line in listing.stdout.splitlines()]
    assert validation.exit_code == 2
    assert validation.stdout == ""
    assert validation.stderr == (
        f"{plugins_dir}/alerts/config.yaml:1: plugin: instance 'alerts': plugin 'probe' "
        f"(claimx-probe 1.0.0) requires claimx-worker<0.1,>=0.0.1, but claimx-worker "
        f"{__version__} is installed; install a release of claimx-probe that supports "
        f"claimx-worker {__version__} (read: claimx-worker docs upgrading)\n"
        "Invalid configuration: 1 problem.\n"
    )
    assert not marker.exists()
    assert MODULE not in sys.modules


def installed(name: str, distribution: str, version: str, requires: str) -> InstalledPlugin:
    """An entry point of the probe module, as discovery would report it."""
    value = f"{MODULE}:ProbePlugin"
    return InstalledPlugin(
        name=name,
        value=value,
        distribution=distribution,
        version=version,
        entry_point=EntryPoint(name, value, ENTRY_POINT_GROUP),
        requires_worker=requires,
    )


def probe_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the probe plugin module on ``sys.path``; returns the marker its import writes."""
    marker = tmp_path / "imported.txt"
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{MODULE}.py").write_text(textwrap.dedent(PLUGIN_MODULE.format(marker=str(marker))))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return marker
