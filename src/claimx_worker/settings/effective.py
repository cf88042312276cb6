"""``claimx-worker config show``: the effective value of every setting and where it came from,
with secrets masked as in log lines (values under secret-looking keys, and every secret value
the loader found)."""

from __future__ import annotations

import json

from claimx_worker.observability.redaction import Redactor, scrub_field
from claimx_worker.settings.loading import LoadedSettings
from claimx_worker.settings.reference import flow_yaml
from claimx_worker.settings.schema import setting_keys, value_at

_HEADER = ("SETTING", "VALUE", "SOURCE")


def effective_values(loaded: LoadedSettings) -> dict[str, object]:
    """Setting key -> its value, secrets masked (an unset or empty value is shown as it is)."""
    redactor = Redactor(loaded.secrets)
    shown = {}
    for setting in setting_keys():
        value = value_at(loaded.value, tuple(setting.key.split(".")))
        shown[setting.key] = (
            _redacted(scrub_field(setting.name, value), redactor) if value else value
        )
    return shown


def render_table(loaded: LoadedSettings) -> str:
    """One line per setting: key, value (YAML), source; under a header, in aligned columns."""
    rows = [_HEADER] + [
        (key, flow_yaml(value), loaded.sources[key])
        for key, value in effective_values(loaded).items()
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    return "".join(
        f"{key:<{widths[0]}}  {value:<{widths[1]}}  {source}\n" for key, value, source in rows
    )


def render_json(loaded: LoadedSettings) -> str:
    """``{key: {"value": ..., "source": ...}}`` for every setting."""
    document = {
        key: {"value": value, "source": loaded.sources[key]}
        for key, value in effective_values(loaded).items()
    }
    return json.dumps(document, indent=2) + "\n"


def _redacted(value: object, redactor: Redactor) -> object:
    """``value`` (scrubbed plain data) with every string passed through ``redactor``."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item, redactor) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, redactor) for item in value]
    return value
