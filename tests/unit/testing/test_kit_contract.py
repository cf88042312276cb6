"""The plugin contract suite, run by pytester against good and broken plugins.

Each broken plugin breaks one rule; its contract run must fail exactly the tests of that rule,
with a message that names the hook, the instance and what went wrong.
"""

from __future__ import annotations

import pytest

from claimx_worker.testing import CONTRACT_EVENT_TYPES

pytest_plugins = ["pytester"]

PLUGINS = """
import socket
import time

import attrs

from claimx_worker import Log, Plugin, PublishToTopic, Webhook, hookimpl


@attrs.frozen
class GoodConfig:
    topic: str


class Good(Plugin[GoodConfig]):
    config_class = GoodConfig

    @hookimpl
    def on_enrichment_complete(self, context):
        task = context.first_task
        if task is None:
            return None
        return PublishToTopic(topic=context.config.topic, value={"task_id": task.task_id})

    @hookimpl
    def on_event_failed(self, context, error):
        return Log(message="failed " + error.message)


class Phones(Plugin[None]):
    @hookimpl
    def on_enrichment_complete(self, context):
        if context.event.event_type == "PROJECT_CREATED":
            socket.create_connection(("127.0.0.1", 9), timeout=0.1)


class Careless(Plugin[None]):
    @hookimpl
    def on_enrichment_complete(self, context):
        return Log(message="project " + context.project.project_id)


class Garbage(Plugin[None]):
    @hookimpl
    def on_event_received(self, context):
        return "drop it"


class Undeliverable(Plugin[None]):
    @hookimpl
    def on_event_failed(self, context):
        return Webhook(url="ftp://alerts.example.com/", body={"id": context.event.event_id})


class Slow(Plugin[None]):
    @hookimpl
    def on_event_received(self, context):
        if context.event.event_type == "POLICYHOLDER_JOINED":
            time.sleep(0.05)


class Unmarked(Plugin[None]):
    @hookimpl
    def on_event_received(self, context):
        return None

    def on_enrichment_complete(self, context):
        return None

    def on_enrichment_completed(self, context):
        return None


class WrongArgument(Plugin[None]):
    @hookimpl
    def on_enrichment_complete(self, ctx):
        return None


class FailsToLoad(Plugin[None]):
    @hookimpl
    def on_load(self):
        raise RuntimeError("licence server unreachable")

    @hookimpl
    def on_enrichment_complete(self, context):
        return None
"""


def run_contract(
    pytester: pytest.Pytester, plugin: str, config: str = "", budget_ms: float | None = None
) -> tuple[dict[str, str], int]:
    """Run the contract of one class of ``PLUGINS`` (instance name: the class name in lower
    case); the failed tests (name -> message) and the number of passed ones."""
    pytester.makeconftest('pytest_plugins = ["claimx_worker.testing"]\n')
    pytester.makepyfile(contract_plugins=PLUGINS)
    budget = "" if budget_ms is None else f"    budget_ms = {budget_ms}\n"
    pytester.makepyfile(
        test_contract=(
            "import contract_plugins as plugins\n"
            "from claimx_worker.testing import PluginContract\n\n"
            f"class Test{plugin}(PluginContract):\n"
            f"    plugin_class = plugins.{plugin}\n"
            f'    config = {{"plugin": "{plugin.lower()}"{config}}}\n{budget}'
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio")
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    failed = {r.nodeid.split("::")[-1]: str(r.longrepr) for r in reports if r.failed}
    passed = sum(1 for r in reports if r.passed and r.when == "call")
    return failed, passed


def test_a_good_plugin_passes_every_contract_test(pytester: pytest.Pytester) -> None:
    failed, passed = run_contract(pytester, "Good", ', "config": {"topic": "out"}')
    assert failed == {}
    assert passed == 3 + 3 * len(CONTRACT_EVENT_TYPES) == 36


def test_an_invalid_config_fails_with_the_host_s_report(pytester: pytest.Pytester) -> None:
    failed, _ = run_contract(pytester, "Good", ', "config": {"topik": "out"}')
    assert "test_config_validates" in failed
    assert (
        "<config mapping>: config.topik: unknown key 'topik', did you mean 'topic'?"
        in (failed["test_config_validates"])
    )


def test_io_inside_a_hook_fails_the_event_type_that_does_it(
    pytester: pytest.Pytester,
) -> None:
    failed, _ = run_contract(pytester, "Phones")
    assert list(failed) == ["test_enrichment_complete[PROJECT_CREATED]"]
    assert (
        "on_enrichment_complete of instance 'phones' attempted a DNS lookup of '127.0.0.1'"
        in failed["test_enrichment_complete[PROJECT_CREATED]"]
    )


def test_an_exception_fails_with_the_hook_and_the_error(pytester: pytest.Pytester) -> None:
    failed, _ = run_contract(pytester, "Careless")
    assert list(failed) == [f"test_enrichment_complete[{CONTRACT_EVENT_TYPES[-1]}]"]
    message = next(iter(failed.values()))
    assert (
        "plugin contract broken by on_enrichment_complete for a PROJECT_ARCHIVED event" in message
    )
    assert "raised AttributeError: 'NoneType' object has no attribute 'project_id'" in message


def test_garbage_returns_fail_every_event_type(pytester: pytest.Pytester) -> None:
    failed, _ = run_contract(pytester, "Garbage")
    assert sorted(failed) == sorted(f"test_event_received[{t}]" for t in CONTRACT_EVENT_TYPES)
    assert "returned 'drop it' (str); it may return a Filter or None" in next(iter(failed.values()))


def test_actions_the_executor_would_refuse_fail(pytester: pytest.Pytester) -> None:
    failed, _ = run_contract(pytester, "Undeliverable")
    assert sorted(failed) == sorted(f"test_event_failed[{t}]" for t in CONTRACT_EVENT_TYPES)
    assert "action 0 (Webhook): webhook URL must be http(s) with a host, got 'ftp'" in (
        next(iter(failed.values()))
    )


def test_a_hook_over_its_budget_twice_fails(pytester: pytest.Pytester) -> None:
    failed, _ = run_contract(pytester, "Slow", budget_ms=20)
    assert list(failed) == ["test_event_received[POLICYHOLDER_JOINED]"]
    assert "over its 20 ms budget" in failed["test_event_received[POLICYHOLDER_JOINED]"]


def test_unmarked_and_misspelled_hooks_fail_the_hook_check(
    pytester: pytest.Pytester,
) -> None:
    failed, _ = run_contract(pytester, "Unmarked")
    assert list(failed) == ["test_hooks_match_the_contract"]
    message = failed["test_hooks_match_the_contract"]
    assert "Unmarked.on_enrichment_complete is not marked @hookimpl: the host never calls it" in (
        message
    )
    assert (
        "Unmarked.on_enrichment_completed is not a hook; did you mean 'on_enrichment_complete'?"
        in message
    )


def test_a_hook_argument_the_spec_does_not_pass_fails_loading(
    pytester: pytest.Pytester,
) -> None:
    failed, _ = run_contract(pytester, "WrongArgument")
    assert "test_config_validates" in failed
    assert "does not match the hook contract" in failed["test_config_validates"]
    assert "on_enrichment_complete takes: context" in failed["test_config_validates"]


def test_on_load_failure_fails_load_and_event_tests(pytester: pytest.Pytester) -> None:
    failed, _ = run_contract(pytester, "FailsToLoad")
    assert "test_config_validates" not in failed
    assert (
        "on_load of instance 'failstoload' raised RuntimeError: licence server unreachable"
        in (failed["test_load_and_unload"])
    )
