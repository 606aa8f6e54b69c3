"""A strict layer checker for a Python package (used by tests/test_architecture.py on motornet_gym).

Every top-level module or sub-package of the package is a layer with its own rank; a module may
import (at run time or for annotations, at module level or inside a function) only from layers of
strictly lower rank, or from its own layer; no import cycle may exist between any two modules; and
third-party imports are limited per layer.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def module_name(root: Path, path: Path) -> str:
    """Dotted name of ``path`` (a file under ``root``'s parent), packages without ``__init__``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path, path: Path) -> list[str]:
    """Absolute names of every module ``path`` imports (``from pkg import name`` gives ``pkg.name``
    when ``pkg.name`` is a module of the package, else ``pkg``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    rel = path.relative_to(root.parent).with_suffix("")
    pkg_parts = list(rel.parts[:-1])
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                candidate = root.parent.joinpath(*sub.split("."))
                out.append(sub if candidate.with_suffix(".py").exists() or candidate.is_dir() else mod)
    return out


def layer_of(root: Path, name: str) -> str:
    """The layer of a dotted module name of the package: its first component below the package."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def check(
    root: Path,
    ranks: Mapping[str, int],
    third_party: Mapping[str, Iterable[str]],
    within: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """Every violation in the package at ``root`` (empty when it is clean).

    Args:
        root: The package directory.
        ranks: Layer -> rank (``__init__``, the package's own ``__init__.py``, may import anything).
        third_party: Layer -> allowed third-party top-level names.
        within: ``(layer, layer)`` pairs of different layers of equal rank allowed to import.
    """
    problems: list[str] = []
    allowed_same = set(within)
    graph: dict[str, set[str]] = {}
    files = sorted(root.rglob("*.py"))
    names = {module_name(root, p) for p in files}
    for path in files:
        me = module_name(root, path)
        mine = layer_of(root, me)
        if mine != "__init__" and mine not in ranks:
            problems.append(f"{me}: layer {mine!r} has no rank")
            continue
        for mod in imports(root, path):
            top = mod.split(".")[0]
            if top == root.name:
                target = layer_of(root, mod)
                if mod in names:
                    graph.setdefault(me, set()).add(mod)
                if mine == "__init__" or target == mine:
                    continue
                if target == "__init__":
                    problems.append(f"{me} imports the top-level package (upward)")
                elif target not in ranks:
                    problems.append(f"{me} imports {mod}: unknown layer {target!r}")
                elif ranks[target] > ranks[mine] or (
                    ranks[target] == ranks[mine] and (mine, target) not in allowed_same
                ):
                    problems.append(
                        f"{me} (layer {mine}, rank {ranks[mine]}) imports {mod} "
                        f"(layer {target}, rank {ranks[target]}): imports must point down"
                    )
            elif top not in STDLIB and mine != "__init__" and top not in set(third_party.get(mine, ())):
                problems.append(
                    f"{me} (layer {mine}) imports third-party {top!r}; allowed: "
                    f"{sorted(third_party.get(mine, ()))}"
                )
    problems.extend(f"import cycle: {' -> '.join(c)}" for c in cycles(graph))
    return problems


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp) + [sorted(comp)[0]])

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def private_imports(root_name: str, folder: Path) -> list[str]:
    """Imports of private modules of ``root_name`` (a component starting with ``_``) in ``folder``."""
    out = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                mods = [node.module]
                if not _is_private(root_name, node.module):
                    mods += [f"{node.module}.{a.name}" for a in node.names]
            out.extend(f"{path}: imports private {m}" for m in mods if _is_private(root_name, m))
    return out


def _is_private(root_name: str, name: str) -> bool:
    parts = name.split(".")
    return parts[0] == root_name and any(p.startswith("_") and not p.startswith("__") for p in parts[1:])
