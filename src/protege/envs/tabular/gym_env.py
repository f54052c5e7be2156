"""A `TabularMDP` as a Gymnasium env, and a tabular policy as a batched policy callable.

Together they roll out demonstrations with `protege.data.rollout.rollout`:

    trajs = rollout(lambda: TabularEnv(mdp), TabularPolicy(expert_policy), episodes=50)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from protege.envs.tabular.mdp import TabularMDP


class TabularEnv(gym.Env[np.int64, np.int64]):
    """Samples the MDP's dynamics: Discrete(S) observations, Discrete(A) actions.

    The reward of a step is `reward[s]` (or `reward[s, a]`) of the state the action is
    taken in, as the solvers count it. An episode terminates on entering a terminal state
    and is truncated after `max_episode_steps` (default: the MDP's horizon, or 100 steps
    for a discounted MDP, after which γ^t weighs little).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, mdp: TabularMDP, max_episode_steps: int | None = None) -> None:
        self.mdp = mdp
        self.observation_space = gym.spaces.Discrete(mdp.n_states)
        self.action_space = gym.spaces.Discrete(mdp.n_actions)
        self.max_episode_steps = max_episode_steps or mdp.horizon or 100
        self._reward = mdp.state_action_reward()
        self._cum_initial = np.cumsum(mdp.initial)
        self._state = 0
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.int64, dict[str, Any]]:
        super().reset(seed=seed)
        u = self.np_random.random() * self._cum_initial[-1]
        self._state = int(np.searchsorted(self._cum_initial, u, side="right"))
        self._state = min(self._state, self.mdp.n_states - 1)
        self._t = 0
        return np.int64(self._state), {}

    def step(self, action: Any) -> tuple[np.int64, float, bool, bool, dict[str, Any]]:
        a = int(action)
        if not 0 <= a < self.mdp.n_actions:
            raise ValueError(f"action {action} is outside Discrete({self.mdp.n_actions})")
        s = self._state
        P = self.mdp.P
        row = s * self.mdp.n_actions + a
        lo, hi = P.indptr[row], P.indptr[row + 1]
        cum = np.cumsum(P.data[lo:hi])
        k = int(np.searchsorted(cum, self.np_random.random() * cum[-1], side="right"))
        s2 = int(P.indices[lo + min(k, hi - lo - 1)])
        reward = float(self._reward[s, a if self._reward.shape[1] > 1 else 0])
        self._state, self._t = s2, self._t + 1
        terminal = self.mdp.terminal
        terminated = bool(terminal[s2]) if terminal is not None else False
        truncated = not terminated and self._t >= self.max_episode_steps
        return np.int64(s2), reward, terminated, truncated, {}


class TabularPolicy:
    """A stationary tabular policy (S, A) as a batched, seeded policy: obs (B,) -> acts (B,).

    deterministic=True takes the most probable action instead of sampling.
    """

    def __init__(self, probs: np.ndarray, seed: int = 0, deterministic: bool = False) -> None:
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 2:
            raise ValueError(
                f"TabularPolicy needs a stationary (S, A) policy, got shape {probs.shape}; "
                "for a finite-horizon policy pass one time step, e.g. policy[0]"
            )
        self.probs = probs
        self._cum = np.cumsum(probs, axis=1)
        self.deterministic = deterministic
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: Any) -> np.ndarray:
        s = np.asarray(obs, dtype=np.int64).reshape(-1)
        if self.deterministic:
            return self.probs[s].argmax(axis=1)
        cum = self._cum[s]
        u = self.rng.random(len(s)) * cum[:, -1]
        return np.minimum((cum <= u[:, None]).sum(axis=1), self.probs.shape[1] - 1)
