"""Tabular IRL, dynamics known: one module per algorithm, each a config + entry function.

    from protege.algorithms.tabular.maxent import MaxEntConfig, maxent_irl
    from protege.envs.tabular import gridworld, optimal_occupancy

    mdp = gridworld(10, slip=0.3)
    result = maxent_irl(optimal_occupancy(mdp, soft=True), cfg=MaxEntConfig(causal=True), env=mdp)
    result.reward, result.policy, result.history[-1]["occupancy_l1"]

- `lp_irl.lp_irl` (Ng & Russell 2000), `apprenticeship.apprenticeship_learning` (Abbeel &
  Ng 2004), `maxent.maxent_irl` (Ziebart 2008 and 2010), `bayesian.bayesian_irl`
  (Ramachandran & Amir 2007), `deep_maxent.deep_maxent_irl` (Wulfmeier et al. 2015).
- Demonstrations are expert trajectories or exact expert occupancy measures
  (`protege.envs.tabular.ExpertDemos`); every result has `reward`, `policy` and a
  per-iteration `history` recording the gap to the expert.
- Every trainer has protege's one trainer signature, `(demos, spaces, cfg, callbacks, *,
  env, checkpoint, checkpoint_every)`: `env` is the known MDP (required; a tabular spec
  such as "gridworld:10" also works), `spaces` may be None, and progress goes to the
  callbacks (`common.Progress`), each record with its `seconds`.
"""
