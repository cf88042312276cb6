"""Project exports shared by concurrent events of one project and cached briefly.

A cache hit returns the same parsed export a load would, so every event still gets its project
row (an earlier pipeline's cache made the project data vanish from events that hit it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from claimx_worker.claimx.builders import ProjectExport
from claimx_worker.claimx.client import ApiCallTally, ClaimXApiClient
from claimx_worker.claimx.singleflight import SingleFlightCache


class ProjectCache:
    """Single-flight, short-lived cache of parsed project exports, keyed by project id."""

    def __init__(
        self,
        client: ClaimXApiClient,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._cache: SingleFlightCache[str, ProjectExport] = SingleFlightCache(
            ttl_seconds=ttl_seconds, clock=clock
        )

    def cached(self, project_id: str) -> ProjectExport | None:
        """The cached export of ``project_id``, or ``None`` (no request is made)."""
        return self._cache.peek(project_id)

    async def get(
        self, project_id: str, tally: ApiCallTally, *, fresh: bool = False
    ) -> ProjectExport:
        """The export of ``project_id``: cached, joined in flight, or fetched.

        ``fresh`` skips the cache (but still joins a fetch already in flight). The request is
        counted on the tally of the event that started it.
        """

        async def load() -> ProjectExport:
            return ProjectExport.parse(await self._client.get_project(project_id, tally))

        return await self._cache.get(project_id, load, fresh=fresh)
