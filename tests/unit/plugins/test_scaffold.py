"""``claimx-worker plugins new``: names, the compatible range, the files, never overwriting.

The generated project is built, installed and tested for real in
``tests/integration/test_plugins_new.py``; these tests check what can be checked in-process.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimx_worker import EventType, Log, __version__
from claimx_worker.cli import cli
from claimx_worker.plugins.compatibility import admits
from claimx_worker.plugins.instances import scan_instances
from claimx_worker.plugins.scaffold import PluginNames, ScaffoldError, compatible_range

pytestmark = pytest.mark.usefixtures("restore_logging")

FILES = [
    ".gitignore",
    "README.md",
    "config/photo_alerts/README.md",
    "config/photo_alerts/config.yaml",
    "pyproject.toml",
    "src/claimx_plugin_photo_alerts/__init__.py",
    "src/claimx_plugin_photo_alerts/plugin.py",
    "src/claimx_plugin_photo_alerts/py.typed",
    "tests/conftest.py",
    "tests/test_plugin.py",
]


def new(*args: str) -> Result:
    return CliRunner().invoke(cli, ["plugins", "new", *args])


@pytest.mark.parametrize(
    "raw", ["photo_alerts", "Photo-Alerts", " photo_alerts ", "claimx-plugin-photo-alerts"]
)
def test_names_are_derived_from_the_plugin_name(raw: str) -> None:
    assert PluginNames.from_name(raw) == PluginNames(
        name="photo_alerts",
        distribution="claimx-plugin-photo-alerts",
        package="claimx_plugin_photo_alerts",
        class_name="PhotoAlertsPlugin",
        config_class="PhotoAlertsConfig",
    )


@pytest.mark.parametrize(
    "raw", ["", "9lives", "_private", "two words", "a__b", "trailing_", "café", "a" * 33]
)
def test_invalid_names_are_refused(raw: str) -> None:
    with pytest.raises(ScaffoldError, match="invalid plugin name"):
        PluginNames.from_name(raw)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1.0", "claimx-worker>=0.1,<0.2"),
        ("0.1.1.dev0", "claimx-worker>=0.1,<0.2"),
        ("0.9.3", "claimx-worker>=0.9,<0.10"),
        ("1.0.0", "claimx-worker>=1.0,<2"),
        ("1.4.2", "claimx-worker>=1.4,<2"),
        ("2.0.0rc1", "claimx-worker>=2.0.0rc1,<3"),
        ("0.2.0.dev4", "claimx-worker>=0.2.0.dev4,<0.3"),
    ],
)
def test_compatible_range(version: str, expected: str) -> None:
    assert compatible_range(version) == expected
    assert admits(expected, version)


def test_new_writes_the_project(tmp_path: Path) -> None:
    result = new("photo_alerts", "--directory", str(tmp_path), "--description", 'Say "hi" \\ é')

    project = tmp_path / "claimx-plugin-photo-alerts"
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"Created {project}/: distribution claimx-plugin-photo-alerts, package "
        "claimx_plugin_photo_alerts, class PhotoAlertsPlugin, entry point photo_alerts.\n"
    )
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == FILES
    assert [line.strip() for line in result.stdout.splitlines()[1:11]] == FILES
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "claimx-plugin-photo-alerts"
    assert pyproject["project"]["description"] == 'Say "hi" \\ é'
    assert pyproject["project"]["dependencies"] == [compatible_range(__version__)]
    assert pyproject["project"]["entry-points"]["claimx.plugins"] == {
        "photo_alerts": "claimx_plugin_photo_alerts:PhotoAlertsPlugin"
    }
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [
        "src/claimx_plugin_photo_alerts"
    ]
    assert any(
        r.startswith("pytest") for r in pyproject["project"]["optional-dependencies"]["test"]
    )
    assert (
        (project / "README.md")
        .read_text()
        .startswith('# claimx-plugin-photo-alerts\n\nSay "hi" \\ é\n')
    )
    for source in project.rglob("*.py"):
        compile(source.read_text(), str(source), "exec")
    assert "$" not in (project / "src/claimx_plugin_photo_alerts/plugin.py").read_text()


def test_the_example_instance_names_the_entry_point(tmp_path: Path) -> None:
    new("photo_alerts", "--directory", str(tmp_path))

    (spec,) = scan_instances(tmp_path / "claimx-plugin-photo-alerts" / "config", env={}).specs
    assert (spec.name, spec.plugin, spec.enabled) == ("photo_alerts", "photo_alerts", True)


def test_the_generated_plugin_runs_against_its_example_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claimx_worker.testing import StageHarness, make_event, make_rows

    new("photo_alerts", "--directory", str(tmp_path))
    project = tmp_path / "claimx-plugin-photo-alerts"
    monkeypatch.syspath_prepend(str(project / "src"))
    from claimx_plugin_photo_alerts import PhotoAlertsPlugin  # type: ignore[import-not-found]

    event = make_event(EventType.CUSTOM_TASK_ASSIGNED, project_id="4242")
    rows = make_rows(event)
    assert rows.first_task is not None
    config = project / "config" / "photo_alerts" / "config.yaml"
    with StageHarness.from_config(
        config, env={"PHOTO_ALERTS_MESSAGE": "Photo task"}, plugin_class=PhotoAlertsPlugin
    ) as harness:
        actions = harness.actions(event, rows)
        other = harness.actions(make_event(EventType.PROJECT_CREATED))

    assert actions == [
        Log(
            level="info",
            message="Photo task",
            fields={
                "event_type": "CUSTOM_TASK_ASSIGNED",
                "project_id": "4242",
                "task_id": rows.first_task.task_id,
            },
        )
    ]
    assert other == []


def test_an_existing_project_directory_is_never_overwritten(tmp_path: Path) -> None:
    existing = tmp_path / "claimx-plugin-photo-alerts"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")

    result = new("photo_alerts", "--directory", str(tmp_path))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"Error: {existing} already exists; nothing was written\n"
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["9lives"], "invalid plugin name '9lives'"),
        (["ok", "--description", "two\nlines"], "the description must be a single line"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = new(*args, "--directory", str(tmp_path / "out"))

    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_normalised_name_is_announced(tmp_path: Path) -> None:
    result = new("Bad-Name", "--directory", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "Plugin name 'Bad-Name' became 'bad_name' (entry points are lowercase letters, digits "
        "and '_')."
    )
    assert (tmp_path / "claimx-plugin-bad-name").is_dir()


def test_an_exact_name_is_not_announced(tmp_path: Path) -> None:
    result = new("photo_alerts", "--directory", str(tmp_path))

    assert result.stdout.startswith("Created ")


def test_next_steps_install_into_the_workers_own_environment(tmp_path: Path) -> None:
    """claimx-worker may not be on any package index: the steps use the environment it is
    installed in, where the requirement is already met, or a wheel directory."""
    result = new("photo_alerts", "--directory", str(tmp_path))

    python = sys.executable
    steps = result.stdout.split("\nNext")[1]
    assert f"  {python} -m pip install -e '.[test]'" in steps
    assert f"  uv pip install --python {python} -e '.[test]'" in steps
    assert f"  {python} -m pytest" in steps
    assert "pip install --find-links" in steps
    # no bare `pip install -e`: it would look claimx-worker up on an index from any environment
    assert not any(line.strip().startswith("pip install -e") for line in steps.splitlines())


def test_the_readme_installs_without_claimx_worker_on_an_index(tmp_path: Path) -> None:
    new("photo_alerts", "--directory", str(tmp_path))

    readme = (tmp_path / "claimx-plugin-photo-alerts" / "README.md").read_text()
    develop = readme.split("## Develop and test\n", 1)[1].split("\n## ", 1)[0]
    assert "pip install --find-links" in develop
    assert "environment where claimx-worker is installed" in develop
