"""What every tabular IRL fit shares: the MDP it is given as `env`, and its progress report.

The tabular trainers have the signature of every protege trainer,
`fit(demos, spaces, cfg, callbacks, *, env, checkpoint, checkpoint_every)`; their `env` is
the known MDP (`mdp_from_env`), and they report each history record to the callbacks
through `Progress`, which adds the `seconds` column progress.csv has always had.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType

from protege.callbacks import Callback, CallbackList
from protege.envs.tabular import TabularMDP, make_tabular
from protege.errors import ConfigError


def mdp_from_env(env: TabularMDP | str | None, algo: str) -> TabularMDP:
    """The MDP `algo` plans in: `env` itself, or the one a tabular spec or toy-text id names
    (`make_tabular`). Tabular IRL knows the dynamics, so there is no fit without it."""
    if env is None:
        raise ConfigError(
            f"{algo} plans in the known dynamics: pass the MDP as env= (a TabularMDP, or a "
            "tabular spec such as 'gridworld:5')"
        )
    if isinstance(env, str):
        return make_tabular(env)
    if not isinstance(env, TabularMDP):
        raise ConfigError(
            f"{algo} needs env= to be a TabularMDP or a tabular spec, not {type(env).__name__}"
        )
    return env


class Progress:
    """A tabular fit's callbacks, around the fit: `with Progress(...) as report:`.

    Entering calls `on_start(total, unit)`; `report(record)` passes each history record on
    as `on_iteration(i, {**record, "seconds": ...})`, i counting the records (or, with
    `index_by_iteration`, the record's own "iteration": Bayesian IRL's MCMC step), seconds
    since entering; leaving, even by an exception, calls `on_end` with the last row. The
    records themselves are left as they are: a fit's history holds no wall-clock times, so
    a resumed fit's history equals an uninterrupted one's.
    """

    def __init__(
        self,
        callbacks: Sequence[Callback],
        total: int,
        unit: str,
        *,
        index_by_iteration: bool = False,
    ) -> None:
        self.callbacks = CallbackList(callbacks)
        self.total, self.unit = total, unit
        self.index_by_iteration = index_by_iteration
        self.rows = 0
        self.last: dict[str, float] = {}
        self.start = time.perf_counter()

    def __enter__(self) -> Progress:
        self.callbacks.on_start(self.total, self.unit)
        self.start = time.perf_counter()
        return self

    def __call__(self, record: dict[str, float]) -> None:
        i = int(record["iteration"]) if self.index_by_iteration else self.rows
        self.rows += 1
        self.last = {**record, "seconds": time.perf_counter() - self.start}
        self.callbacks.on_iteration(i, self.last)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.callbacks.on_end(self.last)
