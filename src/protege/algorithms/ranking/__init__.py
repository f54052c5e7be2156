"""Reward learning from rankings and preferences: T-REX, D-REX and DRLHP.

Each fits a reward to ranked snippets of episodes by the Bradley–Terry model
(`bradley_terry`, the part a preference learner shares), then trains an SB3 learner (PPO,
SAC or DQN) on it through one loop (`loop.train_ranked`); the point is a policy better
than the demonstrations it learned from. T-REX ranks the demonstrations themselves (by
noise level, return or rating); D-REX makes its own ranking from a cloned policy rolled
out at increasing noise. DRLHP (`preferences`) asks for preferences between segments of
its learner's own rollouts, a few per round where its reward ensemble disagrees most.
"""

from protege.algorithms.ranking.bradley_terry import (
    BradleyTerryConfig,
    BradleyTerryResult,
    EnsembleReward,
    SnippetPairs,
    bradley_terry_loss,
    train_bradley_terry,
)
from protege.algorithms.ranking.config import RankingConfig
from protege.algorithms.ranking.d_rex import DRexConfig, noise_rollouts, train_d_rex
from protege.algorithms.ranking.loop import RankedEpisodes, RankingResult, train_ranked
from protege.algorithms.ranking.preferences import (
    PreferencesConfig,
    disagreement,
    select_queries,
    train_preferences,
)
from protege.algorithms.ranking.snippets import episode_scores, sample_snippet_pairs
from protege.algorithms.ranking.t_rex import TRexConfig, train_t_rex

__all__ = [
    "BradleyTerryConfig",
    "BradleyTerryResult",
    "DRexConfig",
    "EnsembleReward",
    "PreferencesConfig",
    "RankedEpisodes",
    "RankingConfig",
    "RankingResult",
    "SnippetPairs",
    "TRexConfig",
    "bradley_terry_loss",
    "disagreement",
    "episode_scores",
    "noise_rollouts",
    "sample_snippet_pairs",
    "select_queries",
    "train_bradley_terry",
    "train_d_rex",
    "train_preferences",
    "train_ranked",
    "train_t_rex",
]
