"""Shared plumbing of the training scripts: typed CLI configs, logging, signals, run folders.

Uses the public API of motornet_gym only.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
import signal
import sys
import time
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# ----------------------------------------------------------------------------- typed CLI
#: The flag that loads defaults from a YAML file (not a config field: removed before tyro parses).
CONFIG_FLAG = "--config"


class _InvalidConfig(Exception):
    """A config dataclass refused its values (raised past tyro, which would box-wrap the message)."""


def _optional_base(hint: Any) -> Any:
    """``T`` of a hint ``T | None`` (None for any other hint)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
        return next(a for a in args if a is not type(None))
    return None


def _is_dict(hint: Any) -> bool:
    return hint is dict or typing.get_origin(hint) in (dict, Mapping)


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _flags(cls: type) -> set[str]:
    """Every flag a config class accepts: ``--field-name``, plus ``--no-field-name`` for booleans."""
    out = {"-h", "--help"}
    for name, hint in typing.get_type_hints(cls).items():
        if name not in {f.name for f in dataclasses.fields(cls)}:
            continue
        out.add(f"--{_kebab(name)}")
        if hint is bool or _optional_base(hint) is bool:
            out.add(f"--no-{_kebab(name)}")
    return out


def _json_dict(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object such as '{{\"vision_delay\": 0.05}}'; got {text!r}")
    return value


def _registry(cls: type, tyro: Any) -> Any:
    """Rules of tyro for the scripts' configs: JSON dicts, ``none``, validation errors raised past tyro."""
    from tyro.constructors import ConstructorRegistry, PrimitiveConstructorSpec

    registry = ConstructorRegistry()

    @registry.primitive_rule
    def json_dict(info: Any) -> Any:
        if not _is_dict(info.type):
            return None
        return PrimitiveConstructorSpec(
            nargs=1,
            metavar="JSON",
            instance_from_str=lambda args: _json_dict(args[0]),
            is_instance=lambda v: isinstance(v, dict),
            str_from_instance=lambda v: [json.dumps(v)],
        )

    @registry.primitive_rule
    def optional_scalar(info: Any) -> Any:  # 'none' in any case, as the YAML and JSON spellings
        base = _optional_base(info.type)
        if base not in (int, float, str):
            return None

        def parse(args: list[str], base: type = base) -> Any:
            return None if args[0].lower() == "none" else base(args[0])

        return PrimitiveConstructorSpec(
            nargs=1,
            metavar=f"{base.__name__.upper()}|none",
            instance_from_str=parse,
            is_instance=lambda v, base=base: v is None or isinstance(v, base),
            str_from_instance=lambda v: ["none" if v is None else str(v)],
        )

    reentered = []

    @registry.struct_rule
    def validated(info: Any) -> Any:  # the default dataclass rule, but errors leave tyro unwrapped
        if info.type is not cls or reentered:
            return None
        reentered.append(True)
        try:
            spec = ConstructorRegistry.get_struct_spec(info)
        finally:
            reentered.pop()

        def instantiate(*args: Any, **kwargs: Any) -> Any:
            try:
                return spec.instantiate(*args, **kwargs)
            except (TypeError, ValueError) as e:
                raise _InvalidConfig(str(e)) from e

        return dataclasses.replace(spec, instantiate=instantiate)

    return registry


def _prog() -> str:
    """``python -m agents.<script>`` when run as a module (the README's spelling), else the file name."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return f"python -m {spec.name}" if spec is not None else Path(sys.argv[0]).name


def _fail(prog: str, message: str) -> typing.NoReturn:
    """Exit as argparse does on bad input: usage, ``<prog>: error: <message>``, status 2."""
    print(f"usage: {prog} [-h] [OPTIONS]\n{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _argument(cls: type, message: str) -> str:
    """Prefix a validation message with the flag of the field it names first (``argument --n-batches:``)."""
    first = re.split(r"[\s:\[]", message, maxsplit=1)[0]
    names = {f.name for f in dataclasses.fields(cls)}
    if first not in names:
        return message
    return f"argument --{_kebab(first)}: {message.removeprefix(first + ': ')}"


def _split_config_flag(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """(path of ``--config PATH`` or ``--config=PATH``, the other arguments)."""
    path, rest, it = None, [], iter(argv)
    for a in it:
        if a == CONFIG_FLAG:
            path = next(it, None)
            if path is None or path.startswith("--"):
                raise ValueError(f"expected a YAML file path; got {path!r}")
        elif a.startswith(CONFIG_FLAG + "="):
            path = a.split("=", 1)[1]
        else:
            rest.append(a)
    return path, rest


def load_config_file(cls: type, path: str | Path) -> dict[str, Any]:
    """Field values of ``cls`` from a YAML mapping (keys spelled ``field_name`` or ``field-name``).

    Raises:
        ValueError: Naming the file and the key, for a missing file, a non-mapping document, an
            unknown key or a value of the wrong type.
    """
    try:
        import yaml
    except ImportError:
        raise ImportError(f'{CONFIG_FLAG} needs PyYAML: pip install "motornet-gym[sb3]"') from None
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such file {str(path)!r}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of field: value; got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in names:
            raise ValueError(f"{path}: unknown field {key!r}; expected any of {', '.join(names)}")
        hint = hints[name]
        base = _optional_base(hint) or hint
        ok = (
            (value is None and _optional_base(hint) is not None)
            or (_is_dict(base) and isinstance(value, dict))
            or (base is bool and isinstance(value, bool))
            or (base is int and isinstance(value, int) and not isinstance(value, bool))
            or (base is float and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (base is str and isinstance(value, str))
        )
        if not ok:
            expected = getattr(base, "__name__", str(base)) + (" or null" if _optional_base(hint) else "")
            raise ValueError(f"{path}: {name} must be {expected}; got {value!r}")
        out[name] = float(value) if base is float and value is not None else value
    return out


def given_fields(cls: type, argv: Sequence[str] | None = None) -> set[str]:
    """Names of the fields set explicitly: by a flag (``--x``, ``--no-x``) or in the ``--config`` file."""
    args = list(sys.argv[1:] if argv is None else argv)
    path, args = _split_config_flag(args)
    given = {a.split("=")[0][2:].replace("-", "_") for a in args if a.startswith("--")}
    given |= {g.removeprefix("no_") for g in given}
    if path is not None:
        given |= set(load_config_file(cls, path))
    return given


def parse_config(cls: type, argv: list[str] | None = None, description: str | None = None) -> Any:
    """Build a frozen config dataclass from command-line flags (``--field-name value``), with tyro.

    Why tyro: it is maintained, builds the parser from the dataclass itself (types, defaults, and
    the field help from the ``Attributes:`` docstring section) and is what CleanRL's scripts use,
    so the scripts keep no parser code of their own. On top of tyro's defaults:

    * ``--config PATH``: defaults from a YAML file (:func:`load_config_file`); flags win.
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

    prog = _prog()
    args = list(sys.argv[1:] if argv is None else argv)
    default = tyro.MISSING_NONPROP
    try:
        path, args = _split_config_flag(args)
        if path is not None:
            values = load_config_file(cls, path)
            try:
                default = cls(**values)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path}: {e}") from e
    except ValueError as e:
        _fail(prog, f"argument {CONFIG_FLAG}: {e}")
    known = _flags(cls)
    unknown = [a for a in args if a.startswith("-") and a.split("=")[0] not in known and not _number(a)]
    if unknown:
        _fail(prog, f"unrecognized arguments: {' '.join(unknown)} (see {prog} --help; no abbreviations)")
    head = description or (cls.__doc__ or "").strip().splitlines()[0]
    try:
        return tyro.cli(
            cls,
            args=args,
            prog=prog,
            description=f"{head}\n{CONFIG_FLAG} PATH loads defaults from a YAML file; flags win.",
            default=default,
            registry=_registry(cls, tyro),
            config=(tyro.conf.DisallowNone,),  # `bool | None` fields become --flag / --no-flag
        )
    except _InvalidConfig as e:
        _fail(prog, _argument(cls, str(e)))


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-able dict of a config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def check_env_id(env_id: str) -> str:
    """Raise a clear error (before any training) if ``env_id`` is not registered."""
    import motornet_gym as mg

    key = str(env_id).removeprefix("motornet_gym:")
    if key not in mg.ENV_IDS:
        raise ValueError(f"unknown env_id {env_id!r}; expected one of {', '.join(mg.ENV_IDS)}")
    return key


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
