"""Shared test configuration: the claimx_worker testing kit's fixtures, and pytester."""

pytest_plugins = ["pytester", "claimx_worker.testing"]
