"""The tables' storage credentials never show in ``config show``."""

from __future__ import annotations

from claimx_worker.observability.redaction import MASK
from claimx_worker.settings import load_worker_config
from claimx_worker.settings.effective import effective_values


def test_storage_option_credentials_are_masked_in_config_show() -> None:
    environ = {
        "CLAIMX_WORKER_TABLES__STORAGE_OPTIONS": (
            "{AZURE_STORAGE_ACCOUNT_NAME: lake, AZURE_STORAGE_ACCOUNT_KEY: c2VjcmV0a2V5,"
            " AWS_SECRET_ACCESS_KEY: abcd1234, GOOGLE_SERVICE_ACCOUNT_KEY: '{\"k\": 1}'}"
        )
    }
    shown = effective_values(load_worker_config(None, environ))["tables.storage_options"]
    assert shown == {
        "AZURE_STORAGE_ACCOUNT_NAME": "lake",
        "AZURE_STORAGE_ACCOUNT_KEY": MASK,
        "AWS_SECRET_ACCESS_KEY": MASK,
        "GOOGLE_SERVICE_ACCOUNT_KEY": MASK,
    }
