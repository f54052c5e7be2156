"""Fixtures shared by the tabular IRL tests."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest


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


@pytest.fixture
def interrupt() -> Callable[[Callable[..., Any], int], None]:
    """Run `fit(on_iteration=...)` and stop it, as a kill would, once it reports iteration `at`."""

    def run(fit: Callable[..., Any], at: int) -> None:
        def kill(record: dict[str, Any]) -> None:
            if record["iteration"] == at:
                raise _Killed

        with pytest.raises(_Killed):
            fit(on_iteration=kill)

    return run
