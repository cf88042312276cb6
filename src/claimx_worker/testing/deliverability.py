"""Would the action executor accept an action? The checks it makes before delivering one.

A webhook URL that is not http(s), a payload that is not JSON-serialisable, a bad signing key,
an empty topic, a metric with an unusable name or label names that change between calls: each
makes the executor drop or dead-letter the action at run time. These checks find them while
the plugin is tested, using the executor's own encoding functions.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from claimx_worker.actions.encoding import InvalidActionError
from claimx_worker.actions.identity import ActionRef
from claimx_worker.actions.metric_counters import MetricActionCounters, MetricActionError
from claimx_worker.actions.publish import build_message
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.webhook import build_request
from claimx_worker.model import Action, ClaimXEvent, Metric, PublishToTopic, Webhook


class DeliveryCheck:
    """Checks actions as the executor would; metric label names are remembered across calls."""

    def __init__(self, settings: ActionSettings | None = None) -> None:
        self._settings = settings or ActionSettings()
        self._counters = MetricActionCounters(CollectorRegistry())

    def problem(self, event: ClaimXEvent, instance: str, index: int, action: Action) -> str | None:
        """Why the executor would not deliver ``action``; ``None`` when it would."""
        ref = ActionRef(
            event_id=event.event_id, project_id=event.project_id, instance=instance, index=index
        )
        try:
            if isinstance(action, PublishToTopic):
                if not action.topic:
                    return "the topic is empty"
                build_message(action, ref)
            elif isinstance(action, Webhook):
                build_request(action, ref.key, self._settings)
            elif isinstance(action, Metric):
                self._counters.count(action, instance)
        except (InvalidActionError, MetricActionError) as exc:
            return str(exc)
        except (TypeError, ValueError, AttributeError) as exc:
            return f"cannot be encoded: {type(exc).__name__}: {exc}"
        return None
