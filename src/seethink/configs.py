"""Typed YAML configs: dataclasses with one docstring per field, built from mappings with one-line errors.

Recipes, studies and the base's pretraining settings are all such dataclasses. `build` checks every key and
type against the class (an unknown key names its closest match; `Literal[...]` fields accept only their
values), then constructs it, and the class's own `__post_init__` checks its values by raising `FieldError`.
Every problem becomes one line naming the file and the whole field path:
`recipes/x.yaml: stages.1.lr: must be > 0, got 0.0`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from pathlib import Path

import yaml

from seethink.errors import SeethinkError


class FieldError(SeethinkError):
    """A bad value of one field of a config dataclass, raised by its own checks (`__post_init__`)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def require(ok: bool, field: str, message: str) -> None:
    """Raise `FieldError(field, message)` unless `ok`."""
    if not ok:
        raise FieldError(field, message)


def one_of(value, allowed: tuple, field: str) -> None:
    require(value in allowed, field, f"must be one of {', '.join(map(str, allowed))}, got {value!r}")


class Where:
    """The file a config comes from, for error lines."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, path: str, msg: str) -> typing.NoReturn:
        raise SeethinkError(f"{self.file}: {path}: {msg}" if path else f"{self.file}: {msg}")


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def convert(value, typ, path: str, where: Where):
    """`value` (from YAML) as `typ`: a dataclass, list[X], dict[str, X], dict, a Literal, bool, int, float or str,
    or `X | None` of one of them (YAML's null, or an X)."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        options = [t for t in typing.get_args(typ) if t is not type(None)]
        if len(options) != 1 or len(options) == len(typing.get_args(typ)):
            raise TypeError(typ)  # pragma: no cover - configs use only X | None unions
        return None if value is None else convert(value, options[0], path, where)
    if dataclasses.is_dataclass(typ):
        if not isinstance(value, dict):
            where.fail(path, f"expected a mapping, got {type(value).__name__}")
        return build(typ, value, path, where)
    if origin is typing.Literal:
        allowed = typing.get_args(typ)
        if value not in allowed:
            where.fail(path, f"must be one of {', '.join(map(str, allowed))}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            where.fail(path, f"expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(typ)
        return [convert(v, item, f"{path}.{i}", where) for i, v in enumerate(value)]
    if typ is dict or origin is dict:
        if not isinstance(value, dict):
            where.fail(path, f"expected a mapping, got {type(value).__name__}")
        args = typing.get_args(typ)
        return {str(k): convert(v, args[1], _join(path, k), where) if args else v for k, v in value.items()}
    return _scalar(value, typ, path, where)


def _scalar(value, typ, path: str, where: Where):
    if typ is bool:
        if not isinstance(value, bool):
            where.fail(path, f"expected true or false, got {value!r}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            where.fail(path, f"expected a whole number, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, str):  # YAML 1.1 reads `1e-6` (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                where.fail(path, f"expected a number, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            where.fail(path, f"expected a finite number, got {value!r}")
        return float(value)
    if typ is str:
        if not isinstance(value, str):
            where.fail(path, f"expected a string, got {value!r}")
        return value
    raise TypeError(typ)  # pragma: no cover - configs use only the types above


def did_you_mean(name, known) -> str:
    """` (did you mean 'x'?)` for the closest of `known` to a misspelt `name`, or "" when none is close."""
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_key(key, known, path: str, where: Where) -> typing.NoReturn:
    if not isinstance(key, str):  # YAML reads an unquoted null, true, no or 3 as a value, not as a name
        where.fail(path, f"a key read as {key!r}, not a name: YAML takes unquoted null/true/no/numbers as values")
    where.fail(_join(path, key), "unknown key" + did_you_mean(key, known))


def build(cls, raw: dict, path: str, where: Where):
    """An instance of the dataclass `cls` from the mapping `raw` found at `path` of `where.file`."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            unknown_key(key, fields, path, where)
        kwargs[key] = convert(value, hints[key], _join(path, key), where)
    for name, f in fields.items():
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            where.fail(_join(path, name), "required key missing")
    try:
        return cls(**kwargs)
    except FieldError as e:
        where.fail(_join(path, e.field), e.message)


MAX_YAML_BYTES, MAX_YAML_NODES = 1 << 20, 100_000
"""A config is at most 1 MiB and 100,000 values once its aliases are expanded: an alias bomb (`&a [*a, *a]`
nested ten deep) is a few hundred bytes that expand past memory in whatever walks the values next."""


def _expanded_size(node, memo: dict, open_: set) -> int:
    if id(node) in open_:
        raise ValueError("an alias refers to the value that contains it")
    if id(node) not in memo:
        open_.add(id(node))
        children = (
            [x for pair in node.value for x in pair]
            if isinstance(node, yaml.MappingNode)
            else node.value
            if isinstance(node, yaml.SequenceNode)
            else []
        )
        memo[id(node)] = 1 + sum(_expanded_size(c, memo, open_) for c in children)
        open_.discard(id(node))
        if memo[id(node)] > MAX_YAML_NODES:
            raise ValueError(f"more than {MAX_YAML_NODES:,} values once its aliases are expanded")
    return memo[id(node)]


def parse_yaml(text: str, path: str | Path):
    """YAML text (safe types only) within the bounds above; every failure is one line naming `path`."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses control characters (a NUL) at once
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set())
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        why = f" ({e.reason})" if isinstance(e, yaml.reader.ReaderError) else ""
        raise SeethinkError(f"{path}: not valid YAML{where}{why}") from None
    except ValueError as e:
        raise SeethinkError(f"{path}: refused: {e}") from None
    except RecursionError:
        raise SeethinkError(f"{path}: refused: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml(path: Path, what: str) -> dict:
    """The mapping in a YAML file; `what` names the kind of file in errors ("recipe", "study", …)."""
    from seethink.fileio import read_text

    if path.is_dir():
        raise SeethinkError(f"{what} {path} is a folder, not a YAML file")
    raw = parse_yaml(read_text(path, what, MAX_YAML_BYTES), path)
    if not isinstance(raw, dict):
        raise SeethinkError(f"{path}: a {what} must be a YAML mapping")
    return raw


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """`a.b.0.c=value` → raw["a"]["b"][0]["c"] = yaml(value). Creates mapping keys, never list items."""
    for item in overrides:
        if "=" not in item:
            raise SeethinkError(f"--set {item!r}: expected key.path=value")
        key, value = item.split("=", 1)
        parts = key.split(".")
        node = raw
        for i, part in enumerate(parts):
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise SeethinkError(
                        f"--set {key}: {'.'.join(parts[: i + 1])} is not an item of a {len(node)}-item list"
                    )
                part = int(part)
            elif not isinstance(node, dict):
                raise SeethinkError(f"--set {key}: {'.'.join(parts[:i])} is not a mapping")
            if i == len(parts) - 1:
                node[part] = parse_yaml(value, f"--set {key}")
            else:
                if isinstance(node, dict) and part not in node:
                    node[part] = {}
                node = node[part]
    return raw


def load(cls, path: str | Path, what: str, overrides: list[str] = ()):
    """`cls` from a YAML file, after `--set` overrides."""
    path = Path(path)
    return build(cls, apply_overrides(read_yaml(path, what), list(overrides)), "", Where(str(path)))
