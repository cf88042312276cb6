"""The complete test file of ``docs/testing-plugins.md`` runs, as printed, and passes.

The fenced ``python`` blocks whose first line is ``# <file name>.py`` are written to a fresh
directory and run by pytester, with the kit enabled only by the example's own ``conftest.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from claimx_worker.testing import CONTRACT_EVENT_TYPES

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "testing-plugins.md"
FILE_BLOCK = re.compile(r"^```python\n# (?P<name>\w+\.py)\n(?P<body>.*?)^```", re.M | re.S)


def example_files() -> dict[str, str]:
    return {m["name"]: m["body"] for m in FILE_BLOCK.finditer(GUIDE.read_text())}


def test_the_guide_s_complete_test_file_passes(pytester: pytest.Pytester) -> None:
    files = example_files()
    assert set(files) == {"conftest.py", "test_task_trigger_kit.py"}
    for name, body in files.items():
        (pytester.path / name).write_text(body)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")  # pytest-asyncio
    result = pytester.runpytest("-p", "no:cacheprovider")
    contract_tests = 3 + 3 * len(CONTRACT_EVENT_TYPES)
    result.assert_outcomes(passed=6 + contract_tests)
