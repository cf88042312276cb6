"""Shared test configuration: the claimx_worker testing kit's fixtures, pytester, and the
hypothesis profile (no per-example deadline: the machine is shared with a Kafka broker, so an
example's wall time says nothing about the code)."""

from hypothesis import settings

pytest_plugins = ["pytester", "claimx_worker.testing"]

settings.register_profile("claimx", deadline=None)
settings.load_profile("claimx")
