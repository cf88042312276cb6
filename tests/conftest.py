"""Shared test configuration. The claimx_worker fixtures come from its pytest plugin."""

pytest_plugins = ["pytester"]
