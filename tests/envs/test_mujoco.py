"""MuJoCo locomotion: the fixed-horizon variants, experts trained with recipes and their
observation statistics, and learners that normalise observations."""

from __future__ import annotations

import zipfile

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("mujoco")

from protege.envs import FIXED_HORIZON_ENVS, Spaces, is_mujoco, make_env  # noqa: E402
from protege.errors import ConfigError, ExpertError  # noqa: E402
from protege.experts import SB3Expert, load_expert  # noqa: E402
from protege.experts.normalization import ENTRY, read_normalization  # noqa: E402
from protege.rl import RECIPES, get_recipe, recipe_for, save_sb3, train_sb3  # noqa: E402


@pytest.mark.parametrize("env_id", sorted(FIXED_HORIZON_ENVS))
def test_fixed_horizon_envs_run_1000_steps_and_show_the_position(env_id: str) -> None:
    fixed = FIXED_HORIZON_ENVS[env_id]
    env, base = make_env(env_id), make_env(fixed.base)
    obs, _ = env.reset(seed=0)
    base_obs, _ = base.reset(seed=0)
    # the same state as the v5 env, with the position entries in front
    assert obs.shape[0] == base_obs.shape[0] + fixed.positions
    np.testing.assert_allclose(obs[fixed.positions :], base_obs)
    np.testing.assert_allclose(obs[: fixed.positions], env.unwrapped.data.qpos[: fixed.positions])
    steps, done = 0, False
    env.action_space.seed(0)
    while not done:  # random actions fall over at once in Hopper-v5; here nothing ends early
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps, done = steps + 1, terminated or truncated
        assert not terminated
    assert steps == 1000
    assert is_mujoco(env_id) and is_mujoco(fixed.base) and not is_mujoco("CartPole-v1")


def test_recipes_are_found_by_env_and_algo() -> None:
    assert recipe_for("Hopper-v5", "ppo") is RECIPES["ppo-hopper"]
    assert recipe_for("protege/HalfCheetahFixedHorizon-v5", "ppo") is RECIPES["ppo-halfcheetah"]
    assert recipe_for("Hopper-v5", "sac") is RECIPES["sac-hopper"]
    assert recipe_for("CartPole-v1", "ppo") is None
    with pytest.raises(ConfigError, match="ppo-hopper"):
        get_recipe("ppo-hoper")


@pytest.fixture(scope="module")
def tiny_hopper(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    """A Hopper expert trained for two rollouts with the rl-zoo recipe (normalised)."""
    path = tmp_path_factory.mktemp("expert") / "hopper.zip"
    model = train_sb3("Hopper-v5", steps=1024, seed=0, device="cpu", recipe=RECIPES["ppo-hopper"])
    save_sb3(model, path)
    return model, path


def test_the_model_file_carries_its_observation_statistics(tiny_hopper: tuple) -> None:
    model, path = tiny_hopper
    with zipfile.ZipFile(path) as zf:
        assert ENTRY in zf.namelist()
    norm = read_normalization(path)
    venv = model.get_vec_normalize_env()
    assert norm is not None and venv is not None
    obs = np.stack([make_env("Hopper-v5").reset(seed=i)[0] for i in range(5)])
    np.testing.assert_allclose(norm(obs), venv.normalize_obs(obs), rtol=1e-5, atol=1e-5)
    # the file alone acts as the trained model does on normalised observations
    expert = load_expert(str(path), "Hopper-v5")
    assert isinstance(expert, SB3Expert) and expert.obs_norm is not None
    want, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
    np.testing.assert_allclose(expert(obs), want, atol=1e-5)


def test_an_expert_acts_in_the_fixed_horizon_variant_by_skipping_the_position(
    tiny_hopper: tuple,
) -> None:
    _, path = tiny_hopper
    expert = load_expert(str(path), "Hopper-v5")
    skipping = SB3Expert(expert.model, obs_norm=expert.obs_norm, skip=1)  # type: ignore[attr-defined]
    obs, _ = make_env("protege/HopperFixedHorizon-v5").reset(seed=3)
    base_obs, _ = make_env("Hopper-v5").reset(seed=3)
    np.testing.assert_allclose(skipping(obs[None]), expert(base_obs[None]))


def test_bad_statistics_in_a_model_file_are_refused(tmp_path, tiny_hopper: tuple) -> None:
    _, path = tiny_hopper
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.namelist():
            data = b'{"mean": [1, 2], "var": [1]}' if item == ENTRY else src.read(item)
            dst.writestr(item, data)
    with pytest.raises(ExpertError, match="unreadable"):
        read_normalization(bad)


def test_training_resumes_from_its_checkpoint(tmp_path) -> None:
    ckpt = tmp_path / "ckpt"
    recipe = RECIPES["ppo-swimmer"]  # n_steps 2048 by SB3's default: make it small
    small = {"checkpoint_dir": ckpt, "checkpoint_every": 128, "n_steps": 128, "batch_size": 64}
    first = train_sb3("Swimmer-v5", steps=256, seed=0, device="cpu", recipe=recipe, **small)
    assert (ckpt / "model.zip").is_file() and (ckpt / "vecnormalize.pkl").is_file()
    assert first.num_timesteps == 256
    resumed = train_sb3("Swimmer-v5", steps=512, seed=0, device="cpu", recipe=recipe, **small)
    assert resumed.num_timesteps == 512  # went on from 256, not from scratch
    # the normalisation statistics went on too: they have seen all 512 steps' observations
    assert resumed.get_vec_normalize_env().obs_rms.count > 256


def test_bc_normalises_mujoco_observations_and_the_policy_keeps_the_statistics(tmp_path) -> None:
    from protege.algorithms.bc import BCConfig, train_bc
    from protege.data.types import Transitions
    from protege.policies import ActorPolicy

    env = make_env("Hopper-v5")
    spaces = Spaces.of(env)
    rng = np.random.default_rng(0)
    obs = rng.normal(5.0, 3.0, size=(200, 11)).astype(np.float32)
    acts = np.tanh(obs[:, :3] - 5.0).astype(np.float32)
    no = np.zeros(200, bool)
    demos = Transitions(obs=obs, acts=acts, next_obs=obs, terminated=no, truncated=no)
    cfg = BCConfig(epochs=2, device="cpu", normalize_obs="auto")
    on = train_bc(demos, spaces, cfg, env="Hopper-v5").policy
    off = train_bc(demos, spaces, cfg, env="CartPole-v1").policy  # auto: off elsewhere
    assert on.arch.normalize_obs and not off.arch.normalize_obs
    norm = on.encoder.normalizer
    np.testing.assert_allclose(norm.mean.numpy(), obs.mean(0), rtol=1e-4)
    np.testing.assert_allclose(norm.std.numpy(), obs.std(0, ddof=1), rtol=1e-3)
    on.save(tmp_path / "policy.pt")
    loaded = ActorPolicy.load(tmp_path / "policy.pt")
    np.testing.assert_allclose(loaded.encoder.normalizer.mean.numpy(), norm.mean.numpy())
    np.testing.assert_allclose(loaded(obs[:5]), on(obs[:5]))


@pytest.mark.slow
def test_bc_from_4_shipped_expert_episodes_reaches_the_hopper_expert() -> None:
    """BC (256x256 as in `bench mujoco`, otherwise its defaults) from 4 episodes of the shipped
    Hopper expert. Measured on Hopper-v5, 5 evaluation episodes: 0.99 / 1.00 / 1.00 on fit
    seeds 0 / 1 / 2 (about 30 s each on the busy 2-core machine); with 64x64 0.48 / 0.96 /
    0.98, with 100 epochs 0.99 / 0.74 / 0.92."""
    from protege.algorithms.bc import BCConfig, train_bc
    from protege.data import flatten_trajectories, rollout
    from protege.envs import env_spaces
    from protege.evaluation import compare_with_expert

    expert = load_expert("shipped", "Hopper-v5")
    demos = flatten_trajectories(rollout("Hopper-v5", expert, episodes=4, seed=0))
    cfg = BCConfig(hidden=(256, 256), device="cpu", seed=0)
    policy = train_bc(demos, env_spaces("Hopper-v5"), cfg, env="Hopper-v5").policy
    comparison = compare_with_expert("Hopper-v5", policy, expert, episodes=5)
    assert comparison.normalized_score >= 0.8, comparison.metrics()


def test_expert_train_cli_refuses_a_leftover_checkpoint_without_resume(tmp_path, capsys) -> None:
    from helpers import run

    (tmp_path / ".e.zip.checkpoint").mkdir()
    code = run("expert", "train", "Hopper-v5", "--out", str(tmp_path / "e.zip"), "--steps", "64")
    assert code == 2
    assert "--resume" in capsys.readouterr().err
    assert not (tmp_path / "e.zip").exists()


def test_fixed_horizon_ids_are_gymnasium_ids() -> None:
    for env_id in FIXED_HORIZON_ENVS:
        assert env_id in gym.registry


def test_sac_recipes_checkpoint_their_replay_buffer_and_resume_with_it(tmp_path) -> None:
    ckpt = tmp_path / "ckpt"
    recipe = RECIPES["sac-hopper"]
    assert recipe_for("Walker2d-v5", "sac") is RECIPES["sac-walker2d"]
    small = {"checkpoint_dir": ckpt, "checkpoint_every": 100, "learning_starts": 50,
             "batch_size": 32}  # fmt: skip
    first = train_sb3("Hopper-v5", steps=100, seed=0, device="cpu", recipe=recipe, **small)
    assert (ckpt / "replay_buffer.pkl").is_file() and first.replay_buffer.size() == 100
    resumed = train_sb3("Hopper-v5", steps=150, seed=0, device="cpu", recipe=recipe, **small)
    assert resumed.num_timesteps == 150 and resumed.replay_buffer.size() == 150
