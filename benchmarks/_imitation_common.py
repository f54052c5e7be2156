"""What the scripts run inside imitation's venv share: protege's demonstrations as imitation
Trajectories, and deterministic returns on fixed episode seeds (only NumPy and Gymnasium 0.29
here: this file is imported by those scripts, never by protege's side)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


def evaluate(policy, env_id: str, episodes: int, seed: int) -> np.ndarray:  # noqa: ANN001
    """Deterministic returns on episode seeds seed..seed+episodes-1, stepped as one batch."""
    envs = [gym.make(env_id) for _ in range(episodes)]
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    returns, done = np.zeros(episodes), np.zeros(episodes, dtype=bool)
    while not done.all():
        idx = np.flatnonzero(~done)
        acts, _ = policy.predict(obs[idx], deterministic=True)
        for j, act in zip(idx, acts, strict=True):
            obs[j], r, term, trunc, _ = envs[j].step(act)
            returns[j] += r
            done[j] = term or trunc
    return returns


def load_demos(path: str) -> list:
    """imitation Trajectories from the .npz `_imitation_env.save_demos` wrote."""
    from imitation.data import types

    d = np.load(path)
    trajs, o, a = [], 0, 0
    for length, terminal in zip(d["lengths"], d["terminated"], strict=True):
        trajs.append(types.Trajectory(obs=d["obs"][o : o + length + 1],
                                      acts=d["acts"][a : a + length], infos=None,
                                      terminal=bool(terminal)))  # fmt: skip
        o, a = o + length + 1, a + length
    return trajs
