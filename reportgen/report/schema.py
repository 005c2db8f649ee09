"""report.json's values to and from their dataclasses, by the dataclasses' own type hints: one definition, both ways.

`encode` writes a frozen dataclass as a JSON object of its fields in declaration order
(nested dataclasses as objects, tuples as arrays, dicts as objects, numbers, strings,
true/false and null as themselves); `decode` builds the same dataclass back from that
object, reading each field by the type its dataclass declares, and `types.check_types`
then checks every value. A field the file lacks takes the field's default, so a file
written before a field was added still reads (a field without a default is required);
a key the dataclass does not have is refused, so nothing in a file is silently ignored.
So `decode(type(x), encode(x)) == x` for every value of these types, and a part of the
report described this way needs no reader or writer of its own.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from reportgen.errors import shown
from reportgen.report.types import WrongType, check_types, field_hints


def encode(value: Any) -> Any:
    """`value` (a dataclass, or what its fields hold) as JSON values; a non-finite float is an error."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be written to report.json")
    return value


def decode(hint: Any, value: Any, where: str = "") -> Any:
    """The value of type `hint` whose `encode` is `value`, checked (`WrongType` naming the first bad value)."""
    built = _build(hint, value, where)
    check_types(built, hint, where)
    return built


def _build(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        kept = [a for a in args if a is not type(None)]
        return _build(kept[0], value, where) if len(kept) == 1 else value  # several kinds: check_types decides
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise WrongType(f"{where or 'the document'} is {shown(value)}, not an object")
        fields = {f.name: f for f in dataclasses.fields(hint)}
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise WrongType(f"{_at(where, unknown[0])} is not a key of {hint.__name__}")
        hints, given = field_hints(hint), {}
        for name, f in fields.items():
            if name in value:
                given[name] = _build(hints[name], value[name], _at(where, name))
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise WrongType(f"{_at(where, name)} is missing")
        return hint(**given)
    if origin is tuple:
        if not isinstance(value, list):
            raise WrongType(f"{where} is {shown(value)}, not a list")
        inner = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        if len(inner) != len(value):
            raise WrongType(f"{where} is {shown(value)}, not a list of {len(args)} values")
        return tuple(_build(h, v, f"{where}[{n}]") for n, (h, v) in enumerate(zip(inner, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise WrongType(f"{where} is {shown(value)}, not an object")
        return {k: _build(args[1], v, _at(where, k)) for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # JSON writes 2.0 as 2 in some tools; the field is a float
    return value


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
