"""Instance files are the operator's, but only those inside the plugins directory: a link that
leads outside it is refused with its path, and nothing of the target is read."""

from __future__ import annotations

from pathlib import Path

from claimx_worker.plugins.instances import scan_instances

SECRET_LINE = "root:x:0:0:secret-looking-content"


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "config.yaml").write_text(f"name: {SECRET_LINE}\nplugin: greeter\n")
    return outside


def test_an_instance_directory_linking_outside_is_refused(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "linked").symlink_to(_outside(tmp_path), target_is_directory=True)

    scan = scan_instances(plugins, env={})

    assert scan.specs == ()
    (problem,) = scan.problems
    assert "linked" in problem.file
    assert "outside the plugins directory" in problem.message
    assert SECRET_LINE not in str(problem)


def test_a_config_file_linking_outside_is_refused_without_showing_it(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    (plugins / "greeter").mkdir(parents=True)
    (plugins / "greeter" / "config.yaml").symlink_to(_outside(tmp_path) / "config.yaml")

    scan = scan_instances(plugins, env={})

    assert scan.specs == ()
    (problem,) = scan.problems
    assert "outside the plugins directory" in problem.message
    assert SECRET_LINE not in str(problem)


def test_links_inside_the_plugins_directory_still_work(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    (plugins / "shared").mkdir(parents=True)
    (plugins / "shared" / "base.yaml").write_text("name: greeter\nplugin: greeter\n")
    (plugins / "greeter").mkdir()
    (plugins / "greeter" / "config.yaml").symlink_to(plugins / "shared" / "base.yaml")

    scan = scan_instances(plugins, env={})

    assert [spec.name for spec in scan.specs] == ["greeter"]
    assert scan.problems == ()


def test_nested_instances_are_found_below_group_directories(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    (plugins / "claims" / "inspections").mkdir(parents=True)
    (plugins / "claims" / "inspections" / "config.yaml").write_text("plugin: greeter\n")
    (plugins / "claims" / "_drafts" / "old").mkdir(parents=True)
    (plugins / "claims" / "_drafts" / "old" / "config.yaml").write_text("plugin: greeter\n")
    (plugins / "top").mkdir()
    (plugins / "top" / "config.yaml").write_text("plugin: greeter\n")
    (plugins / "top" / "inner").mkdir()  # an instance directory is not searched further
    (plugins / "top" / "inner" / "config.yaml").write_text("plugin: greeter\n")
    (plugins / "empty_group" / "nothing").mkdir(parents=True)

    scan = scan_instances(plugins, env={})

    assert [spec.name for spec in scan.specs] == ["inspections", "top"]
    assert [path.name for path in scan.without_config] == ["nothing"]
    assert scan.problems == ()


def test_a_nested_directory_linking_outside_is_refused(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    (plugins / "group").mkdir(parents=True)
    (plugins / "group" / "linked").symlink_to(tmp_path, target_is_directory=True)
    _outside(tmp_path)

    scan = scan_instances(plugins, env={})

    assert scan.specs == ()
    (problem,) = scan.problems
    assert problem.file.endswith("group/linked")
    assert "outside the plugins directory" in problem.message
    assert SECRET_LINE not in str(problem)


def test_a_link_back_up_the_tree_is_searched_once(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    (plugins / "group" / "greeter").mkdir(parents=True)
    (plugins / "group" / "greeter" / "config.yaml").write_text("plugin: greeter\n")
    (plugins / "group" / "again").symlink_to(plugins / "group", target_is_directory=True)

    scan = scan_instances(plugins, env={})

    assert [spec.name for spec in scan.specs] == ["greeter"]
    assert scan.problems == ()
