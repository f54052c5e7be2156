"""Observation normalisation in the adversarial family: the reward nets (and AIRL's
potential) take their statistics from the expert demonstrations, the saved reward file
carries them, and a checkpoint keeps them; "auto" is on for MuJoCo ids only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from protege.algorithms.adversarial import (
    AIRLConfig,
    GAILConfig,
    GCLConfig,
    train_airl,
    train_gail,
    train_gcl,
)
from protege.callbacks import Callback
from protege.checkpoint import load_checkpoint
from protege.data import RandomPolicy, Transitions, flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.errors import ConfigError
from protege.nets import ObsNormalizer, normalizes
from protege.rewards import load_reward, save_reward

TINY = {"steps": 128, "n_envs": 2, "learner_kwargs": {"n_steps": 32, "batch_size": 64}}
"""Two PPO rollouts of 64 steps: two discriminator rounds."""


def normalizers(net: torch.nn.Module) -> list[ObsNormalizer]:
    return [m for m in net.modules() if isinstance(m, ObsNormalizer)]


def assert_fitted_to(norms: list[ObsNormalizer], obs: np.ndarray) -> None:
    for norm in norms:
        np.testing.assert_allclose(norm.mean.numpy(), obs.mean(0), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(norm.std.numpy(), obs.std(0, ddof=1), rtol=1e-3)


@pytest.mark.parametrize(
    ("train", "cfg", "n_nets"),
    [(train_gail, GAILConfig(normalize_obs="on", **TINY), 1),
     (train_airl, AIRLConfig(normalize_obs="on", **TINY), 2),  # g and the potential h
     (train_gcl, GCLConfig(normalize_obs="on", **TINY), 1)],
)  # fmt: skip
def test_normalised_reward_nets_fit_the_demos_and_the_saved_reward_keeps_them(
    train,  # noqa: ANN001
    cfg,  # noqa: ANN001
    n_nets: int,
    pendulum_demos: Transitions,
    tmp_path: Path,
) -> None:
    d = pendulum_demos
    result = train(d, None, cfg, env="Pendulum-v1")
    norms = normalizers(result.discriminator)
    assert len(norms) == n_nets
    assert_fitted_to(norms, d.obs)
    assert np.abs(d.obs.mean(0)).max() > 0.1  # statistics unlike the identity's (0, 1)
    save_reward(result.reward, tmp_path)
    expected = result.reward.predict(d.obs, d.acts, d.next_obs, d.terminated)
    loaded = load_reward(tmp_path).predict(d.obs, d.acts, d.next_obs, d.terminated)
    np.testing.assert_allclose(loaded, expected, rtol=1e-5, atol=1e-6)
    # the statistics are what the reward reads: reset to the identity, it scores otherwise
    for norm in normalizers(result.reward):
        norm.mean.zero_()
        norm.std.fill_(1.0)
    unnormalised = result.reward.predict(d.obs, d.acts, d.next_obs, d.terminated)
    assert not np.allclose(unnormalised, expected, atol=1e-3)


def test_auto_is_off_on_classic_control_and_on_for_mujoco_ids(
    pendulum_demos: Transitions,
) -> None:
    result = train_gail(pendulum_demos, None, GAILConfig(**TINY), env="Pendulum-v1")
    assert normalizers(result.discriminator) == []  # every existing run is unchanged
    with pytest.raises(ConfigError, match="normalize_obs='yes': choose one of auto, on, off"):
        GAILConfig(normalize_obs="yes")  # type: ignore[arg-type]
    assert not normalizes("auto", "CartPole-v1") and not normalizes("auto", None)
    assert normalizes("on", None) and not normalizes("off", "Hopper-v5")
    pytest.importorskip("mujoco")
    assert normalizes("auto", "Hopper-v5")
    assert normalizes("auto", "protege/HopperFixedHorizon-v5")


def test_auto_normalises_a_mujoco_run() -> None:
    pytest.importorskip("mujoco")
    spaces = env_spaces("Hopper-v5")
    demos = flatten_trajectories(rollout("Hopper-v5", RandomPolicy(spaces.action, 0), 5, seed=0))
    result = train_airl(demos, None, AIRLConfig(**TINY), env="Hopper-v5")
    norms = normalizers(result.discriminator)
    assert len(norms) == 2
    assert_fitted_to(norms, demos.obs)


class Killed(Exception):
    """Stands in for a kill in the middle of training."""


class StopAt(Callback):
    """Kills the run at round `at` (the checkpoint before it was written)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if i == self.at:
            raise Killed


def test_a_checkpoint_holds_the_statistics_and_a_resumed_run_keeps_them(
    pendulum_demos: Transitions, tmp_path: Path
) -> None:
    d, path = pendulum_demos, tmp_path / "run.pt"
    cfg = AIRLConfig(normalize_obs="on", **{**TINY, "steps": 256})  # four rounds
    with pytest.raises(Killed):
        train_airl(d, None, cfg, [StopAt(2)], env="Pendulum-v1", checkpoint=path,
                   checkpoint_every=2)  # fmt: skip
    saved = load_checkpoint(path)["adversary"]["disc"]
    means = [k for k in saved if k.endswith("normalizer.mean")]  # g's (twice: f.base too)
    assert {"reward.encoder.normalizer.mean", "f.potential.encoder.normalizer.mean"} <= set(means)
    for key in means:
        np.testing.assert_allclose(saved[key].numpy(), d.obs.mean(0), rtol=1e-4, atol=1e-6)
    # resumed from other demonstrations' statistics, the checkpoint's are the ones kept
    shifted = Transitions(d.obs + 5.0, d.acts, d.next_obs + 5.0, d.terminated, d.truncated)
    result = train_airl(shifted, None, cfg, env="Pendulum-v1", checkpoint=path,
                        checkpoint_every=2)  # fmt: skip
    assert len(result.history) == 4
    assert_fitted_to(normalizers(result.discriminator), d.obs)
