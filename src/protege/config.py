"""Config dataclasses from flags: `--set key=value` overrides, typed, with clear errors."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import types
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from protege.errors import ConfigError

C = TypeVar("C")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _q(text: str) -> str:
    """A user's text for an error message: as typed, or quoted when it would break the line."""
    return text if text.isprintable() else repr(text)


def _coerce(key: str, raw: str, tp: Any) -> Any:
    """Parse `raw` as type `tp` (bool, int, float, str, Literal, tuple[X, ...], X | None)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if raw.lower() in ("none", "null"):
            return None
        return _coerce(key, raw, args[0])
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        for choice in choices:
            if str(choice) == raw:
                return choice
        raise ConfigError(
            f"--set {_q(key)}={_q(raw)}: choose one of {', '.join(str(c) for c in choices)}"
        )
    if origin is tuple:
        (item_tp, *_) = typing.get_args(tp)
        parts = [p for p in raw.replace("(", "").replace(")", "").split(",") if p.strip()]
        return tuple(_coerce(key, p.strip(), item_tp) for p in parts)
    try:
        if tp is bool:
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError(raw)
        if tp in (int, float, str):
            return tp(raw)
    except ValueError:
        name = getattr(tp, "__name__", str(tp))
        raise ConfigError(f"--set {_q(key)}={_q(raw)}: not a valid {name}") from None
    raise ConfigError(f"--set {_q(key)}: settings of type {tp} cannot be set from the command line")


def _json_or_text(raw: str) -> Any:
    """A value inside a dict setting: JSON where it parses (numbers, true, [..], {..}),
    else the text itself."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def apply_overrides(cfg: C, overrides: Sequence[str]) -> C:
    """A copy of dataclass `cfg` with each 'key=value' applied, types checked.

    A dotted key sets a field of a nested config, e.g. `bc.epochs=20` inside DAggerConfig,
    or an entry of a dict setting, e.g. `learner_kwargs.learning_rate=3e-4` (JSON values).
    """
    hints = typing.get_type_hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]  # type: ignore[arg-type]
    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {_q(item)}: expected key=value, e.g. --set epochs=20")
        head, dot, rest = key.partition(".")
        if head not in names:
            raise ConfigError(
                f"--set {_q(key)}: unknown setting for {type(cfg).__name__}; "
                f"known: {', '.join(names)}"
            )
        if dot:
            nested = changes.get(head, getattr(cfg, head))
            if isinstance(nested, dict):  # e.g. learner_kwargs.learning_rate=3e-4
                changes[head] = {**nested, rest: _json_or_text(raw.strip())}
                continue
            if not dataclasses.is_dataclass(nested):
                raise ConfigError(f"--set {_q(key)}: '{_q(head)}' has no settings inside it")
            changes[head] = apply_overrides(nested, [f"{rest}={raw}"])
            continue
        changes[key] = _coerce(key, raw.strip(), hints[key])
    try:
        return dataclasses.replace(cfg, **changes)  # type: ignore[type-var]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--set: {exc}") from None


def config_from_dict(cls: type[C], values: dict[str, Any]) -> C:
    """Rebuild a config dataclass from its `dataclasses.asdict` form (lists back to tuples)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"unknown settings for {cls.__name__}: {', '.join(sorted(unknown))}")
    fixed: dict[str, Any] = {}
    for k, v in values.items():
        tp = hints[k]
        if isinstance(v, dict) and dataclasses.is_dataclass(tp):
            fixed[k] = config_from_dict(tp, v)  # type: ignore[arg-type]
        elif isinstance(v, list) and typing.get_origin(tp) is tuple:
            fixed[k] = tuple(v)
        else:
            fixed[k] = v
    return cls(**fixed)


_DOC_ENTRY = re.compile(r"^(\w+(?:, \w+)*): (.*)$")


def field_docs(cls: type) -> dict[str, str]:
    """Each field's meaning, read from the `name: meaning` lines of the class docstrings
    (the class's own first, then its bases'): the one source of `--set` help.

    An entry may name several fields ("lr, actor_lr: ..."); a field with no entry of its own
    gets the entry that mentions it ("chi2: ... chi2_on ...").
    """
    entries: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.cleandoc(klass.__dict__.get("__doc__") or "")
        names: list[str] = []
        for line in doc.splitlines():
            match = _DOC_ENTRY.match(line)
            if match:
                names = match.group(1).split(", ")
                for name in names:
                    entries[name] = match.group(2).strip()
            elif names and line.startswith((" ", "\t")) and line.strip():
                for name in names:
                    entries[name] += " " + line.strip()
            else:
                names = []
    docs: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        text = entries.get(f.name)
        if text is None:
            text = next((t for t in entries.values() if re.search(rf"\b{f.name}\b", t)), "")
        docs[f.name] = text
    return docs


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def settings_help(cfg: Any) -> str:
    """`--set` help for config `cfg`: every field with its type, default and meaning,
    generated from the dataclass so it cannot drift from the code."""
    hints = typing.get_type_hints(type(cfg))
    docs = field_docs(type(cfg))
    lines = [f"Settings (--set key=value) of {type(cfg).__name__}:"]
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        shown = f"{type(value).__name__}(...)" if dataclasses.is_dataclass(value) else repr(value)
        lines.append(f"{f.name} ({_type_name(hints[f.name])}, default {shown}): {docs[f.name]}")
    return "\n\n".join(lines)
