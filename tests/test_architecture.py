"""Layer boundaries (docs/architecture.md §2): a rank per layer, imports point strictly down, no
import cycle anywhere, third-party imports per layer as pyproject.toml declares them, and no private
module used from outside the package; plus the public API snapshot."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from tests import _layers

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "motornet_gym"

# One rank per layer (a top-level module or sub-package); a module imports only from strictly lower
# ranks or from its own layer.
RANKS = {
    "dynamics": 0,  # physics: skeletons, muscles, integrators (torch only)
    "io": 1,  # checkpoint files
    "tasks": 2,  # goals, loads, costs, episode state, the task contract
    "_compile": 3,  # private: compiled and frozen graphs, packed layouts (knows no engine type)
    "engine": 4,  # EpisodeModel + Simulator, sensory pipeline
    "policies": 5,  # torch policies for the rollout
    "registry": 6,  # ids -> simulators (no Gymnasium)
    "rollout": 7,  # the differentiable rollout
    "analysis": 8,  # metrics, phenomena, evaluation, plots
    "envs": 9,  # Gymnasium front ends (the only Gymnasium importers below sb3)
    "sb3": 10,  # SB3 VecEnv
    "sb3_agents": 11,  # helpers for saved SB3 agents
}
THIRD_PARTY = {
    "dynamics": {"torch"},
    "io": {"torch"},
    "tasks": {"torch"},
    "_compile": {"torch"},
    "engine": {"torch"},
    "policies": {"torch"},
    "registry": {"torch"},
    "rollout": {"torch"},
    "analysis": {"torch", "numpy", "matplotlib"},
    "envs": {"torch", "numpy", "gymnasium", "pygame"},
    "sb3": {"torch", "numpy", "gymnasium", "stable_baselines3"},
    "sb3_agents": {"torch", "numpy", "gymnasium", "stable_baselines3"},
}
DISTRIBUTION = {
    "torch": "torch",
    "numpy": "numpy",
    "matplotlib": "matplotlib",
    "gymnasium": "gymnasium",
    "pygame": "pygame-ce",
    "stable_baselines3": "stable-baselines3",
}

#: The public API: motornet_gym.__all__ and each public module's __all__.
PUBLIC_API = {
    "motornet_gym": [
        "ENV_IDS", "ENV_SPECS", "MotorEnv", "MotorVectorEnv", "Simulator", "SimulatorConfig", "Trajectory",
        "__version__", "analysis", "dynamics", "env_spec", "io", "make_simulator", "policies", "register",
        "register_envs", "rollout", "sb3", "sb3_agents",
    ],
    "motornet_gym.engine": [
        "AUTO_COMPILE_STEPS", "MAX_FUSED_STAGES", "SENSORY_PARTS", "EpisodeModel", "Noise", "SensoryConfig",
        "SimState", "Simulator", "SimulatorConfig", "StepOutput",
    ],
    "motornet_gym.tasks": [
        "NEVER", "CentreOut", "CentreOutConfig", "ForceField", "ForceFieldConfig", "LoadState",
        "LoadedTaskState", "Perturbation", "PerturbationConfig", "Reach", "ReachConfig", "Task", "TaskConfig",
        "TaskState", "tree_map",
    ],
    "motornet_gym.tasks.contract": [
        "REQUIRED_FIELDS", "check_batch_first", "check_task_outputs", "check_task_state", "cue_sizes",
    ],
    "motornet_gym.envs": ["MotorEnv", "MotorVectorEnv", "register", "register_envs"],
}  # fmt: skip


def test_the_package_keeps_its_layers():
    problems = _layers.check(PKG, RANKS, THIRD_PARTY)
    assert not problems, "\n".join(problems)


def test_every_layer_has_a_rank_and_nothing_else_does():
    layers = {
        p.name.removesuffix(".py") for p in PKG.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert layers - {"__init__"} == set(RANKS)
    assert len(set(RANKS.values())) == len(RANKS), "a rank per layer"


def test_allowed_third_party_imports_are_declared_in_pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    for layer, names in THIRD_PARTY.items():
        for name in names:
            dist = DISTRIBUTION[name]
            assert re.search(rf'"{re.escape(dist)}[>=<\[]', text), (
                f"{layer} may import {name}: {dist} not in pyproject"
            )


@pytest.mark.parametrize("folder", ["agents", "examples", "benchmarks"])
def test_no_private_module_is_used_from_outside_the_package(folder):
    path = ROOT / folder
    if folder == "examples" and not path.exists():
        pytest.fail("examples/ is missing")
    found = _layers.private_imports("motornet_gym", path)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_public_api_snapshot(module):
    assert sorted(importlib.import_module(module).__all__) == sorted(PUBLIC_API[module])


# ----------------------------------------------------------------------------- the checker itself
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_checker_reports_an_upward_import_a_cycle_a_foreign_library_and_a_private_import(tmp_path):
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "low/__init__.py": "",
            "low/a.py": "from . import b\n",
            "low/b.py": "from .a import x\nimport requests\n",  # cycle a <-> b, undeclared library
            "high.py": "from .low import a\n",
            # an annotation-only upward import
            "mid.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .high import y\n",
        },
    )
    ranks = {"low": 0, "mid": 1, "high": 2}
    problems = _layers.check(root, ranks, {"low": set(), "mid": set(), "high": set()})
    text = "\n".join(problems)
    assert (
        "pkg.mid (layer mid, rank 1) imports pkg.high (layer high, rank 2): imports must point down" in text
    )
    assert "import cycle: pkg.low.a -> pkg.low.b -> pkg.low.a" in text
    assert "pkg.low.b (layer low) imports third-party 'requests'" in text
    assert len(problems) == 3
    clean = _tree(tmp_path / "clean", {"__init__.py": "", "low.py": "", "high.py": "from . import low\n"})
    assert _layers.check(clean, {"low": 0, "high": 1}, {}) == []
    user = tmp_path / "user"
    user.mkdir()
    (user / "script.py").write_text("from pkg.low._secret import z\nfrom pkg import high\n")
    assert _layers.private_imports("pkg", user) == [f"{user / 'script.py'}: imports private pkg.low._secret"]
