"""claimx-worker: enrich ClaimX events from Kafka and hand them to plugins."""

__version__ = "0.1.0"
