"""Behavioral cloning is judged by what it learns: returns against the expert."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from protege.algorithms.bc import MUJOCO_HIDDEN, SMALL_HIDDEN, BCConfig, policy_arch, train_bc
from protege.data import flatten_trajectories, rollout
from protege.envs import Spaces, env_spaces
from protege.evaluation import compare_with_expert, evaluate_returns
from protege.experts.scripted import scripted_expert
from protege.policies import ActorPolicy


def expert_demos(env_id: str, episodes: int):  # noqa: ANN201
    expert = scripted_expert(env_id).act
    return expert, flatten_trajectories(rollout(env_id, expert, episodes, seed=0))


def test_cartpole_from_10_expert_episodes_reaches_475() -> None:
    _, demos = expert_demos("CartPole-v1", 10)
    result = train_bc(demos, env_spaces("CartPole-v1"), BCConfig(device="cpu"))
    stats = evaluate_returns("CartPole-v1", result.policy, episodes=20, seed=10_000)
    assert stats.mean >= 475


def test_pendulum_from_20_expert_episodes_reaches_90_percent_of_expert() -> None:
    expert, demos = expert_demos("Pendulum-v1", 20)
    result = train_bc(demos, env_spaces("Pendulum-v1"), BCConfig(device="cpu"))
    comparison = compare_with_expert("Pendulum-v1", result.policy, expert, episodes=20)
    assert comparison.normalized_score >= 0.9, comparison.metrics()


def test_gaussian_likelihood_clones_lunar_lander_continuous() -> None:
    expert, demos = expert_demos("LunarLanderContinuous-v3", 20)
    cfg = BCConfig(device="cpu", continuous_loss="gaussian")
    result = train_bc(demos, env_spaces("LunarLanderContinuous-v3"), cfg)
    comparison = compare_with_expert("LunarLanderContinuous-v3", result.policy, expert, episodes=10)
    assert comparison.normalized_score >= 0.9, comparison.metrics()
    low_sample = result.policy(demos.obs)
    assert np.all(np.abs(low_sample) <= 1.0)  # the squashed mean stays in bounds


@pytest.mark.parametrize("kind", ["image", "dict", "multidiscrete"])
def test_image_dict_and_multidiscrete_observations_are_learned(cue_env, kind: str) -> None:  # noqa: ANN001
    make, expert = cue_env(kind)
    demos = flatten_trajectories(rollout(make, expert, 10, seed=0))
    result = train_bc(demos, Spaces.of(make()), BCConfig(device="cpu", epochs=30))
    assert evaluate_returns(make, result.policy, episodes=5, seed=100).mean >= 19


def test_early_stopping_stops_and_keeps_the_best_epoch() -> None:
    _, demos = expert_demos("CartPole-v1", 3)
    cfg = BCConfig(device="cpu", epochs=500, patience=3, lr=3e-2)
    result = train_bc(demos, env_spaces("CartPole-v1"), cfg)
    assert len(result.history) < 500
    best = min(row["val_loss"] for row in result.history)
    assert result.history[result.best_epoch]["val_loss"] == best


def test_entropy_bonus_raises_policy_entropy() -> None:
    _, demos = expert_demos("CartPole-v1", 3)
    spaces = env_spaces("CartPole-v1")
    plain = train_bc(demos, spaces, BCConfig(device="cpu", epochs=20, val_fraction=0.0))
    bonus = train_bc(
        demos, spaces, BCConfig(device="cpu", epochs=20, val_fraction=0.0, ent_weight=1.0)
    )
    obs = torch.as_tensor(demos.obs)
    with torch.no_grad():
        h_plain = plain.policy.dist(obs).entropy.mean()  # type: ignore[union-attr]
        h_bonus = bonus.policy.dist(obs).entropy.mean()  # type: ignore[union-attr]
    assert h_bonus > h_plain + 0.1


def test_weight_decay_shrinks_weights() -> None:
    _, demos = expert_demos("CartPole-v1", 3)
    spaces = env_spaces("CartPole-v1")

    def norm(wd: float) -> float:
        cfg = BCConfig(device="cpu", epochs=30, val_fraction=0.0, weight_decay=wd, hidden=(64, 64))
        policy = train_bc(demos, spaces, cfg).policy
        return float(sum(p.pow(2).sum() for p in policy.parameters()))

    assert norm(5.0) < 0.8 * norm(0.0)


def test_same_seed_same_policy() -> None:
    _, demos = expert_demos("CartPole-v1", 2)
    spaces = env_spaces("CartPole-v1")
    cfg = BCConfig(device="cpu", epochs=5, seed=1, hidden=(32,))
    a, b = (train_bc(demos, spaces, cfg).policy for _ in range(2))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_saved_policy_reloads_and_acts_identically(tmp_path, cue_env) -> None:  # noqa: ANN001
    make, expert = cue_env("dict")
    demos = flatten_trajectories(rollout(make, expert, 2, seed=0))
    policy = train_bc(demos, Spaces.of(make()), BCConfig(device="cpu", epochs=2)).policy
    policy.save(tmp_path / "policy.pt")
    again = ActorPolicy.load(tmp_path / "policy.pt")
    np.testing.assert_array_equal(policy(demos.obs), again(demos.obs))


def test_min_updates_raises_the_epochs_on_a_small_dataset() -> None:
    _, demos = expert_demos("CartPole-v1", 1)  # 500 steps: 2 minibatches of 256 per epoch
    cfg = BCConfig(device="cpu", epochs=3, min_updates=40, val_fraction=0.0)
    assert len(train_bc(demos, env_spaces("CartPole-v1"), cfg).history) == 20


class StopAt(Exception):
    """Raised by a callback to cut training short, as a kill would."""


def test_resumed_training_ends_with_the_policy_of_an_uninterrupted_one(tmp_path) -> None:  # noqa: ANN001
    from protege.callbacks import Callback

    _, demos = expert_demos("CartPole-v1", 2)
    spaces = env_spaces("CartPole-v1")
    cfg = BCConfig(device="cpu", epochs=30, patience=1000, hidden=(32,))
    whole = train_bc(demos, spaces, cfg)

    class Kill(Callback):
        def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
            if i == 17:  # after the checkpoint of epoch 10 (0-based 9), before that of 20
                raise StopAt

    ckpt = tmp_path / "bc.pt"
    with pytest.raises(StopAt):
        train_bc(demos, spaces, cfg, [Kill()], checkpoint=ckpt, checkpoint_every=10)
    seen: list[int] = []

    class Record(Callback):
        def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
            seen.append(i)

    resumed = train_bc(demos, spaces, cfg, [Record()], checkpoint=ckpt, checkpoint_every=10)
    assert seen == list(range(30))  # 10 replayed from the checkpoint, 20 trained
    for pa, pb in zip(whole.policy.parameters(), resumed.policy.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert resumed.best_epoch == whole.best_epoch
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in whole.history]


def test_a_damaged_checkpoint_is_named_with_the_fix(tmp_path) -> None:  # noqa: ANN001
    from protege.errors import RunDirError

    _, demos = expert_demos("CartPole-v1", 1)
    ckpt = tmp_path / "bc.pt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(RunDirError, match="bc.pt.*delete it"):
        train_bc(demos, env_spaces("CartPole-v1"), BCConfig(device="cpu"), checkpoint=ckpt)
    assert ckpt.read_bytes() == b"not a checkpoint"  # left as it was


def test_the_default_width_is_wider_on_mujoco_and_a_set_one_is_kept() -> None:
    # Hopper-v5 from 10 episodes, fit seeds 0-2: 64x64 0.99 / 0.98 / 0.66, 256x256 1.00 x3
    assert policy_arch(BCConfig(), "Hopper-v5").hidden == MUJOCO_HIDDEN == (256, 256)
    assert policy_arch(BCConfig(), "protege/HopperFixedHorizon-v5").hidden == MUJOCO_HIDDEN
    assert policy_arch(BCConfig(), "Pendulum-v1").hidden == SMALL_HIDDEN == (64, 64)
    assert policy_arch(BCConfig(), None).hidden == SMALL_HIDDEN  # a factory or nothing
    assert policy_arch(BCConfig(hidden=(32,)), "Hopper-v5").hidden == (32,)
