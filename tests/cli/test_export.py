"""`protege export RUN [--onnx]`: a run's policy as files that load without protege.

Tiny BC runs on CartPole-v1 (Discrete actions) and Pendulum-v1 (Box actions) are exported;
policy.pt2 is then run in a process that imports torch alone, policy.onnx in one that
imports onnxruntime and NumPy alone, and both must act as `ActorPolicy.load` does on 64
observations sampled from the env's observation space. Runs without a policy.pt (an SB3
model, a tabular table) are refused in one line, exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from helpers import run
from minari.serialization import deserialize_space

from protege.envs import Spaces
from protege.export import export_program
from protege.policies import ActorPolicy, PolicyArch

ENVS = ("CartPole-v1", "Pendulum-v1")

TORCH_ONLY = """
    import sys
    import numpy as np
    import torch

    module = torch.export.load(sys.argv[1]).module()
    with torch.no_grad():
        acts = module(torch.as_tensor(np.load(sys.argv[2]))).numpy()
    np.save(sys.argv[3], acts)
    assert not [m for m in sys.modules if m.split(".")[0] == "protege"], "protege was imported"
"""

ONNXRUNTIME_ONLY = """
    import sys
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    np.save(sys.argv[3], session.run(None, {"obs": np.load(sys.argv[2])})[0])
    banned = [m for m in sys.modules if m.split(".")[0] in ("torch", "protege")]
    assert not banned, f"imported {sorted(banned)[:5]}"
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny BC run per env, exported with --onnx."""
    out = tmp_path_factory.mktemp("export")
    dirs: dict[str, Path] = {}
    for env in ENVS:
        demos, run_dir = out / f"{env}.npz", out / env
        assert run("collect", env, "--episodes", "2", "--out", str(demos)) == 0
        assert run("train", "bc", "--env", env, "--demos", str(demos), "--out", str(run_dir),
                   "--set", "epochs=2", "--eval-episodes", "1") == 0  # fmt: skip
        assert run("export", str(run_dir), "--onnx") == 0
        dirs[env] = run_dir
    return dirs


def _standalone(script: str, model: Path, obs: np.ndarray, tmp_path: Path) -> np.ndarray:
    """Run `script` in a fresh interpreter on `obs`; the actions it saved."""
    obs_file, acts_file = tmp_path / "obs.npy", tmp_path / "acts.npy"
    np.save(obs_file, obs)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(model), str(obs_file), str(acts_file)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return np.load(acts_file)


def _observations(env: str, n: int = 64) -> np.ndarray:
    space = gym.make(env).observation_space
    space.seed(0)
    return np.stack([space.sample() for _ in range(n)])


def _assert_same(got: np.ndarray, want: np.ndarray, discrete: bool) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype)
    if discrete:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("env", ENVS)
def test_policy_pt2_acts_as_the_policy_with_torch_alone(
    env: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    policy = ActorPolicy.load(runs[env] / "policy.pt")
    obs = _observations(env)
    got = _standalone(TORCH_ONLY, runs[env] / "policy.pt2", obs, tmp_path)
    _assert_same(got, policy(obs), policy.discrete)


@pytest.mark.parametrize("env", ENVS)
def test_policy_onnx_acts_as_the_policy_with_onnxruntime_alone(
    env: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    policy = ActorPolicy.load(runs[env] / "policy.pt")
    obs = _observations(env)
    got = _standalone(ONNXRUNTIME_ONLY, runs[env] / "policy.onnx", obs, tmp_path)
    _assert_same(got, policy(obs), policy.discrete)


def test_the_exported_files_describe_themselves(runs: dict[str, Path]) -> None:
    import onnx

    model = onnx.load(str(runs["Pendulum-v1"] / "policy.onnx"))
    info = json.loads({p.key: p.value for p in model.metadata_props}["protege"])
    assert info["format"] == "protege.policy-export/1" and info["arch"]["activation"] == "relu"
    assert [i.name for i in model.graph.input] == ["obs"]
    assert [o.name for o in model.graph.output] == ["actions"]
    extra = {"protege.json": ""}
    torch.export.load(str(runs["CartPole-v1"] / "policy.pt2"), extra_files=extra)
    spaces = json.loads(extra["protege.json"])["spaces"]  # as minari serializes them
    assert deserialize_space(spaces["action"]) == gym.spaces.Discrete(2)


def test_export_without_onnx_writes_only_the_program(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "policy.pt").write_bytes((runs["CartPole-v1"] / "policy.pt").read_bytes())
    assert run("export", str(run_dir)) == 0
    assert sorted(p.name for p in run_dir.iterdir()) == ["policy.pt", "policy.pt2"]
    assert "policy.pt2" in capsys.readouterr().out


@pytest.fixture(scope="module")
def other_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A GAIL run (an SB3 policy.zip) and a tabular run (policy.npy), as small as they go."""
    out = tmp_path_factory.mktemp("other")
    cart, grid = out / "cartpole.npz", out / "grid.npz"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(cart)) == 0
    assert run("collect", "gridworld:5", "--expert", "optimal", "--episodes", "3",
               "--out", str(grid)) == 0  # fmt: skip
    assert run("train", "gail", "--env", "CartPole-v1", "--demos", str(cart), "--steps", "1000",
               "--eval-episodes", "1", "--out", str(out / "gail")) == 0  # fmt: skip
    assert run("train", "mce", "--env", "gridworld:5", "--demos", str(grid),
               "--out", str(out / "mce")) == 0  # fmt: skip
    return {"gail": out / "gail", "mce": out / "mce", "empty": out}


@pytest.mark.parametrize(
    "name, policy_file, words",
    [("gail", "policy.zip", "Stable-Baselines3"), ("mce", "policy.npy", "numpy.load"),
     ("empty", None, "no policy.pt")],
)  # fmt: skip
def test_a_run_without_policy_pt_is_refused_in_one_line(
    name: str,
    policy_file: str | None,
    words: str,
    other_runs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_dir = other_runs[name]
    if policy_file:
        assert (run_dir / policy_file).is_file()
    capsys.readouterr()
    assert run("export", str(run_dir), "--onnx") == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert not (run_dir / "policy.pt2").exists() and not (run_dir / "policy.onnx").exists()


def test_missing_onnx_packages_are_one_line_naming_the_extra(
    runs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from protege import export

    missing = (*export.ONNX_PACKAGES, "protege_no_such_package")
    monkeypatch.setattr(export, "ONNX_PACKAGES", missing)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "policy.pt").write_bytes((runs["CartPole-v1"] / "policy.pt").read_bytes())
    assert run("export", str(run_dir), "--onnx") == 2
    err = capsys.readouterr().err
    assert "pip install 'protege[onnx]'" in err and len(err.strip().splitlines()) == 1, err
    assert not (run_dir / "policy.pt2").exists()


def test_a_policy_pt_without_the_activation_field_still_loads(tmp_path: Path) -> None:
    """Files written before `activation` was recorded were ReLU nets: they load as such."""
    spaces = Spaces(
        gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Box(-2, 2, (1,), np.float32)
    )
    policy = ActorPolicy(spaces, PolicyArch(hidden=(16,))).eval()
    new, old = tmp_path / "new.pt", tmp_path / "old.pt"
    policy.save(new)
    payload = torch.load(new, weights_only=True)
    arch = json.loads(payload["arch"])
    assert arch.pop("activation") == "relu"
    payload["arch"] = json.dumps(arch)
    torch.save(payload, old)
    loaded = ActorPolicy.load(old)
    assert loaded.arch == policy.arch
    obs = np.random.default_rng(0).uniform(-1, 1, (8, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded(obs), policy(obs))


def test_the_activation_is_recorded_and_rebuilt(tmp_path: Path) -> None:
    spaces = Spaces(gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Discrete(3))
    policy = ActorPolicy(spaces, PolicyArch(hidden=(16,), activation="tanh")).eval()
    policy.save(tmp_path / "p.pt")
    loaded = ActorPolicy.load(tmp_path / "p.pt")
    assert loaded.arch.activation == "tanh" and isinstance(loaded.trunk[1], torch.nn.Tanh)


def test_dict_observations_are_refused_with_a_clear_error() -> None:
    from protege.errors import ConfigError

    obs = gym.spaces.Dict({"a": gym.spaces.Box(-1, 1, (2,), np.float32)})
    policy = ActorPolicy(Spaces(obs, gym.spaces.Discrete(2)))
    with pytest.raises(ConfigError, match="Dict observations"):
        export_program(policy)


def test_a_copied_or_corrupted_policy_is_refused_and_nothing_is_written(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    cart, pend = runs["CartPole-v1"], runs["Pendulum-v1"]
    copied = tmp_path / "copied"
    shutil.copytree(cart, copied, ignore=shutil.ignore_patterns("policy.pt2", "policy.onnx"))
    (copied / "policy.pt").write_bytes((pend / "policy.pt").read_bytes())
    broken = tmp_path / "broken"
    shutil.copytree(cart, broken, ignore=shutil.ignore_patterns("policy.pt2", "policy.onnx"))
    payload = torch.load(broken / "policy.pt", weights_only=True)
    next(iter(payload["state_dict"].values())).fill_(float("nan"))
    torch.save(payload, broken / "policy.pt")
    for run_dir, says in ((copied, "copied from another run"), (broken, "NaN or infinite")):
        before = (run_dir / "policy.pt").read_bytes()
        capsys.readouterr()
        assert run("export", str(run_dir), "--onnx") == 2
        err = capsys.readouterr().err
        assert says in err and len(err.strip().splitlines()) == 1, err
        assert not (run_dir / "policy.pt2").exists() and not (run_dir / "policy.onnx").exists()
        assert (run_dir / "policy.pt").read_bytes() == before
