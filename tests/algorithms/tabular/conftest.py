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
