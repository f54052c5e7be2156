"""Built-in scripted experts: each reaches its score bar and acts inside its action space."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from protege.data import rollout
from protege.errors import ExpertError
from protege.experts.scripted import SCRIPTED_EXPERTS, ScriptedExpert, scripted_expert

ENV_IDS = sorted(SCRIPTED_EXPERTS)


def test_covers_the_promised_envs() -> None:
    assert set(ENV_IDS) == {
        "CartPole-v1",
        "protege/CartPole200-v1",
        "Acrobot-v1",
        "protege/Acrobot200-v1",
        "MountainCar-v0",
        "MountainCarContinuous-v0",
        "Pendulum-v1",
        "LunarLander-v3",
        "LunarLanderContinuous-v3",
        "protege/TwoPaths-v0",  # the tasks that tell policy heads apart (protege.envs.tasks)
        "protege/CueCorridor-v0",
    }
    for env_id, expert in SCRIPTED_EXPERTS.items():
        assert expert.env_id == env_id
        assert expert.min_return < expert.reference_return
        assert expert.description and "\n" not in expert.description


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reaches_its_bar_over_100_seeded_episodes(env_id: str) -> None:
    expert = scripted_expert(env_id)
    returns = [t.episode_return for t in rollout(env_id, expert.act, 100, seed=0)]
    mean = float(np.mean(returns))
    assert mean >= expert.min_return, f"{env_id}: mean return {mean:.2f} < {expert.min_return}"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_actions_lie_in_the_action_space(env_id: str) -> None:
    env = gym.make(env_id)
    env.observation_space.seed(0)
    obs = np.stack([env.observation_space.sample() for _ in range(256)])
    expert: ScriptedExpert = scripted_expert(env_id)
    acts = expert.act(obs)
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        assert acts.dtype == np.int64 and acts.shape == (256,)
    else:
        assert isinstance(space, gym.spaces.Box)
        assert acts.dtype == np.float32 and acts.shape == (256, *space.shape)
    assert all(space.contains(a) for a in acts)
    np.testing.assert_array_equal(expert.act(obs), acts)  # deterministic
    np.testing.assert_array_equal(expert.act(obs[:1]), acts[:1])  # batch of one works too
    env.close()


def test_unknown_env_names_the_built_in_ids() -> None:
    with pytest.raises(ExpertError, match="no built-in scripted expert for 'Nope-v0'") as info:
        scripted_expert("Nope-v0")
    message = str(info.value)
    assert all(env_id in message for env_id in ENV_IDS)
    assert "SB3 model file or module:function" in message


def test_mountain_car_model_steps_like_the_env() -> None:
    """The time-optimal MountainCar expert plans with its own copy of the dynamics: it must be
    Gymnasium's, down to the wall at the left and the flag's condition."""
    from protege.experts.scripted import _mc_step

    env = gym.make("MountainCar-v0").unwrapped
    rng = np.random.default_rng(0)
    walls = flags = 0
    for episode in range(20):
        env.reset(seed=episode)
        for _ in range(300):
            pos, vel = (np.array([x], dtype=np.float64) for x in env.state)
            action = int(rng.integers(3)) if episode % 2 else int(vel[0] >= 0) * 2
            p1, v1, goal = _mc_step(pos, vel, np.array([action]))
            _, _, terminated, _, _ = env.step(action)
            np.testing.assert_allclose([p1[0], v1[0]], env.state, rtol=0, atol=1e-12)
            assert bool(goal[0]) == terminated
            walls += bool(p1[0] == -1.2)
            if terminated:
                flags += 1
                break
    assert walls > 0 and flags > 0  # both edge cases were exercised


def test_an_expert_for_another_env_or_out_of_space_actions_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    from stable_baselines3 import PPO

    from protege.errors import ExpertError
    from protege.experts import load_expert

    model = PPO("MlpPolicy", "Acrobot-v1", n_steps=64, batch_size=32, device="cpu")
    model.save(tmp_path / "acrobot.zip")
    with pytest.raises(ExpertError, match="use an expert trained on MountainCar-v0"):
        load_expert(str(tmp_path / "acrobot.zip"), "MountainCar-v0")
    load_expert(str(tmp_path / "acrobot.zip"), "Acrobot-v1")  # its own env: fine

    module = types.ModuleType("_bad_controllers")
    module.seven = lambda obs: 7  # type: ignore[attr-defined]
    module.crash = lambda obs: 1 / 0  # type: ignore[attr-defined]
    module.whole = lambda obs: 1.0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_bad_controllers", module)
    obs = np.zeros((2, 4), dtype=np.float32)
    with pytest.raises(ExpertError, match=r"returned the action 7 on CartPole-v1, outside"):
        load_expert("_bad_controllers:seven", "CartPole-v1")(obs)
    with pytest.raises(ExpertError, match="raised ZeroDivisionError"):
        load_expert("_bad_controllers:crash", "CartPole-v1")(obs)
    acts = load_expert("_bad_controllers:whole", "CartPole-v1")(obs)
    assert acts.dtype == np.int64 and acts.tolist() == [1, 1]
