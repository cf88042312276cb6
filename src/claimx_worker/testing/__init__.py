"""The claimx-worker testing kit, and the pytest plugin that provides its fixtures.

Enable it in a test suite's ``conftest.py``::

    pytest_plugins = ["claimx_worker.testing"]

Fixtures (from :mod:`claimx_worker.testing.pytest_plugin`): ``stage_harness``, ``claimx_api``,
``claimx_api_server``, ``webhook_receiver``, ``kafka_broker``, ``kafka_bootstrap_servers``,
``kafka_topic_factory``, ``kafka_topic``. Importable from here: the factories
(:func:`make_event`, :func:`make_rows`, :func:`make_enriched_event`), :class:`StageHarness`,
:class:`PluginContract`, and the classes the fixtures return. The user guide is
``docs/testing-plugins.md``.

Names are imported on first use, so that importing this package imports neither pytest nor the
kit's command-line modules (``python -m claimx_worker.testing.kafka``, ``.claimx_api``,
``.webhooks`` run without a warning, and ``claimx-worker simulate`` without pytest installed).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

pytest_plugins = ["claimx_worker.testing.pytest_plugin"]

_EXPORTS = {
    "UNKNOWN_EVENT_TYPE": "factories",
    "make_enriched_event": "factories",
    "make_event": "factories",
    "make_rows": "factories",
    "HookError": "harness",
    "HookProblem": "harness",
    "ProblemKind": "harness",
    "StageHarness": "harness",
    "load_instances": "harness",
    "CONTRACT_EVENT_TYPES": "contract",
    "PluginContract": "contract",
    "BlockedIOError": "io_guard",
    "IOAttempt": "io_guard",
    "ClaimXApiSimulator": "claimx_api",
    "KafkaBroker": "kafka",
    "TopicFactory": "kafka",
    "WebhookReceiver": "webhooks",
}
_OTHER_EXPORTS = {
    "ConfigError": "claimx_worker.config.problems",
    "PluginAction": "claimx_worker.plugins.runner",
    "StageResult": "claimx_worker.plugins.runner",
}

__all__ = [
    "CONTRACT_EVENT_TYPES",
    "UNKNOWN_EVENT_TYPE",
    "BlockedIOError",
    "ClaimXApiSimulator",
    "ConfigError",
    "HookError",
    "HookProblem",
    "IOAttempt",
    "KafkaBroker",
    "PluginAction",
    "PluginContract",
    "ProblemKind",
    "StageHarness",
    "StageResult",
    "TopicFactory",
    "WebhookReceiver",
    "load_instances",
    "make_enriched_event",
    "make_event",
    "make_rows",
]

if TYPE_CHECKING:
    from claimx_worker.config.problems import ConfigError
    from claimx_worker.plugins.runner import PluginAction, StageResult
    from claimx_worker.testing.claimx_api import ClaimXApiSimulator
    from claimx_worker.testing.contract import CONTRACT_EVENT_TYPES, PluginContract
    from claimx_worker.testing.factories import (
        UNKNOWN_EVENT_TYPE,
        make_enriched_event,
        make_event,
        make_rows,
    )
    from claimx_worker.testing.harness import (
        HookError,
        HookProblem,
        ProblemKind,
        StageHarness,
        load_instances,
    )
    from claimx_worker.testing.io_guard import BlockedIOError, IOAttempt
    from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
    from claimx_worker.testing.webhooks import WebhookReceiver


def __getattr__(name: str) -> Any:
    """Import an exported name's module on first use (see the module docstring)."""
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
    elif name in _OTHER_EXPORTS:
        module = importlib.import_module(_OTHER_EXPORTS[name])
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
