"""Files the package ships beside its code (models/, config/): found in the source tree,
else in the ament share directory of an installed package."""

from __future__ import annotations

from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[2]


def shipped_file(folder: str, name: str) -> Path:
    """`<source tree>/<folder>/<name>` when it exists, else `share/sgnet_ros/<folder>/<name>`;
    the source-tree path when neither can be found (so the caller names a real place)."""
    in_tree = SOURCE_ROOT / folder / name
    if in_tree.is_file():
        return in_tree
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("sgnet_ros")) / folder / name
    except (ImportError, LookupError, OSError):
        return in_tree
