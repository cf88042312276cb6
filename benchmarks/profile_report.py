"""The report of ``nox -s profile``: top frames and per-area shares of a py-spy profile.

Reads the collapsed stacks py-spy wrote (``profile.collapsed``: one ``root;...;leaf count`` line
per distinct stack) and writes beside them ``profile_top.txt`` (the frames with the most samples
of their own, then with the most samples in total) and ``profile_areas.md`` (the share of samples
per area, the table of docs/benchmarks.md), and prints the table.

A sample is counted for the area of its innermost frame, skipping frames of generic standard
library helpers (``functools``, ``enum``, ``contextlib``, …), which count for their caller; frames
of our own code, attrs and cattrs count as object work.

Usage: ``python benchmarks/profile_report.py .bench``
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "HTTP client",
        (
            "/aiohttp/",
            "/httpx/",
            "/httpcore/",
            "/httpx_aiohttp/",
            "/h11/",
            "/yarl/",
            "/multidict/",
            "/aiohappyeyeballs/",
            "/propcache/",
            "/ssl.py",
            "/claimx_worker/http/",
        ),
    ),
    ("Kafka client", ("/confluent_kafka/", "/claimx_worker/kafka/producer.py")),
    ("JSON", ("/json/", "/orjson")),
    ("metrics", ("/prometheus_client/",)),
    ("logging", ("/loguru/", "/logging/", "/claimx_worker/observability/logs.py")),
    ("plugin stage", ("/pluggy/", "/claimx_worker/plugins/", "/claimx_plugin_task_trigger/")),
    (
        "asyncio/uvloop",
        ("/asyncio/", "/uvloop/", "/selectors.py", "/threading.py", "/concurrent/futures/"),
    ),
)
"""Area name and the path fragments of its frames, first match wins."""
OBJECT_WORK = "Python object work"
NEUTRAL = (
    "/functools.py",
    "/enum.py",
    "/typing.py",
    "/abc.py",
    "/contextlib.py",
    "/copy.py",
    "/weakref.py",
    "/_weakrefset.py",
    "/collections/",
    "/re/",
    "/<frozen ",
)
"""Standard library helpers whose samples count for the frame that called them."""
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


def stacks(collapsed: Path) -> Counter[tuple[str, ...]]:
    """Sample counts per stack (root first) of a collapsed-stacks file."""
    counts: Counter[tuple[str, ...]] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[tuple(stack.split(";"))] += int(count)
    return counts


def file_of(frame: str) -> str:
    """The source file of a frame ``function (file:line)``."""
    match = _FRAME.match(frame)
    return match["file"] if match else frame


def area_of(stack: tuple[str, ...]) -> str:
    """The area a sample of ``stack`` counts for."""
    for frame in reversed(stack):
        path = "/" + file_of(frame)
        if any(fragment in path for fragment in NEUTRAL):
            continue
        for area, fragments in AREAS:
            if any(fragment in path for fragment in fragments):
                return area
        return OBJECT_WORK
    return OBJECT_WORK


def shares_table(counts: Counter[tuple[str, ...]]) -> str:
    """The Markdown table of the share of samples per area, largest first."""
    total = sum(counts.values()) or 1
    areas: Counter[str] = Counter()
    for stack, count in counts.items():
        areas[area_of(stack)] += count
    lines = ["| area | share |", "|---|---|"]
    lines += [f"| {area} | {100 * n / total:.1f}% |" for area, n in areas.most_common()]
    return "\n".join(lines) + f"\n\n{total} samples.\n"


def top_frames(counts: Counter[tuple[str, ...]], limit: int = 40) -> str:
    """The frames with the most samples of their own, then in total, with their shares."""
    total = sum(counts.values()) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in counts.items():
        own[stack[-1]] += count
        for frame in set(stack):
            inclusive[frame] += count
    parts = []
    for title, counter in (("own samples", own), ("total samples", inclusive)):
        parts.append(f"# top {limit} frames by {title} (of {total})")
        parts += [f"{100 * n / total:6.2f}%  {frame}" for frame, n in counter.most_common(limit)]
        parts.append("")
    return "\n".join(parts)


def main() -> None:
    directory = Path(sys.argv[1])
    counts = stacks(directory / "profile.collapsed")
    (directory / "profile_top.txt").write_text(top_frames(counts))
    table = shares_table(counts)
    (directory / "profile_areas.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
