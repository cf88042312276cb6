"""Run the fuzz targets of :mod:`tests.fuzz.targets` under atheris, each for ``--seconds``.

``python -m tests.fuzz.run [--seconds N] [--target NAME ...]`` (what ``nox -s fuzz`` runs) starts
one process per target (libFuzzer ends its process when its time is up), starting from the
target's seeds, and exits 1 when any target raised something its parser does not document; the
input that did is kept as ``.fuzz/<target>/crash-*``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".fuzz"
_INSTRUMENTED = ["claimx_worker", "cattrs", "ruamel"]


def _fuzz_one(name: str, seconds: int) -> None:
    """Fuzz one target in this process (libFuzzer exits it when done)."""
    import atheris

    with atheris.instrument_imports(include=_INSTRUMENTED):
        from tests.fuzz.targets import TARGETS
    (target,) = [t for t in TARGETS if t.name == name]
    corpus = WORK / name / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(target.seeds):
        (corpus / f"seed-{index}").write_bytes(seed)
    options = [
        f"-max_total_time={seconds}",
        "-timeout=10",  # seconds for one input: a hang counts as a finding
        "-rss_limit_mb=2048",
        "-max_len=65536",
        f"-artifact_prefix={WORK / name}/",
        "-print_final_stats=1",
    ]
    atheris.Setup([sys.argv[0], *options, str(corpus)], target.check)
    atheris.Fuzz()


def main() -> int:
    """Fuzz every target named (all by default) in a child process each; 1 if any failed."""
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__)
    parser.add_argument("--seconds", type=int, default=30, help="per target (default: 30)")
    parser.add_argument("--target", action="append", help="a target's name (default: every one)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # before the targets are imported: they must be imported instrumented
        _fuzz_one(args.child, args.seconds)
        return 0
    from tests.fuzz.targets import TARGETS

    names = [t.name for t in TARGETS]
    if unknown := set(args.target or ()) - set(names):
        parser.error(f"unknown target(s) {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    failed = []
    for name in args.target or names:
        shutil.rmtree(WORK / name, ignore_errors=True)
        print(f"fuzzing {name} for {args.seconds} s", flush=True)
        started = time.monotonic()
        child = [sys.executable, "-m", "tests.fuzz.run", "--child", name]
        code = subprocess.run([*child, "--seconds", str(args.seconds)], cwd=REPO).returncode
        crashes = sorted(str(p) for p in (WORK / name).glob("*-*") if p.is_file())
        print(f"{name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code != 0 or crashes:
            failed.append(f"{name}: {', '.join(crashes) or f'exit code {code}'}")
    for failure in failed:
        print(f"FOUND {failure}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
