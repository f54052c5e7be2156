"""Every algorithm `protege train` knows, named once: its family, paper, one-line help, config
class and trainer.

This module imports no torch, SB3 or SciPy (classes and functions are named as
"module:attribute" strings and imported on demand), so `protege --help`, the sweep file
checks and the CLI's command list stay fast. The CLI, `dispatch`, `sweep`, `bench` and the
shared algorithm tester all read this table: adding an algorithm is one module under
`protege.algorithms`, one entry here, and (for a new family) one job module.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protege.errors import ConfigError

FAMILIES = ("bc", "dagger", "tabular", "adversarial", "qlearning", "ranking")
"""Job modules under `protege.jobs`, one per family: `protege.jobs.<family>` provides
`build_config(algo, overrides, **flags)` and `train_run(algo, env_id, out, cfg, *, demos,
expert, seed, eval_episodes, overwrite, callbacks, resume)`, and may provide
`evaluate_run(run, episodes, on_episode)` (see `protege.jobs.dispatch`)."""


@dataclass(frozen=True)
class Algorithm:
    """One `protege train NAME` command.

    name: the command name. family: the job module that trains it (`FAMILIES`).
    paper: who introduced it, for the help. summary: what it learns, one sentence or two.
    config: "module:Class" of its config dataclass. trainer: "module:function" that trains it.
    defaults: config fields that differ from the class defaults for this name (MaxEnt and
        MCE share one config class).
    flags: the family's own CLI flags mapped to the config field they set (e.g. tabular
        `iterations` -> `max_iterations`); a flag missing here does not apply.
    unit: what one progress step is. resumable: the trainer checkpoints and `--resume`
        continues from it. needs_demos: learns from a dataset (DAgger asks the expert
        instead). needs_expert: queries an expert while training. smoke: --set values that
        shrink a run to seconds where the family's own do not fit (the shared tester's
        budget, tests/test_algorithm_tester.py).
    """

    name: str
    family: str
    paper: str
    summary: str
    config: str
    trainer: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    flags: Mapping[str, str] = field(default_factory=dict)
    unit: str = "iteration"
    resumable: bool = True
    needs_demos: bool = True
    needs_expert: bool = False
    smoke: tuple[str, ...] = ()

    @property
    def help(self) -> str:
        """The command's help line: paper, then what it learns."""
        return f"{self.paper}: {self.summary}"

    def config_class(self) -> type:
        """The config dataclass (imports the algorithm's module)."""
        return _resolve(self.config)

    def default_config(self) -> Any:
        """The config this command starts from, before flags and --set."""
        return self.config_class()(**self.defaults)

    def train_fn(self) -> Any:
        """The algorithm's trainer (imports its module)."""
        return _resolve(self.trainer)


def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


_TAB = "protege.algorithms.tabular"
_ADV = "protege.algorithms.adversarial"
_QL = "protege.algorithms.qlearning"
_RANK = "protege.algorithms.ranking"
_TAB_FLAGS = {"iterations": "max_iterations", "tol": "tol"}
_ADV_FLAGS = {"learner": "learner", "steps": "steps"}

ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "bc", "bc", "Behavioral cloning (Pomerleau 1991)",
            "fit the expert's state-to-action map by maximum likelihood.",
            "protege.algorithms.bc:BCConfig", "protege.algorithms.bc:train_bc", unit="epoch",
        ),
        Algorithm(
            "filtered-bc", "bc", "Filtered BC (%BC, Chen et al. 2021)",
            "behavioral cloning on the best episodes by return of mixed-quality "
            "demonstrations (--set keep_fraction=0.5).",
            "protege.algorithms.filtered_bc:FilteredBCConfig",
            "protege.algorithms.filtered_bc:train_filtered_bc",
            flags={"seed": "bc.seed"}, unit="epoch", smoke=("bc.epochs=20", "bc.hidden=16"),
        ),
        Algorithm(
            "weighted-bc", "bc", "Weighted BC (return-weighted; AWR, Peng et al. 2019)",
            "behavioral cloning on every step of mixed-quality demonstrations, each weighted "
            "by its episode's return (--set weighting=return) or its advantage over a "
            "fitted value (--set weighting=advantage).",
            "protege.algorithms.weighted_bc:WeightedBCConfig",
            "protege.algorithms.weighted_bc:train_weighted_bc",
            flags={"seed": "bc.seed"}, unit="epoch",
            smoke=("weighting=advantage", "value_epochs=3", "bc.epochs=20", "bc.hidden=16"),
        ),
        Algorithm(
            "dwbc", "bc", "DWBC (Xu et al. 2022)",
            "discriminator-weighted BC: --demos is a small expert dataset, --set "
            "unlabelled=PATH a large one of mixed quality; a positive-unlabelled "
            "discriminator picks the expert-like steps of the latter to clone too.",
            "protege.algorithms.dwbc:DWBCConfig", "protege.algorithms.dwbc:train_dwbc",
            unit="step",
            # {demos}: the shared tester's dataset path (the expert part doubles as unlabelled)
            smoke=("unlabelled={demos}", "steps=400", "log_every=20", "batch_size=64",
                   "hidden=16", "disc_hidden=16", "disc_every=2"),
        ),
        Algorithm(
            "dagger", "dagger", "DAgger (Ross et al. 2011)",
            "query the expert on the learner's own states, aggregate, re-fit by BC.",
            "protege.algorithms.dagger:DAggerConfig", "protege.algorithms.dagger:train_dagger",
            flags={"rounds": "rounds", "labels_per_round": "labels_per_round"},
            unit="round", needs_demos=False, needs_expert=True,
        ),
        Algorithm(
            "lp-irl", "tabular", "LP IRL (Ng & Russell 2000)",
            "the reward for which the expert's policy is optimal by the widest margin, by one "
            "linear program (small MDPs; --iterations and --tol do not apply).",
            f"{_TAB}.lp_irl:LPIRLConfig", f"{_TAB}.lp_irl:lp_irl", unit="solve",
            resumable=False,
        ),
        Algorithm(
            "apprenticeship", "tabular", "Apprenticeship learning (Abbeel & Ng 2004)",
            "a mixture of optimal policies whose feature expectations match the expert's "
            "(projection method; --set method=max_margin). --tol is ε.",
            f"{_TAB}.apprenticeship:ApprenticeshipConfig",
            f"{_TAB}.apprenticeship:apprenticeship_learning",
            flags={"iterations": "max_iterations", "tol": "epsilon"},
        ),
        Algorithm(
            "maxent", "tabular", "MaxEnt IRL (Ziebart et al. 2008)",
            "a linear reward whose maximum entropy path distribution matches the expert's "
            "feature expectations.",
            f"{_TAB}.maxent:MaxEntConfig", f"{_TAB}.maxent:maxent_irl",
            defaults={"causal": False}, flags=_TAB_FLAGS,
        ),
        Algorithm(
            "mce", "tabular", "Maximum causal entropy IRL (Ziebart et al. 2010)",
            "a linear reward whose soft-optimal policy matches the expert's feature "
            "expectations.",
            f"{_TAB}.maxent:MaxEntConfig", f"{_TAB}.maxent:maxent_irl",
            defaults={"causal": True}, flags=_TAB_FLAGS,
        ),
        Algorithm(
            "bayesian-irl", "tabular", "Bayesian IRL, PolicyWalk (Ramachandran & Amir 2007)",
            "the posterior mean reward, sampled by MCMC. --iterations is the number of "
            "posterior samples kept; --tol does not apply.",
            f"{_TAB}.bayesian:BayesianIRLConfig", f"{_TAB}.bayesian:bayesian_irl",
            flags={"iterations": "n_samples", "seed": "seed"}, unit="step",
        ),
        Algorithm(
            "deep-maxent", "tabular", "Deep MaxEnt IRL (Wulfmeier et al. 2015)",
            "a neural (MLP) reward of the state features, trained with the MaxEnt "
            "visitation-frequency gradient.",
            f"{_TAB}.deep_maxent:DeepMaxEntConfig", f"{_TAB}.deep_maxent:deep_maxent_irl",
            flags={**_TAB_FLAGS, "seed": "seed"},
        ),
        Algorithm(
            "gail", "adversarial", "GAIL (Ho & Ermon 2016)",
            "a discriminator between expert and learner transitions; the learner is paid "
            "-log(1 - D), which is saved as the reward.",
            f"{_ADV}.gail:GAILConfig", f"{_ADV}.gail:train_gail", flags=_ADV_FLAGS, unit="env step",
        ),
        Algorithm(
            "airl", "adversarial", "AIRL (Fu et al. 2018)",
            "a disentangled reward g(s) (--set state_only=false: g(s, a)) plus a shaping "
            "potential, through the discriminator exp(f) / (exp(f) + π).",
            f"{_ADV}.airl:AIRLConfig", f"{_ADV}.airl:train_airl", flags=_ADV_FLAGS, unit="env step",
        ),
        Algorithm(
            "gcl", "adversarial", "Guided cost learning (Finn et al. 2016)",
            "a reward fitted by the importance-sampled maximum-entropy IOC objective on the "
            "learner's samples.",
            f"{_ADV}.gcl:GCLConfig", f"{_ADV}.gcl:train_gcl", flags=_ADV_FLAGS, unit="env step",
        ),
        Algorithm(
            "iq-learn", "qlearning", "IQ-Learn (Garg et al. 2021)",
            "one soft Q-function by the χ²-regularised inverse soft-Q objective; its policy "
            "imitates and r = Q − γV(s') is saved as the reward. --offline learns from the "
            "demonstrations alone, without a single env step.",
            f"{_QL}.iq_learn:IQLearnConfig", f"{_QL}.iq_learn:train_iq_learn",
            flags={"steps": "steps", "offline": "offline"}, unit="step",
        ),
        Algorithm(
            "sqil", "qlearning", "SQIL (Reddy, Dragan & Levine 2020)",
            "soft Q-learning with reward 1 on expert steps and 0 on its own (DQN-style for "
            "Discrete actions, SAC-style for Box); online only.",
            f"{_QL}.sqil:SQILConfig", f"{_QL}.sqil:train_sqil", flags={"steps": "steps"},
            unit="step",
        ),
        Algorithm(
            "t-rex", "ranking", "T-REX (Brown et al. 2019)",
            "a state reward under which better-ranked demonstrations score higher "
            "(Bradley-Terry on snippet returns; ranked by the dataset's stored ranking, else "
            "by noise level, else by return: --set rank_by=ranking|noise|rating|return), "
            "then an SB3 learner on it, which can beat the best demonstration.",
            f"{_RANK}.t_rex:TRexConfig", f"{_RANK}.t_rex:train_t_rex", flags=_ADV_FLAGS,
            unit="env step",
        ),
        Algorithm(
            "d-rex", "ranking", "D-REX (Brown, Goo & Niekum 2019)",
            "T-REX on a ranking made automatically: BC on the demonstrations, rolled out "
            "with ε-random actions at increasing ε, less noise ranked better; needs no "
            "rewards or ranking, only the demonstrations and the env.",
            f"{_RANK}.d_rex:DRexConfig", f"{_RANK}.d_rex:train_d_rex", flags=_ADV_FLAGS,
            unit="env step",
            smoke=("n_envs=2", "learner_kwargs.n_steps=32", "learner_kwargs.batch_size=64",
                   "learner_kwargs.n_epochs=2", "log_every=64", "eval_every=0",
                   "reward.pairs=200", "reward.epochs=2", "reward.ensemble=1",
                   "noise_levels=3", "rollouts_per_level=2", "bc.epochs=5", "bc.hidden=16"),
        ),
        Algorithm(
            "preferences", "ranking", "DRLHP (Christiano et al. 2017)",
            "a reward fitted by Bradley-Terry to pairwise preferences between segments of the "
            "learner's own rollouts, queried a few per round where the reward ensemble "
            "disagrees most, labelled by a simulated labeller from the true reward, by you in "
            "a window (--set labeller=human), or taken from preferences stored with --demos, "
            "while an SB3 learner trains on it.",
            f"{_RANK}.preferences:PreferencesConfig", f"{_RANK}.preferences:train_preferences",
            flags=_ADV_FLAGS, unit="env step", needs_demos=False,
            smoke=("n_envs=2", "learner_kwargs.n_steps=32", "learner_kwargs.batch_size=64",
                   "learner_kwargs.n_epochs=2", "log_every=64", "eval_every=0",
                   "reward.epochs=2", "reward.ensemble=2", "rounds=2",
                   "queries_per_round=10", "candidates=50", "rollout_episodes=2"),
        ),
    )
}  # fmt: skip
"""Every `protege train` algorithm, by command name."""

LEARNERS: dict[str, str] = {
    "ppo": "PPO (on-policy; Discrete or Box actions)",
    "sac": "SAC (Box actions)",
    "dqn": "DQN (Discrete actions)",
}
"""The Stable-Baselines3 learners: the inner RL of adversarial imitation, and `protege train
ppo|sac|dqn --reward RUN` (reward transfer)."""


def get(name: str) -> Algorithm:
    """The catalog entry for `name`, or one line naming the algorithms there are."""
    if name not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm '{name}': use one of {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]


def family(name: str) -> list[str]:
    """The names of one family's algorithms, in catalog order."""
    return [a.name for a in ALGORITHMS.values() if a.family == name]
