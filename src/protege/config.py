"""Config dataclasses from flags: `--set key=value` overrides, typed, with clear errors."""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
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
        # "64,64", "(64, 64)" and "[64, 64]" alike (a list is how YAML and JSON write it)
        parts = [p for p in raw.strip("()[] ").split(",") if p.strip()]
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
    except ConfigError as exc:  # the config's own checks (check_fields in __post_init__)
        raise ConfigError(f"--set {exc}") from None


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
        if dataclasses.is_dataclass(tp):
            if not isinstance(v, dict):
                raise ConfigError(f"{k} is {_q(str(v))}: expected a mapping of settings")
            fixed[k] = config_from_dict(tp, v)  # type: ignore[arg-type]
            continue
        why = _type_error(tp, v)
        if why is not None:
            raise ConfigError(f"{k} is {_q(json.dumps(v))}: {why} ({cls.__name__})")
        fixed[k] = tuple(v) if isinstance(v, list) and typing.get_origin(tp) is tuple else v
    try:
        return cls(**fixed)  # its __post_init__ checks every setting (check_fields)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{cls.__name__}: {exc}") from None


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


# What a setting of each name may hold, the same in every config that has it.
_POSITIVE = {"lr", "actor_lr", "disc_lr", "alpha", "chi2", "r_max", "prior_scale", "demo_weight",
             "step", "soft_vi_tol"}  # fmt: skip
_AT_LEAST_ONE = {"batch_size", "buffer_size", "demo_batch_size", "disc_every", "disc_updates",
                 "epochs", "labels_per_round", "log_every", "max_iterations", "max_states",
                 "n_envs", "n_samples", "rounds", "steps", "thin", "update_every",
                 "eval_episodes", "threads"}  # fmt: skip
_NON_NEGATIVE = {"burn_in", "eval_every", "learner_window", "learning_starts", "min_updates",
                 "patience", "seed", "ent_weight", "grad_penalty", "l1_penalty", "l2",
                 "reward_l2", "tol", "weight_decay", "epsilon"}  # fmt: skip
_UNIT = {"beta": (0.0, 1.0, True), "beta_decay": (0.0, 1.0, True), "gamma": (0.0, 1.0, True),
         "target_tau": (0.0, 1.0, True), "val_fraction": (0.0, 1.0, False),
         "uniform_mix": (0.0, 1.0, True)}  # fmt: skip
_SIZES = {"hidden", "disc_hidden"}
DEVICES = ("auto", "cpu", "cuda")


def _type_error(tp: Any, value: Any) -> str | None:
    """Why `value` is not of type `tp` (None when it is)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        reasons = [_type_error(o, value) for o in options if o is not type(None)]
        return None if any(r is None for r in reasons) else reasons[0]
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        return None if value in choices else f"choose one of {', '.join(map(str, choices))}"
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            return "expected a list, e.g. 64,64"
        (item,) = typing.get_args(tp)[:1]
        return next((e for e in (_type_error(item, v) for v in value) if e is not None), None)
    if origin is dict or tp is dict:
        return None if isinstance(value, dict) else "expected a mapping of settings"
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok and math.isfinite(value) else "expected a finite number"
    if tp is int:
        return (
            None
            if isinstance(value, int) and not isinstance(value, bool)
            else "expected an integer"
        )
    if tp is bool:
        return None if isinstance(value, bool) else "expected true or false"
    if tp is str:
        return None if isinstance(value, str) else "expected text"
    return None  # nested configs and other types are checked by their own class


def _range_error(name: str, value: Any) -> str | None:
    """Why `value` is out of range for a setting called `name` (None when it is not)."""
    if value is None or isinstance(value, bool):
        return None
    if name in _POSITIVE and value <= 0:
        return "must be greater than 0"
    if name in _AT_LEAST_ONE and value < 1:
        return "must be at least 1"
    if name in _NON_NEGATIVE and value < 0:
        return "must be 0 or more"
    if name in _UNIT:
        low, high, closed = _UNIT[name]
        if not (low <= value <= high if closed else low <= value < high):
            return f"must lie in [{low:g}, {high:g}{']' if closed else ')'}"
    if name in _SIZES and any(v < 1 for v in value):
        return "every layer width must be at least 1"
    if name == "device":
        if value not in DEVICES and not str(value).startswith("cuda:"):
            return f"choose one of {', '.join(DEVICES)}"
        if str(value).startswith("cuda"):
            import torch  # only when CUDA is asked for: the base layer stays light

            if not torch.cuda.is_available():
                return "this machine has no CUDA device; use device=cpu or device=auto"
    return None


def check_fields(cfg: Any, prefix: str = "") -> None:
    """Refuse a config whose settings have the wrong type or lie out of range, in one line
    naming the setting and what it may hold; nested configs (DAgger's `bc`) included.

    Every config calls it first thing in its `__post_init__`, so a bad value is refused
    wherever the config is made (`--set`, a re-run config.json, the Python API) and never
    reaches a trainer or a run directory.
    """
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            check_fields(value, f"{prefix}{f.name}.")
            continue
        why = _type_error(hints[f.name], value) or _range_error(f.name, value)
        if why is not None:
            shown = _q(str(value)) if not isinstance(value, str) else repr(value)
            raise ConfigError(f"{prefix}{f.name}={shown}: {why} ({type(cfg).__name__})")
