"""The configuration reloader without plugins: live settings applied at once, any other change
logged as waiting for a restart, invalid settings refused with file:line and key; the PID file
and ``signal_reload``."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from claimx_worker.cli import cli
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor
from claimx_worker.reload import (
    LIVE_SETTINGS,
    ConfigurationReloader,
    ReloadSignalError,
    remove_pid_file,
    signal_reload,
    write_pid_file,
)
from claimx_worker.settings import load_worker_config
from claimx_worker.settings.schema import setting_keys


def _reloader(path: Path, registry: CollectorRegistry) -> ConfigurationReloader:
    redactor = Redactor()
    configure_logging(redactor=redactor, level="INFO", fmt="human")
    reloader = ConfigurationReloader(
        read=lambda: load_worker_config(path, {}),
        loaded=load_worker_config(path, {}),
        config_file=path,
        environ={},
        redactor=redactor,
    )
    reloader.register(registry)
    return reloader


async def test_live_settings_apply_and_others_wait_for_a_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text("logging:\n  level: INFO\nkafka:\n  bootstrap_servers: a:9092\n")
    registry = CollectorRegistry()
    reloader = _reloader(path, registry)
    before = reloader.config_hash
    path.write_text("logging:\n  level: WARNING\nkafka:\n  bootstrap_servers: b:9092\n")

    result = await reloader.reload(None)

    assert result.outcome == "succeeded"
    assert reloader.config_hash != before
    assert registry.get_sample_value("claimx_config_info", {"hash": reloader.config_hash}) == 1
    labels = {"outcome": "succeeded"}
    assert registry.get_sample_value("claimx_config_reloads_total", labels) == 1
    err = capsys.readouterr().err
    assert (
        "WARNING: Setting changed; it takes effect at the next restart | "
        "key=kafka.bootstrap_servers" in err
    )
    assert "key=logging.level" not in err
    configure_logging(redactor=Redactor(), level="INFO", fmt="human")


async def test_invalid_settings_keep_the_running_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text("logging:\n  level: INFO\n")
    registry = CollectorRegistry()
    reloader = _reloader(path, registry)
    before = reloader.config_hash
    path.write_text("logging:\n  level: INFO\n  colour: red\n")

    result = await reloader.reload(None)

    assert result.outcome == "failed"
    assert reloader.config_hash == before
    assert registry.get_sample_value("claimx_config_reloads_total", {"outcome": "failed"}) == 1
    err = capsys.readouterr().err
    assert f"location={path}:3 key=logging.colour" in err
    assert "Configuration reload failed; the running configuration is kept" in err


def test_the_pid_file_names_this_process_and_signal_reload_signals_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    write_pid_file(pid_file)
    received: list[int] = []
    previous = signal.signal(signal.SIGHUP, lambda signum, _: received.append(signum))
    try:
        assert signal_reload(pid_file) == os.getpid()
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert received == [signal.SIGHUP]
    remove_pid_file(pid_file)
    assert not pid_file.exists()
    with pytest.raises(ReloadSignalError, match="is the worker running"):
        signal_reload(pid_file)


def test_a_pid_file_of_another_running_process_is_refused(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    pid_file.write_text(f"{os.getppid()}\n")

    with pytest.raises(ReloadSignalError, match="names a running process"):
        write_pid_file(pid_file)


def test_the_live_settings_are_settings_and_cover_the_plugins_section() -> None:
    keys = {setting.key for setting in setting_keys()}
    plugins = {key for key in keys if key.startswith("plugins.")}

    assert keys >= LIVE_SETTINGS
    assert plugins - LIVE_SETTINGS == {"plugins.shadow_topic"}  # the recorder's, fixed at start


def test_the_reload_command_says_why_it_cannot_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    missing = runner.invoke(cli, ["reload", "--pid-file", str(tmp_path / "none.pid")])
    unset = runner.invoke(cli, ["reload"])

    assert missing.exit_code == 1
    assert "is the worker running?" in missing.output
    assert unset.exit_code == 1
    assert "no PID file: give --pid-file, or set control.pid_file" in unset.output
