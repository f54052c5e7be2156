"""The experts trained here and shipped: each holds its measured return, in its env and in the
fixed-horizon variant, and is what `collect` records when no --expert is given."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

from helpers import run  # noqa: E402

from protege.data import load_trajectories  # noqa: E402
from protege.envs import FIXED_HORIZON_ENVS  # noqa: E402
from protege.evaluation import evaluate_returns  # noqa: E402
from protege.experts import load_expert  # noqa: E402
from protege.experts.shipped import SHIPPED_EXPERTS, shipped_for  # noqa: E402
from protege.jobs.common import default_expert  # noqa: E402


def test_experts_are_shipped_as_package_files() -> None:
    assert SHIPPED_EXPERTS, "no shipped experts"
    for env_id, expert in SHIPPED_EXPERTS.items():
        assert expert.path.is_file(), expert.path
        assert expert.path.stat().st_size < 4_500_000  # small files (Ant's SAC: 4.3 MB)
        assert expert.min_return < expert.reference_return
        assert default_expert(env_id) == "shipped"


@pytest.mark.slow
@pytest.mark.parametrize("env_id", sorted(SHIPPED_EXPERTS))
def test_each_shipped_expert_holds_its_return_over_50_seeded_episodes(env_id: str) -> None:
    expert = SHIPPED_EXPERTS[env_id]
    stats = evaluate_returns(env_id, load_expert("shipped", env_id), episodes=50, seed=0)
    assert stats.mean >= expert.min_return, (stats.mean, expert.reference_return)


@pytest.mark.parametrize("env_id", sorted(FIXED_HORIZON_ENVS))
def test_the_fixed_horizon_variant_uses_its_base_envs_expert(env_id: str) -> None:
    found = shipped_for(env_id)
    if FIXED_HORIZON_ENVS[env_id].base not in SHIPPED_EXPERTS:
        assert found is None
        return
    assert found is not None
    expert, skip = found
    assert expert.env_id == FIXED_HORIZON_ENVS[env_id].base
    assert skip == FIXED_HORIZON_ENVS[env_id].positions
    # a short episode: it acts in the variant's observation space
    stats = evaluate_returns(env_id, load_expert("shipped", env_id), episodes=1, seed=0)
    assert np.isfinite(stats.mean)


def test_collect_records_the_shipped_expert_without_expert(tmp_path, capsys) -> None:  # noqa: ANN001
    env_id = next(iter(SHIPPED_EXPERTS))
    out = tmp_path / "demos.npz"
    assert run("collect", env_id, "--episodes", "1", "--out", str(out)) == 0
    (traj,) = load_trajectories(out).trajectories
    assert len(traj) > 0 and "return" in traj.meta


def test_no_built_in_expert_is_one_line_naming_the_fix(tmp_path, capsys) -> None:  # noqa: ANN001
    code = run("collect", "InvertedPendulum-v5", "--episodes", "1", "--out",
               str(tmp_path / "d.npz"))  # fmt: skip
    assert code == 2
    assert "protege expert train InvertedPendulum-v5" in capsys.readouterr().err
    assert not (tmp_path / "d.npz").exists()
