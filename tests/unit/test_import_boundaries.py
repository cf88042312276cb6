"""What importing a module must not load: the layers hold at run time, not only in lint-imports.

The Kafka runtime stands alone (no HTTP client, no ClaimX or actions code); the command line and
the dry run load the testing kit only when a command needs it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

NOT_KAFKA = ("httpx", "aiohttp", "claimx_worker.actions", "claimx_worker.claimx")
TESTING_KIT = ("claimx_worker.testing",)


@pytest.mark.parametrize(
    ("module", "foreign"),
    [
        ("claimx_worker.kafka.runtime", NOT_KAFKA),
        ("claimx_worker.kafka.run", NOT_KAFKA),
        ("claimx_worker.simulate", TESTING_KIT),
        ("claimx_worker.cli", TESTING_KIT),
    ],
)
def test_importing_a_module_loads_none_of_the_modules_it_must_not_use(
    module: str, foreign: tuple[str, ...]
) -> None:
    code = (
        f"import json, sys, {module}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({foreign!r}))))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(run.stdout) == []
