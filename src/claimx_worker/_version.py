"""The version of claimx-worker, which is also the plugin API version (see docs/upgrading.md)."""

__version__ = "0.1.0"
