"""Policies for training by backprop through the simulation (plain ``torch.nn`` modules).

Protocol shared by every policy (and accepted by :func:`motornet_gym.rollout`):
``policy(obs (B, O), hidden) -> (action (B, A), hidden)`` and
``policy.initial_hidden(batch_size) -> hidden`` (a tensor ``(B, H)``, or ``None`` if stateless).
Actions are muscle excitations in (0, 1) (sigmoid read-out).
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from .io import atomic_save, safe_load


@runtime_checkable
class Policy(Protocol):
    """What :func:`motornet_gym.rollout` needs from a policy."""

    def __call__(
        self, obs: torch.Tensor, hidden: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One time step: ``(obs (B, O), hidden) -> (action (B, A), hidden)``."""
        ...

    def initial_hidden(self, batch_size: int) -> torch.Tensor | None:
        """Hidden state at the start of an episode (``None`` for stateless policies)."""
        ...


def _check_sizes(**sizes: int) -> None:
    for name, v in sizes.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")


class GRUPolicy(nn.Module):
    """One GRU layer and a sigmoid read-out, as MotorNet's ``PolicyGRU`` (Codol et al. 2024).

    Initialisation as the reference: input weights Xavier-uniform, recurrent weights orthogonal,
    GRU biases 0, read-out weight Xavier-uniform and read-out bias ``-5`` so that the initial
    excitation is ``sigmoid(-5) ~ 0.0067`` (near rest).

    Hidden-state noise (``hidden_noise`` > 0): in training mode (``policy.train()``) each step adds
    i.i.d. Gaussian noise of that standard deviation to the new hidden state before the read-out, a
    model of neural noise that makes the network learn to correct its own variability (the
    protocol of trained-RNN motor-control studies, e.g. Kalidindi et al. 2021,
    doi:10.7554/eLife.67256; Codol et al. 2024). It draws from torch's global generator (seeded by
    the trainer) and is off in ``eval()`` mode, which :func:`motornet_gym.analysis.evaluate` sets.

    Args:
        obs_size: Observation size ``O``.
        action_size: Number of muscles ``A``.
        hidden_size: GRU units ``H``.
        readout_bias: Initial read-out bias.
        hidden_noise: Standard deviation of the training-time hidden-state noise (>= 0).
    """

    def __init__(
        self,
        obs_size: int,
        action_size: int,
        hidden_size: int = 128,
        readout_bias: float = -5.0,
        hidden_noise: float = 0.0,
    ):
        super().__init__()
        _check_sizes(obs_size=obs_size, action_size=action_size, hidden_size=hidden_size)
        ok = isinstance(hidden_noise, (int, float)) and not isinstance(hidden_noise, bool)
        if not (ok and 0 <= float(hidden_noise) < float("inf")):
            raise ValueError(f"hidden_noise must be a finite number >= 0; got {hidden_noise!r}")
        self.obs_size, self.action_size, self.hidden_size = obs_size, action_size, hidden_size
        self.hidden_noise = float(hidden_noise)
        self.gru = nn.GRUCell(obs_size, hidden_size)
        self.readout = nn.Linear(hidden_size, action_size)
        h = hidden_size
        for i in range(3):  # GRUCell stacks the reset, update and new gates
            nn.init.xavier_uniform_(self.gru.weight_ih[i * h : (i + 1) * h])
            nn.init.orthogonal_(self.gru.weight_hh[i * h : (i + 1) * h])
        nn.init.zeros_(self.gru.bias_ih)
        nn.init.zeros_(self.gru.bias_hh)
        nn.init.xavier_uniform_(self.readout.weight)
        nn.init.constant_(self.readout.bias, readout_bias)

    def initial_hidden(self, batch_size: int) -> torch.Tensor:
        """Zeros ``(B, H)`` on the policy's device and dtype."""
        w = self.readout.weight
        return torch.zeros(batch_size, self.hidden_size, dtype=w.dtype, device=w.device)

    def forward(self, obs: torch.Tensor, hidden: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step: ``obs (B, O)``, ``hidden (B, H)`` -> ``(action (B, A), hidden (B, H))``."""
        if hidden is None:
            hidden = self.initial_hidden(obs.shape[0])
        h = self.gru(obs, hidden)
        if self.training and self.hidden_noise > 0:
            h = h + self.hidden_noise * torch.randn_like(h)
        return torch.sigmoid(self.readout(h)), h


class MLPPolicy(nn.Module):
    """Feed-forward policy: ``tanh`` hidden layers and a sigmoid read-out; stateless (hidden is ``None``).

    Args:
        obs_size: Observation size ``O``.
        action_size: Number of muscles ``A``.
        hidden_sizes: Widths of the hidden layers.
        readout_bias: Initial read-out bias (``-5``: near-rest initial excitation).
    """

    def __init__(
        self,
        obs_size: int,
        action_size: int,
        hidden_sizes: tuple[int, ...] = (128, 128),
        readout_bias: float = -5.0,
    ):
        super().__init__()
        _check_sizes(obs_size=obs_size, action_size=action_size)
        for i, w in enumerate(hidden_sizes):
            _check_sizes(**{f"hidden_sizes[{i}]": w})
        self.obs_size, self.action_size = obs_size, action_size
        layers: list[nn.Module] = []
        width = obs_size
        for w in hidden_sizes:
            layers += [nn.Linear(width, w), nn.Tanh()]
            width = w
        self.body = nn.Sequential(*layers)
        self.readout = nn.Linear(width, action_size)
        nn.init.constant_(self.readout.bias, readout_bias)

    def initial_hidden(self, batch_size: int) -> None:
        """Stateless: ``None``."""
        return None

    def forward(self, obs: torch.Tensor, hidden: None = None) -> tuple[torch.Tensor, None]:
        """``obs (B, O)`` -> ``(action (B, A), None)``."""
        return torch.sigmoid(self.readout(self.body(obs))), None


#: Policy classes that :func:`load_policy` can rebuild, by name.
POLICY_CLASSES: dict[str, type[nn.Module]] = {"GRUPolicy": GRUPolicy, "MLPPolicy": MLPPolicy}
_FORMAT = "motornet_gym.policy/1"


def policy_kwargs(policy: nn.Module) -> dict:
    """Constructor arguments that rebuild ``policy`` (for :func:`save_policy`)."""
    if isinstance(policy, GRUPolicy):
        return {
            "obs_size": policy.obs_size,
            "action_size": policy.action_size,
            "hidden_size": policy.hidden_size,
            "hidden_noise": policy.hidden_noise,
        }
    if isinstance(policy, MLPPolicy):
        widths = tuple(m.out_features for m in policy.body if isinstance(m, nn.Linear))
        return {"obs_size": policy.obs_size, "action_size": policy.action_size, "hidden_sizes": widths}
    raise TypeError(f"policy must be one of {sorted(POLICY_CLASSES)}; got {type(policy).__name__}")


def save_policy(policy: nn.Module, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Save a policy and its metadata (e.g. ``env_id``, ``env_kwargs``) atomically to ``path``.

    The file holds only tensors and plain Python values, so :func:`load_policy` reads it with
    ``torch.load(weights_only=True)``.
    """
    payload = {
        "format": _FORMAT,
        "class": type(policy).__name__,
        "kwargs": policy_kwargs(policy),
        "state_dict": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
        "metadata": dict(metadata or {}),
    }
    atomic_save(payload, path)


def load_policy(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Load a policy saved by :func:`save_policy`; returns ``(policy, metadata)``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not a readable motornet_gym policy (corrupt, truncated, other format).
    """
    payload = safe_load(path, "policy file", map_location)
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"policy file {str(path)!r} must have format {_FORMAT!r}; got {got!r}")
    cls = POLICY_CLASSES.get(payload["class"])
    if cls is None:
        raise ValueError(f"policy class must be one of {sorted(POLICY_CLASSES)}; got {payload['class']!r}")
    kwargs = dict(payload["kwargs"])
    if "hidden_sizes" in kwargs:
        kwargs["hidden_sizes"] = tuple(kwargs["hidden_sizes"])
    policy = cls(**kwargs)
    policy.load_state_dict(payload["state_dict"])
    return policy, dict(payload["metadata"])


def compile_policy(policy: nn.Module, batch_size: int = 1) -> nn.Module:
    """``policy`` with its forward compiled (``torch.compile``, one graph, fixed shapes) for rollouts.

    A GRU policy's step is a few small matrix products and a dozen pointwise ops; compiled, the
    pointwise ops fuse and a differentiable rollout records one autograd node per step for it.
    Measured (``python -m benchmarks.fast``, arm26, GRU 128, B = 64, 100 steps, forward, backward and
    Adam, one thread): 327 ms per batch with the compiled simulator alone, 274 ms with the policy
    compiled too (3.1x and 4.0x MotorNet 0.3.0 on equal work). Parameters, buffers and the
    ``training`` flag stay the module's own (save, load and evaluate the original ``policy``).
    Random ops in ``forward`` (the GRU's hidden noise) draw through inductor's generator, seeded
    from torch's global one: a run is reproducible, but its noise differs from the eager policy's.

    Args:
        policy: A torch module called as ``policy(obs, hidden)``.
        batch_size: The batch it will run on (CPU kernels are single-threaded below 4096).

    Returns:
        The compiled module (attribute access, e.g. ``initial_hidden``, reaches ``policy``), or
        ``policy`` itself when no compiler is present (one ``RuntimeWarning`` per process).
    """
    from ._compile import fastpath

    param = next(iter(policy.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    compiled = fastpath.compile_step(policy, device, batch_size)
    return policy if compiled is None else compiled  # type: ignore[return-value]
