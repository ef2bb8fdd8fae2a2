"""The package's import graph: no cycles, and the ROS-free pipeline stays ROS-free.

Parsed with `ast` (nothing is imported), so a forbidden edge inside a function body counts
as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sgnet_ros"

# role -> roles it must never import
FORBIDDEN = {
    "pipeline": {"ros", "bags", "training", "benchmarks", "fleet"},
    "network": {"ros", "bags", "training", "benchmarks", "fleet"},
    "ros": {"bags", "training", "benchmarks", "fleet"},
    "training": {"ros.node", "benchmarks", "fleet"},
    "bags": {"benchmarks", "fleet"},
    # fleet/ may use ros.parameters (the one schema), nothing else of the rclpy shell.
    "fleet": {"benchmarks", "network",
              *(f"ros.{path.stem}" for path in (PACKAGE / "ros").glob("*.py")
                if path.stem not in {"__init__", "parameters"})},
    "benchmarks": {"fleet"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Project modules that `path` imports, resolved to the module files they name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name in known:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    known = set(files)
    return {name: imported_modules(path, known) - {name} for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None. Iterative DFS."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in sorted(graph):
        if state.get(root):
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return None


def role(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


def forbidden_edges(graph: dict[str, set[str]]) -> list[str]:
    edges = []
    for source, targets in graph.items():
        banned = FORBIDDEN.get(role(source), set())
        for target in targets:
            relative = target.removeprefix("sgnet_ros.")
            if any(relative == ban or relative.startswith(ban + ".") for ban in banned):
                edges.append(f"{source} -> {target}")
    return sorted(edges)


def test_the_package_has_no_import_cycle():
    assert find_cycle(import_graph()) is None, f"import cycle: {find_cycle(import_graph())}"


def test_no_role_imports_what_it_must_not():
    assert forbidden_edges(import_graph()) == []


def test_the_top_level_lists_the_architecture():
    listed = {path.name for path in PACKAGE.iterdir() if not path.name.startswith("__")}
    assert listed == {"pipeline", "ros", "network", "bags", "training", "benchmarks", "fleet",
                      "data"}


@pytest.mark.parametrize("package", ["pipeline", "ros", "network", "bags", "training",
                                     "benchmarks", "fleet", "pipeline/spatial",
                                     "pipeline/outputs"])
def test_every_subpackage_says_what_lives_there(package):
    docstring = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
    assert docstring and "import" in docstring.lower(), \
        f"{package}/__init__.py must say what it may import"


def test_the_checks_see_a_cycle_and_a_forbidden_edge():
    graph = {"sgnet_ros.a": {"sgnet_ros.b"}, "sgnet_ros.b": {"sgnet_ros.a"}}
    assert find_cycle(graph) == ["sgnet_ros.a", "sgnet_ros.b", "sgnet_ros.a"]
    assert forbidden_edges({"sgnet_ros.pipeline.x": {"sgnet_ros.ros.node"}}) == [
        "sgnet_ros.pipeline.x -> sgnet_ros.ros.node"]
