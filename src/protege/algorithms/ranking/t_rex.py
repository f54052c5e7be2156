"""Trajectory-ranked reward extrapolation (Brown, Goo, Nagarajan & Niekum 2019, "Extrapolating
Beyond Suboptimal Demonstrations via Inverse Reinforcement Learning from Observations").

Ranked demonstrations, however poor, say which way is better. T-REX fits a state-only
reward r(s) so that of two snippets of ranked episodes, the better episode's has the
higher learned return (Bradley–Terry), then trains an RL learner on r. Because the reward
explains the ranking rather than the demonstrator's actions, the learner can extrapolate
past the best demonstration.

Episodes are ranked by a ranking given with them when there is one (`meta["rank"]`, which
the job sets from a dataset's stored ranking), else by `meta["noise"]` when every one
records it (less noise is better), else by return, or as `rank_by` says ("ranking",
"noise", "rating": a person's score, "return").

    trajs = rollout(...)                                    # episodes of mixed quality
    result = train_t_rex(trajs, None, TRexConfig(steps=50_000), env="CartPole-v1")
    result.model.save("policy.zip"); save_reward(result.reward, "runs/t-rex")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from protege.algorithms.ranking.config import RankingConfig
from protege.algorithms.ranking.loop import RankedEpisodes, RankingResult, train_ranked
from protege.algorithms.ranking.snippets import RANK_BY, episode_scores, resolve_rank_by
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY
from protege.data.types import Trajectory
from protege.envs import EnvFactory, Spaces
from protege.errors import ConfigError, DatasetError


@dataclass(frozen=True)
class TRexConfig(RankingConfig):
    """T-REX settings (see `RankingConfig` for the reward fit and the learner).

    rank_by: how the demonstrations are ranked: "ranking" (the ranking stored with the
        dataset, best first; episodes it leaves out are not used), "noise" (meta noise,
        less is better), "rating" (meta rating, higher is better), "return", or "auto":
        the stored ranking if the dataset has one, else noise when every episode records
        it, else return.
    """

    rank_by: str = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rank_by not in RANK_BY:
            raise ConfigError(f"rank_by {self.rank_by!r}: choose one of {', '.join(RANK_BY)}")


def rank_demonstrations(trajs: Sequence[Trajectory], rank_by: str = "auto") -> RankedEpisodes:
    """The demonstrations with their scores by `rank_by` (see `snippets.episode_scores`)."""
    scores = episode_scores(trajs, rank_by)
    return RankedEpisodes(list(trajs), scores, facts={"ranked_by": resolve_rank_by(trajs, rank_by)})


def train_t_rex(
    demos: Sequence[Trajectory],
    spaces: Spaces | None,
    cfg: TRexConfig = TRexConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> RankingResult:
    """Learn a reward from ranked demonstrations, then a policy on it, in `env`.

    demos: whole episodes of mixed quality (a ranking needs episodes, not a flat batch of
        steps), at least two of them ranked apart.
    spaces: the env's, or None to take them from `env` (required: the learner acts in it).
    Callbacks, checkpoint and checkpoint_every as in `loop.train_ranked`.

    Raises:
        DatasetError: fewer than two episodes, or nothing to rank them by.
    """
    episodes = list(demos)
    if len(episodes) < 2:
        raise DatasetError(
            f"T-REX ranks episodes against each other, and got {len(episodes)}; record "
            "several episodes of different quality"
        )
    ranked = rank_demonstrations(episodes, cfg.rank_by)  # before any training: fails fast
    return train_ranked(
        lambda _: ranked,
        spaces,
        cfg,
        callbacks,
        env=env,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )
