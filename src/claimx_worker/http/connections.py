"""Named HTTP connections: a webhook target defined once, used by many actions.

Each file ``<plugins_dir>/connections/<name>.yaml`` defines the connection ``<name>``: its
``base_url``, ``auth`` (``none``, ``bearer``, ``api_key``, ``basic`` or ``oauth2`` client
credentials), default ``headers``, ``timeout``, ``retry`` policy, ``max_in_flight`` requests and
``rate_limit`` (requests per second). ``${VAR}`` works in every value; every value from a
variable, and every value under a secret-looking key (``token``, ``password``, ``api_key``,
``client_secret``, ...), is a secret: masked in logs, problems and DLQ records.

A webhook action names the connection and a path below its ``base_url``; the connection's
scheme and host are the only place it goes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs
import httpx
from attrs import field, frozen

from claimx_worker.config.problems import (
    ConfigError,
    ConfigProblem,
    ConfigValueError,
    display_path,
)
from claimx_worker.config.structuring import load_config_file
from claimx_worker.observability.redaction import count_of_secrets

CONNECTIONS_DIR = "connections"
"""The directory (below the plugins directory) holding one ``<name>.yaml`` per connection."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_AUTH_FIELDS: Mapping[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("token",),
    "api_key": ("api_key",),
    "basic": ("username", "password"),
    "oauth2": ("token_url", "client_id", "client_secret"),
}
_OPTIONAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "api_key": ("header",),
    "oauth2": ("scope", "client_auth", "refresh_before"),
}


def _check_http_url(_instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        url = httpx.URL()
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigValueError(
            f"{attribute.name} must be an absolute http:// or https:// URL", key=attribute.name
        )
    if url.userinfo:
        raise ConfigValueError(
            f"{attribute.name} must not carry credentials (user:password@host): use auth",
            key=attribute.name,
        )
    if url.query or url.fragment:
        raise ConfigValueError(
            f"{attribute.name} takes no query or fragment (give them in the action's path)",
            key=attribute.name,
        )


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value > 0:
        raise ConfigValueError(f"{attribute.name} must be a positive number", key=attribute.name)


@frozen(kw_only=True)
class AuthConfig:
    """``auth``: how requests authenticate. ``type`` picks the keys that apply:

    - ``none``;
    - ``bearer``: ``token`` (sent as ``Authorization: Bearer <token>``);
    - ``api_key``: ``api_key`` sent in the header ``header`` (default ``X-API-Key``);
    - ``basic``: ``username`` and ``password``;
    - ``oauth2`` (client credentials): ``token_url``, ``client_id``, ``client_secret``, optional
      ``scope``, ``client_auth`` (``basic``: HTTP Basic, the default; ``body``: in the form) and
      ``refresh_before`` (seconds before expiry a token is renewed; default 30).
    """

    SHORTHAND: ClassVar[str] = "type"

    type: Literal["none", "bearer", "api_key", "basic", "oauth2"] = "none"
    # no value written by the operator is in the repr: any may be filled from a ${VAR} secret
    token: str | None = field(default=None, repr=False)
    header: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token_url: str | None = field(default=None, validator=_check_http_url, repr=False)
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    scope: str | None = field(default=None, repr=False)
    client_auth: Literal["basic", "body"] | None = None
    refresh_before: float | None = field(default=None, validator=_positive)

    def __attrs_post_init__(self) -> None:
        required = _AUTH_FIELDS[self.type]
        allowed = {*required, *_OPTIONAL_FIELDS.get(self.type, ())}
        for name in (a.name for a in attrs.fields(AuthConfig)):
            if name == "type":
                continue
            value = getattr(self, name)
            if name in required and not value:
                raise ConfigValueError(f"auth type {self.type} needs {name}", key="type")
            if name not in allowed and value is not None:
                raise ConfigValueError(
                    f"{name} does not apply to auth type {self.type} (it takes: "
                    f"{', '.join(sorted(allowed)) or 'nothing'})",
                    key=name,
                )


@frozen(kw_only=True)
class RetryConfig:
    """``retry``: the connection's own retry policy; a key left out takes the worker's
    ``actions`` setting of the same name."""

    max_attempts: int | None = field(default=None, validator=_positive)
    max_age: float | None = field(default=None, validator=_positive)
    backoff_base: float | None = field(default=None, validator=_positive)
    backoff_cap: float | None = field(default=None, validator=_positive)


@frozen(kw_only=True)
class ConnectionConfig:
    """One connection file (see the module docstring)."""

    base_url: str = field(validator=_check_http_url)
    auth: AuthConfig = field(factory=AuthConfig)
    headers: Mapping[str, str] = field(factory=dict, repr=False)
    timeout: float = field(default=10.0, validator=_positive)
    retry: RetryConfig = field(factory=RetryConfig)
    max_in_flight: int = field(default=64, validator=_positive)
    rate_limit: float | None = field(default=None, validator=_positive)
    """Requests per second (spaced evenly); ``None``: no limit."""


@frozen
class Connection:
    """A named connection and the file it came from."""

    name: str
    config: ConnectionConfig
    file: str


@frozen(kw_only=True)
class ConnectionCatalog:
    """Every connection defined below a plugins directory, the secrets found, the problems."""

    connections: Mapping[str, Connection] = field(factory=dict)
    secrets: frozenset[str] = field(default=frozenset(), repr=count_of_secrets)
    problems: tuple[ConfigProblem, ...] = ()

    def names(self) -> list[str]:
        """The connection names, sorted."""
        return sorted(self.connections)


def load_connections(plugins_dir: Path | None, *, env: Mapping[str, str]) -> ConnectionCatalog:
    """Read ``<plugins_dir>/connections/*.yaml`` (none when the directory is absent)."""
    directory = None if plugins_dir is None else plugins_dir / CONNECTIONS_DIR
    if directory is None or not directory.is_dir():
        return ConnectionCatalog()
    connections: dict[str, Connection] = {}
    secrets: set[str] = set()
    problems: list[ConfigProblem] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        name = path.stem
        file = display_path(path)
        if not _NAME.match(name):
            problems.append(
                ConfigProblem(
                    file, None, "", f"invalid connection name {name!r}: use letters, digits, _.-"
                )
            )
            continue
        if name in connections:
            problems.append(ConfigProblem(file, None, "", f"connection {name!r} is defined twice"))
            continue
        try:
            loaded = load_config_file(path, ConnectionConfig, env=env)
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        connections[name] = Connection(name, loaded.value, file)
        secrets |= loaded.secrets
    return ConnectionCatalog(
        connections=connections, secrets=frozenset(secrets), problems=tuple(problems)
    )
