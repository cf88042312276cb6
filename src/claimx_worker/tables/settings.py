"""Settings of the table writer: the ``tables:`` section of the worker settings file.

::

    tables:
      location: ./delta            # a directory or any URI delta-rs supports
      paths: {claimx_tasks: abfss://...}   # one table somewhere else
      storage_options: {...}       # passed to delta-rs (credentials: masked)
      consumer_group, dlq_topic, batch_max_rows, batch_max_seconds, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from attrs import field, frozen, validators

from claimx_worker.config.problems import ConfigValueError
from claimx_worker.model.rows import ROW_LISTS

TABLE_NAMES = tuple(rows.table for rows in ROW_LISTS.values())
"""The seven entity tables."""


def _check_paths(_: object, attribute: attrs.Attribute[Any], paths: Mapping[str, str]) -> None:
    for name, path in paths.items():
        if name not in TABLE_NAMES:
            raise ConfigValueError(
                f"no table {name!r}: the tables are {', '.join(TABLE_NAMES)}", key=attribute.name
            )
        if not isinstance(path, str) or not path:
            raise ConfigValueError(f"the path of {name!r} must be a non-empty string")


def _check_options(_: object, attribute: attrs.Attribute[Any], options: Mapping[str, Any]) -> None:
    for key, value in options.items():
        if not isinstance(value, str):
            raise ConfigValueError(
                f"storage option {key!r} must be a string (delta-rs takes strings)",
                key=attribute.name,
            )


@frozen(kw_only=True)
class TablesSettings:
    """Where and how ``claimx-worker tables run`` writes the entity tables."""

    location: str = "./delta"
    """Directory or URI (``s3://``, ``abfss://``, ``gs://``) under which each table is
    ``<location>/<table>``."""
    paths: dict[str, str] = field(factory=dict, validator=_check_paths)
    """Table name -> its own directory or URI, over ``location`` (e.g. ``claimx_tasks``)."""
    storage_options: dict[str, str] = field(factory=dict, repr=False, validator=_check_options)
    """delta-rs storage options (e.g. ``AZURE_STORAGE_ACCOUNT_KEY``, ``AWS_REGION``); secret
    values are masked wherever settings are shown."""
    consumer_group: str = "claimx-tables-writer"
    """Kafka consumer group of the table writers; run more with the same group to share
    partitions."""
    dlq_topic: str = "claimx.tables.dlq"
    """Entity-rows messages the tables refuse (not JSON, a value of the wrong type), with the
    reason."""
    batch_max_rows: int = field(default=25_000, validator=validators.gt(0))
    """A batch is written once it holds this many rows..."""
    batch_max_seconds: float = field(default=10.0, validator=validators.gt(0))
    """...or once its first message is this many seconds old."""
    commit_retries: int = field(default=20, validator=validators.ge(0))
    """Times a commit that lost a race with another writer is tried again (re-reading the
    table) before the batch fails and is retried from the start."""
    optimize_every_commits: int = field(default=100, validator=validators.ge(0))
    """Compact a table's small files after this many commits to it (0: only by command)."""
    vacuum_retention_hours: int = field(default=168, validator=validators.ge(0))
    """``tables vacuum`` deletes files unreferenced for longer than this."""

    def table_uri(self, name: str) -> str:
        """Where table ``name`` lives."""
        return self.paths.get(name) or f"{self.location.rstrip('/')}/{name}"
