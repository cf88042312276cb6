"""The settings reference (``docs/settings.md``) and the file ``config init`` writes are generated
from the settings classes: every key, its default and what it does, never out of date.

The document is read as a reader would (one table row per key) and compared with the settings
classes walked independently of the generator; the template is loaded back by the real loader.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
from ruamel.yaml import YAML

from claimx_worker.observability.health import HEARTBEAT_CHECK
from claimx_worker.settings import SHORT_NAMES, WorkerSettings, load_worker_config
from claimx_worker.settings.reference import settings_reference, settings_template
from claimx_worker.settings.schema import setting_keys
from claimx_worker.worker import READINESS_CHECKS

DOCS = Path(__file__).resolve().parents[2] / "docs"
_ROW = re.compile(r"^\| `([a-z_.]+)` \| ([^|]+) \| `([^`]*)` \| (.+) \|$", re.MULTILINE)
_SHORT_ROW = re.compile(r"^\| `([A-Z_]+)` \| `([a-z_.]+)` \|$", re.MULTILINE)
_TOKEN = re.compile(r"`([a-z_]+(?:\.[a-z_]+)*)`")
_SECTION_STARTS = {"kafka", "claimx_api", "actions", "metrics", "logging", "processing", "topics"}


def _plain(value: Any) -> Any:
    """A default as YAML reads it back: enums as their values, tuples as lists."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def declared(value: Any = None, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, default) of every setting, walking the default ``WorkerSettings``."""
    value = WorkerSettings() if value is None else value
    for field in attrs.fields(type(value)):
        key = f"{prefix}{field.name}"
        member = getattr(value, field.name)
        if attrs.has(type(member)):
            yield from declared(member, f"{key}.")
        else:
            yield key, _plain(member)


def test_every_setting_has_a_description() -> None:
    keys = setting_keys()
    assert [key.key for key in keys] == [key for key, _ in declared()]
    assert [key.key for key in keys if not key.summary] == []


def test_the_reference_documents_every_key_with_its_default() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    rows = _ROW.findall(text)
    documented = {key: YAML(typ="safe").load(default) for key, _, default, _ in rows}
    assert documented == dict(declared())
    assert [key for key, _, _, description in rows if not description.strip()] == []
    assert dict(_SHORT_ROW.findall(text)) == dict(SHORT_NAMES)


def test_the_reference_is_the_generators_current_output() -> None:
    assert (DOCS / "settings.md").read_text(encoding="utf-8") == settings_reference(), (
        "docs/settings.md is out of date: "
        "python -m claimx_worker.settings.reference > docs/settings.md"
    )


def test_the_template_sets_every_key_to_its_default_with_a_comment(tmp_path: Path) -> None:
    text = settings_template()
    path = tmp_path / "claimx_config.yaml"
    path.write_text(text, encoding="utf-8")

    loaded = load_worker_config(path, {})

    assert loaded.value == WorkerSettings()
    from_file = {key for key, source in loaded.sources.items() if source.startswith(str(path))}
    assert from_file == {key for key, _ in declared()}
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            assert lines[number - 1].lstrip().startswith("#"), f"no comment above {line!r}"


def test_the_operating_guide_names_settings_by_their_full_path() -> None:
    """A dotted key that starts like a setting's is a full key, and no setting goes by its bare
    name (``consumer_group``; a readiness check shares one, ``event_loop``)."""
    valid = {key.key for key in setting_keys()}
    sections = {key.rsplit(".", n)[0] for key in valid for n in range(1, key.count(".") + 1)}
    names = {key.rsplit(".", 1)[-1] for key in valid if "_" in key.rsplit(".", 1)[-1]}
    names -= {HEARTBEAT_CHECK, *READINESS_CHECKS}
    text = (DOCS / "operating.md").read_text(encoding="utf-8")
    wrong = sorted(
        token
        for token in set(_TOKEN.findall(text))
        if ((token.split(".")[0] in _SECTION_STARTS and "." in token) or token in names)
        and token not in valid | sections
    )
    assert wrong == []
