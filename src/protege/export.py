"""A learned policy for use without protege: a `torch.export` program or an ONNX model.

`save_program` writes the deterministic policy as a `torch.export` program (`policy.pt2`,
loaded by torch alone) and `save_onnx` the same program as ONNX (`policy.onnx`, run by
onnxruntime alone): both map a batch of observations, in the env's own dtype, to the
actions `ActorPolicy.__call__` returns. Each file is read back and checked against the
policy on sampled observations before it is written.

    policy = ActorPolicy.load("runs/bc/policy.pt")
    save_program(policy, "runs/bc/policy.pt2")    # torch.export.load(path).module()(obs)
    save_onnx(policy, "runs/bc/policy.onnx")

Only a policy that acts on each observation alone, deterministically, has such a program:
one with a window, chunks or a sampling head (`PolicyArch.stateful`) is refused in one
line naming policy.pt, which acts with torch and `protege.policies` alone.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import json
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from minari.serialization import serialize_space
from stable_baselines3.common.preprocessing import preprocess_obs
from torch import nn

from protege.errors import ConfigError, RunDirError
from protege.policies import ActorPolicy
from protege.rundir import atomic_write

PROGRAM_FILE, ONNX_FILE = "policy.pt2", "policy.onnx"
EXPORT_FORMAT = "protege.policy-export/1"
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
"""What `save_onnx` needs: torch's exporter (onnx, onnxscript) and the check (onnxruntime)."""

_INPUTS_DOC = (
    "obs: a batch of observations (B, *shape) in the observation space's dtype, as the env "
    "gives them; returns the policy's deterministic actions: int64 (B,) for Discrete, "
    "(B, *shape) in the action space's dtype, within its bounds, for Box"
)


def export_program(policy: ActorPolicy) -> torch.export.ExportedProgram:
    """The deterministic `policy` (`ActingModule`) as a CPU `torch.export` program whose
    batch axis is dynamic. A copy is exported: `policy` is left where and as it is.

    A policy that remembers or samples between steps (`arch.stateful`) is refused (a
    ConfigError naming policy.pt, which acts with torch and protege.policies)."""
    if policy.arch.stateful:
        a = policy.arch
        raise ConfigError(
            f"this policy (head {a.head}, history {a.history}, chunk {a.chunk}, gmm_act "
            f"{a.gmm_act}) remembers or samples between steps, which policy.pt2/ONNX "
            "cannot hold; act from policy.pt with protege.policies.ActorPolicy.load"
        )
    clone = ActorPolicy(policy.spaces, policy.arch)
    clone.load_state_dict({k: v.detach().cpu() for k, v in policy.state_dict().items()})
    clone.requires_grad_(False).eval()
    module = ActingModule(clone)
    example = torch.as_tensor(_sample_obs(policy.spaces.observation, 2, seed=0))
    dynamic = ({0: torch.export.Dim("batch", min=1)},)
    return torch.export.export(module, (example,), dynamic_shapes=dynamic)


def save_program(
    policy: ActorPolicy, path: str | Path, program: torch.export.ExportedProgram | None = None
) -> Path:
    """Write the deterministic `policy` to `path` (policy.pt2) as a `torch.export` program
    that torch alone loads: `torch.export.load(path).module()(obs)`.

    The file is read back and checked to give the policy's actions on sampled observations
    before it is written (atomically); `program` reuses an `export_program` already made."""
    path = Path(path)
    program = program if program is not None else export_program(policy)
    buf = io.BytesIO()
    torch.export.save(program, buf, extra_files={"protege.json": json.dumps(_info(policy))})
    data = buf.getvalue()
    loaded = torch.export.load(io.BytesIO(data)).module()
    with torch.no_grad():
        _check(policy, path, lambda obs: loaded(torch.as_tensor(obs)).numpy())
    atomic_write(path, lambda f: f.write(data))
    return path


def save_onnx(
    policy: ActorPolicy, path: str | Path, program: torch.export.ExportedProgram | None = None
) -> Path:
    """Write the deterministic `policy` to `path` (policy.onnx): input `obs`, output
    `actions`, the same computation as `save_program`, runnable by onnxruntime alone.

    torch's `torch.export`-based ONNX exporter converts the very program of policy.pt2 (it
    needs `onnx` and `onnxscript`; `pip install 'protege[onnx]'`); onnxruntime runs the
    result on sampled observations against the policy before it is written."""
    require_onnx()
    import onnxruntime  # optional dependency (protege[onnx]): imported only to export

    path = Path(path)
    program = program if program is not None else export_program(policy)
    example = torch.as_tensor(_sample_obs(policy.spaces.observation, 2, seed=0))
    with _quiet_onnx_exporter():
        onnx_program = torch.onnx.export(
            program,
            (example,),
            dynamo=True,
            input_names=["obs"],
            output_names=["actions"],
            verbose=False,
        )
    assert onnx_program is not None  # the dynamo exporter always returns its program
    model = onnx_program.model_proto
    model.doc_string = _INPUTS_DOC
    entry = model.metadata_props.add()
    entry.key, entry.value = "protege", json.dumps(_info(policy))
    data = model.SerializeToString()
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    _check(policy, path, lambda obs: session.run(None, {"obs": obs})[0])
    atomic_write(path, lambda f: f.write(data))
    return path


def _info(policy: ActorPolicy) -> dict[str, object]:
    """What an exported file records about itself (policy.pt2's protege.json, the ONNX
    model's `protege` metadata): the spaces and the input/output convention."""
    return {
        "format": EXPORT_FORMAT,
        "spaces": {
            "observation": serialize_space(policy.spaces.observation),
            "action": serialize_space(policy.spaces.action),
        },
        "arch": asdict(policy.arch),
        "inputs": _INPUTS_DOC,
    }


def _check(policy: ActorPolicy, path: Path, act: Callable[[np.ndarray], np.ndarray]) -> None:
    """Refuse an exported policy whose actions differ from `policy`'s on 64 sampled
    observations (exact for Discrete, to float32 rounding for Box)."""
    obs = _sample_obs(policy.spaces.observation, 64, seed=1)
    want, got = policy(obs), np.asarray(act(obs))
    if policy.discrete:
        same = got.shape == want.shape and bool(np.array_equal(got, want))
    else:
        box = policy.spaces.action
        assert isinstance(box, gym.spaces.Box)
        scale = max(1.0, float(np.max(np.abs([box.low, box.high]))))
        same = got.shape == want.shape and bool(
            np.allclose(got, want, rtol=1e-5, atol=1e-5 * scale)
        )
    if not same:
        raise RunDirError(
            f"{path}: the exported policy's actions differ from the policy's on sampled "
            "observations; nothing was written (please report it with the run's config.json)"
        )


class ActingModule(nn.Module):
    """What `export_program` traces: raw observations -> deterministic actions, the same
    as `ActorPolicy.__call__` (preprocessing included, so the file needs no protege code).

    Dict observation spaces are not supported: their inputs would be a dict of tensors,
    which ONNX has no form for."""

    def __init__(self, policy: ActorPolicy) -> None:
        super().__init__()
        space = policy.spaces.observation
        if isinstance(space, gym.spaces.Dict):
            raise ConfigError(
                f"Dict observations ({', '.join(space.spaces)}) cannot be exported yet; load "
                "policy.pt with protege.policies.ActorPolicy.load instead"
            )
        self.policy = policy
        act = policy.spaces.action
        self.act_shape = tuple(act.shape) if act.shape is not None else ()
        self.act_dtype = torch.from_numpy(np.zeros(0, dtype=act.dtype)).dtype

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = preprocess_obs(obs, self.policy.spaces.observation, normalize_images=True)
        assert isinstance(x, torch.Tensor)  # not a Dict space: checked in __init__
        mode = self.policy.mode(x.float())
        if self.policy.discrete:
            return mode
        return mode.reshape(-1, *self.act_shape).to(self.act_dtype)


def _sample_obs(space: gym.Space, n: int, seed: int) -> np.ndarray:
    """`n` observations sampled from a copy of `space` (its own RNG is left alone), stacked
    in the space's dtype: the example and check inputs of the exports."""
    space = copy.deepcopy(space)
    space.seed(seed)
    return np.stack([np.asarray(space.sample(), dtype=space.dtype) for _ in range(n)])


def require_onnx() -> None:
    """Raise a one-line `ConfigError` naming the install command when the packages of the
    ONNX export (`ONNX_PACKAGES`, the `onnx` extra) are missing."""
    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"ONNX export needs {', '.join(missing)} (not installed): pip install 'protege[onnx]'"
        )


@contextlib.contextmanager
def _quiet_onnx_exporter() -> Iterator[None]:
    """Silence the ONNX exporter's warnings and log lines (e.g. 'torchvision is not
    installed') that say nothing about the user's policy."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
