"""Ready-made `TabularMDP`s: gridworlds, ObjectWorld, Garnet MDPs, Gymnasium's toy-text envs.

`make_tabular(spec)` builds any of them from a short string, without registering anything
with Gymnasium: "gridworld:10", "gridworld:8x12", "objectworld:10", "garnet:100" or
"garnet:100:4:3" (states, actions, branching), or a toy-text id such as "FrozenLake-v1",
"CliffWalking-v1", "Taxi-v4" whose dynamics are read from `env.unwrapped.P`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import scipy.sparse as sp

from protege.envs import make_env
from protege.envs.tabular.mdp import TabularMDP
from protege.errors import EnvError

Cell = tuple[int, int]
"""A grid cell as (row, column); row 0 is the top."""

MOVES: tuple[Cell, ...] = ((-1, 0), (0, 1), (1, 0), (0, -1), (0, 0))
"""Gridworld actions in order: up, right, down, left, and (with `stay_action`) stay."""


def _cells_mask(shape: Cell, cells: Sequence[Cell], what: str) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for cell in cells:
        r, c = int(cell[0]), int(cell[1])
        if not (0 <= r < shape[0] and 0 <= c < shape[1]):
            raise EnvError(f"{what} cell {cell} is outside the {shape[0]}x{shape[1]} grid")
        mask[r, c] = True
    return mask


def grid_transitions(
    shape: Cell,
    slip: float,
    *,
    walls: np.ndarray | None = None,
    absorbing: np.ndarray | None = None,
    stay_action: bool = False,
) -> sp.csr_matrix:
    """Sparse (S·A, S) dynamics of a grid: moves blocked by borders and walls stay put.

    With probability `slip` the chosen action is replaced by a uniformly random one (so the
    intended move keeps 1 - slip + slip/A). Wall cells and `absorbing` cells loop on
    themselves. Built with whole-array operations: a 1000x1000 grid takes about a second.
    """
    if not 0.0 <= slip <= 1.0:
        raise EnvError(f"slip must be a probability in [0, 1], got {slip}")
    H, W = shape
    S = H * W
    moves = MOVES if stay_action else MOVES[:4]
    A = len(moves)
    walls = np.zeros(shape, dtype=bool) if walls is None else walls
    frozen = walls.ravel().copy()
    if absorbing is not None:
        frozen |= absorbing.ravel()
    row, col = np.divmod(np.arange(S, dtype=np.int64), W)
    nxt = np.empty((S, A), dtype=np.int32)  # the cell each move leads to
    for a, (dr, dc) in enumerate(moves):
        r2, c2 = row + dr, col + dc
        inside = (r2 >= 0) & (r2 < H) & (c2 >= 0) & (c2 < W)
        r2, c2 = np.where(inside, r2, row), np.where(inside, c2, col)
        target = r2 * W + c2
        blocked = walls.ravel()[target] | frozen
        nxt[:, a] = np.where(blocked, np.arange(S), target)
    rows_sa = np.arange(S * A, dtype=np.int32)
    if slip == 0.0:
        return sp.csr_matrix((np.ones(S * A), nxt.ravel(), np.arange(S * A + 1)), shape=(S * A, S))
    # Row (s, a): 1 - slip on the intended move, slip/A on each of the A moves.
    rows = np.concatenate([rows_sa, np.repeat(rows_sa, A)])
    cols = np.concatenate([nxt.ravel(), np.repeat(nxt, A, axis=0).ravel()])
    data = np.concatenate([np.full(S * A, 1.0 - slip), np.full(S * A * A, slip / A)])
    P = sp.coo_matrix((data, (rows, cols)), shape=(S * A, S)).tocsr()
    P.sum_duplicates()
    P.eliminate_zeros()
    return P


def _onehot(n: int) -> sp.csr_matrix:
    return sp.identity(n, format="csr", dtype=np.float64)


def gridworld(
    size: int | Cell,
    *,
    slip: float = 0.3,
    walls: Sequence[Cell] = (),
    goals: Sequence[Cell] | None = None,
    goal_reward: float = 1.0,
    penalties: Sequence[Cell] = (),
    penalty_reward: float = -1.0,
    step_reward: float = 0.0,
    terminal_goals: bool = False,
    start: Cell | None = None,
    stay_action: bool = False,
    features: Literal["onehot", "xy"] = "onehot",
    gamma: float = 0.9,
    horizon: int | None = None,
) -> TabularMDP:
    """A gridworld; with the defaults at size 5, Ng & Russell's (2000) test problem.

    size: n for an n x n grid, or (rows, cols). State index = row * cols + col.
    slip: probability that the action is replaced by a uniformly random one (0.3 in Ng &
        Russell). Actions: up, right, down, left (+ stay with `stay_action`).
    walls: cells that cannot be entered (they remain states, unreachable).
    goals: cells rewarded `goal_reward`; default: the top-right corner.
    penalties: cells rewarded `penalty_reward`; every other cell gives `step_reward`.
    terminal_goals: goals end the episode (absorbing); otherwise the agent may stay there.
    start: the start cell, or None for uniform over free cells.
    features: "onehot" (sparse identity, the usual tabular IRL features) or "xy" (row and
        column scaled to [0, 1]).
    gamma, horizon: as in `TabularMDP`.
    """
    H, W = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if H < 1 or W < 1:
        raise EnvError(f"a gridworld needs at least one cell, got size {size}")
    S = H * W
    goals = [(0, W - 1)] if goals is None else list(goals)
    wall = _cells_mask((H, W), walls, "wall")
    goal = _cells_mask((H, W), goals, "goal")
    penalty = _cells_mask((H, W), penalties, "penalty")
    if (wall & (goal | penalty)).any():
        raise EnvError("a wall cell cannot also be a goal or a penalty cell")
    P = grid_transitions(
        (H, W),
        slip,
        walls=wall,
        absorbing=goal if terminal_goals else None,
        stay_action=stay_action,
    )
    reward = np.full(S, float(step_reward))
    reward[penalty.ravel()] = penalty_reward
    reward[goal.ravel()] = goal_reward
    if start is None:
        free = ~wall.ravel()
        if terminal_goals:
            free &= ~goal.ravel()
        initial = free / free.sum()
    else:
        if (_cells_mask((H, W), [start], "start") & wall).any():
            raise EnvError(f"the start cell {start} is a wall")
        initial = np.zeros(S)
        initial[start[0] * W + start[1]] = 1.0
    if features == "onehot":
        phi: Any = _onehot(S)
    elif features == "xy":
        r, c = np.divmod(np.arange(S), W)
        phi = np.stack([r / max(H - 1, 1), c / max(W - 1, 1)], axis=1)
    else:
        raise EnvError(f"gridworld features must be 'onehot' or 'xy', got {features!r}")
    return TabularMDP(
        P=P,
        reward=reward,
        features=phi,
        initial=initial,
        gamma=gamma,
        horizon=horizon,
        terminal=goal.ravel() if terminal_goals else None,
        meta={
            "kind": "gridworld",
            "shape": (H, W),
            "goals": goals,
            "walls": list(walls),
            "penalties": list(penalties),
        },
    )


def objectworld(
    size: int = 10,
    *,
    n_objects: int = 15,
    n_colors: int = 2,
    slip: float = 0.3,
    features: Literal["continuous", "discrete"] = "continuous",
    gamma: float = 0.9,
    horizon: int | None = None,
    seed: int = 0,
) -> TabularMDP:
    """ObjectWorld (Levine, Popović & Koltun 2011, "Nonlinear IRL with Gaussian Processes").

    A size x size grid with 5 actions (4 moves and stay) that slip to a random action with
    probability `slip`. `n_objects` objects sit on random cells, each with an outer and an
    inner colour out of `n_colors`. The true reward is +1 within (Euclidean) distance 3 of
    outer colour 0 and distance 2 of outer colour 1, -1 within distance 3 of colour 0 only,
    and 0 elsewhere: a non-linear function of the features, which are either
    "continuous": the distance to the nearest object of each outer and inner colour (2C),
    "discrete": indicators "that distance is below d" for d = 1..size (2C·size).
    The object layout is in `meta["objects"]` as rows (row, col, outer, inner).
    """
    if n_colors < 2:
        raise EnvError("objectworld needs at least 2 colours (the reward uses colours 0 and 1)")
    rng = np.random.default_rng(seed)
    S = size * size
    if n_objects > S:
        raise EnvError(f"{n_objects} objects do not fit on a {size}x{size} grid")
    cells = rng.choice(S, size=n_objects, replace=False)
    outer = rng.integers(n_colors, size=n_objects)
    inner = rng.integers(n_colors, size=n_objects)
    rows, cols = np.divmod(np.arange(S), size)
    o_rows, o_cols = np.divmod(cells, size)
    dist = np.hypot(rows[:, None] - o_rows[None, :], cols[:, None] - o_cols[None, :])  # (S, n)
    far = float(2 * size)  # distance reported when a colour has no object
    nearest = np.full((S, 2 * n_colors), far)
    for k, colour_of in enumerate((outer, inner)):
        for c in range(n_colors):
            mask = colour_of == c
            if mask.any():
                nearest[:, k * n_colors + c] = dist[:, mask].min(axis=1)
    near0, near1 = nearest[:, 0] <= 3.0, nearest[:, 1] <= 2.0
    reward = np.where(near0 & near1, 1.0, np.where(near0, -1.0, 0.0))
    if features == "continuous":
        phi = nearest
    elif features == "discrete":
        thresholds = np.arange(1, size + 1)
        phi = (nearest[:, :, None] < thresholds[None, None, :]).reshape(S, -1).astype(float)
    else:
        raise EnvError(f"objectworld features must be 'continuous' or 'discrete', got {features!r}")
    P = grid_transitions((size, size), slip, stay_action=True)
    objects = np.stack([o_rows, o_cols, outer, inner], axis=1)
    return TabularMDP(
        P=P,
        reward=reward,
        features=phi,
        initial=np.full(S, 1.0 / S),
        gamma=gamma,
        horizon=horizon,
        meta={"kind": "objectworld", "shape": (size, size), "objects": objects},
    )


def garnet(
    n_states: int = 100,
    n_actions: int = 4,
    branching: int = 3,
    *,
    n_features: int | None = None,
    state_action_reward: bool = False,
    gamma: float = 0.9,
    horizon: int | None = None,
    seed: int = 0,
) -> TabularMDP:
    """A random Garnet MDP (Archibald, McKinnon & Thomas 1995).

    Each (s, a) leads to `branching` next states drawn uniformly (with replacement, so a
    row may have fewer distinct ones), with probabilities from a uniform split of [0, 1].
    Rewards are standard normal over states (or state-actions); features are one-hot, or
    `n_features` standard-normal columns; the initial distribution is uniform.
    """
    if n_states < 1 or n_actions < 1 or branching < 1:
        raise EnvError("garnet needs n_states, n_actions and branching of at least 1")
    rng = np.random.default_rng(seed)
    rows = n_states * n_actions
    cuts = np.sort(rng.random((rows, branching - 1)), axis=1)
    probs = np.diff(np.concatenate([np.zeros((rows, 1)), cuts, np.ones((rows, 1))], axis=1))
    nxt = rng.integers(n_states, size=(rows, branching))
    P = sp.csr_matrix(
        (probs.ravel(), nxt.ravel(), np.arange(0, rows * branching + 1, branching)),
        shape=(rows, n_states),
    )
    P.sum_duplicates()
    P.eliminate_zeros()
    reward = rng.standard_normal((n_states, n_actions) if state_action_reward else n_states)
    phi: Any = (
        _onehot(n_states) if n_features is None else rng.standard_normal((n_states, n_features))
    )
    return TabularMDP(
        P=P,
        reward=reward,
        features=phi,
        initial=np.full(n_states, 1.0 / n_states),
        gamma=gamma,
        horizon=horizon,
        meta={"kind": "garnet", "branching": branching},
    )


def from_toy_text(
    env: str | gym.Env,
    *,
    gamma: float = 0.99,
    horizon: int | None = None,
    **make_kwargs: Any,
) -> TabularMDP:
    """The exact MDP of a Gymnasium toy-text env, read from its `env.unwrapped.P` table.

    Works for FrozenLake-v1 (any map, slippery or not), CliffWalking-v1 and Taxi-v4, and
    any env with the same `P[s][a] = [(prob, next_state, reward, terminated), ...]` table.
    Reward is the expected reward of (s, a), (S, A). A state entered by a terminating
    transition is terminal: it becomes absorbing with reward 0, as the episode ends there.
    `meta["arrival_reward"]` (S,) is the mean reward of entering each state (NaN if never
    entered), the state reward that learned state rewards are compared with; `meta["shape"]`
    is the grid (rows, cols) where the states are grid cells (FrozenLake, CliffWalking).
    make_kwargs go to `gymnasium.make` when `env` is an id (e.g. is_slippery=False).
    """
    if isinstance(env, str):
        env_id, built = env, make_env(env, **make_kwargs)
    else:
        env_id, built = (env.spec.id if env.spec else type(env).__name__), env
    u = built.unwrapped
    table = getattr(u, "P", None)
    obs_space, act_space = built.observation_space, built.action_space
    if (
        not isinstance(table, dict)
        or not isinstance(obs_space, gym.spaces.Discrete)
        or not (isinstance(act_space, gym.spaces.Discrete))
    ):
        raise EnvError(
            f"'{env_id}' has no known dynamics: tabular extraction needs Discrete spaces and "
            "a transition table env.unwrapped.P[s][a] = [(p, s', r, done), ...] as the "
            "toy-text envs (FrozenLake-v1, CliffWalking-v1, Taxi-v4) have"
        )
    S, A = int(obs_space.n), int(act_space.n)
    entries = [
        (s * A + a, p, s2, r, done)
        for s in range(S)
        for a in range(A)
        for (p, s2, r, done) in table[s][a]
    ]
    row, prob, nxt, rew, done = (np.asarray(x) for x in zip(*entries, strict=True))
    row, nxt, prob = row.astype(np.int64), nxt.astype(np.int64), prob.astype(np.float64)
    done = done.astype(bool) & (prob > 0)
    terminal = np.zeros(S, dtype=bool)
    terminal[nxt[done]] = True
    reward = np.bincount(row, weights=prob * rew.astype(np.float64), minlength=S * A)
    keep = ~terminal[row // A]  # terminal rows are replaced by self-loops
    t_states = np.flatnonzero(terminal)
    t_rows = (t_states[:, None] * A + np.arange(A)).ravel()
    P = sp.csr_matrix(
        (
            np.concatenate([prob[keep], np.ones(t_rows.size)]),
            (np.concatenate([row[keep], t_rows]), np.concatenate([nxt[keep], t_rows // A])),
        ),
        shape=(S * A, S),
    )
    reward = reward.reshape(S, A)
    reward[terminal] = 0.0
    initial = np.asarray(getattr(u, "initial_state_distrib", np.zeros(S)), dtype=np.float64)
    if initial.shape != (S,) or initial.sum() <= 0:
        raise EnvError(f"'{env_id}' has no initial_state_distrib of {S} states to read")
    initial = initial / initial.sum()
    # A terminal state entered without termination from a reachable state would be wrong
    # to make absorbing: check, over the states the start distribution can reach.
    reach = _reachable(P, initial > 0, A)
    live = reach[row // A] & ~terminal[row // A] & (prob > 0) & ~done & terminal[nxt]
    if live.any():
        s, a = divmod(int(row[live][0]), A)
        raise EnvError(
            f"'{env_id}': state {int(nxt[live][0])} ends episodes when entered from some "
            f"states but not from state {s} (action {a}); its dynamics cannot be tabulated "
            "with terminal states"
        )
    if isinstance(env, str):
        built.close()
    meta: dict[str, Any] = {"kind": "toy_text", "env_id": env_id, "make_kwargs": dict(make_kwargs)}
    # The reward of entering each state, averaged over the transitions into it from
    # non-terminal states (NaN for states never entered): the state reward to compare a
    # learned one with, since Σ_t γ^t R(s_t+1) ranks behaviour as Σ_t γ^t R(s_t) does.
    into = np.bincount(nxt[keep], weights=prob[keep], minlength=S)
    gained = np.bincount(nxt[keep], weights=(prob * rew.astype(np.float64))[keep], minlength=S)
    meta["arrival_reward"] = np.divide(gained, into, out=np.full(S, np.nan), where=into > 0)
    grid = _toy_text_grid(u, S)
    if grid is not None:
        meta["shape"] = grid
    return TabularMDP(
        P=P,
        reward=reward,
        features=_onehot(S),
        initial=initial,
        gamma=gamma,
        horizon=horizon,
        terminal=terminal,
        meta=meta,
    )


def _toy_text_grid(u: Any, n_states: int) -> Cell | None:
    """(rows, cols) when the states are the cells of a grid (FrozenLake, CliffWalking)."""
    shape = getattr(u, "shape", None)
    if shape is None and hasattr(u, "nrow") and hasattr(u, "ncol"):
        shape = (u.nrow, u.ncol)
    if shape is None or len(shape) != 2 or int(shape[0]) * int(shape[1]) != n_states:
        return None  # e.g. Taxi: 500 states are position x passenger x destination
    return int(shape[0]), int(shape[1])


def _reachable(P: sp.csr_matrix, start: np.ndarray, n_actions: int) -> np.ndarray:
    """States reachable from `start` under any actions: a breadth-first sweep of products."""
    S = P.shape[1]
    step = sp.csr_matrix(P.T) @ sp.kron(sp.identity(S), np.ones((n_actions, 1)), format="csr")
    step = sp.csr_matrix((step != 0).astype(np.float64))  # s -> s' adjacency, transposed
    seen = start.copy()
    frontier = start.astype(np.float64)
    while frontier.any():
        nxt = (step @ frontier) > 0
        frontier = (nxt & ~seen).astype(np.float64)
        seen |= nxt
    return seen


_GRID = re.compile(r"^(\d+)(?:x(\d+))?$")


def make_tabular(spec: str, **kwargs: Any) -> TabularMDP:
    """Build a `TabularMDP` from a spec string; `kwargs` go to the builder.

    "gridworld:N" or "gridworld:RxC", "objectworld:N", "garnet:S" or "garnet:S:A:B", or a
    Gymnasium toy-text id ("FrozenLake-v1", "CliffWalking-v1", "Taxi-v4"; then `gamma` and
    `horizon` set the MDP and the other kwargs go to `gymnasium.make`).
    """
    kind, _, arg = spec.partition(":")
    kind_l = kind.lower()
    try:
        if kind_l == "gridworld":
            m = _GRID.match(arg or "5")
            if m is None:
                raise ValueError(arg)
            size: int | Cell = int(m[1]) if m[2] is None else (int(m[1]), int(m[2]))
            return gridworld(size, **kwargs)
        if kind_l == "objectworld":
            return objectworld(int(arg or 10), **kwargs)
        if kind_l == "garnet":
            parts = [int(x) for x in arg.split(":")] if arg else []
            if len(parts) > 3:
                raise ValueError(arg)
            return garnet(*parts, **kwargs)
    except ValueError:
        raise EnvError(
            f"cannot read tabular spec '{spec}': use gridworld:N, gridworld:RxC, "
            "objectworld:N, garnet:S[:A:B] or a toy-text id such as FrozenLake-v1"
        ) from None
    if arg:
        raise EnvError(
            f"unknown tabular MDP kind '{kind}' in '{spec}': use gridworld, objectworld, "
            "garnet, or a toy-text id such as FrozenLake-v1, CliffWalking-v1, Taxi-v4"
        )
    return from_toy_text(spec, **kwargs)
