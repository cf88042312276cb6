"""``dlq replay`` refuses to start on a bad connection file, at its file and line, before it
reaches Kafka, with no secret in what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimx_worker.dlq_replay import USAGE_EXIT_CODE, ReplayOptions, run_replay

SECRET = "s3cr3t-crm-token-61b0"


def test_a_bad_connection_stops_the_replay_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plugins" / "connections").mkdir(parents=True)
    (tmp_path / "plugins" / "connections" / "crm.yaml").write_text(
        "base_url: https://crm.example.com\nauth: {type: bearer, token: '${CRM_TOKEN}'}\n"
        "timeout: -1\n"
    )
    said: list[str] = []
    options = ReplayOptions(group="g", plugins_dir=Path("plugins"), bootstrap_servers="127.0.0.1:9")

    code = run_replay(options, environ={"CRM_TOKEN": SECRET}, echo=said.append, err=said.append)

    assert code == USAGE_EXIT_CODE
    assert "plugins/connections/crm.yaml:3" in said[0]
    assert "timeout" in said[0]
    assert SECRET not in "".join(said)
