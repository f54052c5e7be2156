"""The shared algorithm tester: every catalog entry, on a tiny budget, through the same checks.

In the spirit of d3rlpy's `algo_tester`: each algorithm trains into a run directory that is
complete, its saved policy loads without protege's training code, `protege train --config`
reproduces its metrics, and a run killed after its first checkpoint resumes to the same
weights (where the family's resume is exact: BC, DAgger, tabular IRL, offline IQ-Learn; the
online learners continue from the saved step with fresh episodes, so there the resumed run
must finish whole). An algorithm added to the catalog gets these tests with no edit here,
unless it brings a new family, which adds one line to `TINY`.

This checks plumbing, not learning: each algorithm's own tests hold it to what it learns.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from protege.algorithms.ranking import noise_rollouts
from protege.callbacks import Callback
from protege.data import save_trajectories
from protege.envs import env_spaces
from protege.experts.scripted import scripted_expert
from protege.jobs import catalog, dispatch
from protege.jobs.common import CHECKPOINTS, ROUNDS, collect

# family: (env, CLI flags, --set overrides, exact resume). Tiny budgets, at least two
# checkpoints long, so that "killed after the first checkpoint" leaves work to resume.
TINY: dict[str, tuple[str, dict[str, Any], tuple[str, ...], bool]] = {
    "bc": ("CartPole-v1", {}, ("epochs=20", "hidden=16"), True),
    "dagger": ("CartPole-v1", {"rounds": 3, "labels_per_round": 150},
               ("bc.epochs=5", "bc.hidden=16"), True),
    "tabular": ("gridworld:5", {"iterations": 20}, (), True),
    "adversarial": ("CartPole-v1", {"learner": "ppo", "steps": 1280},
                    ("n_envs=2", "learner_kwargs.n_steps=32", "learner_kwargs.batch_size=64",
                     "learner_kwargs.n_epochs=2", "eval_every=0"), False),
    "qlearning": ("CartPole-v1", {"steps": 600},
                  ("log_every=200", "learning_starts=100", "hidden=32", "eval_every=0"), False),
    # learns from CartPole-v1:ranking, episodes of mixed quality (a ranking needs them)
    "ranking": ("CartPole-v1", {"learner": "ppo", "steps": 1280},
                ("n_envs=2", "learner_kwargs.n_steps=32", "learner_kwargs.batch_size=64",
                 "learner_kwargs.n_epochs=2", "log_every=64", "eval_every=0",
                 "reward.pairs=200", "reward.epochs=2", "reward.ensemble=1"), False),
}  # fmt: skip
PER_ALGORITHM: dict[str, tuple[dict[str, Any], tuple[str, ...], bool]] = {
    # offline: no env steps, and its resume is exact
    "iq-learn": ({"offline": True, "steps": 600}, ("log_every=200", "hidden=32"), True),
    # MCMC steps: a checkpoint every 1000
    "bayesian-irl": ({"iterations": 1600}, ("burn_in=400",), True),
}
EVAL_EPISODES = 2


class Killed(Exception):
    """Raised by `KillAfterFirstCheckpoint`: the run stops as a killed process would."""


class KillAfterFirstCheckpoint(Callback):
    """Stops training at the first progress step after a checkpoint is on disk."""

    def __init__(self, run: Path) -> None:
        self.run = run

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        saved = [p for d in (CHECKPOINTS, ROUNDS) for p in (self.run / d).glob("*") if p.is_file()]
        if saved:
            raise Killed(f"after {saved[0].name}")


def settings(name: str) -> tuple[str, dict[str, Any], tuple[str, ...], bool]:
    entry = catalog.get(name)
    assert entry.family in TINY, f"add the {entry.family} family to TINY"
    env, flags, overrides, exact = TINY[entry.family]
    if name in PER_ALGORITHM:
        flags, overrides, exact = PER_ALGORITHM[name]
    overrides = entry.smoke or overrides  # the entry's own small budget, where it has one
    flags = {k: v for k, v in flags.items() if k in entry.flags}  # lp-irl: one solve
    return env, flags, overrides, exact


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("demos")
    paths = {"CartPole-v1": out / "cartpole.npz", "gridworld:5": out / "grid.npz",
             "CartPole-v1:ranking": out / "cartpole_mixed.npz"}  # fmt: skip
    collect("CartPole-v1", "scripted", 3, paths["CartPole-v1"])
    collect("gridworld:5", "optimal", 20, paths["gridworld:5"])
    mixed = noise_rollouts("CartPole-v1", scripted_expert("CartPole-v1").act,
                           env_spaces("CartPole-v1").action, [0.3, 0.6, 1.0], 2)  # fmt: skip
    save_trajectories(paths["CartPole-v1:ranking"], mixed, "CartPole-v1")
    return paths


def train(name: str, out: Path, demos: dict[str, Path], **kwargs: Any) -> dict[str, Any]:
    env, flags, overrides, _ = settings(name)
    entry = catalog.get(name)
    expert = "scripted" if entry.needs_expert else None
    data = demos.get(f"{env}:{entry.family}", demos[env]) if entry.needs_demos else None
    # a second dataset named in --set (DWBC's unlabelled=): the run's own demos stand in
    overrides = tuple(o.replace("{demos}", str(demos[env])) for o in overrides)
    cfg = dispatch.build_config(name, overrides, **flags)
    metrics: dict[str, Any] = dispatch.train(
        name, env, out, cfg, demos=data, expert=expert, eval_episodes=EVAL_EPISODES, **kwargs
    )
    return metrics


def weights(run: Path) -> list[np.ndarray]:
    """The learned parameters, whatever the policy file's kind."""
    if (run / "policy.pt").is_file():
        from protege.policies import ActorPolicy

        return [p.detach().numpy() for p in ActorPolicy.load(run / "policy.pt").parameters()]
    if (run / "policy.zip").is_file():
        from protege.experts import load_sb3_model

        model = load_sb3_model(run / "policy.zip")
        return [p.detach().numpy() for p in model.policy.parameters()]
    return [np.load(run / "policy.npy"), np.load(run / "reward.npy")]


STANDALONE = """
import sys
from pathlib import Path
run = Path(sys.argv[1])
if (run / "policy.pt").is_file():
    from protege.policies import ActorPolicy
    policy = ActorPolicy.load(run / "policy.pt")
    print(type(policy).__name__)
elif (run / "policy.zip").is_file():
    import json, stable_baselines3
    learner = json.loads((run / "config.json").read_text())["config"]["learner"]
    model = getattr(stable_baselines3, learner.upper()).load(run / "policy.zip", device="cpu")
    print(type(model).__name__)
else:
    import numpy as np
    print(np.load(run / "policy.npy").shape)
loaded = sorted(m for m in sys.modules if m.startswith(("protege.algorithms", "protege.jobs")))
assert not loaded, loaded
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", list(catalog.ALGORITHMS))
def test_every_algorithm_trains_reloads_repeats_and_resumes(
    name: str, demos: dict[str, Path], tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    entry = catalog.get(name)
    _, _, _, exact = settings(name)

    # 1. a complete run directory
    run = tmp_path / "run"
    metrics = train(name, run, demos)
    for key in ("return_mean", "expert_return_mean", "random_return_mean", "normalized_score"):
        assert isinstance(metrics[key], float), key
    assert json.loads((run / "metrics.json").read_text())["return_mean"] == metrics["return_mean"]
    assert json.loads((run / "config.json").read_text())["algo"] == name
    rows = (run / "progress.csv").read_text().splitlines()
    assert len(rows) >= 2, "progress.csv has a header and at least one row"
    assert any((run / f).is_file() for f in ("policy.pt", "policy.zip", "policy.npy"))

    # 2. the saved policy loads without protege's training code
    out = subprocess.run([sys.executable, "-c", STANDALONE, str(run)], capture_output=True,
                         text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]

    # 3. `protege train --config` repeats the run: the same metrics
    again = dispatch.rerun_from_config(run / "config.json", tmp_path / "again")
    assert again["return_mean"] == metrics["return_mean"]
    assert again["normalized_score"] == metrics["normalized_score"]

    # 4. killed after its first checkpoint, the run resumes (to the same weights where exact)
    if not entry.resumable:
        return
    killed = tmp_path / "killed"
    with pytest.raises(Killed):
        train(name, killed, demos, callbacks=[KillAfterFirstCheckpoint(killed)])
    assert not (killed / "metrics.json").is_file()
    resumed = train(name, killed, demos, resume=True)
    assert (killed / "metrics.json").is_file() and isinstance(resumed["return_mean"], float)
    if exact:
        for a, b in zip(weights(run), weights(killed), strict=True):
            np.testing.assert_array_equal(a, b)
        assert resumed["return_mean"] == metrics["return_mean"]
