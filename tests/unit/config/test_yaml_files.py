"""load_yaml: YAML aliases cannot blow a small file up into millions of values."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from claimx_worker.config.problems import ConfigError
from claimx_worker.config.yaml_files import MAX_VALUES, load_yaml

BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
config: [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BOMB)
    started = time.process_time()
    with pytest.raises(ConfigError, match=f"more than {MAX_VALUES:,} values") as caught:
        load_yaml(path)
    assert time.process_time() - started < 5
    (problem,) = caught.value.problems
    assert problem.file.endswith("config.yaml")


def test_ordinary_anchors_and_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("base: &base {url: https://x, method: POST}\nhook: *base\n")
    assert load_yaml(path)["hook"]["method"] == "POST"
