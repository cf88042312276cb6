"""The table writer, the worker package's second role: consumes the entity-rows topic
(``claimx.enriched``) in its own consumer group and merges the rows into seven Delta Lake tables,
exactly once (see :mod:`claimx_worker.tables.delta`).

Needs the ``tables`` extra (``pip install 'claimx-worker[tables]'``: deltalake and pyarrow);
:func:`require_tables_extra` says so clearly when it is missing. Only :mod:`.settings` is
importable without it.

- :mod:`.settings`: :class:`TablesSettings` (the ``tables:`` section);
- :mod:`.schemas`: the seven tables, their typed columns and merge keys;
- :mod:`.columns`: a message's rows typed against a table (schema evolution, type conflicts);
- :mod:`.batch`: batches by row count and age; rows merged by key within a batch;
- :mod:`.delta`: one table: merge, ``txn`` offsets, conflict retries, compaction;
- :mod:`.writer`: the Kafka processor; :mod:`.run`: ``tables run``;
- :mod:`.maintenance`: ``tables show``, ``optimize``, ``vacuum``; :mod:`.metrics`.
"""

from __future__ import annotations

import importlib.util

from claimx_worker.errors import ClaimXWorkerError

EXTRA_PACKAGES = ("deltalake", "pyarrow")


class TablesExtraMissingError(ClaimXWorkerError):
    """The ``tables`` extra (deltalake, pyarrow) is not installed."""


def require_tables_extra() -> None:
    """Raise :class:`TablesExtraMissingError` naming the missing packages and the fix."""
    missing = [name for name in EXTRA_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise TablesExtraMissingError(
            f"the Delta Lake tables need {' and '.join(missing)}: "
            "pip install 'claimx-worker[tables]'"
        )
