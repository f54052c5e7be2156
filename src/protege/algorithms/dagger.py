"""DAgger: dataset aggregation (Ross, Gordon & Bagnell 2011).

Behavioral cloning only sees the expert's states, so its mistakes lead it to states it was
never taught. DAgger runs the learner (mixed with the expert with probability β_i), asks the
expert what it would have done on every state visited, aggregates those labels with all
earlier ones and re-fits the policy by BC. Each round's labelled data is saved before the
policy is trained on it, so an interrupted run resumes from the last finished round.

Where the labels come from is one function, `Collect`: by default the expert policy labels
every state the β-mixture visits; with a person as the expert, HG-DAgger's gating (Kelly et
al. 2019, `protege.experts.human.human_collector`) labels only the segments they took over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from protege.algorithms.bc import BCConfig, check_policy, train_bc
from protege.callbacks import Callback, CallbackList
from protege.config import check_fields
from protege.data.rollout import EpisodeSeeded, Policy, rollout
from protege.data.storage import load_trajectories, save_trajectories
from protege.data.types import Obs, Trajectory, flatten_trajectories, obs_index
from protege.envs import EnvFactory, Spaces
from protege.errors import ConfigError
from protege.policies import ActorPolicy

SCHEDULES = ("constant", "linear", "exponential")


@dataclass(frozen=True)
class DAggerConfig:
    """DAgger settings.

    rounds: rounds of (roll out, label, aggregate, re-fit), the first one pure expert.
    labels_per_round: expert labels (env steps) gathered in each round.
    beta_schedule: how the probability β_i of executing the expert's action decays:
        "constant" (β_i = beta for i ≥ 1), "linear" (β_i = max(0, 1 - i / rounds)) or
        "exponential" (β_i = beta_decay ** i). Round 0 always has β = 1.
    beta: the constant schedule's β.
    beta_decay: the exponential schedule's factor p (Ross et al.'s β_i = p^(i-1)).
    warm_start: continue from the previous round's policy instead of a fresh one.
    bc: the inner behavioral-cloning settings, the policy's head among them: `bc.policy`,
        `bc.history`, `bc.chunk`... (`protege train dagger` also takes them without
        "bc.", e.g. --set policy=gmm).
    seed: seeds rollouts (round i, episode j starts from seed·10^6 + i·10^4 + j) and BC.
    """

    rounds: int = 5
    labels_per_round: int = 2000
    beta_schedule: str = "exponential"
    beta: float = 0.5
    beta_decay: float = 0.5
    warm_start: bool = True
    bc: BCConfig = field(default_factory=lambda: BCConfig(epochs=50))
    seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.beta_schedule not in SCHEDULES:
            raise ConfigError(
                f"beta_schedule '{self.beta_schedule}' unknown; use one of {', '.join(SCHEDULES)}"
            )
        if self.rounds < 1 or self.labels_per_round < 1:
            raise ConfigError("rounds and labels_per_round must be at least 1")
        if not 0.0 <= self.beta <= 1.0 or not 0.0 <= self.beta_decay <= 1.0:
            raise ConfigError("beta and beta_decay must lie in [0, 1]")


def beta_at(cfg: DAggerConfig, i: int) -> float:
    """β_i: the probability of executing the expert's action in round i."""
    if i == 0:
        return 1.0
    if cfg.beta_schedule == "constant":
        return cfg.beta
    if cfg.beta_schedule == "linear":
        return max(0.0, 1.0 - i / cfg.rounds)
    return cfg.beta_decay**i


class MixturePolicy:
    """Executes the expert's action with probability β, the learner's otherwise, per step.

    The learner is called on every step (the expert too while β > 0), so a learner with a
    window or action chunks sees the whole episode whichever action was executed."""

    def __init__(self, expert: Policy, learner: Policy, beta: float, seed: int) -> None:
        self.expert, self.learner, self.beta = expert, learner, beta
        self.rng = np.random.default_rng(seed)

    def start_episode(self, slot: int, episode: int) -> None:
        """Pass `rollout`'s episode starts on to the learner and the expert that keep
        per-episode state (a window, action chunks, seeded noise: `EpisodeSeeded`)."""
        for policy in (self.learner, self.expert):
            if isinstance(policy, EpisodeSeeded):
                policy.start_episode(slot, episode)

    def __call__(self, obs: Obs) -> np.ndarray:
        learner = np.asarray(self.learner(obs))
        if self.beta <= 0.0:
            return learner
        expert = np.asarray(self.expert(obs)).reshape(learner.shape)
        use_expert = self.rng.random(len(learner)) < self.beta
        return np.where(use_expert.reshape(-1, *[1] * (learner.ndim - 1)), expert, learner)


def label(trajs: Sequence[Trajectory], expert: Policy) -> list[Trajectory]:
    """The same visited states, with the expert's action on each as the label.

    An expert that keeps per-episode state (`EpisodeSeeded`: one that remembers a cue seen
    at the start, or draws a choice per episode) is shown each trajectory step by step from
    its first state, as if it were acting there, so its label at a step can depend on what
    the episode showed earlier; any other expert labels a whole trajectory in one batch.
    """
    out = []
    for k, t in enumerate(trajs):
        visited = obs_index(t.obs, slice(0, -1))
        if isinstance(expert, EpisodeSeeded):
            expert.start_episode(0, k)
            steps = [np.asarray(expert(obs_index(visited, slice(i, i + 1))))
                     for i in range(len(t.acts))]  # fmt: skip
            acts = np.concatenate(steps).reshape(t.acts.shape)
        else:
            acts = np.asarray(expert(visited)).reshape(t.acts.shape)
        out.append(Trajectory(t.obs, acts.astype(t.acts.dtype), t.rews, t.terminated, t.truncated))
    return out


Collect = Callable[[int, Policy | None, float, int], list[Trajectory]]
"""(round i, learner so far or None before the first fit, β_i, seed) -> labelled trajectories."""


def expert_collector(
    env: str | EnvFactory, expert: Policy, labels_per_round: int, seed: int = 0
) -> Collect:
    """Ross et al.'s collection: run the β-mixture for `labels_per_round` steps (whole episodes
    one after another, the last one cut) and label every visited state with the expert."""

    def collect(i: int, learner: Policy | None, beta: float, round_seed: int) -> list[Trajectory]:
        executed: Policy = (
            expert
            if learner is None
            else MixturePolicy(expert, learner, beta, seed * 1_000_003 + i)
        )
        visited = rollout(
            env, executed, episodes=10**9, seed=round_seed, n_envs=1, max_steps=labels_per_round
        )
        return label(visited, expert)

    return collect


@dataclass
class DAggerResult:
    """The final policy and one history row per round."""

    policy: ActorPolicy
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0


def round_path(rounds_dir: Path, i: int) -> Path:
    """Where round i's labelled data lives."""
    return rounds_dir / f"round_{i:03d}.npz"


def train_dagger(
    expert: Policy | None,
    spaces: Spaces,
    cfg: DAggerConfig = DAggerConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory,
    checkpoint: str | Path | None = None,
    evaluate: Callable[[Policy], dict[str, float]] | None = None,
    collect: Collect | None = None,
) -> DAggerResult:
    """Run DAgger: `cfg.rounds` rounds of roll out, label, aggregate and re-fit by BC.

    The trainers' common signature with the family's one difference: DAgger learns from an
    expert it queries, not from a dataset, so the first argument, the source of the
    demonstrations, is that expert rather than recorded demos.

    expert: a batched policy that labels states (any callable, stochastic or not); None
        when `collect` gathers the labels itself (a person, HG-DAgger).
    env: the env id or factory the rounds are rolled out in; an id is also recorded in
        each round's saved labels.
    checkpoint: the rounds directory: each round's labels are written there before the
        fit (that is the round's checkpoint) and reused on resume, so an interrupted run
        ends with the same policy as one never stopped.
    callbacks: `on_start(rounds, "round")`, one `on_iteration` per round, `on_end`.
    evaluate: called on the policy after each round (e.g. return and normalised score);
        its metrics join that round's history row.
    collect: where each round's labels come from (default: `expert_collector`).
    """
    env_id = env if isinstance(env, str) else None
    check_policy(cfg.bc, spaces)  # a head the actions cannot have fails before round 0
    if collect is None:
        if expert is None:
            raise ConfigError("DAgger needs an expert policy or a collect function")
        collect = expert_collector(env, expert, cfg.labels_per_round, cfg.seed)
    cb = CallbackList(callbacks)
    rounds_path = Path(checkpoint) if checkpoint is not None else None
    if rounds_path is not None:
        rounds_path.mkdir(parents=True, exist_ok=True)
    data: list[Trajectory] = []
    policy: ActorPolicy | None = None
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    cb.on_start(cfg.rounds, "round")
    for i in range(cfg.rounds):
        beta = beta_at(cfg, i)
        saved = round_path(rounds_path, i) if rounds_path is not None else None
        if saved is not None and saved.is_file():
            new = load_trajectories(saved, spaces=spaces).trajectories  # resume
        else:
            new = collect(i, policy, beta, cfg.seed * 1_000_000 + i * 10_000)
            if saved is not None and new:  # a round with no takeover has nothing to keep
                save_trajectories(saved, new, env_id, spaces)
        data.extend(new)
        if data:
            start_from = policy if cfg.warm_start else None
            bc_cfg = replace(cfg.bc, seed=cfg.seed + i)
            # a resumed run replays the fits of finished rounds on their saved labels: same
            # seeds, same data, so the same policy as if it had never stopped
            policy = train_bc(
                flatten_trajectories(data), spaces, bc_cfg, env=env, policy=start_from
            ).policy
        row = {
            "round": float(i),
            "beta": beta,
            "labels": float(sum(len(t) for t in data)),
            "episodes_collected": float(len(new)),
            "seconds": time.perf_counter() - start,
        }
        if evaluate is not None and policy is not None:
            row.update(evaluate(policy))
        history.append(row)
        cb.on_iteration(i, row)
    if policy is None:
        raise ConfigError(
            f"DAgger gathered no expert labels in {cfg.rounds} rounds; nothing to fit"
        )
    cb.on_end(history[-1] if history else {})
    return DAggerResult(policy, history, time.perf_counter() - start)
