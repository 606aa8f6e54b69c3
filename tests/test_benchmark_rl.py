"""benchmarks.rl (issue 15): learning curves to error thresholds, on the CPU at tiny sizes."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")
pytest.importorskip("yaml")

from benchmarks import rl  # noqa: E402

PM = "motornet/PointMassReach-v0"
SHORT = {"episode_duration": 0.2}
TINY = {"n_steps": 32, "batch_size": 64, "n_epochs": 1, "policy_kwargs": {"net_arch": [16, 16]}}


@pytest.mark.parametrize("method", ["ppo", "ppo_dummy"])
def test_a_method_runs_its_budget_and_records_when_it_crosses_each_threshold(method):
    r = rl.run_method(
        method, PM, 512, 256, env_kwargs=SHORT, override=TINY, n_envs=8, thresholds_cm=(1000.0, 0.001)
    )
    steps = [s for s, _, _ in r["curve"]]
    assert steps == [0, 256, 512] and r["env_steps"] == 512
    assert r["steps_to"] == {
        1000.0: 0,
        0.001: None,
    }  # the untrained policy is within 10 m, never within 10 um
    assert all(0 < e < 1000 for _, _, e in r["curve"]) and r["final_error_cm"] == r["curve"][-1][2]
    times = [t for _, t, _ in r["curve"]]
    assert times[0] < times[1] < times[2] and r["fps"] > 0


def test_cli_prints_one_row_per_method_and_the_ratio_to_ppo(capsys):
    over = {
        "ppo": TINY,
        "sac": {"learning_starts": 100, "batch_size": 32, "gradient_steps": 1, "buffer_size": 2000},
        "recurrent_ppo": {"n_steps": 32, "batch_size": 64, "n_epochs": 1},
    }
    results = rl.main(
        [
            "--methods",
            "ppo,sac,recurrent_ppo,ppo_dummy",
            "--env-id",
            PM,
            "--env-kwargs",
            json.dumps(SHORT),
            "--budget-steps",
            "256",
            "--eval-every",
            "256",
            "--n-envs",
            "8",
            "--overrides",
            json.dumps(over),
        ]
    )
    out = capsys.readouterr().out
    assert [r["method"] for r in results] == ["ppo", "sac", "recurrent_ppo", "ppo_dummy"]
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| method")]
    assert [row.split(" | ")[0][2:] for row in rows] == ["ppo", "sac", "recurrent_ppo", "ppo_dummy"]
    assert all(r["env_steps"] >= 256 for r in results)


def test_table_ratio_is_time_over_ppos_at_each_threshold():
    def res(method, times):
        return {
            "method": method,
            "n_envs": 8,
            "steps_to": {3.0: 10, 1.5: 20 if times[1] else None},
            "time_to": {3.0: times[0], 1.5: times[1]},
            "final_error_cm": 1.0,
            "best_error_cm": 1.0,
            "fps": 400.0 if method == "ppo" else 100.0,
        }

    text = rl.table([res("ppo", (10.0, 40.0)), res("ppo_dummy", (25.0, None))])
    ppo_row, dummy_row = text.splitlines()[2:]
    assert ppo_row.endswith("| 400 | 1.00x | 1.00x, 1.00x |") and dummy_row.endswith(
        "| 100 | 0.25x | -, 2.50x |"
    )
    assert "not reached" in dummy_row
