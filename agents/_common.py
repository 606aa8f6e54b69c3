"""Shared plumbing of the training scripts: typed configs (:mod:`agents._cli`), logging, signals, run folders.

Uses the public API of motornet_gym only.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agents import _cli as cli


# ----------------------------------------------------------------------------- configuration
def parse_config(cls: type, argv: list[str] | None = None, description: str | None = None) -> Any:
    """Build a frozen config dataclass from command-line flags (``--field-name value``), with tyro.

    Why tyro (:mod:`agents._cli`): maintained, dataclass-native (types, defaults and field help
    from the docstring), used by CleanRL. On top of tyro's defaults:

    * ``--config PATH``: defaults from a YAML file (:func:`agents._cli.load_config_file`); flags win.
    * Dict fields take JSON (``--env-kwargs '{"vision_delay": 0.05}'``); optional fields take
      ``none``; booleans (also ``bool | None``) take ``--flag`` / ``--no-flag``.
    * Unknown flags and abbreviations (``--n-se`` for ``--n-seeds``) are refused: an abbreviation
      would silently lose against a preset.
    * The dataclass's own validation errors exit like any bad flag: status 2 and
      ``error: argument --field-name: <message>``.

    Args:
        cls: A frozen dataclass; every field has a default.
        argv: Arguments without the program name (None: ``sys.argv[1:]``).
        description: First line of the help (None: the first line of the class docstring).

    Returns:
        An instance of ``cls``.
    """
    import tyro

    prog = cli.prog()
    args = list(sys.argv[1:] if argv is None else argv)
    default = tyro.MISSING_NONPROP
    try:
        path, args = cli.split_config_flag(args)
        if path is not None:
            default = cli.default_from_file(cls, path)
    except ValueError as e:
        cli.fail(prog, f"argument {cli.CONFIG_FLAG}: {e}")
    unknown = cli.unknown_flags(cls, args)
    if unknown:
        cli.fail(prog, f"unrecognized arguments: {' '.join(unknown)} (see {prog} --help; no abbreviations)")
    head = description or (cls.__doc__ or "").strip().splitlines()[0]
    try:
        return tyro.cli(
            cls,
            args=args,
            prog=prog,
            description=f"{head}\n{cli.CONFIG_FLAG} PATH loads defaults from a YAML file; flags win.",
            default=default,
            registry=cli.registry(cls),
            config=(tyro.conf.DisallowNone,),  # `bool | None` fields become --flag / --no-flag
        )
    except cli.InvalidConfig as e:
        cli.fail(prog, cli.argument_message(cls, str(e)))


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-able dict of a config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def check_ints(config: Any, names: tuple[str, ...], minimum: int = 1, allow_none: bool = False) -> None:
    """Refuse a config field of ``names`` that is not an integer >= ``minimum`` (a bool is not one).

    Raises:
        ValueError: Naming the field, the expected range and the received value.
    """
    for name in names:
        v = getattr(config, name)
        if allow_none and v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            expected = f"an integer >= {minimum}" + (" or None" if allow_none else "")
            raise ValueError(f"{name} must be {expected}; got {v!r}")


def check_env_id(env_id: str) -> str:
    """The registered id of ``env_id`` (built-in, user-registered or ``"module:Id"``), or a clear error."""
    import motornet_gym as mg

    return mg.env_spec(env_id).id


# ----------------------------------------------------------------------------- logging
class RunLogger:
    """CSV always; TensorBoard when installed (or required); wandb when asked (offline by default).

    Args:
        out_dir: Run folder; ``progress.csv`` is appended to (so resumed runs continue it).
        config: Logged as hyper-parameters.
        tensorboard: ``None`` = use it if installed, ``True`` = required, ``False`` = off.
        wandb_mode: ``None`` (off), ``"offline"`` or ``"online"``.
        project: wandb project name.
    """

    def __init__(
        self,
        out_dir: Path,
        config: Mapping[str, Any],
        tensorboard: bool | None = None,
        wandb_mode: str | None = None,
        project: str = "motornet_gym",
    ) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.out_dir / "progress.csv"
        self._fields: list[str] | None = None
        if self.csv_path.exists() and self.csv_path.stat().st_size > 0:
            with self.csv_path.open() as f:
                self._fields = next(csv.reader(f))
        self._tb = None
        if tensorboard is not False:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                if tensorboard:
                    raise ImportError(
                        'TensorBoard logging needs tensorboard: pip install "motornet-gym[tensorboard]"'
                    ) from None
            else:
                self._tb = SummaryWriter(str(self.out_dir / "tensorboard"))
        self._wandb = None
        if wandb_mode is not None:
            if wandb_mode not in ("offline", "online"):
                raise ValueError(f"wandb mode must be 'offline' or 'online'; got {wandb_mode!r}")
            try:
                import wandb
            except ImportError:
                raise ImportError('wandb logging needs wandb: pip install "motornet-gym[wandb]"') from None
            self._wandb = wandb.init(
                project=project, mode=wandb_mode, dir=str(self.out_dir), config=dict(config), resume="allow"
            )

    def log(self, row: Mapping[str, Any], step: int) -> None:
        """Append one row; missing columns are written empty, new columns extend the header."""
        if self._fields is None:
            self._fields = list(row)
            with self.csv_path.open("w", newline="") as f:
                csv.writer(f).writerow(self._fields)
        elif any(k not in self._fields for k in row):
            self._fields += [k for k in row if k not in self._fields]
            with self.csv_path.open(newline="") as f:
                old = list(csv.reader(f))[1:]
            tmp = Path(str(self.csv_path) + ".tmp")
            with tmp.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(self._fields)
                w.writerows(r + [""] * (len(self._fields) - len(r)) for r in old)
            os.replace(tmp, self.csv_path)
        with self.csv_path.open("a", newline="") as f:
            csv.writer(f).writerow([_fmt(row.get(k, "")) for k in self._fields])
        numeric = {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        if self._tb is not None:
            for k, v in numeric.items():
                self._tb.add_scalar(k, v, step)
        if self._wandb is not None:
            self._wandb.log(numeric, step=step)

    def close(self) -> None:
        """Flush and close the optional backends."""
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def _fmt(v: Any) -> Any:
    return f"{v:.6g}" if isinstance(v, float) else v


def show_progress(progress: bool | None) -> bool:
    """Whether to draw progress bars: as asked, else only when stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else bool(progress)


class Progress:
    """A tqdm progress bar when tqdm is installed and enabled, else a line every ``every`` updates."""

    def __init__(self, total: int | None, initial: int = 0, enabled: bool = True, every: int = 50) -> None:
        self._bar = None
        self._every, self._n, self._enabled = every, initial, enabled
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=total, initial=initial, dynamic_ncols=True, file=sys.stderr)

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Advance and show ``postfix`` values."""
        self._n += n
        text = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in postfix.items()}
        if self._bar is not None:
            self._bar.update(n)
            self._bar.set_postfix(text, refresh=False)
        elif self._enabled and self._n % self._every == 0:
            line = " ".join(f"{k}={v}" for k, v in text.items())
            print(f"[{self._n}] {line}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()


# ----------------------------------------------------------------------------- signals and time
class StopFlag:
    """Set by SIGINT/SIGTERM (while installed) so the training loop can checkpoint and stop cleanly."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None

    def _handler(self, signum, frame) -> None:  # noqa: ARG002
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    @contextmanager
    def installed(self) -> Iterator[StopFlag]:
        """Install the handlers for the duration of a ``with`` block (main thread only)."""
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not in the main thread
                pass
        try:
            yield self
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)


class WallClock:
    """Wall-clock seconds of a run, continuing across resumes."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset, self._t0 = float(offset), time.perf_counter()

    def __call__(self) -> float:
        return self.offset + time.perf_counter() - self._t0


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically."""
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))
    os.replace(tmp, path)
