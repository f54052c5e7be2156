"""BC's policy heads judged by what they learn and how they act: a mixture and a diffusion
keep both modes of bimodal demonstrations that an MLP averages; a window of observations
learns an expert with memory; every head saves, reloads and acts the same, seeded."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from protege.algorithms.bc import BCConfig, bc_loss, make_batches, train_bc
from protege.algorithms.dagger import MixturePolicy
from protege.callbacks import Callback
from protege.data import flatten_trajectories, rollout
from protege.data.types import Transitions
from protege.envs import Spaces, env_spaces
from protege.errors import ConfigError
from protege.evaluation import evaluate_returns
from protege.experts.scripted import scripted_expert
from protege.export import export_program, save_program
from protege.heads.windows import episode_starts
from protege.policies import ActorPolicy, PolicyArch

BOX = Spaces(gym.spaces.Box(-1, 1, (2,), np.float32), gym.spaces.Box(-2, 2, (1,), np.float32))


def bimodal(seed: int, n: int = 1000) -> Transitions:
    """Observations uniform in [-1, 1]², the expert's action +1 or -1 at random: two
    equally good modes, whose average (0) no demonstration ever took."""
    rng = np.random.default_rng(seed)
    obs = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    acts = rng.choice([-1.0, 1.0], n).astype(np.float32)[:, None]
    done = np.zeros(n, dtype=bool)
    return Transitions(obs, acts, obs, done, done.copy())


def acts_on_fresh_states(policy: ActorPolicy) -> np.ndarray:
    obs = np.random.default_rng(100).uniform(-1, 1, (400, 2)).astype(np.float32)
    return policy(obs)[:, 0]


def test_mlp_averages_the_two_modes() -> None:
    cfg = BCConfig(device="cpu", epochs=30, val_fraction=0.0)
    a = acts_on_fresh_states(train_bc(bimodal(0), BOX, cfg).policy)
    assert np.abs(a).mean() < 0.3 and np.mean(np.abs(np.abs(a) - 1) < 0.3) < 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gmm_samples_land_on_both_modes(seed: int) -> None:
    cfg = BCConfig(device="cpu", policy="gmm", epochs=30, val_fraction=0.0, seed=seed,
                   gmm_act="sample")  # fmt: skip
    a = acts_on_fresh_states(train_bc(bimodal(seed), BOX, cfg).policy)
    assert np.mean(np.abs(np.abs(a) - 1) < 0.3) >= 0.9
    assert 0.3 <= np.mean(a > 0) <= 0.7  # both modes, in about their share
    # by its heaviest component (the default) it commits to one mode per state: never the
    # average of the two
    by_mode = train_bc(bimodal(seed), BOX, dataclasses.replace(cfg, gmm_act="mode")).policy
    assert np.mean(np.abs(np.abs(acts_on_fresh_states(by_mode)) - 1) < 0.3) >= 0.9


def test_diffusion_samples_land_on_both_modes() -> None:
    for seed in (0, 1, 2):
        cfg = BCConfig(device="cpu", policy="diffusion", epochs=100, batch_size=64, lr=3e-3,
                       val_fraction=0.0, seed=seed, min_updates=1)  # fmt: skip
        a = acts_on_fresh_states(train_bc(bimodal(seed), BOX, cfg).policy)
        assert np.mean(np.abs(np.abs(a) - 1) < 0.3) >= 0.7, seed
        assert np.mean(np.abs(a) < 0.4) <= 0.15, seed  # not the average the MLP takes
        assert 0.3 <= np.mean(a > 0) <= 0.7, seed


# -- a window of observations ---------------------------------------------------------------
class EchoEnv(gym.Env):
    """Each step shows a random bit; reward 1 for the action naming the bit shown one step
    earlier (at the first step, the bit shown then). A memoryless policy is right half the
    time after the first step; 20 steps, truncated."""

    observation_space = gym.spaces.Box(0, 1, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.t, self.bit = 0, int(self.np_random.integers(2))
        self.target = self.bit
        return np.array([self.bit], np.float32), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        reward = float(int(action) == self.target)
        self.t, self.target, self.bit = self.t + 1, self.bit, int(self.np_random.integers(2))
        return np.array([self.bit], np.float32), reward, False, self.t >= 20, {}


class EchoExpert:
    """The optimal batched policy of EchoEnv: it remembers each row's previous bit, and
    forgets it when `rollout` starts a new episode in that row."""

    def __init__(self) -> None:
        self.prev: dict[int, int] = {}

    def start_episode(self, slot: int, episode: int) -> None:
        self.prev.pop(slot, None)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        bits = np.asarray(obs)[:, 0].round().astype(np.int64)
        acts = np.array([self.prev.get(i, int(b)) for i, b in enumerate(bits)], np.int64)
        self.prev = {i: int(b) for i, b in enumerate(bits)}
        return acts


def test_a_window_of_two_observations_learns_an_expert_with_memory() -> None:
    demos = flatten_trajectories(rollout(EchoEnv, EchoExpert(), 30, seed=0, n_envs=4))
    spaces = Spaces.of(EchoEnv())
    returns = {}
    for name, extra in {"memoryless": {}, "history": {"history": 2},
                        "history+chunk": {"history": 2, "chunk": 3}}.items():  # fmt: skip
        cfg = BCConfig(device="cpu", epochs=60, hidden=(32,), **extra)
        policy = train_bc(demos, spaces, cfg).policy
        returns[name] = evaluate_returns(EchoEnv, policy, episodes=10, seed=500).mean
    assert returns["history"] >= 19.5 and returns["history+chunk"] >= 19.5, returns
    assert returns["memoryless"] <= 14, returns  # chance after the first step


# -- losses with chunks -------------------------------------------------------------------
def chunked(policy: str) -> tuple[ActorPolicy, BCConfig, Any]:
    """A policy with chunk 3 and history 2, its config, and a minibatch of two episodes
    of three steps (rows 1, 2 and 4, 5 reach past their episode's end)."""
    cfg = BCConfig(device="cpu", policy=policy, chunk=3, history=2)
    head = "deterministic" if policy == "mlp" else policy
    net = ActorPolicy(BOX, PolicyArch(hidden=(16,), head=head, chunk=3, history=2))
    demos = bimodal(0, n=6)
    starts = np.array([True, False, False, True, False, False])
    batch = make_batches(torch.as_tensor(demos.obs), torch.as_tensor(demos.acts), starts, 2, 3)
    return net, cfg, batch(torch.arange(6))


@pytest.mark.parametrize("policy", ["mlp", "gmm"])
def test_chunk_steps_past_the_episode_end_do_not_count_in_the_loss(policy: str) -> None:
    net, cfg, (obs, acts, pad) = chunked(policy)
    assert pad is not None and pad.sum() == 6

    def loss(targets: torch.Tensor) -> float:
        return float(bc_loss(net, obs, targets, cfg, pad=pad)[0].detach())

    moved_pad, moved_real = acts.clone(), acts.clone()
    moved_pad[pad] = -acts[pad]
    moved_real[~pad] = -acts[~pad]
    assert loss(moved_pad) == loss(acts)
    assert loss(moved_real) != loss(acts)


def test_the_diffusion_loss_counts_only_unpadded_chunk_steps() -> None:
    net, _, (obs, acts, pad) = chunked("diffusion")

    def per_row(pad: torch.Tensor | None) -> torch.Tensor:
        return net.diffusion_loss(obs, acts, pad, torch.Generator().manual_seed(0)).detach()

    everything = per_row(None)
    assert torch.all(everything > 0)
    assert torch.all(per_row(torch.ones_like(pad, dtype=torch.bool)) == 0)
    masked = per_row(pad)
    assert torch.all(masked[~pad.any(1)] == everything[~pad.any(1)])  # rows 0 and 3: whole
    assert torch.all(masked[pad.any(1)] < everything[pad.any(1)])


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("policy", ["gmm", "diffusion"])
def test_a_continuous_head_on_discrete_actions_is_one_line_naming_the_fix(policy: str) -> None:
    spaces = env_spaces("CartPole-v1")
    obs, done = np.zeros((4, 4), np.float32), np.zeros(4, bool)
    demos = Transitions(obs, np.zeros(4, np.int64), obs, done, done)
    with pytest.raises(ConfigError, match="use --set policy=mlp") as err:
        train_bc(demos, spaces, BCConfig(device="cpu", policy=policy))
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="sample_steps=20 exceeds diffusion_steps=10"):
        BCConfig(policy="diffusion", diffusion_steps=10, sample_steps=20)
    with pytest.raises(ConfigError, match=r"action_steps=4: must lie in 1..chunk=3"):
        BCConfig(policy="diffusion", chunk=3, action_steps=4)
    with pytest.raises(ConfigError, match=r"action_steps=2: must lie in 1..chunk=1"):
        ActorPolicy(BOX, PolicyArch(head="diffusion", action_steps=2))


# -- persistence and reproducibility ----------------------------------------------------------
HEADS = {
    "mlp": {"policy": "mlp"},
    "gmm": {"policy": "gmm"},
    "diffusion": {"policy": "diffusion", "min_updates": 1},  # the test's tiny fit, not 15k
    # chunks of 3 played 2 at a time: the plan being played is per-row memory too
    "diffusion-receding": {"policy": "diffusion", "min_updates": 1, "action_steps": 2},
}


@pytest.fixture(scope="module")
def pendulum_demos() -> Transitions:
    expert = scripted_expert("Pendulum-v1").act
    return flatten_trajectories(rollout("Pendulum-v1", expert, 2, seed=0))


def rollout_actions(policy: ActorPolicy, seed: int = 7) -> np.ndarray:
    trajs = rollout("Pendulum-v1", policy, episodes=3, seed=seed, n_envs=2)
    return np.concatenate([t.acts for t in trajs])


@pytest.mark.parametrize("head", list(HEADS))
def test_every_head_saves_reloads_and_acts_the_same_on_the_same_seeds(
    head: str, pendulum_demos: Transitions, tmp_path: Path
) -> None:
    cfg = BCConfig(device="cpu", epochs=2, hidden=(16,), history=2, chunk=3, **HEADS[head])
    policy = train_bc(pendulum_demos, env_spaces("Pendulum-v1"), cfg).policy
    first = rollout_actions(policy)
    np.testing.assert_array_equal(first, rollout_actions(policy))  # same seed, same rollout
    policy.save(tmp_path / "policy.pt")
    loaded = ActorPolicy.load(tmp_path / "policy.pt")
    assert loaded.arch == policy.arch
    np.testing.assert_array_equal(first, rollout_actions(loaded))


def test_sampling_heads_draw_per_episode_from_the_policy_seed(pendulum_demos: Transitions) -> None:
    base = BCConfig(device="cpu", epochs=2, hidden=(16,), policy="diffusion", min_updates=1)
    policy = train_bc(pendulum_demos, env_spaces("Pendulum-v1"), base).policy
    reseeded = ActorPolicy(policy.spaces, dataclasses.replace(policy.arch, seed=1))
    reseeded.load_state_dict(policy.state_dict())
    assert not np.array_equal(rollout_actions(policy), rollout_actions(reseeded))


STANDALONE = """
import sys
import numpy as np
from protege.policies import ActorPolicy
policy = ActorPolicy.load(sys.argv[1])
policy.start_episode(0, 0)
print(policy(np.zeros((1, 3), np.float32)).tolist())
loaded = sorted(m for m in sys.modules if m.startswith(("protege.algorithms", "protege.jobs")))
assert not loaded, loaded
"""


def test_a_diffusion_policy_with_history_and_chunks_acts_without_training_code(
    pendulum_demos: Transitions, tmp_path: Path
) -> None:
    cfg = BCConfig(
        device="cpu", epochs=2, hidden=(16,), policy="diffusion", history=2, chunk=4, min_updates=1
    )
    policy = train_bc(pendulum_demos, env_spaces("Pendulum-v1"), cfg).policy
    policy.save(tmp_path / "policy.pt")
    state = torch.load(tmp_path / "policy.pt", weights_only=True)["state_dict"]
    assert any(k.startswith("ema.") for k in state)  # the averaged weights, which act
    out = subprocess.run([sys.executable, "-c", STANDALONE, str(tmp_path / "policy.pt")],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    policy.start_episode(0, 0)
    assert json.loads(out.stdout) == policy(np.zeros((1, 3), np.float32)).tolist()


def test_a_policy_file_from_before_the_heads_loads_and_acts_as_before(tmp_path: Path) -> None:
    policy = ActorPolicy(env_spaces("Pendulum-v1"), PolicyArch(hidden=(16,), head="deterministic"))
    policy.save(tmp_path / "policy.pt")
    payload = torch.load(tmp_path / "policy.pt", weights_only=True)
    old = {k: v for k, v in json.loads(payload["arch"]).items()
           if k in ("hidden", "cnn_features", "head", "activation", "normalize_obs")}  # fmt: skip
    payload["arch"] = json.dumps(old)
    torch.save(payload, tmp_path / "old.pt")
    loaded = ActorPolicy.load(tmp_path / "old.pt")
    obs = np.random.default_rng(0).uniform(-1, 1, (5, 3)).astype(np.float32)
    assert not loaded.arch.stateful
    assert loaded.arch.redraw == "step"  # a sampling head saved before `redraw` drew per step
    np.testing.assert_array_equal(loaded(obs), policy(obs))


@pytest.mark.parametrize("redraw", ["episode", "step"])
def test_a_diffusion_policy_acts_alike_all_episode_only_when_drawing_once(
    pendulum_demos: Transitions, redraw: str
) -> None:
    """One observation shown at every step of an episode: with redraw="episode" the
    diffusion's noise, hence its action, is the same at each; with "step" it is not."""
    cfg = BCConfig(device="cpu", epochs=2, hidden=(16,), policy="diffusion", min_updates=1,
                   redraw=redraw)  # fmt: skip
    policy = train_bc(pendulum_demos, env_spaces("Pendulum-v1"), cfg).policy
    obs = np.zeros((1, 3), np.float32)
    policy.start_episode(0, 0)
    actions = [policy(obs).tolist() for _ in range(4)]
    assert (actions.count(actions[0]) == 4) == (redraw == "episode"), actions


def test_export_refuses_a_policy_that_remembers_naming_policy_pt(tmp_path: Path) -> None:
    arch = PolicyArch(hidden=(8,), head="gmm", gmm_act="sample")
    policy = ActorPolicy(env_spaces("Pendulum-v1"), arch)
    with pytest.raises(ConfigError, match="act from policy.pt with .*ActorPolicy.load"):
        export_program(policy)
    # acting by its heaviest component, a mixture maps each observation alone: exported
    by_mode = ActorPolicy(policy.spaces, dataclasses.replace(policy.arch, gmm_act="mode"))
    assert save_program(by_mode, tmp_path / "policy.pt2").is_file()  # checked against the policy


def test_daggers_mixture_tells_the_learner_and_the_expert_of_each_episode() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.starts: list[tuple[int, int]] = []

        def start_episode(self, slot: int, episode: int) -> None:
            self.starts.append((slot, episode))

        def __call__(self, obs: np.ndarray) -> np.ndarray:
            return np.zeros(len(obs), np.int64)

    learner, expert = Recorder(), Recorder()
    mixture = MixturePolicy(expert, learner, beta=0.5, seed=0)
    rollout(EchoEnv, mixture, episodes=3, seed=0, n_envs=2)
    assert sorted(learner.starts) == sorted(expert.starts) == [(0, 0), (0, 2), (1, 1)]


def test_starts_reach_windows_through_daggers_aggregated_rounds() -> None:
    rounds = [rollout(EchoEnv, EchoExpert(), 2, seed=s, n_envs=1, max_steps=30) for s in (0, 9)]
    demos = flatten_trajectories([t for r in rounds for t in r])
    starts = episode_starts(demos.starts, demos.terminated, demos.truncated)
    lengths = [len(t) for r in rounds for t in r]
    assert np.flatnonzero(starts).tolist() == np.cumsum([0, *lengths[:-1]]).tolist()


def test_a_diffusion_fit_killed_after_a_checkpoint_resumes_to_the_same_weights(
    pendulum_demos: Transitions, tmp_path: Path
) -> None:
    """The noise and steps of the denoising loss come from the checkpointed generator, and
    the averaged weights are in the checkpoint: a resumed fit is the unbroken one."""

    class Stop(Exception):
        pass

    class StopAfter(Callback):
        def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
            if i == 2:
                raise Stop

    cfg = BCConfig(
        device="cpu", epochs=4, hidden=(16,), policy="diffusion", history=2, chunk=3, min_updates=1
    )
    spaces = env_spaces("Pendulum-v1")
    whole = train_bc(pendulum_demos, spaces, cfg).policy
    ckpt = tmp_path / "bc.pt"
    with pytest.raises(Stop):
        train_bc(pendulum_demos, spaces, cfg, [StopAfter()], checkpoint=ckpt, checkpoint_every=2)
    resumed = train_bc(pendulum_demos, spaces, cfg, checkpoint=ckpt, checkpoint_every=2).policy
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_a_diffusion_head_trains_for_15000_updates_unless_told_otherwise(
    pendulum_demos: Transitions,
) -> None:
    """BC's 300 epochs are far too few updates for a diffusion head on a small dataset
    (Pendulum from 20 episodes: 0.46 normalised after ~4k, 0.96 after ~14k)."""
    from protege.algorithms.bc import DIFFUSION_MIN_UPDATES

    class Planned(Exception):
        pass

    class Plan(Callback):
        def on_start(self, total: int, unit: str) -> None:
            raise Planned(total)

    spaces = env_spaces("Pendulum-v1")  # 2 episodes: 360 training rows, 2 batches an epoch
    batches = math.ceil(int(len(pendulum_demos) * 0.9 + 0.5) / 256)
    for cfg, epochs in (
        (BCConfig(device="cpu", epochs=300, policy="diffusion"), DIFFUSION_MIN_UPDATES / batches),
        (BCConfig(device="cpu", epochs=300, policy="diffusion", min_updates=1), 300),
        (BCConfig(device="cpu", epochs=300, policy="gmm"), 300),
    ):
        with pytest.raises(Planned) as planned:
            train_bc(pendulum_demos, spaces, cfg, [Plan()])
        assert planned.value.args[0] == math.ceil(epochs), cfg.policy
