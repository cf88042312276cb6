"""The settings reference (``docs/settings.md``) and the settings file ``claimx-worker config
init`` writes, both generated from :mod:`~claimx_worker.settings.schema`: every key, its type,
default and description, so neither can drift from the settings classes.

Regenerate the reference with ``python -m claimx_worker.settings.reference > docs/settings.md``;
a test fails when the file is not the current output.
"""

from __future__ import annotations

import enum
import json
import re
import textwrap
from collections.abc import Mapping

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from claimx_worker._version import __version__
from claimx_worker.settings.schema import ENV_PREFIX, all_keys, describe_type, env_name, sections
from claimx_worker.settings.worker import SHORT_NAMES

_TEMPLATE_WIDTH = 100
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+-]+(?: [A-Za-z0-9_./:@+-]+)*")

PRECEDENCE = """\
Each setting comes from the first of these that sets it: a command-line option (`--set KEY=VALUE`,
`--plugins-dir`), the environment, the settings file, the default. The settings file is
`--config FILE`, else `config/claimx_config.yaml` when it exists; without one the worker runs on
the defaults and the environment."""

NAMING_RULE = f"""\
Every setting can be set by the variable `{ENV_PREFIX}` + its key path in upper case, with `__`
between keys: `kafka.bootstrap_servers` is `{env_name("kafka.bootstrap_servers")}`. A value is
taken literally (no `${{VAR}}` expansion); a list or mapping takes a YAML flow value
(`'[1s, 2s]'`, `'{{security.protocol: SASL_SSL}}'`) and replaces the whole list or mapping. An
empty variable counts as unset. An unknown `{ENV_PREFIX}*` variable is an error."""

FILE_RULE = """\
In the settings file, `${VAR}` (must be set) and `${VAR:-default}` (when unset or empty) take a
value from the environment; `$${` is a literal `${`. Such a file keeps working beside the naming
rule, which overrides the value of the key either way. Never write a secret into the file: use
`${VAR}`."""


def flow_yaml(value: object) -> str:
    """``value`` as YAML on one line: plain scalars where they read back the same, JSON-quoted
    strings otherwise, flow lists and mappings."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str):
        return value if _reads_back(value) else json.dumps(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{flow_yaml(k)}: {flow_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow_yaml(item) for item in value) + "]"
    return json.dumps(str(value))


def _reads_back(text: str) -> bool:
    """Whether ``text`` written plain (in a flow collection too) reads back as that string."""
    if not _PLAIN.fullmatch(text):
        return False
    try:
        return bool(YAML(typ="safe").load(f"[{text}]") == [text])
    except YAMLError:
        return False


def settings_template() -> str:
    """A complete settings file: every key set to its default, each with one line on what it
    does (the file ``claimx-worker config init`` writes)."""
    lines = [
        f"# claimx-worker settings (claimx-worker {__version__}), written by"
        " `claimx-worker config init`.",
        "# Every key is set to its default: keep the ones you change. Reference:"
        " `claimx-worker docs settings`.",
        "#",
        *_comment(PRECEDENCE),
        "#",
        *_comment(NAMING_RULE),
        "#",
        *_comment(FILE_RULE),
    ]
    for key in all_keys():
        indent = "  " * key.depth
        if key.is_section and not lines[-1].endswith(":"):
            lines.append("")
        width = _TEMPLATE_WIDTH - len(indent) - 2
        lines += [f"{indent}# {line}" for line in textwrap.wrap(key.summary, width)]
        if key.is_section:
            lines.append(f"{indent}{key.name}:")
            continue
        short = [name for name, setting in SHORT_NAMES.items() if setting == key.key]
        also = f"  # env {', '.join(short)}" if short else ""
        lines.append(f"{indent}{key.name}: {flow_yaml(key.default)}{also}")
    return "\n".join(lines) + "\n"


def settings_reference() -> str:
    """The whole of ``docs/settings.md``."""
    parts = [
        "# Settings reference",
        "",
        "<!-- Generated from the settings classes by",
        "     `python -m claimx_worker.settings.reference > docs/settings.md`:"
        " do not edit by hand. -->",
        "",
        "`claimx-worker run` reads its settings from its defaults, a YAML settings file, the",
        "environment and its options. `claimx-worker config init [PATH]` writes a settings file",
        "with every key below set to its default; `claimx-worker config show` prints the effective",
        "value of every key and where it came from (secrets masked); `claimx-worker config",
        "validate [PATH]` checks a file (exit 0, or 2 with every problem).",
        "",
        "## Where settings come from",
        "",
        PRECEDENCE,
        "",
        NAMING_RULE,
        "",
        "Short names, beside the naming rule (which wins when both are set):",
        "",
        "| variable | setting |",
        "|---|---|",
        *(f"| `{name}` | `{key}` |" for name, key in SHORT_NAMES.items()),
        "",
        FILE_RULE,
        "",
        "A problem names its source: `file:line: key: message` for the file, `env NAME: key:",
        "message` for a variable, `option --set: key: message` for an option.",
    ]
    for section in sections():
        parts += ["", f"## `{section.key}`", "", section.description, ""]
        parts += ["| key | type | default | description |", "|---|---|---|---|"]
        parts += [
            f"| `{s.key}` | {_cell(describe_type(s.type))} | `{flow_yaml(s.default)}` "
            f"| {_cell(s.description)} |"
            for s in section.settings
        ]
    return "\n".join(parts) + "\n"


def _comment(text: str) -> list[str]:
    return [f"# {line}" for line in text.splitlines()]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


if __name__ == "__main__":
    print(settings_reference(), end="")
