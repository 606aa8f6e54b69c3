"""What a reset draws: seed checks and the ``"trial"`` option of the evaluation suite (torch only).

Used by :class:`~motornet_gym.engine.Simulator` at reset; the task (:meth:`Task.sample_initial`)
knows whole evaluation suites only, so picking one trial of it happens here.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..tasks import Task, TaskState

__all__ = ["cat_rows", "check_seed", "sample_rows", "sample_task", "where_rows"]


def _is_seed(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= 0


def check_seed(seed: Any, batch_size: int) -> int | tuple[int | None, ...] | None:
    """Validate a reset seed: None, one int >= 0, or one int (or None) per episode.

    Returns:
        ``None`` or an ``int`` (one seed for the batch), or a tuple of ``batch_size`` seeds (a
        sequence whose entries are all None is returned as ``None``).

    Raises:
        ValueError: Naming the expected forms and the value received.
    """
    if seed is None:
        return None
    if _is_seed(seed):
        return int(seed)
    if isinstance(seed, Sequence) and not isinstance(seed, str):
        seeds = tuple(seed)
        if len(seeds) == batch_size and all(s is None or _is_seed(s) for s in seeds):
            if all(s is None for s in seeds):
                return None
            return tuple(None if s is None else int(s) for s in seeds)
    raise ValueError(
        f"seed must be an integer >= 0 or None; got {seed!r} (or a sequence of {batch_size} such "
        "seeds, one per episode)"
    )


def sample_task(
    task: Task, batch_size: int, generator: torch.Generator, options: Mapping[str, Any] | None
) -> TaskState:
    """:meth:`Task.sample_initial`, plus ``options["trial"]``: one trial of the evaluation suite.

    ``{"suite": "eval", "trial": k}`` gives every episode of the batch trial ``k`` (an integer in
    ``[0, task.eval_size)``) of the suite; the other options then apply to the whole suite, so give
    them unbatched (``(D,)``, ``(2,)``, a scalar ``go_time``) or with one row.

    Raises:
        ValueError: On a bad ``trial`` (naming the range and the value), a ``trial`` without
            ``suite='eval'``, or a batch size that does not fit the suite without a ``trial``.
    """
    n = task.eval_size
    if not options or "trial" not in options:
        if options and options.get("suite") == "eval" and batch_size % n:
            raise ValueError(
                f"batch_size must be a multiple of the evaluation suite size {n} for "
                f"options['suite']='eval' (the suite is tiled), or options['trial'] in [0, {n - 1}] "
                f"picks one trial of it; got {batch_size}"
            )
        return task.sample_initial(batch_size, generator, options)
    rest = {key: value for key, value in options.items() if key != "trial"}
    trial = options["trial"]
    if rest.get("suite") != "eval":
        raise ValueError(
            "options['trial'] selects a trial of the evaluation suite and needs options['suite']='eval'; "
            f"got options['suite']={rest.get('suite', 'train')!r}"
        )
    if not _is_seed(trial) or trial >= n:
        raise ValueError(
            f"options['trial'] must be an integer in [0, {n - 1}] (the evaluation suite of "
            f"{type(task).__name__} has {n} trials); got {trial!r}"
        )
    suite = task.sample_initial(n, generator, rest)
    k = int(trial)
    return _rows(suite, k, batch_size)


def _rows(tree: Any, k: int, batch_size: int) -> Any:
    """Row ``k`` of every leaf of a NamedTuple of ``(N, ...)`` tensors, repeated ``batch_size`` times."""
    if isinstance(tree, torch.Tensor):
        return tree[k : k + 1].expand(batch_size, *tree.shape[1:]).clone()
    return type(tree)(*(_rows(t, k, batch_size) for t in tree))


def where_rows(mask: torch.Tensor, new: Any, old: Any) -> Any:
    """Select ``new`` where ``mask`` ``(B,)`` is True, ``old`` elsewhere, over nested NamedTuples."""
    if isinstance(new, torch.Tensor):
        return torch.where(mask.view((-1,) + (1,) * (new.dim() - 1)), new, old)
    return type(new)(**{k: where_rows(mask, n, getattr(old, k)) for k, n in new._asdict().items()})


def cat_rows(trees: list[Any]) -> Any:
    """Concatenate NamedTuples of ``(1, ...)`` tensors (or ``None`` leaves) along the batch."""
    first = trees[0]
    if first is None:
        return None
    if isinstance(first, torch.Tensor):
        return torch.cat(trees)
    return type(first)(**{k: cat_rows([getattr(t, k) for t in trees]) for k in first._fields})


def sample_rows(
    sim: Any, seeds: tuple[int | None, ...], options: Mapping[str, Any] | None
) -> tuple[Any, Any]:
    """Task states and noise of a batch whose row ``i`` draws what a batch-1 reset seeded ``seeds[i]`` draws.

    ``None`` seeds continue the stream of ``sim``'s generator (left where the last row's draw left it).
    """
    rows = []
    for s in seeds:
        if s is not None:
            sim.generator.manual_seed(s)
        row = sample_task(sim.task, 1, sim.generator, options)
        sim.effector.check_joint_pos(row.joint_pos)
        rows.append((row, sim.draw_noise(1)))
    return cat_rows([r for r, _ in rows]), cat_rows([n for _, n in rows])
