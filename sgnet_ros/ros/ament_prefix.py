"""Make a pip-installed environment a ROS 2 prefix laid out as `colcon build` lays one out.

`ros2 launch` and `ros2 run` find a package through AMENT_PREFIX_PATH: the prefix needs the
ament index marker, `share/sgnet_ros/` (package.xml, launch, config, models) and every
executable in `lib/sgnet_ros/`. pip gives only part of that: an editable install skips
setup.py's data_files, and every install puts the executables in `bin/`. pip runs no code
at install time, and a launcher shipped as a data file would keep a fixed interpreter line
and clash with the scripts colcon installs into `lib/sgnet_ros` itself. So this one
explicit, idempotent step completes the prefix for both kinds of pip install:
`tools/env.sh` runs it, and after a plain `pip install .` a user runs `sgnet-ament-prefix`.

An editable install gets links to the checkout's files (as `colcon build --symlink-install`),
so edits to the launch file or the YAML count at once; a wheel install keeps the copies pip
wrote. `lib/sgnet_ros/<name>` links to the `bin/<name>` pip made, whose interpreter line
names this environment's Python. The venv's `activate` gets AMENT_PREFIX_PATH, so after
`source .venv/bin/activate` the ROS commands see the package as on a robot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

PACKAGE = "sgnet_ros"
SHARED_ITEMS = ("package.xml", "launch", "config", "models")
ACTIVATE_MARK = "# sgnet_ros: this environment is a ROS 2 prefix"


class PrefixError(RuntimeError):
    """The installed package lacks what the prefix is made from."""


def checkout_root() -> Path | None:
    """The source checkout an editable install runs from, or None for a wheel install."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "package.xml").is_file() and (root / "launch").is_dir() else None


def executables() -> list[str]:
    """Names of the console scripts that setup.py declares (ros2 run's executables)."""
    entry_points = metadata.distribution(PACKAGE).entry_points
    return sorted(ep.name for ep in entry_points if ep.group == "console_scripts")


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _replace_with_link(link: Path, target: Path) -> None:
    _remove(link)
    link.symlink_to(os.path.relpath(target, link.parent))


def _link_tree(link: Path, target: Path) -> None:
    """Real folders with a link per file, as colcon's --symlink-install: `ros2 launch` finds
    launch files with os.walk, which does not enter linked folders."""
    if not target.is_dir():
        _replace_with_link(link, target)
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    link.mkdir(exist_ok=True)
    wanted = {child.name for child in target.iterdir()}
    for stale in link.iterdir():
        if stale.name not in wanted:
            _remove(stale)
    for child in target.iterdir():
        _link_tree(link / child.name, child)


def write_share(prefix: Path, source: Path | None) -> None:
    """The ament index marker and share/sgnet_ros, linked from `source` when it is given."""
    marker = prefix / "share" / "ament_index" / "resource_index" / "packages" / PACKAGE
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    share = prefix / "share" / PACKAGE
    share.mkdir(parents=True, exist_ok=True)
    if source is not None:
        for item in SHARED_ITEMS:
            _link_tree(share / item, source / item)
    missing = [item for item in SHARED_ITEMS if not (share / item).exists()]
    if missing:
        raise PrefixError(f"{share} lacks {', '.join(missing)}: reinstall sgnet_ros with pip "
                          "(a wheel install writes them from setup.py's data_files)")


def write_executables(prefix: Path, scripts: Path, names: list[str]) -> None:
    """lib/sgnet_ros/<name> -> the console script pip wrote for each name."""
    lib = prefix / "lib" / PACKAGE
    lib.mkdir(parents=True, exist_ok=True)
    for stale in lib.iterdir():
        if stale.is_symlink() and stale.name not in names:
            stale.unlink()
    for name in names:
        script = scripts / name
        if not os.access(script, os.X_OK):
            raise PrefixError(f"{script} is missing: reinstall sgnet_ros with pip")
        _replace_with_link(lib / name, script)


def write_activate_hook(prefix: Path) -> bool:
    """Append AMENT_PREFIX_PATH to the venv's bash/zsh `activate`; False when there is none."""
    activate = prefix / "bin" / "activate"
    if not activate.is_file():
        return False
    text = activate.read_text()
    if ACTIVATE_MARK not in text:
        activate.write_text(text.rstrip("\n") + f"""

{ACTIVATE_MARK} (added by sgnet-ament-prefix)
case ":${{AMENT_PREFIX_PATH:-}}:" in
    *":{prefix}:"*) ;;
    *) export AMENT_PREFIX_PATH="{prefix}${{AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}}" ;;
esac
""")
    return True


def write_prefix(prefix: Path, scripts: Path) -> None:
    """Everything `ros2 launch`/`ros2 run` need in `prefix` for this installed package."""
    write_share(prefix, checkout_root())
    write_executables(prefix, scripts, executables())
    write_activate_hook(prefix)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=Path, default=Path(sys.prefix),
                        help="the environment's prefix (default: this Python's)")
    parser.add_argument("--scripts", type=Path, default=Path(sysconfig.get_path("scripts")),
                        help="where pip put the console scripts (default: this Python's)")
    args = parser.parse_args(argv)
    try:
        write_prefix(args.prefix.absolute(), args.scripts.absolute())
    except PrefixError as error:
        print(f"sgnet-ament-prefix: {error}", file=sys.stderr)
        return 1
    print(f"{args.prefix} is a ROS 2 prefix for {PACKAGE}; "
          f"export AMENT_PREFIX_PATH={args.prefix}${{AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
