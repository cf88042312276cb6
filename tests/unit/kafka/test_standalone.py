"""The Kafka runtime stands alone: importing it loads no HTTP client, ClaimX or actions code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FOREIGN = ("httpx", "aiohttp", "claimx_worker.actions", "claimx_worker.claimx")


@pytest.mark.parametrize("module", ["claimx_worker.kafka.runtime", "claimx_worker.kafka.run"])
def test_importing_the_runtime_loads_neither_http_clients_nor_claimx_nor_actions(
    module: str,
) -> None:
    code = (
        f"import json, sys, {module}\n"
        f"foreign = {FOREIGN!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(foreign))))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(run.stdout) == []
