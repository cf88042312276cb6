"""Developer and CI sessions. `nox -s lint typecheck tests` is what CI runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PLUGIN_PROJECT = "packaging/claimx-plugin-task-trigger"
PYTHON = "3.11"


def session_file(session: nox.Session, name: str) -> Path:
    """A path in the session's virtual environment (not ``session.create_tmp()``, which would
    also move the tests' ``TMPDIR`` into the checkout)."""
    return Path(session.virtualenv.location) / name


def export_lock(session: nox.Session, *extras: str) -> Path:
    """Write the locked versions (with hashes) of what both distributions need to a file.

    ``--locked`` fails the session when uv.lock is out of step with the project files.
    """
    requirements = session_file(session, "locked-requirements.txt")
    extra_args = [arg for extra in extras for arg in ("--extra", extra)]
    session.run_install(
        *("uv", "export", "--locked", "--all-packages", "--no-emit-workspace", "--quiet"),
        *extra_args,
        *("--output-file", str(requirements)),
        external=True,
    )
    return requirements


def install_project(session: nox.Session, *extras: str) -> None:
    """Install the locked dependencies, then both distributions from this checkout (editable)."""
    session.install("--requirement", str(export_lock(session, *extras)))
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("--no-deps", "-e", spec, "-e", PLUGIN_PROJECT)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree; lint-imports checks the layers."""
    session.install("ruff>=0.6", "import-linter>=2.1")
    session.install("--no-deps", "-e", ".")  # lint-imports reads the installed package's source
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src/ (the testing kit imports pytest, so the test extra is needed)."""
    install_project(session, "test")
    session.install("mypy>=1.11", "types-confluent-kafka")
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite: unit, integration (real Kafka broker, real HTTP servers) and end to end."""
    install_project(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Wheels and sdists of both distributions into dist/."""
    session.install("build>=1.2")
    session.run("python", "-m", "build", "--outdir", "dist", ".")
    session.run("python", "-m", "build", "--outdir", "dist", PLUGIN_PROJECT)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run every benchmarks/bench_*.py, print one JSON list and write it to .bench/results.json."""
    install_project(session, "test")
    session.install("pyreqwest>=0.15,<0.16")  # measured beside the HTTP clients; not a dependency
    results: list[object] = []
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.log(f"running {script.name}")
        output = session.run("python", str(script), silent=True, stderr=sys.stderr)
        if not isinstance(output, str):  # nox returns None when not run (e.g. --install-only)
            continue
        results.extend(json.loads(output))
    document = json.dumps(results, indent=2)
    (ROOT / ".bench").mkdir(exist_ok=True)
    (ROOT / ".bench" / "results.json").write_text(document + "\n")
    print(document)


@nox.session(python=PYTHON)
def profile(session: nox.Session) -> None:
    """The pipeline benchmark's worker run under py-spy: collapsed stacks, a flame graph
    (flamegraph.svg), the top frames and the per-area shares (profile_areas.md) in .bench/."""
    install_project(session, "test")
    session.install("py-spy>=0.4")  # the profiler only: not a dependency of the worker
    output = ROOT / ".bench"
    output.mkdir(exist_ok=True)
    env = {"CLAIMX_BENCH_PROFILE": str(output)}
    session.run("python", str(ROOT / "benchmarks" / "bench_pipeline.py"), env=env)
    session.run("python", str(ROOT / "benchmarks" / "profile_report.py"), str(output))


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: the worker on a local broker with the ClaimX API simulator (see README)."""
    install_project(session, "test")
    # the shipped task trigger instance needs WEBHOOK_TOKEN (the demo's own, sandbox.WEBHOOK_TOKEN)
    # and its webhook URLs (the demo points them at its receiver; any URL will do to list)
    shipped_env = {
        "WEBHOOK_TOKEN": "sandbox-webhook-token",
        "TASK_TRIGGER_WEBHOOK_URL": "http://127.0.0.1:8099/hooks/task-trigger",
        "DAMAGE_ASSESSMENT_WEBHOOK_URL": "http://127.0.0.1:8099/hooks/damage-assessment",
    }
    session.run("claimx-worker", "plugins", "list", env=shipped_env)
    session.run("python", "-m", "claimx_worker.testing.demo", *session.posargs)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """atheris over the parsers of untrusted input (tests/fuzz/targets.py), each target for 30 s
    or `-- --seconds N` (`-- --target NAME` picks one); fails on any exception a parser does not
    document, keeping the input in .fuzz/<target>/. Not run by CI."""
    install_project(session, "test")
    session.install("atheris>=2.3")
    session.run("python", "-m", "tests.fuzz.run", *session.posargs)


@nox.session(python=PYTHON)
def audit(session: nox.Session) -> None:
    """pip-audit over every locked version; fails when any of them could not be audited."""
    requirements = export_lock(session, "test")
    session.install("pip-audit>=2.7")
    report = session_file(session, "audit.json")
    session.run(
        *("pip-audit", "--requirement", str(requirements), "--no-deps", "--disable-pip"),
        *("--progress-spinner", "off", "--format", "json", "--output", str(report)),
        success_codes=[0, 1],  # 1: advisories found, reported below
        silent=True,  # its summary counts a package it could not look up as clean
    )
    dependencies = json.loads(report.read_text())["dependencies"]
    findings = [
        f"{dependency['name']} {dependency['version']}: {vuln['id']}"
        f" (fixed in {', '.join(vuln['fix_versions']) or 'no release yet'})"
        for dependency in dependencies
        for vuln in dependency.get("vulns", [])  # absent when the package was not audited
    ]
    for finding in findings:
        session.warn(finding)
    unaudited = [dependency["name"] for dependency in dependencies if "skip_reason" in dependency]
    if unaudited:
        session.error(
            f"advisory service unreachable: {len(unaudited)} of {len(dependencies)} locked "
            "packages could not be audited (PyPI's per-version JSON API did not answer)"
        )
    if findings:
        session.error(f"published advisories against locked versions: {len(findings)}, above")
    session.log(f"{len(dependencies)} locked packages audited: no published advisory")
