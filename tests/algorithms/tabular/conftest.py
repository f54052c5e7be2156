"""Fixtures shared by the tabular IRL tests."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from protege.callbacks import Callback


@pytest.fixture
def count_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModuleType, str], list[Any]]:
    """Wrap `module.name` so each call is recorded: how much work a resumed fit really does."""

    def wrap(module: ModuleType, name: str) -> list[Any]:
        calls: list[Any] = []
        original = getattr(module, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
        return calls

    return wrap


class _Killed(Exception):
    """Raised from a progress callback: stands in for a kill."""


class _Calls(Callback):
    """A callback that passes every progress row (`on_iteration`'s metrics) to `fn`."""

    def __init__(self, fn: Callable[[dict[str, Any]], None]) -> None:
        self.fn = fn

    def on_iteration(self, i: int, metrics: dict[str, Any]) -> None:
        self.fn(metrics)


@pytest.fixture
def calls() -> Callable[[Callable[[dict[str, Any]], None]], Callback]:
    """`calls(fn)`: a callback calling `fn(row)` with each progress row a fit reports."""
    return _Calls


@pytest.fixture
def interrupt() -> Callable[[Callable[..., Any], int], None]:
    """Run `fit(callbacks=[...])` and stop it, as a kill would, once it reports iteration `at`."""

    def run(fit: Callable[..., Any], at: int) -> None:
        def kill(record: dict[str, Any]) -> None:
            if record["iteration"] == at:
                raise _Killed

        with pytest.raises(_Killed):
            fit(callbacks=[_Calls(kill)])

    return run
