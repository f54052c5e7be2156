"""Learned rewards: standalone files that reload exactly, and wrappers that swap the reward."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

from protege.algorithms.qlearning import IQLearnConfig, train_iq_learn
from protege.data import flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.errors import ConfigError, RunDirError
from protege.evaluation.epic import epic_distance_sampled
from protege.experts.scripted import scripted_expert
from protege.rewards import (
    REWARD_FILE,
    REWARD_INFO,
    LearnedRewardWrapper,
    MLPRewardNet,
    RewardNet,
    RewardVecEnvWrapper,
    load_reward,
    save_reward,
)
from protege.rl import make_vec_env


def demos(env_id: str, episodes: int = 2):  # noqa: ANN201
    return flatten_trajectories(rollout(env_id, scripted_expert(env_id).act, episodes, seed=0))


def batch(t, n: int):  # noqa: ANN001, ANN201
    return t.obs[:n], t.acts[:n], t.next_obs[:n], t.terminated[:n].astype(np.float32)


def soft_q_reward(env_id: str) -> RewardNet:
    return train_iq_learn(
        demos(env_id, 1), env_spaces(env_id), IQLearnConfig(offline=True, steps=30)
    ).reward


@pytest.mark.parametrize(
    "env_id,make",
    [
        ("CartPole-v1", lambda: MLPRewardNet(env_spaces("CartPole-v1"), use_next_state=True)),
        ("Pendulum-v1", lambda: MLPRewardNet(env_spaces("Pendulum-v1"), use_done=True)),
        ("CartPole-v1", lambda: soft_q_reward("CartPole-v1")),
        ("Pendulum-v1", lambda: soft_q_reward("Pendulum-v1")),
    ],
    ids=["mlp-discrete", "mlp-box", "iq-discrete", "iq-box"],
)
def test_saved_reward_reloads_and_scores_any_batch_identically(tmp_path, env_id, make) -> None:  # noqa: ANN001
    net = make()
    save_reward(net, tmp_path, meaning="a test reward")
    reward = load_reward(tmp_path)
    data = demos(env_id)
    for n in (1, 37):
        np.testing.assert_allclose(
            reward.predict(*batch(data, n)), net.predict(*batch(data, n)), rtol=1e-5, atol=1e-6
        )
    info = json.loads((tmp_path / REWARD_INFO).read_text())
    assert info["format"] == "protege.reward/1" and info["meaning"] == "a test reward"
    assert reward.spaces.action == env_spaces(env_id).action


def test_reward_file_loads_with_torch_alone(tmp_path) -> None:  # noqa: ANN001
    net = soft_q_reward("Pendulum-v1")
    save_reward(net, tmp_path)
    data = demos("Pendulum-v1")
    obs, acts, nxt, done = batch(data, 9)
    np.savez(tmp_path / "inputs.npz", obs=obs, acts=acts, nxt=nxt, done=done)
    script = f"""
import sys, numpy as np, torch
m = torch.export.load({str(tmp_path / REWARD_FILE)!r}).module()
d = np.load({str(tmp_path / "inputs.npz")!r})
t = lambda k: torch.as_tensor(d[k])
out = m(t("obs"), t("acts"), t("nxt"), t("done"))
assert not any(name.startswith("protege") for name in sys.modules), "protege was imported"
print(" ".join(repr(float(x)) for x in out))
"""
    done_run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path
    )
    assert done_run.returncode == 0, done_run.stderr
    standalone = np.array([float(x) for x in done_run.stdout.split()])
    np.testing.assert_allclose(standalone, net.predict(obs, acts, nxt, done), rtol=1e-5)


def test_loading_names_the_missing_or_broken_file(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(RunDirError, match=REWARD_FILE):
        load_reward(tmp_path)
    save_reward(MLPRewardNet(env_spaces("CartPole-v1")), tmp_path)
    (tmp_path / REWARD_FILE).write_bytes(b"not a program")
    with pytest.raises(RunDirError, match="not a readable protege reward"):
        load_reward(tmp_path)


def test_inputs_of_the_wrong_shape_are_refused(tmp_path) -> None:  # noqa: ANN001
    save_reward(MLPRewardNet(env_spaces("CartPole-v1")), tmp_path)
    reward = load_reward(tmp_path)
    with pytest.raises(ConfigError, match="shape"):
        reward.predict(np.zeros((3, 5)), np.zeros(3), np.zeros((3, 5)), np.zeros(3))


def test_vec_env_wrapper_replaces_the_reward_and_keeps_the_true_one() -> None:
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def pole_angle(obs, acts, next_obs, dones):  # noqa: ANN001, ANN202
        seen.append((np.array(next_obs), np.array(dones)))
        return np.asarray(next_obs)[:, 2] * 10.0

    venv = RewardVecEnvWrapper(make_vec_env("CartPole-v1", n_envs=2, seed=0), pole_angle)
    venv.reset()
    for _ in range(40):  # always push left: both envs fall within 40 steps
        obs, rews, dones, infos = venv.step(np.zeros(2, dtype=np.int64))
        assert all(info["true_reward"] == 1.0 for info in infos)
        for i in range(2):
            real_next = infos[i]["terminal_observation"] if dones[i] else obs[i]
            assert rews[i] == pytest.approx(real_next[2] * 10.0)  # the true s', not the reset
            assert seen[-1][1][i] == float(dones[i])  # falling is a termination
    assert any(d.any() for _, d in seen)


def test_vec_env_wrapper_does_not_mark_time_limits_terminal() -> None:
    dones_seen: list[np.ndarray] = []

    def record(obs, acts, next_obs, dones):  # noqa: ANN001, ANN202
        dones_seen.append(np.array(dones))
        return np.zeros(len(dones))

    short = make_vec_env(lambda: gym.make("CartPole-v1", max_episode_steps=3), n_envs=1, seed=0)
    venv = RewardVecEnvWrapper(short, record)
    venv.reset()
    ends = [venv.step(np.array([i % 2]))[2][0] for i in range(3)]
    assert ends == [False, False, True]
    assert dones_seen[-1][0] == 0.0  # truncated, not terminated: s' still bootstraps


def test_gymnasium_wrapper_replaces_the_reward_and_keeps_the_true_one() -> None:
    env = LearnedRewardWrapper(
        gym.make("Pendulum-v1"), lambda o, a, n, d: np.asarray(a, dtype=np.float32)[:, 0] * 2.0
    )
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([0.5], dtype=np.float32))
    assert reward == pytest.approx(1.0)
    assert info["true_reward"] < 0  # Pendulum's own cost is still there
    env.close()


def test_reward_net_is_a_module_on_env_encoded_tensors() -> None:
    net = MLPRewardNet(env_spaces("CartPole-v1"))
    data = demos("CartPole-v1")
    tensors = net.to_tensors(*batch(data, 4))
    assert tensors[1].dtype == torch.int64
    assert net(*tensors).shape == (4,)


def test_a_saved_soft_q_reward_goes_into_the_sampled_epic_comparison(tmp_path) -> None:  # noqa: ANN001
    save_reward(soft_q_reward("Pendulum-v1"), tmp_path)
    reward = load_reward(tmp_path).predict
    t = demos("Pendulum-v1", 1)

    def negated(*args):  # noqa: ANN002, ANN202
        return -reward(*args)

    same = epic_distance_sampled(reward, reward, t.obs, t.acts, t.next_obs, 0.99, n_mean=32)
    opposite = epic_distance_sampled(reward, negated, t.obs, t.acts, t.next_obs, 0.99, n_mean=32)
    assert same == pytest.approx(0.0, abs=1e-6) and opposite == pytest.approx(1.0, abs=1e-6)
