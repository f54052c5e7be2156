"""Finite MDPs with known, sparse dynamics: builders, Gymnasium wrapping and exact solvers.

    from protege.envs.tabular import make_tabular, soft_value_iteration, state_occupancy

    mdp = make_tabular("gridworld:10", slip=0.2)
    soft = soft_value_iteration(mdp)            # V (S,), policy (S, A)
    rho = state_occupancy(mdp, soft.policy)     # (S,), sums to 1 when discounted

Memory grows with the non-zero transitions, never with S²: a 1000x1000 gridworld fits.
"""

from protege.envs.tabular.builders import (
    MOVES,
    from_toy_text,
    garnet,
    grid_transitions,
    gridworld,
    make_tabular,
    objectworld,
)
from protege.envs.tabular.gym_env import TabularEnv, TabularPolicy
from protege.envs.tabular.mdp import Features, TabularMDP
from protege.envs.tabular.solvers import (
    SoftValueResult,
    ValueResult,
    feature_expectations,
    optimal_occupancy,
    optimal_policy,
    policy_evaluation,
    soft_value_iteration,
    state_action_occupancy,
    state_occupancy,
    value_iteration,
)

__all__ = [
    "MOVES",
    "Features",
    "SoftValueResult",
    "TabularEnv",
    "TabularMDP",
    "TabularPolicy",
    "ValueResult",
    "feature_expectations",
    "from_toy_text",
    "garnet",
    "grid_transitions",
    "gridworld",
    "make_tabular",
    "objectworld",
    "optimal_occupancy",
    "optimal_policy",
    "policy_evaluation",
    "soft_value_iteration",
    "state_action_occupancy",
    "state_occupancy",
    "value_iteration",
]
