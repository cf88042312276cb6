"""Settings from YAML files: the generic loader (lines, ``${VAR}``, structuring, problems)."""

from claimx_worker.settings.loader import (
    CONFIG_KEY,
    SECRET_KEY_PATTERN,
    ConfigError,
    ConfigProblem,
    ConfigValueError,
    LoadedConfig,
    display_path,
    load_config_file,
    load_yaml,
    structure_node,
)

__all__ = [
    "CONFIG_KEY",
    "SECRET_KEY_PATTERN",
    "ConfigError",
    "ConfigProblem",
    "ConfigValueError",
    "LoadedConfig",
    "display_path",
    "load_config_file",
    "load_yaml",
    "structure_node",
]
