"""The connections an instance's replay scope holds: those its config names under a key
``connection`` (at any depth) and the connections directory defines."""

from __future__ import annotations

from pathlib import Path

from claimx_worker.actions.settings import ActionSettings
from claimx_worker.http.connections import load_connections
from claimx_worker.replay_scopes import replay_scopes


def test_an_instance_may_use_the_defined_connections_its_config_names(tmp_path: Path) -> None:
    (tmp_path / "connections").mkdir()
    for name in ("crm", "erp", "unused"):
        (tmp_path / "connections" / f"{name}.yaml").write_text(
            f"base_url: https://{name}.example.com\n"
        )
    (tmp_path / "trigger").mkdir()
    (tmp_path / "trigger" / "config.yaml").write_text(
        "plugin: task_trigger\n"
        "config:\n"
        "  rules:\n"
        "    - {webhook: {connection: crm, url: /a}}\n"
        "    - {webhook: {connection: '${ERP}', url: /b}}\n"
        "    - {webhook: {connection: missing, url: /c}}\n"
        "  note: unused\n"
    )
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.yaml").write_text("plugin: other\nconfig: {url: https://x}\n")
    env = {"ERP": "erp"}
    catalog = load_connections(tmp_path, env=env)

    scopes = replay_scopes(tmp_path, env, ActionSettings(), connections=catalog.connections)

    assert set(scopes.by_instance["trigger"].connections) == {"crm", "erp"}
    assert scopes.by_instance["other"].connections == {}


def test_only_absolute_urls_name_destinations(tmp_path: Path) -> None:
    """A path (a connection webhook's ``url``) names no endpoint: a record without its
    ``connection`` cannot pass for one that has a destination."""
    (tmp_path / "trigger").mkdir()
    (tmp_path / "trigger" / "config.yaml").write_text(
        "plugin: task_trigger\nconfig: {a: /tasks, b: 'https://hooks.example.com/x', c: crm}\n"
    )

    scopes = replay_scopes(tmp_path, {}, ActionSettings(), connections={})

    assert scopes.by_instance["trigger"].destinations == {"https://hooks.example.com:443"}
