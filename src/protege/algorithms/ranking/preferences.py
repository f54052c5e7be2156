"""Deep RL from preferences (Christiano et al. 2017, "Deep Reinforcement Learning from
Human Preferences"): a reward learned from pairwise comparisons of short segments of the
learner's own behaviour, asked for a few at a time, and an SB3 learner trained on it as
it improves.

Each round:

1. the current learner (a random policy before the first round) is rolled out for
   `rollout_episodes` episodes;
2. `candidates` segment pairs are drawn from those episodes and the `queries_per_round`
   most informative are asked: those on which the reward ensemble disagrees most (the
   variance over members of the predicted P(a ≻ b), `query_selection="disagreement"`),
   or a random choice (`"random"`; also the first round, before any reward exists);
3. they are labelled by a simulated labeller from the env's true reward (Boltzmann with
   `rationality`, mistakes with probability `error`: `protege.data.synthetic_preferences`),
   by a person in a window (`labeller="human"`: the two segments play side by side and a
   key answers, `protege.experts.human.HumanLabeller`; Q stops labelling and the run
   trains on what is labelled), or, when the dataset stores preferences, taken from those
   (the candidates are then the stored comparisons not yet used, and no one is asked);
4. the Bradley–Terry ensemble (`bradley_terry.train_bradley_terry`) is refitted on every
   label so far and calibrated on every step seen so far;
5. the learner trains `steps / rounds` further env steps on the new reward (SAC and DQN
   pay their replayed steps by it too: `protege.rl.build_learner(reward_relabel=)`).

Progress rows are `loop.ROW_KEYS` rows: stage 0, each reward fit's epochs (env_steps 0);
stage 1, learner rows every `log_every` env steps and evaluations at a round's end.

With `checkpoint=`, the run is saved once each round's reward is fitted, every
`checkpoint_every` learner rows and at each round's end (`preference_state`: the episodes,
the labels, the reward nets, the learner and its optimisers); a resumed run goes on from
there, the learner with fresh episodes. With `labels=`, the run's preferences dataset
(every episode a label speaks of, every label) is rewritten atomically after each answer
a person gives and once a round's synthetic labels are drawn; a resumed run takes the
answers it holds beyond the checkpoint's instead of asking again.

    result = train_preferences([], None, PreferencesConfig(steps=40_000), env="Pendulum-v1")
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from protege.algorithms.best import BestSoFar, evaluate_learner
from protege.algorithms.ranking.bradley_terry import EnsembleReward, make_ensemble
from protege.algorithms.ranking.bradley_terry import train_bradley_terry as fit_reward
from protege.algorithms.ranking.config import RankingConfig
from protege.algorithms.ranking.loop import (
    RankingResult,
    _resume_seed,
    _Rows,
    learner_env,
    predicted_returns,
    rank_correlation,
    row,
)
from protege.algorithms.ranking.preference_state import PreferenceState, pending, write_labels
from protege.algorithms.ranking.queries import (
    Person,
    candidate_pairs,
    disagreement,
    pairs_of,
    random_queries,
    renumber,
    replayable,
    round_episodes,
    select_queries,
)
from protege.callbacks import Callback, CallbackList
from protege.checkpoint import CHECKPOINT_EVERY, load_checkpoint, restoring, save_checkpoint
from protege.data.preferences import Preference
from protege.data.rollout import RandomPolicy
from protege.data.types import Trajectory
from protege.envs import EnvFactory, Spaces
from protege.errors import ConfigError, DatasetError
from protege.experts import SB3Expert
from protege.nets import resolve_device
from protege.rewards import RewardVecEnvWrapper
from protege.rl import (
    build_learner,
    check_learner,
    learner_state,
    make_vec_env,
    recent_returns,
    restore_learner_state,
    round_callback,
)

QUERY_SELECTION = ("disagreement", "random")
LABELLERS = ("synthetic", "human")
ROLLOUT_SEED = 40_000
"""Rollouts for queries use episode seeds 40000 + 1000 * round, ...: apart from the
demonstrations', the final evaluation's (10000, ...) and in-training evaluations'."""

__all__ = [
    "PreferencesConfig",
    "PreferencesResult",
    "disagreement",
    "pairs_of",
    "random_queries",
    "select_queries",
    "train_preferences",
]


@dataclass(frozen=True)
class PreferencesConfig(RankingConfig):
    """DRLHP settings (see `RankingConfig` for the reward fit and the learner; of `reward`,
    `pairs`, `snippet_min`, `snippet_max` and `later_start` are unused: the pairs are the
    queries). `reward_transform="auto"` is "absorbing" here once a labelled segment runs
    past the end of an episode that terminated (its level against the absorbing state's 0
    is then what the labels fixed: falling is worse than staying up, reaching the goal
    better than wandering), else "standardize" (nothing ranks whole episodes);
    `eval_every` > 0 evaluates the learner at each round's end.

    rounds: query-fit-train rounds; the learner trains `steps / rounds` env steps in each.
    queries_per_round: segment pairs labelled each round.
    candidates: segment pairs drawn from the round's rollouts to choose the queries from.
    segment_length: steps per segment (shorter in an episode that has fewer; one that runs
        past a terminal step counts 0 for the absorbing steps after it).
    rollout_episodes: episodes of the current learner rolled out each round for candidates.
    query_selection: "disagreement" (the pairs whose predicted P(a ≻ b) varies most over
        the reward ensemble; needs reward.ensemble >= 2) or "random".
    labeller: who answers: "synthetic" (a simulated labeller from the env's true reward,
        see rationality and error) or "human" (you, in a window: the two segments play side
        by side as looping clips; 1 or LEFT says the left one is better, 2 or RIGHT the
        right one, 0 or SPACE equal or can't tell, Q stops labelling and the run trains on
        what is labelled). Unused when --demos stores preferences (those are the labels).
    rationality: β of the simulated Boltzmann labeller, P(a ≻ b) = σ(β (R_a − R_b)) on the
        segments' true returns; 0 labels at random.
    error: probability that the simulated labeller flips a label, in [0, 1].
    """

    rounds: int = 5
    queries_per_round: int = 100
    candidates: int = 1000
    segment_length: int = 25
    rollout_episodes: int = 8
    query_selection: str = "disagreement"
    labeller: str = "synthetic"
    rationality: float = 1.0
    error: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("rounds", "queries_per_round", "candidates", "segment_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.rollout_episodes < 1:
            raise ConfigError(f"rollout_episodes must be at least 1, not {self.rollout_episodes}")
        if self.query_selection not in QUERY_SELECTION:
            raise ConfigError(
                f"query_selection {self.query_selection!r}: choose one of "
                f"{', '.join(QUERY_SELECTION)}"
            )
        if self.labeller not in LABELLERS:
            raise ConfigError(
                f"labeller {self.labeller!r}: choose one of {', '.join(LABELLERS)} (human: "
                "you label the queries in a window)"
            )
        if self.query_selection == "disagreement" and self.reward.ensemble < 2:
            raise ConfigError(
                "query_selection=disagreement needs a reward ensemble of 2 or more to "
                "disagree; set reward.ensemble=3 or query_selection=random"
            )
        if not self.rationality >= 0:
            raise ConfigError(f"rationality must be >= 0, not {self.rationality}")
        if not 0.0 <= self.error <= 1.0:
            raise ConfigError(f"error must lie in [0, 1] (a mistake's probability): {self.error}")


@dataclass
class PreferencesResult(RankingResult):
    """A `RankingResult` and the episodes each round rolled out for its queries (what the
    reward learned from, with their true rewards; empty lists where the dataset's stored
    preferences were the queries)."""

    rounds: list[list[Trajectory]] = field(default_factory=list)


def train_preferences(
    demos: Sequence[Trajectory],
    spaces: Spaces | None,
    cfg: PreferencesConfig = PreferencesConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    preferences: Sequence[Preference] = (),
    labels: str | Path | None = None,
    person: Person | None = None,
) -> PreferencesResult:
    """Learn a reward from preference queries on the learner's behaviour, and the learner.

    demos: episodes of the env, optional: with `preferences` (comparisons of their
        segments, e.g. a dataset's stored ones) they are the labelled pool queries are
        chosen from; without, their segments join the first round's candidates (for a
        person, those with a reset seed in their meta, "seed", which can be replayed).
    spaces: the env's, or None to take them from `env` (required: the learner acts in it).
    checkpoint: a file for the training state; a run finds it there and resumes.
    labels: the run's preferences dataset (a .npz path or a Minari directory), kept
        current (see the module docstring); with `checkpoint`, the answers it holds beyond
        the checkpoint's are reused. Not written when the labels are the stored ones.
    person: who answers when `cfg.labeller` is "human" (default: a `HumanLabeller` window
        on `env`; a script in tests).
    Callbacks as in `loop.train_ranked`.

    Raises:
        ConfigError: the learner does not fit the env.
        DatasetError: stored preferences name segments outside `demos`, the episodes to
            label carry no rewards (synthetic labeller), or nothing was labelled.
        RunDirError: the checkpoint or labels file is another run's.
    """
    env, spaces = learner_env(env, spaces)
    check_learner(cfg.learner, spaces.action, str(env))
    pool = list(demos)
    stored = list(preferences)
    if stored and not pool:
        raise DatasetError("stored preferences need the episodes they compare; pass them as demos")
    by = "dataset" if stored else cfg.labeller
    if by == "human" and person is None:
        from protege.experts.human import HumanLabeller  # here: pygame only for a person

        person = HumanLabeller(env)
    device = resolve_device(cfg.device)
    rng = np.random.default_rng(cfg.seed)
    cb = CallbackList(callbacks)
    saved = load_checkpoint(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
    state = PreferenceState.start(pool, len(stored))
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    outside = 0.0
    cb.on_start(cfg.steps, "env step")

    n_envs = cfg.n_envs if cfg.learner == "ppo" else 1
    current: list[EnsembleReward] = []  # the latest fit: the learner's env reads it

    def paid(*args: Any) -> np.ndarray:
        if not current:  # before the first fit: nothing learned yet, pay nothing
            return np.zeros(len(args[0]), dtype=np.float32)
        return current[0].predict(*args)

    def relabel(samples: Any) -> torch.Tensor:
        # an off-policy learner's replayed steps are paid by the latest reward, not by the
        # one that was current when they were taken (it changes every round)
        acts = samples.actions
        if isinstance(spaces.action, gym.spaces.Box):  # SB3 stores actions in [-1, 1]
            low = torch.as_tensor(spaces.action.low, device=acts.device)
            high = torch.as_tensor(spaces.action.high, device=acts.device)
            acts = low + 0.5 * (acts + 1.0) * (high - low)
        else:
            acts = acts.reshape(-1).long()
        with torch.no_grad():
            dones = samples.dones.reshape(-1).float()
            return current[0](samples.observations, acts, samples.next_observations, dones)

    venv = RewardVecEnvWrapper(make_vec_env(env, n_envs, cfg.seed), paid)
    model = build_learner(
        cfg.learner,
        venv,
        cfg.seed,
        str(device),
        reward_relabel=None if cfg.learner == "ppo" else relabel,
        **cfg.learner_kwargs,
    )
    best, reached = BestSoFar(), []
    facts: dict[str, Any] = {"ranked_by": by}
    if saved is not None:
        with restoring(checkpoint):
            state.load_state_dict(saved["state"])
            rng.bit_generator.state = saved["rng"]
            history = [dict(r) for r in saved["history"]]
            facts = dict(saved["facts"])
            if saved["reward"] is not None:
                torch.manual_seed(cfg.seed)
                reward = make_ensemble(spaces, cfg.reward).to(device)
                reward.load_state_dict(saved["reward"])
                reward.transform = str(facts["reward_transform"])
                current[:] = [reward.eval()]
            restore_learner_state(model, saved["learner"])
            best.load_checkpoint_state(saved.get("best"))
            reached = [int(s) for s in saved["reached"]]
        start -= float(saved["seconds"])
        for i, r in enumerate(history):
            cb.on_iteration(i, r)
        venv.seed(_resume_seed(cfg.seed, model.num_timesteps))  # not the first episodes again
    # the round a kill interrupted: its episodes and the answers given, from the labels file
    resumed_round: list[Trajectory] = []
    answered: list[Preference] = []
    if checkpoint is not None and labels is not None and by != "dataset" and not state.fitted:
        resumed_round, answered = pending(labels, state)  # (a fitted round asks nothing)
    env_id = env if isinstance(env, str) else None
    per_round = max(cfg.steps // cfg.rounds, 1)

    def save() -> None:
        nonlocal outside
        if checkpoint is None:
            return
        tick = time.perf_counter()
        save_checkpoint(checkpoint, {
            "state": state.state_dict(),
            "rng": rng.bit_generator.state,
            "reward": current[0].state_dict() if current else None,
            "history": history,
            "facts": facts,
            "seconds": tick - start - outside,
            "learner": learner_state(model),
            "best": best.checkpoint_state(),
            "reached": reached,
        })  # fmt: skip
        outside += time.perf_counter() - tick  # writing files is not training

    def note_labels() -> None:
        if labels is not None and by != "dataset":
            write_labels(labels, state, env_id, spaces)

    def report(r: dict[str, float]) -> bool:
        r["seconds"] = time.perf_counter() - start - outside
        cb.on_iteration(len(history), r)
        history.append(r)
        learner_rows = sum(h["stage"] == 1.0 for h in history)
        if state.fitted and learner_rows % max(checkpoint_every, 1) == 0:
            save()
        return True

    def on_round(env_steps: int) -> dict[str, float]:
        episodes = recent_returns(model, 20)
        mean = float(np.mean(episodes)) if episodes else math.nan
        return row(stage=1.0, env_steps=float(env_steps), return_mean=mean)

    def ask(k: int) -> bool:
        """Steps 1-3 of round k: the round's new labels into `state`. False when the
        stored comparisons are used up (the run ends)."""
        nonlocal resumed_round, answered, outside
        state.rounds_begun = k + 1
        if state.stopped:
            return True  # the person stopped labelling: the learner trains on
        if stored:
            cand = [stored[i] for i in state.unused]
            cand_trajs, where = pool, list(range(len(pool)))
        else:
            if resumed_round:
                fresh = resumed_round
            else:
                policy = SB3Expert(model) if current else RandomPolicy(spaces.action, cfg.seed + k)
                seed = ROLLOUT_SEED + 1000 * k + cfg.seed
                fresh = round_episodes(env, policy, cfg.rollout_episodes, seed, k)
            given = [i for i in range(len(pool)) if by != "human" or replayable(pool[i])]
            where = (given if k == 0 else []) + state.add_round(k, fresh)
            cand_trajs = [state.seen[i] for i in where]
            cand = candidate_pairs(
                cand_trajs,
                cfg.candidates,
                cfg.segment_length,
                seed=int(rng.integers(2**31)),
                labeller=None if by == "human" else (cfg.rationality, cfg.error),
            )
        if not cand:
            return False
        if current and cfg.query_selection == "disagreement":
            picked = select_queries(
                disagreement(current[0], cand_trajs, cand), cfg.queries_per_round
            )
        else:
            picked = random_queries(len(cand), cfg.queries_per_round, rng)
        if stored:
            picked_set = {state.unused[i] for i in picked}
            state.labelled += [stored[i] for i in sorted(picked_set)]
            state.unused = [i for i in state.unused if i not in picked_set]
            return True
        done = {(p.a, p.b) for p in answered}  # answered before the kill: not asked again
        state.labelled += answered
        todo = [q for q in (renumber(cand[i], where) for i in picked) if (q.a, q.b) not in done]
        todo = todo[: max(cfg.queries_per_round - len(answered), 0)]
        resumed_round, answered = [], []
        if person is None:
            state.labelled += todo
            note_labels()
            return True

        def on_answer(i: int, label: float) -> None:
            state.labelled.append(Preference(todo[i].a, todo[i].b, label))
            note_labels()  # at once: a kill loses no answer

        tick = time.perf_counter()
        queries = [(q.a, q.b) for q in todo]
        state.stopped = person(state.seen, queries, on_answer, f"round {k + 1}/{cfg.rounds}")
        outside += time.perf_counter() - tick  # a person thinking is not training
        return True

    try:
        for k in range(state.next_round, cfg.rounds):
            if reached:
                break
            if not (k == state.next_round and state.fitted):
                # 1-3: candidates, the queries among them, their labels
                if not ask(k):
                    break  # the stored pool is used up
                # 4: refit the reward on every label so far (unless none came this round)
                fitted_on = facts.get("labels_fitted", 0)
                if len(state.labelled) > fitted_on:
                    _fit(state, spaces, cfg, k, current, facts, cb, history, start - outside)
                elif not current:
                    raise DatasetError(
                        "labelling stopped before the first answer: there is nothing to learn "
                        "a reward from; run again and answer at least one query"
                    )
                last = int(model.num_timesteps)
                budget = per_round if k < cfg.rounds - 1 else max(cfg.steps - last, 1)
                state.fitted, state.round_end = True, last + budget
                save()  # the labels and the reward: a resumed run starts its learner here
            # 5: the learner trains further on it
            if model.num_timesteps < state.round_end:
                model.learn(
                    total_timesteps=state.round_end - model.num_timesteps,
                    callback=round_callback(on_round, report, cfg.log_every, model.num_timesteps),
                    reset_num_timesteps=False,  # a resumed learner counts on from its checkpoint
                )
            if cfg.eval_every > 0:
                tick = time.perf_counter()
                score = evaluate_learner(
                    env, model, cfg.eval_episodes, int(model.num_timesteps), best
                )
                outside += time.perf_counter() - tick
                report(row(stage=1.0, env_steps=float(model.num_timesteps), eval_return=score))
                if cfg.target_return is not None and score >= cfg.target_return:
                    reached.append(int(model.num_timesteps))
            state.next_round, state.fitted = k + 1, False
            save()
    finally:
        venv.close()
    if not current:
        raise DatasetError("no preferences to learn from: the dataset stores none")
    reward = current[0]
    strict = np.array([p.label for p in state.labelled])
    true = np.array([t.episode_return for t in state.seen])
    learned = predicted_returns(reward, state.seen)
    facts.update(
        queries=len(state.labelled),
        query_selection=cfg.query_selection,
        reward_transform=reward.transform,
        labels_strict=int((strict != 0.5).sum()),
        reward_tau_return=rank_correlation(learned, true) if np.all(np.isfinite(true)) else None,
    )
    facts.pop("labels_fitted", None)
    if by == "human":
        facts["labelling_stopped"] = state.stopped
    result = PreferencesResult(
        model,
        reward,
        history,
        time.perf_counter() - start - outside,
        int(model.num_timesteps),
        reached[0] if reached else None,
        best,
        facts,
        state.rounds(),
    )
    cb.on_end(history[-1] if history else {})
    return result


def _fit(
    state: PreferenceState,
    spaces: Spaces,
    cfg: PreferencesConfig,
    k: int,
    current: list[EnsembleReward],
    facts: dict[str, Any],
    cb: Callback,
    history: list[dict[str, float]],
    start: float,
) -> None:
    """Step 4: the Bradley–Terry ensemble on every label so far, calibrated on every step
    seen so far; it becomes `current[0]`, what the learner is paid, and `facts` says how
    well it fits."""
    pairs = pairs_of(state.seen, state.labelled)
    rows = _Rows(cb, history, start)
    fit = fit_reward(pairs, spaces, cfg.reward, [rows], seed=cfg.seed + k, device=cfg.device)
    transform = cfg.reward_transform
    if transform == "auto":
        cut = any(p.a.stop - p.a.start != p.b.stop - p.b.start for p in state.labelled)
        transform = "absorbing" if cut else "standardize"
    fit.reward.calibrate(pairs.steps, transform)
    current[:] = [fit.reward.eval()]
    facts.update(
        labels_fitted=len(state.labelled),
        reward_transform=transform,
        reward_train_accuracy=fit.train_accuracy,
        reward_val_accuracy=None if math.isnan(fit.val_accuracy) else fit.val_accuracy,
    )
