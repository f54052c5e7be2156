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
from protege.envs.tabular.demos import (
    ExpertDemos,
    demo_occupancy,
    expected_occupancy_mass,
    occupancy_from_trajectories,
    policy_from_occupancy,
    state_action_counts,
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
    "ExpertDemos",
    "Features",
    "SoftValueResult",
    "TabularEnv",
    "TabularMDP",
    "TabularPolicy",
    "ValueResult",
    "demo_occupancy",
    "expected_occupancy_mass",
    "feature_expectations",
    "from_toy_text",
    "garnet",
    "grid_transitions",
    "gridworld",
    "make_tabular",
    "objectworld",
    "occupancy_from_trajectories",
    "optimal_occupancy",
    "optimal_policy",
    "policy_evaluation",
    "policy_from_occupancy",
    "soft_value_iteration",
    "state_action_counts",
    "state_action_occupancy",
    "state_occupancy",
    "value_iteration",
]
