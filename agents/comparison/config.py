"""The comparison's configuration: :class:`CompareConfig` and its presets (``agents.protocol.PRESETS``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from agents import protocol as P
from agents._cli import given_fields
from agents._common import check_ints, show_progress
from agents.adaptation import AdaptationConfig
from motornet_gym.analysis import report

METHODS = ("backprop", "ppo", "sac", "recurrent_ppo")


@dataclass(frozen=True, kw_only=True)
class CompareConfig:
    """Configuration of a comparison run.

    Attributes:
        preset: 'quick', 'standard' or 'paper' (sets methods, n_seeds and budgets; explicit flags win).
        env_id: Evaluation task (centre-out family).
        train_env_id: Training task (same observation as env_id; the protocol adds pulses and loads).
        env_kwargs: Keyword arguments of make_simulator for every environment (noise, delays, cost).
        methods: Comma-separated methods among backprop, ppo, sac, recurrent_ppo.
        n_seeds: Seeds per method (0 .. n_seeds - 1).
        backprop_batches: Backprop training budget in gradient steps (64 episodes each).
        rl_steps: RL training budget in environment steps.
        adaptation_batches: Batches per curl-field block NF1,FF1,NF2,FF2 ('none': skip the section).
        adaptation_lr: Adam learning rate of backprop adaptation.
        rl_adaptation_steps: Environment steps per RL adaptation batch.
        point_mass_batches: Backprop batches of the point-mass controller (representation check; 0: skip).
        hidden_noise: Backprop GRU hidden-state noise (sigma_h).
        hidden_l2: Backprop hidden-activity regulariser weight.
        hidden_l2_derivative: Backprop hidden-derivative regulariser weight.
        smoke: Label the report as a smoke test (budgets too small for scientific conclusions).
        load: JSON {method: [run dir per seed]} of trained runs to evaluate instead of training.
        metrics: Comma-separated metrics of the report table (default: all report metrics).
        out_dir: Output folder (report.md, results.json, metrics.csv, figures/, trials/).
        executor: 'sequential' or 'ray' (Ray Tune, one trial per CPU).
        compile: Use the compiled simulator for backprop training.
        progress: Show progress bars (None: when stderr is a terminal).
        publish: Also write the report as <publish>/results.md with its figures in <publish>/results/.
    """

    preset: str | None = None
    env_id: str = P.EVAL_ENV_ID
    train_env_id: str = P.TRAIN_ENV_ID
    env_kwargs: dict[str, Any] = field(default_factory=lambda: dict(P.ENV_KWARGS))
    methods: str = "backprop,ppo"
    n_seeds: int = 1
    backprop_batches: int = 600
    rl_steps: int = 1_000_000
    adaptation_batches: str = "5,30,15,30"
    adaptation_lr: float = 3e-4
    rl_adaptation_steps: int = 4096
    point_mass_batches: int = 300
    hidden_noise: float = P.BACKPROP_KWARGS["hidden_noise"]
    hidden_l2: float = P.BACKPROP_KWARGS["hidden_l2"]
    hidden_l2_derivative: float = P.BACKPROP_KWARGS["hidden_l2_derivative"]
    smoke: bool = False
    load: dict[str, Any] = field(default_factory=dict)
    metrics: str = ",".join(report.REPORT_METRICS)
    out_dir: str = "runs/compare"
    executor: str = "sequential"
    compile: bool = True
    progress: bool | None = None
    publish: str | None = None

    def __post_init__(self) -> None:
        if self.preset is not None and self.preset not in P.PRESETS:
            raise ValueError(f"preset must be one of {', '.join(P.PRESETS)}; got {self.preset!r}")
        for m in self.method_list():
            if m not in METHODS:
                raise ValueError(f"methods: unknown method {m!r}; expected any of {', '.join(METHODS)}")
        if not self.method_list():
            raise ValueError(f"methods must name at least one of {', '.join(METHODS)}; got {self.methods!r}")
        for m in self.metric_list():
            if m not in report.REPORT_METRICS:
                raise ValueError(
                    f"metrics: unknown metric {m!r}; expected any of {', '.join(report.REPORT_METRICS)}"
                )
        check_ints(self, ("n_seeds", "backprop_batches", "rl_steps", "rl_adaptation_steps"))
        v = self.point_mass_batches
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"point_mass_batches must be an integer >= 0 (0: skip); got {v!r}")
        if not (isinstance(self.adaptation_lr, (int, float)) and self.adaptation_lr > 0):
            raise ValueError(f"adaptation_lr must be a number > 0; got {self.adaptation_lr!r}")
        for name in ("hidden_noise", "hidden_l2", "hidden_l2_derivative"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0; got {v!r}")
        self.adaptation()  # parses and validates adaptation_batches
        if self.executor not in ("sequential", "ray"):
            raise ValueError(f"executor must be 'sequential' or 'ray'; got {self.executor!r}")
        for m, dirs in self.load.items():
            if m not in METHODS:
                raise ValueError(f"load: unknown method {m!r}; expected any of {', '.join(METHODS)}")
            if not isinstance(dirs, list) or len(dirs) < self.n_seeds:
                raise ValueError(f"load[{m!r}] must list one run dir per seed ({self.n_seeds}); got {dirs!r}")

    def method_list(self) -> list[str]:
        """The selected methods, in order."""
        return [m.strip() for m in self.methods.split(",") if m.strip()]

    def metric_list(self) -> list[str]:
        """The selected report metrics, in order."""
        return [m.strip() for m in self.metrics.split(",") if m.strip()]

    def adaptation(self) -> AdaptationConfig | None:
        """The curl-field block design, or None when ``adaptation_batches`` is 'none'."""
        text = str(self.adaptation_batches).strip().lower()
        if text == "none":
            return None
        try:
            batches = tuple(int(x) for x in text.split(","))
        except ValueError:
            batches = ()
        if len(batches) != 4 or min(batches) < 1:
            raise ValueError(
                "adaptation_batches must be four integers >= 1 for the blocks NF1,FF1,NF2,FF2 "
                f"(or 'none'); got {self.adaptation_batches!r}"
            )
        return AdaptationConfig(
            batches=batches, lr=self.adaptation_lr, rl_chunk_steps=self.rl_adaptation_steps
        )

    def show_progress(self) -> bool:
        """Progress bars: as configured, else when stderr is a terminal."""
        return show_progress(self.progress)

    def backprop_regularisers(self) -> dict[str, float]:
        """The backprop regulariser weights by name."""
        return {"hidden_l2": self.hidden_l2, "hidden_l2_derivative": self.hidden_l2_derivative}


def with_preset(config: CompareConfig, argv: list[str] | None) -> CompareConfig:
    """Apply ``config.preset``, keeping the values given explicitly (a flag or a ``--config`` file entry)."""
    if config.preset is None:
        return config
    given = given_fields(CompareConfig, argv)
    values = {k: v for k, v in P.PRESETS[config.preset].items() if k not in given}
    return dataclasses.replace(config, **values)
