"""HG-DAgger's human collector: the learner drives, a person takes over by holding SPACE.

`hg_dagger_collect` is the data-gathering half of HG-DAgger (Kelly, Sidrane,
Driggs-Campbell & Kochenderfer, "HG-DAgger: Interactive Imitation Learning with Human
Experts", ICRA 2019): the learner drives; while the person holds SPACE their action is
executed instead, and only those takeover segments come back, labelled with the person's
actions. The person decides where the learner needs help, not a β schedule.
`human_collector` wraps it as DAgger's `Collect` (`protege train dagger --expert human`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame's first import

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from protege.data.rollout import EpisodeSeeded, Policy  # noqa: E402
from protege.data.types import Obs, Trajectory, obs_stack  # noqa: E402
from protege.envs import EnvFactory, Spaces, make_env  # noqa: E402
from protege.errors import ConfigError  # noqa: E402
from protege.experts.human.teleop import (  # noqa: E402
    AMBER,
    BLUE,
    Color,
    Teleop,
    _env_action,
    _render,
)

__all__ = ["hg_dagger_collect", "human_collector"]

TAKEOVER_KEY = pygame.K_SPACE
"""Held during `hg_dagger_collect` to take control from the learner."""


def hg_dagger_collect(
    env: str | EnvFactory | gym.Env,
    learner: Policy | None,
    teleop: Teleop,
    max_steps: int,
    seed: int = 0,
    on_frame: Callable[[int], None] | None = None,
) -> list[Trajectory]:
    """HG-DAgger's data collection: the learner drives, the person takes over by holding SPACE.

    env: a Gymnasium id (built with render_mode="rgb_array"), a zero-argument builder, or
        an env to use and leave open (closing a classic-control env also closes pygame's
        display, so a caller collecting several rounds in one window passes one env).
    learner: a batched policy, obs (B, *obs_shape) -> actions (B, *act_shape); None before
        there is one (DAgger's first round): the person drives all the time, no SPACE needed.
    teleop: the window and key map; its action space must match the env's.
    max_steps: env steps in all (learner's and person's) before collection stops.
    seed: episode i starts from reset(seed=seed + i); episodes restart until max_steps.
    on_frame: called with the frame index before each frame (scripted input, tests).

    Returns one `Trajectory` per contiguous takeover segment, in order: the segment's
    observations plus the one after its last step, the person's actions and the env's
    rewards; `terminated` when the env terminated inside it, else `truncated`. Closing the
    window (or Esc) stops early and returns the segments so far.
    """
    if max_steps < 1:
        raise ConfigError(f"max_steps must be at least 1, got {max_steps}")
    if isinstance(env, gym.Env):
        return _hg_loop(env, learner, teleop, max_steps, seed, on_frame)
    e = make_env(env, render_mode="rgb_array") if isinstance(env, str) else env()
    try:
        return _hg_loop(e, learner, teleop, max_steps, seed, on_frame)
    finally:
        e.close()


def _hg_loop(
    env: gym.Env,
    learner: Policy | None,
    teleop: Teleop,
    max_steps: int,
    seed: int,
    on_frame: Callable[[int], None] | None,
) -> list[Trajectory]:
    if Spaces.of(env).action != teleop.space:
        raise ConfigError(
            f"the teleop's action space {teleop.space} is not the env's {env.action_space}"
        )
    segments: list[Trajectory] = []
    episode = 0
    obs, _ = env.reset(seed=seed)
    teleop.reset_controls()
    # a learner that remembers (observation history, action chunks) is told where episodes
    # start and sees every observation, the person's steps included
    remembers = learner if isinstance(learner, EpisodeSeeded) else None
    if remembers is not None:
        remembers.start_episode(0, episode)
    seg: dict[str, list[Any]] | None = None  # the open takeover segment

    def close(terminated: bool) -> None:
        nonlocal seg
        if seg is not None and seg["acts"]:
            segments.append(
                Trajectory(
                    obs=obs_stack(seg["obs"]),
                    acts=np.stack(seg["acts"]),
                    rews=np.asarray(seg["rews"], dtype=np.float64),
                    terminated=terminated,
                    truncated=not terminated,
                )
            )
        seg = None

    steps, frame = 0, 0
    while steps < max_steps:
        if on_frame is not None:
            on_frame(frame)
        frame += 1
        inp = teleop.poll()
        if inp.quit:
            break
        human = learner is None or TAKEOVER_KEY in inp.held
        keyed = teleop.actions(inp)  # always, so continuous ramps track the held keys
        if human:
            actions = keyed
        else:
            assert learner is not None
            close(terminated=False)
            actions = [np.asarray(learner(_batch(obs)))[0]]
        for action in actions:
            if human and seg is None:
                seg = {"obs": [obs], "acts": [], "rews": []}
            if human and remembers is not None:
                remembers(_batch(obs))  # its window and chunks follow the person's steps
            next_obs, rew, terminated, truncated, _ = env.step(_env_action(action))
            steps += 1
            if seg is not None:
                seg["obs"].append(next_obs)
                seg["acts"].append(action)
                seg["rews"].append(float(rew))
            obs = next_obs
            if terminated or truncated:
                close(terminated=bool(terminated))
                episode += 1
                obs, _ = env.reset(seed=seed + episode)
                teleop.reset_controls()
                if remembers is not None:
                    remembers.start_episode(0, episode)
            if steps >= max_steps:
                break
        who: tuple[str, Color] = ("HUMAN", AMBER) if human else ("LEARNER", BLUE)
        labels = sum(len(t) for t in segments) + (len(seg["acts"]) if seg else 0)
        info = f"step {steps}/{max_steps} · episode {episode + 1} · human labels {labels}"
        takeover = "you drive" if learner is None else "hold SPACE to take over"
        hint = f"{takeover} · {teleop.keymap.describe()} · ESC stop"
        teleop.show(_render(env), who, info, hint)
        teleop.tick()
    close(terminated=False)
    return segments


def human_collector(
    env: gym.Env,
    teleop: Teleop,
    labels_per_round: int,
    on_frame: Callable[[int], None] | None = None,
) -> Callable[[int, Policy | None, float, int], list[Trajectory]]:
    """DAgger's `Collect` with a person as the expert (HG-DAgger): each round the learner
    drives and the person's takeover segments are the labels; before the first fit the person
    drives throughout. β does not apply: the person decides when to take over.

    env: built with render_mode="rgb_array", left open between rounds; the caller closes it.
    """

    def collect(i: int, learner: Policy | None, beta: float, seed: int) -> list[Trajectory]:
        return hg_dagger_collect(env, learner, teleop, labels_per_round, seed, on_frame)

    return collect


def _batch(obs: Any) -> Obs:
    return obs_stack([obs])
