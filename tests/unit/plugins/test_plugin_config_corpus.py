"""The broken-config corpus: each kind of mistake gives its precise report and exit code 2.

Every directory of ``tests/fixtures/plugin_host/broken/`` is a plugins directory holding one kind
of mistake and ``expected.txt``, the exact stderr of ``claimx-worker plugins validate``. A case
holding ``plugins_dir.txt`` is validated with the ``--plugins-dir`` that file names instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from plugin_host_support import FIXTURES

from claimx_worker.cli import cli

BROKEN = FIXTURES / "broken"
CASES = sorted(path.name for path in BROKEN.iterdir() if path.is_dir())

pytestmark = pytest.mark.usefixtures("plugin_modules", "restore_logging")


@pytest.fixture(autouse=True)
def _in_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    monkeypatch.delenv("CLAIMX_TEST_UNSET_GREETING", raising=False)
    monkeypatch.delenv("CLAIMX_TEST_TOPIC", raising=False)


@pytest.mark.parametrize("case", CASES)
def test_validate_reports_the_exact_problems_and_exits_2(case: str) -> None:
    named = BROKEN / case / "plugins_dir.txt"
    plugins_dir = named.read_text().strip() if named.exists() else case
    result = CliRunner().invoke(cli, ["plugins", "validate", "--plugins-dir", plugins_dir])

    assert result.exit_code == 2, result.output
    assert result.stderr == (BROKEN / case / "expected.txt").read_text()
    assert result.stdout == ""


def test_the_corpus_covers_the_required_kinds() -> None:
    required = {
        "bad_yaml",
        "unknown_key",
        "config_typo",
        "wrong_type",
        "config_wrong_type",
        "unset_variable",
        "duplicate_name",
        "unknown_plugin",
        "bad_module",
        "missing_class",
        "hook_typo",
        "hook_bad_argument",
        "hook_tryfirst",
        "hook_trylast",
        "hook_wrapper",
        "hook_hookwrapper",
        "hook_optionalhook",
        "validator_error",
        "missing_required_key",
        "constructor_raises",
        "multi_problem_fields",
        "missing_dir",
        "empty_file",
        "nested_layout",
    }
    assert required <= set(CASES)


def test_list_also_exits_2_with_the_report() -> None:
    result = CliRunner().invoke(cli, ["plugins", "list", "--plugins-dir", "config_typo"])

    assert result.exit_code == 2
    assert result.stderr == (BROKEN / "config_typo" / "expected.txt").read_text()


def test_disabled_instance_is_not_imported(tmp_path: Path) -> None:
    (tmp_path / "off").mkdir()
    (tmp_path / "off" / "config.yaml").write_text(
        "module: claimx_no_such_module\nclass: Whatever\nenabled: false\n"
    )
    result = CliRunner().invoke(cli, ["plugins", "validate", "--plugins-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert result.stdout == "Plugin configuration is valid. Enabled instances in run order: none.\n"


def test_a_valid_nested_instance_loads(tmp_path: Path) -> None:
    instance = tmp_path / "claims" / "greeter"
    instance.mkdir(parents=True)
    (instance / "config.yaml").write_text(
        "module: claimx_test_plugins\nclass: EchoPlugin\nconfig:\n  greeting: hello\n"
    )
    result = CliRunner().invoke(cli, ["plugins", "validate", "--plugins-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    valid = "Plugin configuration is valid. Enabled instances in run order: greeter.\n"
    assert result.stdout == valid
