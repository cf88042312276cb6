"""Secrets of plugin configs: registered before any plugin code runs, so that whatever the plugin
code logs or raises while it is imported and constructed, and whatever ``plugins list`` and
``plugins validate`` print, is redacted."""

from __future__ import annotations

import io
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from plugin_host_support import sample, write_instances

from claimx_worker.cli import cli
from claimx_worker.config.problems import ConfigError
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import MASK, Redactor
from claimx_worker.plugins.loading import load_plugins

pytestmark = pytest.mark.usefixtures("plugin_modules", "restore_logging")

CODE = "fn-code-4b1d9e77c2"
"""An Azure Functions key, in a URL: neither its key nor its variable name looks secret."""


def leaky_module(directory: Path, body: str) -> str:
    """A plugin module in ``directory`` (put on ``sys.path``) running ``body`` when imported;
    its ``Leaky`` class takes no config. Returns its (unique) module name."""
    name = f"leaky_{uuid.uuid4().hex}"
    code = textwrap.dedent(body).strip()
    (directory / f"{name}.py").write_text(
        f"import os\nfrom loguru import logger\n\n{code}\n\nclass Leaky:\n    pass\n"
    )
    return name


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "modules"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.setenv("HOOK_CODE", CODE)
    monkeypatch.chdir(tmp_path)
    return directory


def instances(tmp_path: Path, leaky: str) -> Path:
    """An instance taking ``${HOOK_CODE}`` into a URL, and one of the ``leaky`` module."""
    return write_instances(
        tmp_path / "plugins",
        {
            "echo": sample(
                "EchoPlugin",
                priority=1,
                config={"greeting": "https://fn.example/api/hook?code=${HOOK_CODE}"},
            ),
            "leaky": {"module": leaky, "class": "Leaky", "priority": 2},
        },
    )


def test_plugin_code_logs_through_a_redactor_that_already_knows_the_config_secrets(
    tmp_path: Path, modules: Path
) -> None:
    leaky = leaky_module(modules, 'logger.warning("connecting with {}", os.environ["HOOK_CODE"])')
    redactor = Redactor()
    sink = io.StringIO()
    configure_logging(redactor=redactor, level="INFO", fmt="human", sink=sink)

    plugins = load_plugins(instances(tmp_path, leaky), env={"HOOK_CODE": CODE}, redactor=redactor)

    assert sink.getvalue() == f"WARNING: connecting with {MASK}\n"
    assert plugins.secrets == {CODE}
    assert CODE in redactor.secrets


def test_import_errors_are_reported_redacted(tmp_path: Path, modules: Path) -> None:
    leaky = leaky_module(modules, 'raise RuntimeError("cannot reach " + os.environ["HOOK_CODE"])')

    with pytest.raises(ConfigError) as info:
        load_plugins(instances(tmp_path, leaky), env={"HOOK_CODE": CODE})

    (problem,) = info.value.problems
    assert problem.message == (f"cannot import module '{leaky}': RuntimeError: cannot reach {MASK}")


def test_plugin_set_repr_shows_no_secret(tmp_path: Path, modules: Path) -> None:
    leaky = leaky_module(modules, "")

    plugins = load_plugins(instances(tmp_path, leaky), env={"HOOK_CODE": CODE})

    assert CODE not in repr(plugins)
    assert "secrets=<1 secrets>" in repr(plugins)


@pytest.mark.parametrize("args", [["list"], ["list", "--json"]])
def test_plugins_list_prints_every_line_redacted(
    tmp_path: Path, modules: Path, args: list[str]
) -> None:
    leaky = leaky_module(modules, 'logger.warning("connecting with {}", os.environ["HOOK_CODE"])')
    plugins_dir = instances(tmp_path, leaky)

    result = CliRunner().invoke(cli, ["plugins", *args, "--plugins-dir", str(plugins_dir)])

    assert result.exit_code == 0, result.output
    assert "leaky" in result.stdout
    assert CODE not in result.output
    assert result.stderr == f"WARNING: connecting with {MASK}\n"


def test_plugins_validate_prints_problems_redacted(tmp_path: Path, modules: Path) -> None:
    leaky = leaky_module(
        modules,
        """
        names = ("HOOK_CODE", "CLAIMX_API_TOKEN", "KAFKA_USER")
        raise RuntimeError(" ".join(os.environ[name] for name in names))
        """,
    )
    settings = tmp_path / "worker.yaml"
    settings.write_text(
        "claimx_api: {token: '${CLAIMX_API_TOKEN}'}\n"
        "kafka: {common: {sasl.username: '${KAFKA_USER}'}}\n"
    )
    env = {"CLAIMX_API_TOKEN": "api-token-5e8a", "KAFKA_USER": "kafka-user-77d0"}
    plugins_dir = instances(tmp_path, leaky)

    result = CliRunner().invoke(
        cli,
        ["plugins", "validate", "--plugins-dir", str(plugins_dir), "--config", str(settings)],
        env=env,
    )

    assert result.exit_code == 2
    assert result.stderr == (
        f"plugins/leaky/config.yaml:1: module: cannot import module '{leaky}': "
        f"RuntimeError: {MASK} {MASK} {MASK}\n"
        "Invalid configuration: 1 problem.\n"
    )
