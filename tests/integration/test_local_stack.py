"""A wheel user's first hour (``docs/running-locally.md``), with nothing but the two wheels.

Both wheels are installed into a fresh virtual environment and every command runs from a
temporary directory, with an environment that leads nowhere into this checkout: the guide is
read from the wheel, ``config init`` writes a settings file that ``config validate`` accepts,
``claimx-worker sandbox up`` starts its own Kafka broker (from the Maven cache), the plugin
instance is the guide's own heredoc and the settings come from the sandbox's environment alone
(``config show`` says so), then ``plugins list``, ``plugins validate``, ``run`` and ``produce
--example CUSTOM_TASK_COMPLETED``, until the sandbox's receiver logs the webhook; SIGTERM stops
the worker and then the sandbox, each with exit status 0.

Each step is one call on :class:`WheelUser`; add a step where the guide adds one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.wheels import REPO, FreshVenv

pytestmark = [pytest.mark.slow, pytest.mark.kafka]

GUIDE = REPO / "docs" / "running-locally.md"
HEREDOC = re.compile(r"^cat > (\S+) <<'EOF'\n(.*?)^EOF$", re.MULTILINE | re.DOTALL)
EXPORT = re.compile(r"export (\w+)=(\S+)")
PASSED_THROUGH = ("HOME", "JAVA_HOME", "XDG_CACHE_HOME", "MAVEN_OPTS", "M2_HOME")
"""Where the machine keeps Java and the Kafka jar cache; nothing of this checkout."""


class WheelUser:
    """A shell in ``cwd`` with the venv of ``python`` first on ``PATH``."""

    def __init__(self, python: Path, cwd: Path) -> None:
        self.bin = python.parent
        self.cwd = cwd
        self.env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        self.env["PATH"] = f"{self.bin}{os.pathsep}{os.environ['PATH']}"
        self.env["METRICS_PORT"] = "0"  # the guide's default, 9100, may be taken here

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``claimx-worker ARGS`` to completion; fails the test on a non-zero exit."""
        done = subprocess.run(
            [str(self.bin / "claimx-worker"), *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"claimx-worker {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done

    @contextmanager
    def running(self, args: Sequence[str], log: Path) -> Iterator[subprocess.Popen[str]]:
        """``claimx-worker ARGS`` in the background, stderr to ``log``; SIGTERM on the way out,
        which must end it with exit status 0."""
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [str(self.bin / "claimx-worker"), *args],
                cwd=self.cwd,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
            try:
                yield process
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    status = process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    raise
        assert status == 0, f"claimx-worker {' '.join(args)}: exit {status}\n{log.read_text()}"

    def write_guide_files(self, guide: str) -> list[str]:
        """Write every ``cat > PATH <<'EOF'`` file of the guide; their paths."""
        written = []
        for path, text in HEREDOC.findall(guide):
            (self.cwd / path).parent.mkdir(parents=True, exist_ok=True)
            (self.cwd / path).write_text(text)
            written.append(path)
        return written


def wait_for(log: Path, text: str, *, timeout: float, process: subprocess.Popen[str]) -> None:
    """Until ``text`` is in ``log``; fails with the log when ``process`` exits or time is up."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert process.poll() is None, f"exited {process.returncode}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{log.read_text()}"
        time.sleep(0.2)


def test_a_wheel_user_gets_from_nothing_to_a_webhook_received(
    worker_wheel: Path, task_trigger_wheel: Path, fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    home = tmp_path / "work"
    home.mkdir()
    user = WheelUser(fresh_venv([worker_wheel, task_trigger_wheel]), home)

    guide = user.cli("docs", "running-locally").stdout  # from the wheel, not this checkout
    assert guide == GUIDE.read_text()
    user.cli("config", "init", "settings-template.yaml")
    user.cli("config", "validate", "settings-template.yaml")

    sandbox_log, worker_log = tmp_path / "sandbox.log", tmp_path / "worker.log"
    with user.running(["sandbox", "up"], sandbox_log) as sandbox:
        assert sandbox.stdout is not None
        exports = [EXPORT.fullmatch(sandbox.stdout.readline().strip()) for _ in range(6)]
        user.env.update(match.group(1, 2) for match in exports if match is not None)
        assert "TASK_TRIGGER_WEBHOOK_URL" in user.env, sandbox_log.read_text()
        assert user.write_guide_files(guide) == ["plugins/config/task_trigger/config.yaml"]
        shown = user.cli("config", "show").stdout
        assert re.search(
            r"claimx_api\.base_url +http://127\.0\.0\.1:\d+ +env CLAIMX_API_URL", shown
        )
        assert user.env["CLAIMX_API_TOKEN"] not in shown
        listed = user.cli("plugins", "list").stdout
        assert "task_trigger" in listed
        user.cli("plugins", "validate")

        with user.running(["run"], worker_log) as worker:
            produced = user.cli("produce", "--example", "CUSTOM_TASK_COMPLETED")
            assert "1 event sent to claimx.enrichment.pending." in produced.stdout
            wait_for(
                sandbox_log,
                "INFO: Webhook received | method=POST path=/hooks/task-trigger status=200",
                timeout=60,
                process=worker,
            )
    assert "INFO: Task trigger matched | trigger_name=Photo Documentation Task" in (
        worker_log.read_text()
    )
    assert "Traceback" not in sandbox_log.read_text() + worker_log.read_text()
