"""The scripts' command lines, built by tyro from their config dataclasses (see ``parse_config``).

Why tyro: it is maintained, builds the parser from the dataclass itself (types, defaults, and the
field help from the ``Attributes:`` section of its docstring) and is what CleanRL's scripts use, so
the scripts keep no parser code of their own. This module holds what the scripts add to tyro's
defaults: the type rules (JSON dicts, ``none`` for optional fields), the ``--config`` YAML file, the
refusal of unknown and abbreviated flags, and argparse-style error lines. The entry point is
:func:`agents._common.parse_config`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: The flag that loads defaults from a YAML file (not a config field: removed before tyro parses).
CONFIG_FLAG = "--config"


class InvalidConfig(Exception):
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


def unknown_flags(cls: type, args: Sequence[str]) -> list[str]:
    """The flags in ``args`` that ``cls`` does not take, abbreviations included (tyro takes none either)."""
    known = {"-h", "--help"}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        known.add(f"--{_kebab(f.name)}")
        if hints[f.name] is bool or _optional_base(hints[f.name]) is bool:
            known.add(f"--no-{_kebab(f.name)}")
    return [a for a in args if a.startswith("-") and a.split("=")[0] not in known and not _is_number(a)]


def _json_dict(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object such as '{{\"vision_delay\": 0.05}}'; got {text!r}")
    return value


def registry(cls: type) -> Any:
    """The tyro rules of a script's config ``cls``: JSON dicts, ``none``, validation errors raised past tyro.

    tyro would report a validation error of ``cls`` itself, boxed and wrapped to the terminal width;
    raised as :class:`InvalidConfig` it is reported by :func:`fail` on one line instead.
    """
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
                raise InvalidConfig(str(e)) from e

        return dataclasses.replace(spec, instantiate=instantiate)

    return registry


def prog() -> str:
    """``python -m agents.<script>`` when run as a module (the README's spelling), else the file name."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return f"python -m {spec.name}" if spec is not None else Path(sys.argv[0]).name


def fail(prog: str, message: str) -> typing.NoReturn:
    """Exit as argparse does on bad input: usage, ``<prog>: error: <message>``, status 2."""
    print(f"usage: {prog} [-h] [OPTIONS]\n{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def argument_message(cls: type, message: str) -> str:
    """Prefix a validation message with the flag of the field it names first (``argument --n-batches:``)."""
    first = re.split(r"[\s:\[]", message, maxsplit=1)[0]
    names = {f.name for f in dataclasses.fields(cls)}
    if first not in names:
        return message
    return f"argument --{_kebab(first)}: {message.removeprefix(first + ': ')}"


def split_config_flag(argv: Sequence[str]) -> tuple[str | None, list[str]]:
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
        ValueError: Naming the file (and the key), for a missing file, invalid YAML, a document
            that is not a mapping, an unknown key or a value of the wrong type.
    """
    try:
        import yaml
    except ImportError:
        raise ImportError(f'{CONFIG_FLAG} needs PyYAML: pip install "motornet-gym[sb3]"') from None
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such file {str(path)!r}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
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


def default_from_file(cls: type, path: str | Path) -> Any:
    """An instance of ``cls`` with the values of a ``--config`` file (see :func:`load_config_file`).

    Raises:
        ValueError: Naming the file, for a file :func:`load_config_file` refuses or values ``cls`` refuses.
    """
    values = load_config_file(cls, path)
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from e


def given_fields(cls: type, argv: Sequence[str] | None = None) -> set[str]:
    """Names of the fields set explicitly: by a flag (``--x``, ``--no-x``) or in the ``--config`` file."""
    args = list(sys.argv[1:] if argv is None else argv)
    path, args = split_config_flag(args)
    given = {a.split("=")[0][2:].replace("-", "_") for a in args if a.startswith("--")}
    given |= {g.removeprefix("no_") for g in given}
    if path is not None:
        given |= set(load_config_file(cls, path))
    return given


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
