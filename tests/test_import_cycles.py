"""The import graph of functions/ and pipeline/ has no cycle, and their modules stay small.

Run on its own to print the graph's cycles and the modules' sizes, largest first:
``.venv/bin/python tests/test_import_cycles.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("functions", "pipeline")
MAX_LINES = 400


def module_name(path: Path) -> str:
    """Returns the dotted name of a module file under the repository root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the checked packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``path`` imports anywhere (top level, in functions, or
    for type checking): an import inside a function still runs, and a cycle through
    type-only imports is a cycle a reader must untangle."""
    is_package = path.name == "__init__.py"
    edges: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # "from package import module" imports the module, not only the package.
            targets = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t if t in known else base for t in targets]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
    return edges


def import_graph() -> dict[str, set[str]]:
    """Each module of functions/ and pipeline/ and the modules of those it imports."""
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Returns the strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def module_sizes() -> dict[str, int]:
    """Lines of every module of functions/ and pipeline/, by path."""
    return {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in modules().values()
    }


def test_functions_and_pipeline_have_no_import_cycle() -> None:
    """This test ensures that no module of functions/ or pipeline/ imports itself through others."""
    assert cycles(import_graph()) == []


def test_a_cycle_is_found_when_there_is_one() -> None:
    """This test ensures that the cycle finder reports a cycle of three and ignores a chain."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_and_submodule_imports_become_edges(tmp_path: Path) -> None:
    """This test ensures that "from . import x" and "from pkg import module" point at the module."""
    package = tmp_path / "pkg"
    package.mkdir()
    source = package / "user.py"
    source.write_text("from . import helper\nfrom pkg.other import thing\n")
    known = {"pkg", "pkg.helper", "pkg.other", "pkg.user"}
    edges = imports_of("pkg.user", source, known)
    assert edges == {"pkg.helper", "pkg.other"}


def test_modules_stay_under_the_size_limit() -> None:
    """This test ensures that every module of functions/ and pipeline/ stays within 400 lines."""
    too_long = {path: lines for path, lines in module_sizes().items() if lines > MAX_LINES}
    assert too_long == {}


if __name__ == "__main__":
    graph = import_graph()
    found = cycles(graph) or "none"
    lines_out = [f"{len(graph)} modules in {', '.join(PACKAGES)}; cycles: {found}"]
    sizes = sorted(module_sizes().items(), key=lambda item: -item[1])
    lines_out += [f"{lines:5d}  {path}" for path, lines in sizes]
    sys.stdout.write("\n".join(lines_out) + "\n")
