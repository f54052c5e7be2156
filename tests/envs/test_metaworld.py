"""Meta-World manipulation tasks (the `metaworld` extra): ids, seeded positions, success
ending the episode, Meta-World's scripted experts, and collect -> train bc end to end."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import run

from protege.data import rollout
from protege.data.storage import load_trajectories
from protege.envs import make_env
from protege.envs.metaworld import MAX_EPISODE_STEPS, METAWORLD_ENVS, METAWORLD_TASKS
from protege.errors import EnvError, ExpertError
from protege.experts import load_expert
from protege.experts.metaworld import EXPERT_RECORDS
from protege.jobs.common import default_expert

needs_metaworld = pytest.mark.skipif(
    importlib.util.find_spec("metaworld") is None,
    reason="Meta-World is an optional extra: pip install 'protege[metaworld]'",
)
FIVE = ("pick-place-v3", "push-v3", "door-open-v3", "drawer-open-v3", "button-press-v3")


def test_ids_are_registered_without_importing_metaworld(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = ("import sys, gymnasium as gym, protege.envs; "
            "assert 'metaworld/push-v3' in gym.registry, 'not registered'; "
            "assert 'metaworld' not in sys.modules, 'imported'")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(METAWORLD_ENVS) == 50 and default_expert("metaworld/push-v3") == "scripted"
    assert set(EXPERT_RECORDS) == set(METAWORLD_ENVS)  # every expert measured
    capsys.readouterr()
    assert run("experts") == 0 and "metaworld/push-v3" in capsys.readouterr().out


def test_without_metaworld_building_or_its_expert_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("metaworld", "metaworld.env_dict", "metaworld.policies"):
        monkeypatch.setitem(sys.modules, name, None)  # None: `import` raises ImportError
    with pytest.raises(EnvError, match=r"pip install 'protege\[metaworld\]'") as built:
        make_env("metaworld/push-v3")
    assert "\n" not in str(built.value)
    with pytest.raises(ExpertError, match=r"pip install 'protege\[metaworld\]'"):
        load_expert("scripted", "metaworld/push-v3")
    capsys.readouterr()
    out = tmp_path / "d.npz"
    assert run("collect", "metaworld/push-v3", "--episodes", "1", "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert "protege[metaworld]" in err and len(err.splitlines()) == 1 and not out.exists()


@needs_metaworld
def test_the_ids_are_metaworlds_mt1_tasks_and_its_step_limit() -> None:
    import metaworld
    from metaworld.policies import ENV_POLICY_MAP
    from metaworld.sawyer_xyz_env import SawyerXYZEnv

    assert tuple(metaworld.MT1.ENV_NAMES) == METAWORLD_TASKS
    assert set(METAWORLD_TASKS) <= set(ENV_POLICY_MAP)
    assert SawyerXYZEnv.max_path_length == MAX_EPISODE_STEPS


@needs_metaworld
@pytest.mark.parametrize("task", FIVE)
def test_a_reset_seed_fixes_the_positions_and_seeds_differ(task: str) -> None:
    env = make_env(f"metaworld/{task}")
    assert env.observation_space.shape == (39,) and env.action_space.shape == (4,)
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 4)).astype(np.float32)

    def episode(seed: int) -> np.ndarray:
        obs, _ = env.reset(seed=seed)
        seen = [obs]
        for a in actions:
            obs, reward, terminated, truncated, info = env.step(a)
            assert np.isfinite(reward) and isinstance(info["success"], bool)
            seen.append(obs)
        return np.stack(seen)

    first = episode(3)
    firsts = [episode(seed)[0] for seed in range(5)]
    np.testing.assert_array_equal(episode(3), first)  # after other episodes: the same one
    assert env.observation_space.contains(first[0])
    distinct = {tuple(np.round(o, 6)) for o in firsts}
    assert len(distinct) == 5  # five seeds, five object/goal placements
    env.close()


@needs_metaworld
def test_success_ends_the_episode_and_the_step_limit_truncates() -> None:
    env_id = "metaworld/reach-v3"
    expert = load_expert("scripted", env_id)
    done = rollout(env_id, expert, 1, seed=0)[0]
    assert done.terminated and done.meta["success"] is True and len(done) < MAX_EPISODE_STEPS
    idle = rollout(env_id, lambda obs: np.zeros((len(obs), 4), np.float32), 1, seed=0)[0]
    assert idle.truncated and len(idle) == MAX_EPISODE_STEPS and idle.meta["success"] is False


@needs_metaworld
def test_metaworlds_experts_succeed_on_seeded_episodes() -> None:
    for task in FIVE:
        env_id = f"metaworld/{task}"
        expert = load_expert("scripted", env_id)
        episodes = rollout(env_id, expert, 6, seed=100)
        wins = sum(t.meta["success"] for t in episodes)
        assert wins >= 5, f"{task}: {wins} of 6"  # each succeeded in 50 of 50 (seeds 0..49)
        action = expert(episodes[0].obs)
        assert action.shape == (len(episodes[0].obs), 4) and action.dtype == np.float32
        assert np.all(np.abs(action) <= 1.0)


@needs_metaworld
def test_collect_then_train_bc_end_to_end(tmp_path: Path) -> None:
    demos, out = tmp_path / "drawer.npz", tmp_path / "bc"
    env_id = "metaworld/drawer-open-v3"
    assert run("collect", env_id, "--episodes", "2", "--out", str(demos)) == 0  # no --expert
    data = load_trajectories(demos, env_id=env_id)
    assert len(data.trajectories) == 2
    assert all(t.terminated and t.meta["success"] for t in data.trajectories)
    code = run("train", "bc", "--env", env_id, "--demos", str(demos), "--out", str(out),
               "--set", "epochs=2", "--eval-episodes", "1")  # fmt: skip
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["episodes"] == 1 and np.isfinite(metrics["return_mean"])
