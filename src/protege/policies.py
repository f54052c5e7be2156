"""Policies learned by protege: an observation encoder, an MLP trunk and an action head.

Discrete actions get a categorical head; Box actions a tanh-squashed Gaussian whose mean
action is always inside the bounds (or a deterministic tanh head for an MSE loss).
A policy saves to one `.pt` file holding its spaces and settings, so it reloads without
the code or data that trained it (`ActorPolicy.load`).

For use without protege, `export` writes the deterministic policy as a `torch.export`
program (`policy.pt2`, loaded by torch alone) and `export_onnx` the same program as ONNX
(`policy.onnx`, run by onnxruntime alone): both map a batch of observations, in the env's
own dtype, to the actions `ActorPolicy.__call__` returns.

    policy = ActorPolicy.load("runs/bc/policy.pt")
    policy.export("runs/bc/policy.pt2")    # torch.export.load(path).module()(obs)
    policy.export_onnx("runs/bc/policy.onnx")
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import json
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from minari.serialization import deserialize_space, serialize_space
from stable_baselines3.common.preprocessing import preprocess_obs
from torch import nn

from protege.data.types import Obs
from protege.envs import Spaces
from protege.errors import ConfigError, RunDirError
from protege.nets import TensorObs, encoder_dim, make_encoder, mlp, obs_to_tensor
from protege.rundir import atomic_write

LOG_STD_MIN, LOG_STD_MAX = -2.5, 2.0
LOG_EPS = 1e-6
UNIT_CLAMP = 1e-6  # keeps atanh finite for expert actions exactly at the bounds

PROGRAM_FILE, ONNX_FILE = "policy.pt2", "policy.onnx"
EXPORT_FORMAT = "protege.policy-export/1"
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
"""What `export_onnx` needs: torch's exporter (onnx, onnxscript) and the check (onnxruntime)."""

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}
"""The trunk's activation by the name recorded in policy.pt."""


@dataclass(frozen=True)
class PolicyArch:
    """Network shape: MLP hidden sizes after the encoder, CNN feature width for images, the
    trunk's activation. All of it is saved in policy.pt, so a file rebuilds its net alone;
    files written before `activation` was recorded were ReLU, its default."""

    hidden: tuple[int, ...] = (256, 256)
    cnn_features: int = 256
    head: str = "gaussian"  # Box actions only: "gaussian" (tanh-squashed) or "deterministic"
    activation: str = "relu"  # a key of ACTIVATIONS
    normalize_obs: bool = False  # standardise Box observations (statistics in the weights)


@dataclass
class ActionDist:
    """What a policy head returns for a batch: enough to score expert actions and act."""

    log_prob: torch.Tensor | None = None  # filled by `score`
    entropy: torch.Tensor | None = None
    mode: torch.Tensor = field(default_factory=lambda: torch.empty(0))


class ActorPolicy(nn.Module):
    """obs -> action distribution; call it on NumPy batches to act (deterministically)."""

    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, spaces: Spaces, arch: PolicyArch = PolicyArch()) -> None:
        super().__init__()
        self.spaces, self.arch = spaces, arch
        act = spaces.action
        self.encoder = make_encoder(spaces.observation, arch.cnn_features, arch.normalize_obs)
        if isinstance(act, gym.spaces.Discrete):
            out = int(act.n)
        elif isinstance(act, gym.spaces.Box):
            if not (np.all(np.isfinite(act.low)) and np.all(np.isfinite(act.high))):
                raise ConfigError("Box action spaces must be bounded to be kept in bounds")
            self.act_dim = int(np.prod(act.shape))
            out = self.act_dim * (2 if arch.head == "gaussian" else 1)
            self.register_buffer("low", torch.as_tensor(act.low, dtype=torch.float32).flatten())
            self.register_buffer("high", torch.as_tensor(act.high, dtype=torch.float32).flatten())
        else:
            raise ConfigError(f"action space {act} is not supported (Discrete or bounded Box)")
        if arch.head not in ("gaussian", "deterministic"):
            raise ConfigError(f"policy head '{arch.head}' unknown; use gaussian or deterministic")
        if arch.activation not in ACTIVATIONS:
            raise ConfigError(
                f"policy activation '{arch.activation}' unknown; use one of "
                + ", ".join(ACTIVATIONS)
            )
        self.trunk = mlp(encoder_dim(self.encoder), arch.hidden, out, ACTIVATIONS[arch.activation])
        self.discrete = isinstance(act, gym.spaces.Discrete)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- maths -------------------------------------------------------------------------
    def to_unit(self, acts: torch.Tensor) -> torch.Tensor:
        """Box actions -> [-1, 1]: where the losses of BC and soft Q-learning compare them."""
        return 2.0 * (acts - self.low) / (self.high - self.low) - 1.0

    def from_unit(self, u: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> the env's Box action units (the inverse of `to_unit`)."""
        return self.low + (u + 1.0) * 0.5 * (self.high - self.low)

    def dist(self, obs: TensorObs, acts: torch.Tensor | None = None) -> ActionDist:
        """The action distribution on `obs`; with `acts`, also their log-likelihood."""
        out = self.trunk(self.encoder(obs))
        if self.discrete:
            logp_all = torch.log_softmax(out, dim=-1)
            d = ActionDist(mode=out.argmax(dim=-1))
            d.entropy = -(logp_all.exp() * logp_all).sum(-1)
            if acts is not None:
                d.log_prob = logp_all.gather(1, acts.long().view(-1, 1)).squeeze(1)
            return d
        if self.arch.head == "deterministic":
            return ActionDist(mode=self.from_unit(torch.tanh(out)))
        mu, log_std = out.chunk(2, dim=-1)
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        d = ActionDist(mode=self.from_unit(torch.tanh(mu)))
        d.entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)  # pre-squash
        if acts is not None:
            u = self.to_unit(acts.view(len(acts), -1)).clamp(-1 + UNIT_CLAMP, 1 - UNIT_CLAMP)
            pre = torch.atanh(u)
            normal = torch.distributions.Normal(mu, log_std.exp())
            # change of variables through tanh (and the fixed affine map to the bounds)
            d.log_prob = (normal.log_prob(pre) - torch.log(1 - u.pow(2) + LOG_EPS)).sum(-1)
        return d

    def mode(self, obs: TensorObs) -> torch.Tensor:
        """The deterministic action on preprocessed `obs`: `dist(obs).mode` without the rest
        (the argmax for Discrete; the squashed mean, or the MSE head, mapped to the bounds)."""
        out = self.trunk(self.encoder(obs))
        if self.discrete:
            return out.argmax(dim=-1)
        mu = out if self.arch.head == "deterministic" else out.chunk(2, dim=-1)[0]
        return self.from_unit(torch.tanh(mu))

    # -- acting ------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, obs: Obs) -> np.ndarray:
        """Deterministic (mode) actions for a NumPy batch, shaped for the action space."""
        mode = self.mode(obs_to_tensor(obs, self.spaces.observation, self.device))
        acts = mode.cpu().numpy()
        if self.discrete:
            return acts.astype(np.int64)
        space = self.spaces.action
        return acts.reshape(len(acts), *space.shape).astype(space.dtype)  # type: ignore[misc]

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write weights, spaces and architecture to one file, atomically."""
        payload = {
            "format": "protege.policy/1",
            "spaces": json.dumps(
                {
                    "observation": serialize_space(self.spaces.observation),
                    "action": serialize_space(self.spaces.action),
                }
            ),
            "arch": json.dumps(asdict(self.arch)),
            "state_dict": {k: v.cpu() for k, v in self.state_dict().items()},
        }
        atomic_write(Path(path), lambda f: torch.save(payload, f))

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> ActorPolicy:
        """Rebuild a saved policy (weights only: no code is unpickled)."""
        path = Path(path)
        if not path.is_file():
            raise RunDirError(f"{path}: no policy file here; train one with `protege train`")
        try:
            payload = torch.load(path, map_location=device, weights_only=True)
            spaces_json = json.loads(payload["spaces"])
            spaces = Spaces(
                deserialize_space(spaces_json["observation"]),
                deserialize_space(spaces_json["action"]),
            )
            arch_d = json.loads(payload["arch"])
            arch = PolicyArch(**{**arch_d, "hidden": tuple(arch_d["hidden"])})
        except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
            raise RunDirError(f"{path}: not a readable protege policy ({exc})") from None
        if not all(torch.isfinite(v).all() for v in payload["state_dict"].values()):
            raise RunDirError(f"{path}: holds NaN or infinite weights; train the run again")
        policy = cls(spaces, arch).to(device)
        policy.load_state_dict(payload["state_dict"])
        policy.eval()
        return policy

    # -- standalone export ---------------------------------------------------------------
    def export_program(self) -> torch.export.ExportedProgram:
        """The deterministic policy (`ActingModule`) as a CPU `torch.export` program whose
        batch axis is dynamic. A copy is exported: this policy is left where and as it is."""
        clone = ActorPolicy(self.spaces, self.arch)
        clone.load_state_dict({k: v.detach().cpu() for k, v in self.state_dict().items()})
        clone.requires_grad_(False).eval()
        module = ActingModule(clone)
        example = torch.as_tensor(_sample_obs(self.spaces.observation, 2, seed=0))
        dynamic = ({0: torch.export.Dim("batch", min=1)},)
        return torch.export.export(module, (example,), dynamic_shapes=dynamic)

    def export(self, path: str | Path, program: torch.export.ExportedProgram | None = None) -> Path:
        """Write the deterministic policy to `path` (policy.pt2) as a `torch.export`
        program that torch alone loads: `torch.export.load(path).module()(obs)`.

        The file is read back and checked to give this policy's actions on sampled
        observations before it is written (atomically); `program` reuses an
        `export_program()` already made."""
        path = Path(path)
        program = program if program is not None else self.export_program()
        buf = io.BytesIO()
        info = json.dumps(self._export_info())
        torch.export.save(program, buf, extra_files={"protege.json": info})
        data = buf.getvalue()
        loaded = torch.export.load(io.BytesIO(data)).module()
        with torch.no_grad():
            self._check_export(path, lambda obs: loaded(torch.as_tensor(obs)).numpy())
        atomic_write(path, lambda f: f.write(data))
        return path

    def export_onnx(
        self, path: str | Path, program: torch.export.ExportedProgram | None = None
    ) -> Path:
        """Write the deterministic policy to `path` (policy.onnx): input `obs`, output
        `actions`, the same computation as `export`, runnable by onnxruntime without torch.

        torch's `torch.export`-based ONNX exporter converts the very program of policy.pt2
        (it needs `onnx` and `onnxscript`; `pip install 'protege[onnx]'`); onnxruntime runs
        the result on sampled observations against this policy before it is written."""
        require_onnx()
        import onnxruntime  # optional dependency (protege[onnx]): imported only to export

        path = Path(path)
        program = program if program is not None else self.export_program()
        example = torch.as_tensor(_sample_obs(self.spaces.observation, 2, seed=0))
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
        entry.key, entry.value = "protege", json.dumps(self._export_info())
        data = model.SerializeToString()
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        self._check_export(path, lambda obs: session.run(None, {"obs": obs})[0])
        atomic_write(path, lambda f: f.write(data))
        return path

    def _export_info(self) -> dict[str, object]:
        """What an exported file records about itself (policy.pt2's protege.json, the ONNX
        model's `protege` metadata): the spaces and the input/output convention."""
        return {
            "format": EXPORT_FORMAT,
            "spaces": {
                "observation": serialize_space(self.spaces.observation),
                "action": serialize_space(self.spaces.action),
            },
            "arch": asdict(self.arch),
            "inputs": _INPUTS_DOC,
        }

    def _check_export(self, path: Path, act: Callable[[np.ndarray], np.ndarray]) -> None:
        """Refuse an exported policy whose actions differ from this policy's on 64 sampled
        observations (exact for Discrete, to float32 rounding for Box)."""
        obs = _sample_obs(self.spaces.observation, 64, seed=1)
        want, got = self(obs), np.asarray(act(obs))
        if self.discrete:
            same = got.shape == want.shape and bool(np.array_equal(got, want))
        else:
            box = self.spaces.action
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


_INPUTS_DOC = (
    "obs: a batch of observations (B, *shape) in the observation space's dtype, as the env "
    "gives them; returns the policy's deterministic actions: int64 (B,) for Discrete, "
    "(B, *shape) in the action space's dtype, within its bounds, for Box"
)


class ActingModule(nn.Module):
    """What `ActorPolicy.export` traces: raw observations -> deterministic actions, the same
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
