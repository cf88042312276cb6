"""``simulate --explain``: why each plugin instance (its ``conditions``) and each of its rules
(its ``explain_match`` hook) matched an enriched event or not, as data and as report lines."""

from __future__ import annotations

from typing import Any

from claimx_worker.conditions.compiled import compile_conditions
from claimx_worker.model import ClaimXEvent, EntityRows, PluginContext, Stage
from claimx_worker.plugins.loading import PluginSet


def explain_instances(
    plugins: PluginSet, event: ClaimXEvent, rows: EntityRows
) -> tuple[dict[str, Any], ...]:
    """Per instance: ``instance``, ``conditions`` (the instance's own, each test with the value
    it saw; ``None`` without), ``matched`` and ``rules`` (what its ``explain_match`` hook says)."""
    from claimx_worker.testing.factories import handler_metadata

    explained = []
    for instance in plugins.instances:
        conditions = instance.spec.conditions
        report = None if conditions is None else compile_conditions(conditions).explain(event, rows)
        entry: dict[str, Any] = {
            "instance": instance.name,
            "matched": report is None or report.matched,
            "conditions": None if report is None else report.to_json(),
            "details": [] if report is None else report.lines(),
            "rules": [],
        }
        hook = instance.implementations.get("explain_match")
        if hook is not None:
            context = PluginContext(
                event,
                Stage.ENRICHMENT_COMPLETE,
                rows,
                handler_metadata(event),
                instance.config,
                instance.name,
            )
            try:
                rules = hook.function(*[{"context": context}[name] for name in hook.argnames])
                entry["rules"] = [dict(rule) for rule in rules or ()]
            except Exception as exc:  # the plugin's bug: shown, never a traceback
                entry["error"] = f"explain_match raised {type(exc).__name__}: {exc}"
        explained.append(entry)
    return tuple(explained)


def render_explanation(explained: tuple[dict[str, Any], ...]) -> list[str]:
    """The ``--explain`` section of the readable report."""
    lines = ["Why each instance and rule matched or not:"]
    for entry in explained:
        own = (
            ""
            if entry["conditions"] is None
            else (" (instance conditions " + ("met)" if entry["matched"] else "not met)"))
        )
        lines.append(f"  {entry['instance']}{own}")
        lines += [f"    {line}" for line in entry["details"]]
        if "error" in entry:
            lines.append(f"    {entry['error']}")
        for rule in entry["rules"]:
            verdict = "matched" if rule.get("matched") else "not matched"
            reasons = rule.get("reasons") or []
            why = f": {'; '.join(reasons)}" if reasons else ""
            lines.append(f"    [{verdict}] {rule.get('name', '?')}{why}")
            lines += [f"      {line}" for line in rule.get("details") or ()]
    return lines
