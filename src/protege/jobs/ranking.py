"""The jobs behind `protege train t-rex|d-rex|preferences`: reward learning from rankings
and preferences into a run directory.

config.json      algo, env, demos and every setting
policy.zip       the SB3 learner trained on the learned reward (loadable by SB3 alone)
policy_best.zip  the learner at its best in-training evaluation (`eval_every`)
reward.pt2       the learned reward (what the learner was paid) as a standalone
reward.json      `torch.export` program, and what it means (`protege.rewards.load_reward`):
                 `protege compare-rewards` and `protege train ppo --reward RUN` read it
progress.csv     one row per reward epoch (stage 0: Bradley–Terry loss and pair accuracy)
                 and per `log_every` learner steps (stage 1: true returns)
metrics.json     returns vs the expert and a random policy on the same seeds; the best and
                 mean demonstration returns (the bar to beat); the reward's held-out pair
                 accuracy and Kendall's τ of its episode returns with the ranking and the
                 true returns; D-REX: the true return at each noise level; preferences:
                 the queries asked and Kendall's τ of the learned and true returns
rounds/          preferences without --demos: round_000.npz, ... the episodes each round
                 rolled out for its queries (the data the run learned from: `protege
                 compare-rewards` and `protege eval` read them); preferences (unless the
                 labels are the dataset's): preferences.npz, the run's preferences dataset,
                 every episode a label speaks of and every label (a person's written the
                 moment it is given), which `--demos` takes back as stored labels
checkpoints/     ALGO.pt: the fitted reward, then the learner every `CHECKPOINT_EVERY` rows;
                 preferences: the labels, the reward and the learner at each round's fit,
                 every `CHECKPOINT_EVERY` learner rows and at each round's end

cfg = build_config("t-rex", learner="sac", steps=20_000)
metrics = train_run("t-rex", "Pendulum-v1", "runs/t-rex", cfg, demos="ranked.npz")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from protege.algorithms.ranking import RankingConfig
from protege.algorithms.ranking.preferences import PreferencesConfig, PreferencesResult
from protege.algorithms.ranking.snippets import given_ranking
from protege.callbacks import Callback
from protege.data import Demonstrations, Trajectory, save_trajectories
from protege.envs import resolve_env
from protege.errors import DatasetError
from protege.jobs import catalog
from protege.jobs.common import (
    CHECKPOINTS,
    ROUNDS,
    best_metrics,
    check_learner_fits,
    check_learner_flag,
    configure,
    default_expert,
    evaluate_against_expert,
    job_entry,
    load_demos,
    logged,
    open_run,
    require_demos,
    run_config,
    run_job,
    save_sb3_policy,
)
from protege.rewards import save_reward

RANKED = {
    "t-rex": "the demonstrations ranked by {ranked_by}",
    "d-rex": "rollouts of BC on the demonstrations at increasing noise, ranked by noise",
    "preferences": "the learner's rollouts, compared pairwise by {ranked_by}",
}
RANKED_BY = {
    "ranking": "the ranking stored with them",
    "noise": "their noise level (less is better)",
    "rating": "their rating",
    "return": "their return",
    "synthetic": "a simulated labeller from the true reward",
    "human": "a person in a window",
    "dataset": "the preferences stored with the dataset",
}
LABELS = "preferences.npz"
"""The run's preferences dataset inside rounds/ (preferences): episodes and labels."""
PAID = {
    "standardize": "standardised on the ranked episodes' steps (zero mean, unit spread)",
    "positive": "standardised, then shifted so every ranked step pays >= 0 (staying alive pays)",
    "negative": "standardised, then shifted so every ranked step costs >= 0 (finishing pays)",
    "sigmoid": "standardised, through a sigmoid: in (0, 1)",
    "absorbing": "scaled to unit root mean square, its level kept: an ended episode pays 0",
    "raw": "as fitted (the ensemble's mean)",
}


def build_config(algo: str, overrides: Sequence[str] = (), **flags: Any) -> RankingConfig:
    """The algorithm's config from the CLI's flags: --learner, --steps, --seed, then --set."""
    check_learner_flag(flags.get("learner"))
    cfg: RankingConfig = configure(catalog.get(algo), overrides, **flags)
    return cfg


def ranked_episodes(data: Demonstrations, rank_by: str | None) -> list[Trajectory]:
    """The episodes to rank: where the dataset stores a ranking and `rank_by` is "auto"
    or "ranking", the episodes it names, in its order, with their places (`given_ranking`);
    else all of them. `rank_by` None (D-REX): all of them, as they are."""
    if rank_by == "ranking" and data.ranking is None:
        raise DatasetError(
            f"{data.source}: rank_by=ranking, but the dataset stores no ranking; store one "
            "with it, or rank by noise, rating or return (--set rank_by=return)"
        )
    if rank_by in ("auto", "ranking") and data.ranking is not None:
        return given_ranking(data.trajectories, data.ranking)
    return list(data.trajectories)


@run_job
def train_run(
    algo: str,
    env_id: str,
    out: str | Path,
    cfg: RankingConfig,
    *,
    demos: str | Path | None = None,
    expert: str | None = None,
    seed: int = 0,
    eval_episodes: int = 20,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
) -> dict[str, Any]:
    """T-REX, D-REX or preferences into a run directory, then the comparison with the
    expert.

    The fitted reward and then the learner are checkpointed (checkpoints/ALGO.pt) where
    the algorithm resumes; `resume` continues an interrupted run from there (from the
    start when there is none yet). `demos` may be None where the catalog entry needs none
    (preferences: its labeller reads the env's reward, or a person answers); a dataset's
    stored preferences are then the labels. `seed` is unused: the pairs, reward nets,
    learner and envs are seeded by `cfg.seed`.
    """
    entry = job_entry(algo, cfg)
    train = entry.train_fn()
    if entry.needs_demos:
        require_demos(algo, demos)
    demos_path = demos
    env = resolve_env(env_id)  # once: the spaces, the demos check and the learner use it
    # first: a missing or mismatched file fails here
    data = load_demos(demos_path, env) if demos_path is not None else None
    check_learner_fits(cfg.learner, env.spaces, env_id)
    episodes = ranked_episodes(data, getattr(cfg, "rank_by", None)) if data is not None else []
    extra: dict[str, Any] = {}
    if isinstance(cfg, PreferencesConfig) and data is not None:
        extra["preferences"] = data.preferences  # stored labels: no labeller needed
    person = isinstance(cfg, PreferencesConfig) and cfg.labeller == "human"
    if person and not extra.get("preferences"):  # before the run directory: nothing written
        from protege.experts.human import require_display  # here: pygame for a person

        require_display("--set labeller=human")
    expert = expert if expert is not None else default_expert(env_id)
    config = run_config(
        algo, env_id, cfg, demos=demos_path, expert=expert, eval_episodes=eval_episodes
    )
    run = open_run(out, config, overwrite, resume)
    if isinstance(cfg, PreferencesConfig):
        extra["labels"] = run / ROUNDS / LABELS  # every answer, kept as it comes
    try:
        result = train(
            episodes,
            env.spaces,
            cfg,
            logged(run, callbacks),
            env=env_id,
            checkpoint=run / CHECKPOINTS / f"{algo}.pt" if entry.resumable else None,
            **extra,
        )
    except DatasetError as exc:  # the episodes cannot be ranked: name the file
        raise DatasetError(f"{demos_path}: {exc}") from None
    if isinstance(result, PreferencesResult) and data is None:
        for i, episodes in enumerate(result.rounds):  # the data it learned from, kept
            if episodes:  # none where the person had stopped labelling
                path = run / ROUNDS / f"round_{i:03d}.npz"  # a resumed run's own: replaced
                save_trajectories(path, episodes, env_id, overwrite=True)
    save_sb3_policy(run, result.model, result.best)
    facts = result.facts
    ranked = RANKED[algo].format(ranked_by=RANKED_BY[facts.get("ranked_by", "return")])
    meaning = (
        f"{algo}: a reward of the {'state' if cfg.reward.state_only else 'state and action'}"
        f" fitted by Bradley-Terry to snippets of {ranked}; "
        f"{PAID[facts['reward_transform']]}"
    )
    save_reward(result.reward, run, meaning=meaning, algo=algo)
    training: dict[str, Any] = {"env_steps": result.env_steps, **best_metrics(result.best)}
    returns = np.array([t.episode_return for t in data.trajectories] if data else [np.nan])
    if np.all(np.isfinite(returns)):  # the bar a better-than-demonstrator learner clears
        training.update(
            demo_return_best=float(returns.max()), demo_return_mean=float(returns.mean())
        )
    training.update(facts)
    return evaluate_against_expert(run, eval_episodes, result.train_seconds, training=training)
