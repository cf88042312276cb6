"""The demo's arguments: a plugins directory that is not there stops it at once, with a
message, instead of a run whose triggers can never fire."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimx_worker.testing.demo import main


def test_a_missing_plugins_directory_stops_the_demo_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "plugins" / "config"

    with pytest.raises(SystemExit) as info:
        main(["--plugins-dir", str(missing)])

    assert info.value.code == 2
    error = capsys.readouterr().err
    assert f"--plugins-dir: {missing} is not a directory" in error
    assert "run the demo from a claimx-worker checkout" in error
