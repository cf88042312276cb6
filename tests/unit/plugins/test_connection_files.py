"""Connection files (``<plugins_dir>/connections/<name>.yaml``) and the references to them:
refused configurations at file:line, secrets collected, ``plugins validate`` end to end."""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from claimx_worker.cli import cli
from claimx_worker.http.connections import load_connections
from claimx_worker.plugins.loading import check_plugins

pytestmark = pytest.mark.usefixtures("restore_logging")

TRIGGER = """
name: task_trigger
plugin: task_trigger
config:
  triggers:
    456:
      name: Photo
      on_completed:
        webhook:
          connection: {connection}
          path: /api/contact/{{project_id}}
"""


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))


def problems_of(plugins_dir: Path, env: dict[str, str] | None = None) -> list[str]:
    check = check_plugins(plugins_dir, env=env or {})
    return [str(problem).removeprefix(f"{plugins_dir}/") for problem in check.problems]


def test_a_valid_connection_loads_with_its_secrets(tmp_path: Path) -> None:
    write(
        tmp_path,
        "connections/crm.yaml",
        """
        base_url: https://crm.example.com/api
        auth:
          type: oauth2
          token_url: https://login.example.com/oauth2/token
          client_id: claimx
          client_secret: ${CRM_SECRET}
        headers: {X-Source: claimx}
        timeout: 5
        retry: {max_attempts: 3}
        max_in_flight: 4
        rate_limit: 10
        """,
    )
    catalog = load_connections(tmp_path, env={"CRM_SECRET": "hush-hush"})

    assert catalog.problems == ()
    crm = catalog.connections["crm"].config
    assert (crm.base_url, crm.auth.type, crm.rate_limit, crm.retry.max_attempts) == (
        "https://crm.example.com/api",
        "oauth2",
        10.0,
        3,
    )
    assert "hush-hush" in catalog.secrets
    assert "hush-hush" not in repr(catalog) + repr(crm)


def test_refused_connection_files_name_file_line_and_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "connections/crm.yaml",
        """
        base_url: ftp://crm.example.com
        timeout: 0
        """,
    )
    write(tmp_path, "connections/typo.yaml", "base_url: https://x.example.com\nrate_limt: 5\n")
    write(
        tmp_path,
        "connections/erp.yaml",
        """
        base_url: https://erp.example.com
        auth:
          type: bearer
          token: x
          password: y
        """,
    )
    write(tmp_path, "connections/bad name!.yaml", "base_url: https://x.example.com\n")
    write(tmp_path, "connections/idp.yaml", "base_url: https://x.example.com\nauth: oauth2\n")

    found = [
        str(p).removeprefix(f"{tmp_path}/") for p in load_connections(tmp_path, env={}).problems
    ]

    assert found == [
        "connections/bad name!.yaml: invalid connection name 'bad name!': use letters, digits, _.-",
        "connections/crm.yaml:1: base_url: base_url must be an absolute http:// or https:// URL",
        "connections/crm.yaml:2: timeout: timeout must be a positive number",
        "connections/erp.yaml:5: auth.password: password does not apply to auth type bearer "
        "(it takes: token)",
        "connections/idp.yaml:2: auth: auth type oauth2 needs token_url",
        "connections/typo.yaml:2: rate_limt: unknown key 'rate_limt', did you mean 'rate_limit'?",
    ]


def test_an_unknown_connection_is_a_validation_error_at_its_line(tmp_path: Path) -> None:
    plugins_dir = tmp_path / "plugins"
    write(plugins_dir, "connections/crm.yaml", "base_url: https://crm.example.com\n")
    write(plugins_dir, "task_trigger/config.yaml", TRIGGER.format(connection="crn"))

    assert problems_of(plugins_dir) == [
        "task_trigger/config.yaml:9: config.triggers.456.on_completed.webhook.connection: "
        "unknown connection 'crn', did you mean 'crm'? (defined: crm; a connection is a file "
        "connections/<name>.yaml in the plugins directory)"
    ]


def test_a_known_connection_validates_and_its_directory_is_no_instance(tmp_path: Path) -> None:
    plugins_dir = tmp_path / "plugins"
    write(
        plugins_dir,
        "connections/crm.yaml",
        "base_url: https://crm.example.com\nauth: {type: bearer, token: '${CRM_TOKEN}'}\n",
    )
    write(plugins_dir, "task_trigger/config.yaml", TRIGGER.format(connection="crm"))

    check = check_plugins(plugins_dir, env={"CRM_TOKEN": "t0ken-value"})

    assert check.problems == ()
    assert [instance.name for instance in check.plugins.instances] == ["task_trigger"]
    assert check.plugins.without_config == ()
    assert set(check.plugins.connections) == {"crm"}
    assert "t0ken-value" in check.plugins.secrets


def test_plugins_validate_reports_an_unknown_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "plugins", "task_trigger/config.yaml", TRIGGER.format(connection="crm"))

    result = CliRunner().invoke(cli, ["plugins", "validate", "--plugins-dir", "plugins"])

    assert result.exit_code == 2
    assert (
        "plugins/task_trigger/config.yaml:9: config.triggers.456.on_completed.webhook.connection:"
        " unknown connection 'crm' (defined: none;" in result.output
    )


def test_a_connection_webhook_needs_a_path_and_not_a_url(tmp_path: Path) -> None:
    plugins_dir = tmp_path / "plugins"
    write(plugins_dir, "connections/crm.yaml", "base_url: https://crm.example.com\n")
    write(
        plugins_dir,
        "task_trigger/config.yaml",
        TRIGGER.format(connection="crm").replace("path: /api", "url: https://x.example.com/api"),
    )

    assert problems_of(plugins_dir) == [
        "task_trigger/config.yaml:8: config.triggers.456.on_completed.webhook: a webhook needs "
        "either url or connection (with path)"
    ]


SECRET = "hypothesis-s3cret-value"
AUTH_VALUES = st.one_of(
    st.sampled_from(["${CRM_SECRET}", "https://login.example.com/token", "X-Key", "", "x"]),
    st.integers(),
    st.none(),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    auth_type=st.sampled_from(["none", "bearer", "api_key", "basic", "oauth2", "kerberos", 5]),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "token",
                "header",
                "api_key",
                "username",
                "password",
                "token_url",
                "client_id",
                "client_secret",
                "scope",
                "client_auth",
                "refresh_before",
                "tokn",
            ]
        ),
        AUTH_VALUES,
        max_size=5,
    ),
    extra=st.dictionaries(
        st.sampled_from(["timeout", "rate_limit", "max_in_flight", "headers", "retry"]),
        st.one_of(st.integers(-2, 50), st.floats(allow_nan=False), st.text(max_size=5)),
        max_size=3,
    ),
)
@example(  # a secret in a field that is not one by name: the header's name
    auth_type="api_key", fields={"header": "${CRM_SECRET}", "api_key": "${CRM_SECRET}"}, extra={}
)
@example(auth_type="basic", fields={"username": "${CRM_SECRET}", "password": "x"}, extra={})
@example(
    auth_type="oauth2",
    fields={
        "token_url": "https://login.example.com/token",
        "client_id": "${CRM_SECRET}",
        "client_secret": "x",
        "scope": "${CRM_SECRET}",
    },
    extra={},
)
def test_any_connection_file_loads_or_is_refused_at_a_line_without_its_secret(
    auth_type: object, fields: dict[str, object], extra: dict[str, object]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        document = {
            "base_url": "https://crm.example.com",
            "auth": {"type": auth_type, **fields},
            **extra,
        }
        write(root, "connections/crm.yaml", json.dumps(document))
        catalog = load_connections(root, env={"CRM_SECRET": SECRET})
    if catalog.problems:
        assert all(problem.line is not None for problem in catalog.problems)
        assert all(SECRET not in str(problem) for problem in catalog.problems)
        assert catalog.connections == {}
    else:
        auth = catalog.connections["crm"].config.auth
        assert auth.type == auth_type
        assert SECRET not in repr(catalog.connections["crm"])
