"""The compiled fast path of the engine step: ``torch.compile`` with a no-compiler fallback (torch only).

The reference MotorNet is bound by op dispatch, not arithmetic (an arm26 step is under ~1k flops per
environment); fusing the whole step into one inductor kernel set removes the dispatch cost. Every
function compiled here is compiled once per process with ``fullgraph=True`` (a graph break is an
error, never a silent fallback) and ``dynamic=False`` (kernels specialised to the batch size, which
is fixed for a simulator's life). Compiled code is cached per code object, so simulators of the same
id, batch size, dtype and device share one compilation; inductor's on-disk cache makes later
processes start faster.

Two compiled forms serve two uses:

* :func:`compile_step` (``torch.compile``): guarded, differentiable; the rollout and the backprop
  trainer step through it with gradients.
* :func:`freeze` (trace once with ``make_fx`` on fake tensors, then inductor): a fixed-signature
  inference step over a flat list of tensors, with the simulator's constants baked in and, on the
  CPU, inductor's C++ wrapper, called directly (without AOTAutograd's runtime wrappers, see
  :func:`_inductor_compile`). No guards, no autograd wrapper, no per-output Python: ~4 us of call
  overhead instead of ~16 us plus ~1 us per input and output, which is most of a batch-1 step. The
  front ends (Gymnasium, SB3) step through it.

Inductor needs a C++ compiler on the CPU and Triton on CUDA. :func:`compiler_problem` checks for
them cheaply (no compilation); when one is missing, :func:`compile_step` warns once per process and
returns ``None``, and the engine runs eagerly.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch

from ..dynamics import Effector, EffectorState

__all__ = [
    "PARALLEL_MIN_BATCH",
    "RECOMPILE_LIMIT",
    "any_requires_grad",
    "compile_step",
    "compiler_problem",
    "distinct_leaves",
    "flatten",
    "freeze",
    "ministep",
    "tree_spec",
    "unflatten",
    "with_grad",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Compiled variants allowed per step function (ids x batch sizes x dtypes x devices x grad
#: patterns of one process); beyond it ``fullgraph=True`` raises instead of falling back.
RECOMPILE_LIMIT = 64

# Inductor options: no per-call size/stride asserts on the inputs (they cost ~0.4 us per input,
# a third of the call overhead at B = 1; shapes are fixed by the simulator and checked at its
# boundary).
_OPTIONS = {"size_asserts": False}

#: Smallest batch whose CPU kernels are multi-threaded (``torch.get_num_threads()`` OpenMP threads).
#: Below it the kernels are single-threaded: each kernel of a step touches a few numbers per
#: environment, so at small batches an OpenMP fork/join per kernel costs more than it saves, and
#: on busy cores spinning OpenMP workers are far worse (with two torch threads on two shared cores
#: both the eager and the compiled B = 64 rollout ran ~25-75x slower than with one).
PARALLEL_MIN_BATCH = 4096

#: Below this batch the frozen step computes concatenations (stacked vectors, delay lines, packed
#: outputs) inside the fused loops instead of into separate buffers, each of which costs a
#: host-side allocation per call. Measured, arm26 step through :meth:`Simulator.step_packed`, one
#: thread: B = 1 14.2 us instead of 17.9 us; B = 4 no gain; B = 16 44 us instead of 22 us, and
#: B = 1024 192 us instead of 104 us (the recomputation costs more than the buffers).
POINTWISE_CAT_MAX_BATCH = 2

#: Below this batch the frozen CPU step lets inductor plan its buffers into one pool (its
#: ``memory_planning``: one allocation per call instead of one per buffer). Measured, arm26
#: :meth:`Simulator.step_packed`, one thread (us, without / with): B = 1 17.9 / 16.4, B = 64 33.4 /
#: 33.3, B = 1024 153 / 155.
MEMORY_PLANNING_MAX_BATCH = 64

_warned = False
_warned_freeze = False


def compiler_problem(device: torch.device | str) -> str | None:
    """Why the compiled path cannot run on ``device``, or ``None`` if it can.

    CPU: the C++ compiler inductor is configured with (``torch._inductor.config.cpp.cxx``, i.e.
    ``$CXX`` or ``g++``) must be on the ``PATH``. CUDA: Triton must be importable. Cheap: looks
    the executables up, compiles nothing.
    """
    dev = torch.device(device)
    if dev.type == "cpu":
        from torch._inductor import config

        cxx = config.cpp.cxx
        names = [c for c in (cxx if isinstance(cxx, (tuple, list)) else (cxx,)) if c]
        if os.name == "nt":
            names = [os.environ.get("CXX", "cl")]
        if not any(shutil.which(str(n)) for n in names):
            return f"no C++ compiler found for torch.compile's CPU backend (looked for {names}; set CXX)"
        return None
    if dev.type == "cuda":
        from torch.utils._triton import has_triton

        return None if has_triton() else "Triton is not installed (torch.compile needs it on CUDA)"
    return f"torch.compile's inductor backend does not support device type {dev.type!r}"


def _usable(device: torch.device | str) -> bool:
    """Whether a compiler for ``device`` is present; warns once per process when it is not."""
    global _warned
    problem = compiler_problem(device)
    if problem is not None:
        if not _warned:
            _warned = True
            warnings.warn(
                f"compile=True or 'auto': {problem}; the simulator runs eagerly (same results, slower). "
                "This warning is shown once per process.",
                RuntimeWarning,
                stacklevel=4,
            )
        return False
    return True


def compile_step(fn: F, device: torch.device | str, batch_size: int) -> F | None:
    """``torch.compile(fn, fullgraph=True, dynamic=False)``, or ``None`` (with one warning) if unusable.

    Args:
        fn: A pure function of tensors (and constants reached through its arguments).
        device: Where it will run; decides which compiler must be present.
        batch_size: The batch it will run on (CPU kernels are single-threaded below
            :data:`PARALLEL_MIN_BATCH`).

    Returns:
        The compiled function, or ``None`` when :func:`compiler_problem` finds no compiler; the
        first such call per process emits a ``RuntimeWarning`` naming the problem.
    """
    if not _usable(device):
        return None
    options: dict[str, Any] = dict(_OPTIONS)
    if torch.device(device).type == "cpu" and batch_size < PARALLEL_MIN_BATCH:
        options["cpp.threads"] = 1
    return torch.compile(  # type: ignore[return-value]
        fn, fullgraph=True, dynamic=False, options=options, recompile_limit=RECOMPILE_LIMIT
    )


def ministep(
    effector: Effector,
    state: EffectorState,
    excitation: torch.Tensor,
    endpoint_load: torch.Tensor,
    joint_load: torch.Tensor,
) -> EffectorState:
    """One integration sub-step, as :meth:`Effector.step_unchecked` takes it.

    Compiled on its own for effectors whose whole step is too long to unroll into one graph.
    """
    return effector.integrator.step(effector, state, excitation, endpoint_load, joint_load, effector.minidt)


def any_requires_grad(tree: Any) -> bool:
    """Whether any tensor of a (nested) NamedTuple requires grad."""
    return any(t.requires_grad for t in flatten(tree))


def distinct_leaves(tree: F) -> F:
    """A (nested) NamedTuple with every tensor a distinct object (a repeated one is cloned).

    Compiled code guards on input aliasing (``a is b``): a state holding one tensor twice (a reset
    state's task ``joint_pos`` is its effector's) would compile a second graph for the states
    stepped from it, which hold no repeats.
    """
    seen: set[int] = set()

    def visit(t: Any) -> Any:
        if isinstance(t, torch.Tensor):
            if id(t) in seen:
                return t.clone()
            seen.add(id(t))
            return t
        return type(t)(*(visit(x) for x in t))

    return visit(tree)


def with_grad(tree: F) -> F:
    """A (nested) NamedTuple whose tensors all require grad.

    A tensor that does not yet (a reset state; gradients reach some state fields only a few steps
    after the first action) is replaced by a new leaf view of it that does. Compiled graphs are
    specialised on which inputs require grad; feeding a fixed pattern makes one graph serve every
    step of a differentiable rollout.
    """
    if isinstance(tree, torch.Tensor):
        return tree if tree.requires_grad else tree.detach().requires_grad_(True)  # type: ignore[return-value]
    return type(tree)(*(with_grad(t) for t in tree))


# ---------------------------------------------------------------------- frozen inference step
TreeSpec = Any  # None for a tensor leaf, (type, (child specs...)) for a NamedTuple / tuple


def tree_spec(tree: Any) -> TreeSpec:
    """The structure of a (nested) NamedTuple of tensors, for :func:`flatten` / :func:`unflatten`."""
    if tree is None or isinstance(tree, torch.Tensor):
        return None
    return (type(tree), tuple(tree_spec(t) for t in tree))


def flatten(tree: Any) -> list[torch.Tensor]:
    """The tensors of a (nested) NamedTuple, depth first (the order :func:`unflatten` expects)."""
    if isinstance(tree, torch.Tensor):
        return [tree]
    out: list[torch.Tensor] = []
    for t in tree:
        out.extend(flatten(t))
    return out


def unflatten(spec: TreeSpec, leaves: Sequence[torch.Tensor]) -> Any:
    """Rebuild the tree of ``spec`` from its :func:`flatten`-ed leaves."""
    it = iter(leaves)

    def build(s: TreeSpec) -> Any:
        if s is None:
            return next(it)
        cls, children = s
        return cls(*(build(c) for c in children))

    return build(spec)


def _inductor_compile(graph: torch.fx.GraphModule, example: list[torch.Tensor]) -> Callable[..., Any]:
    """Inductor on a traced inference graph, called without AOTAutograd's runtime wrappers.

    ``compile_fx`` wraps inductor's compiled graph in AOTAutograd's runtime (a dynamo ``disable``
    frame, the runtime wrapper, output-alias replay), ~2 us of Python per call at B = 1. The frozen
    step needs none of it (no autograd, no input mutation), so the compiled graph is found inside
    the wrapper (:func:`_compiled_graph`; AOTAutograd's and inductor's caches both still apply) and
    called directly with the graph's lifted constants prepended, as AOTAutograd lifts them
    (parameters, then buffers). Whether that call is the wrapped one's equal is checked here on
    ``example``, output by output (values, and which outputs are inputs returned as they are); on any
    difference, or if no single compiled graph is found, the wrapped function is returned.
    """
    from torch._inductor.compile_fx import compile_fx

    wrapped = compile_fx(graph, example)
    compiled = _compiled_graph(wrapped)
    if compiled is None:
        return wrapped
    consts = [*graph.parameters(), *graph.buffers()]

    def call(*args: torch.Tensor) -> Any:
        return compiled([*consts, *args])

    return call if _same_outputs(wrapped, call, example) else wrapped


def _compiled_graph(fn: Any) -> Any:
    """The one inductor ``OutputCode`` reachable from ``fn``'s closures, or ``None`` (none, or several)."""
    from torch._inductor.output_code import OutputCode

    found: list[Any] = []
    seen: set[int] = set()

    def visit(obj: Any, depth: int) -> None:
        if id(obj) in seen or depth > 10:
            return
        seen.add(id(obj))
        if isinstance(obj, OutputCode):
            if all(obj is not f for f in found):
                found.append(obj)
            return
        kids = [c.cell_contents for c in (getattr(obj, "__closure__", None) or ()) if _filled(c)]
        kids += [getattr(obj, a) for a in ("__wrapped__", "__self__") if hasattr(obj, a)]
        if isinstance(obj, (list, tuple)):
            kids += list(obj)
        for kid in kids:
            if callable(kid) or isinstance(kid, (list, tuple, OutputCode)):
                visit(kid, depth + 1)

    visit(fn, 0)
    return found[0] if len(found) == 1 else None


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018  (an empty cell raises)
    except ValueError:
        return False
    return True


def _same_outputs(a: Callable[..., Any], b: Callable[..., Any], example: Sequence[torch.Tensor]) -> bool:
    """Whether ``a`` and ``b`` give equal outputs on ``example``, aliasing the same inputs."""
    with torch.no_grad():
        out_a = a(*example)
        try:
            out_b = b(*example)
        except Exception:  # noqa: BLE001  (a wrong call of the compiled graph: keep the wrapper)
            return False
    if len(out_a) != len(out_b):
        return False
    ids = {id(t): i for i, t in enumerate(example)}
    for x, y in zip(out_a, out_b, strict=True):
        if ids.get(id(x)) != ids.get(id(y)) or x.shape != y.shape or x.dtype != y.dtype:
            return False
        if not torch.equal(x, y) and not (x.is_floating_point() and torch.allclose(x, y, equal_nan=True)):
            return False
    return True


def freeze(
    fn: Callable[..., Sequence[torch.Tensor]],
    example: Sequence[torch.Tensor],
    device: torch.device | str,
    batch_size: int,
) -> Callable[..., Sequence[torch.Tensor]] | None:
    """Compile ``fn(*tensors) -> tensors`` once, for inference, with a fixed signature.

    ``fn`` is traced with ``make_fx`` on fake tensors shaped like ``example`` (so a Python branch on
    a tensor value raises here, as a graph break does under ``torch.compile(fullgraph=True)``);
    tensors ``fn`` reaches through closures (module buffers) become constants of the graph, which
    inductor then compiles (on the CPU with its C++ wrapper, so the call itself is C++). The result
    takes exactly ``len(example)`` tensors of the example's shapes, dtypes and devices (unchecked:
    the caller's boundary checks them) and returns fresh tensors, or the inputs themselves for
    outputs that ``fn`` returns unchanged. Gradients do not flow through it.

    Returns:
        The compiled function; ``None`` when :func:`compiler_problem` finds no compiler (one warning
        per process, see :func:`compile_step`) or inductor fails on the traced graph (one warning
        per process naming the error; callers then use :func:`compile_step`).

    Raises:
        Whatever tracing raises: a data-dependent branch or ``.item()`` in ``fn`` is an error.
    """
    global _warned_freeze
    if not _usable(device):
        return None
    from torch._inductor import config
    from torch.fx.experimental.proxy_tensor import make_fx

    with torch.no_grad():
        graph = make_fx(fn, tracing_mode="fake", _allow_non_fake_inputs=True)(*example)
        options: dict[str, Any] = dict(_OPTIONS)
        if torch.device(device).type == "cpu":
            options["cpp_wrapper"] = True
            if batch_size < PARALLEL_MIN_BATCH:
                options["cpp.threads"] = 1
            if batch_size < MEMORY_PLANNING_MAX_BATCH:
                options["memory_planning"] = True
        if batch_size < POINTWISE_CAT_MAX_BATCH:
            options["force_pointwise_cat"] = True
        try:
            with config.patch(options):
                return _inductor_compile(graph, list(example))
        except Exception as err:  # noqa: BLE001  (private inductor entry point: degrade, don't fail)
            if not _warned_freeze:
                _warned_freeze = True
                warnings.warn(
                    f"compile=True: inductor could not compile the frozen inference step "
                    f"({type(err).__name__}: {err}); stepping through torch.compile instead (same "
                    "results, more call overhead). This warning is shown once per process.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return None
