"""ClaimX task trigger plugin: configured actions when a task is assigned or completed."""

__version__ = "0.1.0"
