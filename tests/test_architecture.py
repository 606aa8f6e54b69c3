"""Layer boundaries (docs/architecture.md §2): imports point down only, and dynamics/ imports only torch."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "motornet_gym"

# Rank of each layer; a module may import only from layers of lower or equal rank.
LAYERS = {
    "dynamics": 0,
    "io": 0,
    "tasks": 1,
    "packed": 1,
    "sensory": 2,
    "sim_types": 2,
    "compiled_step": 2,
    "engine": 2,
    "fastpath": 2,
    "registry": 2,
    "_reset_draw": 2,
    "policies": 2,
    "rollout": 3,
    "analysis": 4,
    "envs": 4,
    "sb3": 5,
    "sb3_agents": 6,
}
THIRD_PARTY_ALLOWED = {
    "dynamics": {"torch"},
    "io": {"torch"},
    "tasks": {"torch"},
    "packed": {"torch"},
    "sensory": {"torch"},
    "sim_types": {"torch"},
    "compiled_step": {"torch"},
    "engine": {"torch"},
    "fastpath": {"torch"},
    "registry": {"torch"},
    "_reset_draw": {"torch"},
    "policies": {"torch"},
    "rollout": {"torch"},
    "analysis": {"torch", "numpy", "matplotlib", "scipy"},
    "envs": {"torch", "numpy", "gymnasium", "pygame"},
    "sb3": {"torch", "numpy", "gymnasium", "stable_baselines3"},
    "sb3_agents": {"torch", "numpy", "gymnasium", "stable_baselines3"},
}


def _layer_of(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, int]]:
    """(absolute module name, level) of every import in a file, resolved against the package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    rel = path.relative_to(ROOT).with_suffix("")
    pkg_parts = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((a.name, 0) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                if not node.module:
                    out.extend((f"{mod}.{a.name}", node.level) for a in node.names)
                    continue
            else:
                mod = node.module or ""
            out.append((mod, node.level))
    return out


def _module_files() -> list[Path]:
    return [p for p in PKG.rglob("*.py") if p.relative_to(PKG).parts[0] != "__init__.py"]


def test_layers_are_known():
    for path in _module_files():
        assert _layer_of(path) in LAYERS, f"{path} is in no layer of docs/architecture.md; add it to LAYERS"


@pytest.mark.parametrize("path", _module_files(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_down(path: Path):
    layer = _layer_of(path)
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for mod, _level in _imports(path):
        top = mod.split(".")[0]
        if top == "motornet_gym":
            parts = mod.split(".")
            if len(parts) == 1:
                pytest.fail(f"{path}: imports the top-level package (upward)")
            target = parts[1]
            assert target in LAYERS, f"{path}: imports unknown module {mod}"
            assert LAYERS[target] <= LAYERS[layer], (
                f"{path} (layer {layer}) imports {mod} (layer {target}): imports must point down"
            )
        elif top not in stdlib:
            assert top in THIRD_PARTY_ALLOWED[layer], (
                f"{path} (layer {layer}) imports third-party {top!r}; allowed: "
                f"{sorted(THIRD_PARTY_ALLOWED[layer])}"
            )


def test_checker_catches_violations(tmp_path):
    """The checker itself must see an upward and a forbidden import."""
    fake = PKG / "dynamics" / "_probe_violation.py"
    fake.write_text("import gymnasium\nfrom ..envs import x\n")
    try:
        mods = [m for m, _ in _imports(fake)]
        assert "gymnasium" in mods and "motornet_gym.envs" in mods
    finally:
        fake.unlink()
